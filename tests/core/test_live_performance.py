"""The served model's live record for a landed month: model and persistence error on the same
anchored rows, by months since the anchor, with band coverage, and a verdict only when enough
rows judge."""

import numpy as np
import pandas as pd
import pytest

from housing_core import live_performance as live
from housing_core.storage import LocalStore
from housing_harness.live import scored


def test_a_month_the_model_lost_to_persistence_says_so_with_both_errors():
    rec = live.record(scored(30, 0.04, -0.01), "2022-08", "7", "2022-01-v7.h3")
    assert (rec["mape"], rec["persistence_mape"]) == (pytest.approx(4.0), pytest.approx(1.0))
    assert rec["losing"] is True and rec["anchored_rows"] == 30
    assert rec["coverage_80"] == 0.0 and rec["coverage_95"] == 1.0  # 4% off: outside +-2%
    assert rec["by_horizon"] == {"1-3": {"rows": 30, **{k: rec[k] for k in (
        "mape", "persistence_mape", "coverage_80", "coverage_95")}}}  # fmt: skip


def test_rows_without_a_price_or_an_anchor_are_left_out_and_few_rows_judge_nothing():
    frame = pd.concat([
        scored(10, 0.01, 0.05, horizon=2.0),
        scored(5, 0.01, np.nan, horizon=np.nan),  # cold zips: no anchor, no persistence
        scored(5, 0.01, 0.05).assign(price=np.nan),  # no price landed for them
    ], ignore_index=True)  # fmt: skip
    rec = live.record(frame, "2022-09", "7", "b")
    assert (rec["rows"], rec["priced_rows"], rec["anchored_rows"]) == (20, 15, 10)
    assert rec["losing"] is None  # 10 rows < MIN_ROWS
    assert rec["mape"] == pytest.approx(1.0) and rec["persistence_mape"] == pytest.approx(5.0)


def test_a_streak_of_losses_counts_back_to_the_last_win():
    recs = [{"month": m, "losing": v} for m, v in
            [("2022-06", True), ("2022-07", False), ("2022-08", True), ("2022-09", None),
             ("2022-10", True)]]  # fmt: skip
    assert live.losing_streak(recs) == ["2022-08", "2022-10"]


def test_the_fallback_is_active_for_its_model_while_the_streak_is_long_enough(tmp_path):
    from housing_core.storage import LocalStore

    recs = [{"month": m, "losing": v} for m, v in [("2022-07", False), ("2022-08", True)]]
    short = live.fallback(recs, "7", losing_months=2)
    assert not short["active"] and short["months"] == ["2022-08"]
    recs.append({"month": "2022-09", "losing": True})
    state = live.fallback(recs, "7", losing_months=2)
    assert state == {
        "model_version": "7", "baseline": "persistence", "active": True,
        "months": ["2022-08", "2022-09"], "through": "2022-09",
    }  # fmt: skip
    assert live.serves_baseline(state, "7") and not live.serves_baseline(state, "8")
    assert not live.serves_baseline(None, "7")
    store = LocalStore(tmp_path)
    assert live.read_fallback(store) is None
    live.write_fallback(store, state)
    assert live.read_fallback(store) == state
    store.write(live.FALLBACK, b'{"model_version": "7"}')
    with pytest.raises(ValueError, match="is not a fallback record"):
        live.read_fallback(store)


def test_records_are_stored_per_model_and_month_and_a_broken_one_is_named(tmp_path):
    store = LocalStore(tmp_path)
    for month in ("2022-09", "2022-08"):
        live.write(store, live.record(scored(30, 0.01, 0.02), month, "7", "b"))
    store.write("reports/live/v7/2022-10.json", b"{not json")
    found, broken = live.read(store, "7")
    assert [r["month"] for r in found] == ["2022-08", "2022-09"]
    assert list(broken) == ["reports/live/v7/2022-10.json"]
    assert live.read(store, "8") == ([], {})
    with pytest.raises(ValueError, match="invalid model version"):
        live.key("../7", "2022-08")
