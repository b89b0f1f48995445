"""housing_core/forecast/live.py: a landed month advances the published forecasts and scores the ones
issued for it, against a real local serving store."""

import numpy as np
import pandas as pd
import pytest

from housing_core import bundle
from housing_core.forecast import live, publishing
from tests.core.test_forecast import rows as momentum_rows
from tests.serving.test_forecast_api import publish_forecast


@pytest.fixture
def store(tmp_path):
    publish_forecast(tmp_path, months=60)  # origin 2017-02 (60 months from 2012-03)
    return bundle.LocalStore(tmp_path)


def landed(month_index: int) -> pd.DataFrame:
    """The synthetic panel's month `month_index` (0 = 2012-03), as cleaned rows."""
    data = momentum_rows(month_index + 1, 6, seed=2)
    return data[data["date"] == data["date"].max()]


def test_a_landed_month_republishes_forecasts_from_it(store):
    before = publishing.PublishedForecast.load(store)
    done = live.advance(store, landed(60))
    assert done.published and done.origin == "2017-03"
    assert done.version == "2022-01-f1.m2017-03"
    assert bundle.current_version(store, bundle.FORECAST) == done.version
    after = publishing.PublishedForecast.load(store)
    assert after.provenance["origin"] == "2017-03"
    assert after.provenance["trained_version"] == "2022-01-f1"
    assert after.history["month"].max() == "2017-03"
    assert after.history["month"].nunique() == publishing.HISTORY_MONTHS
    assert (after.forecasts["month"].min(), after.forecasts["step"].max()) == ("2017-04", 24)
    # The same forecaster (no refit): the backtest it was published on travels with it.
    assert after.backtest == before.backtest
    last = landed(60).set_index("zipcode")["price"]
    table = after.forecasts.set_index("zipcode")
    np.testing.assert_allclose(table["last_price"].groupby(level=0).first(), last.sort_index())
    again = live.advance(store, landed(60))
    assert not again.published and again.version == done.version


class _RetrainLandsMidAdvance(bundle.LocalStore):
    """A real store where a newly trained forecaster is published just as a month's advance
    writes its manifest (once)."""

    retrained = False

    def write(self, key: str, data: bytes) -> None:
        if key.endswith(bundle.MANIFEST) and ".m" in key and not self.retrained:
            self.retrained = True
            found = bundle.load(self, kind=bundle.FORECAST)
            files = {k: v for k, v in found.files.items() if k != bundle.MANIFEST}
            bundle.publish(bundle.LocalStore(self.root), "2022-02-f1", files, kind=bundle.FORECAST)
        super().write(key, data)


def test_a_forecaster_published_mid_advance_is_advanced_in_turn_and_keeps_serving(tmp_path):
    publish_forecast(tmp_path, months=60)
    store = _RetrainLandsMidAdvance(tmp_path)
    done = live.advance(store, landed(60))
    assert store.retrained and done.published and done.origin == "2017-03"
    # Built on the new publication: its version names it, and the replaced one never returns.
    assert done.version == "2022-02-f1.m2017-03"
    assert bundle.current_version(store, bundle.FORECAST) == done.version
    assert publishing.PublishedForecast.load(store).provenance["origin"] == "2017-03"


def test_forecasts_issued_for_a_month_are_scored_when_it_lands(store):
    issued = publishing.PublishedForecast.load(store).forecasts
    live.record_issued(store, issued)
    month = landed(61)  # 2017-04: two months after the origin 2017-02
    points = live.score(store, month, "2017-04")
    assert set(points["step"]) == {2} and len(points) == 6
    actual = month.set_index("zipcode")["price"]
    mine = issued[issued["month"] == "2017-04"].set_index("zipcode")
    ape = ((mine["forecast"] - actual) / actual).abs().mean() * 100
    card = live.scorecard(points)
    assert card["by_bucket"]["1-3"]["points"] == 6
    assert card["by_bucket"]["1-3"]["model"] == pytest.approx(ape)
    persistence = ((mine["last_price"] - actual) / actual).abs().mean() * 100
    assert card["by_bucket"]["1-3"]["persistence"] == pytest.approx(persistence)

    judged = {"by_bucket": {"1-3": {"model": card["by_bucket"]["1-3"]["model"] / 2}}}
    assert live.verdict(card, judged, 1.5, min_points=6) == [
        f"1-3 months: live MAPE {card['by_bucket']['1-3']['model']:.2f}% > 1.5 x the "
        f"backtest's {judged['by_bucket']['1-3']['model']:.2f}% (6 points)"
    ]
    assert live.verdict(card, judged, 1.5, min_points=7) == []  # too few points to judge
    assert live.verdict(card, judged, 2.5, min_points=6) == []


def test_nothing_issued_for_a_month_scores_nothing(store):
    assert live.score(store, landed(61), "2017-04").empty
    assert live.scorecard(pd.DataFrame()) == {"points": 0, "by_bucket": {}}


def test_advancing_without_a_publication_is_an_error(tmp_path):
    with pytest.raises(bundle.BundleError, match="no forecaster published"):
        live.advance(bundle.LocalStore(tmp_path), landed(60))
