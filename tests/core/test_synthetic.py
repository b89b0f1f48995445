import numpy as np
import pandas as pd
import pytest

from housing_core import contract as c
from housing_core.synthetic import OLD_NAMES, SyntheticSpec, generate_panel, n_zips


@pytest.fixture(scope="module")
def panel():
    return generate_panel(SyntheticSpec(seed=11, scale=0.05))


def test_same_seed_same_panel_and_other_seed_differs():
    a = generate_panel(SyntheticSpec(seed=5, scale=0.01))
    b = generate_panel(SyntheticSpec(seed=5, scale=0.01))
    other = generate_panel(SyntheticSpec(seed=6, scale=0.01))
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["price"].to_numpy()[:100], other["price"].to_numpy()[:100])


def test_conforms_to_contract(panel):
    assert c.schema_problems(panel) == []
    assert panel["date"].dt.is_month_end.all()
    assert (panel["year"] == panel["date"].dt.year).all()


def test_covers_every_metro_and_month(panel):
    assert set(panel["city"]) == set(c.METROS)
    months = panel["date"].dt.strftime("%Y-%m")
    assert months.min() == "2012-03" and months.max() == "2023-12"
    assert months.nunique() == 142
    zips = panel["zipcode"].nunique()
    assert zips == n_zips(0.05)
    assert len(panel) >= zips * 142  # every zip every month, plus injected duplicates


def test_full_scale_size_matches_housets():
    assert n_zips(1.0) * 142 == 884_092


def test_cleaning_has_work_duplicates_outliers_old_names_not_reported(panel):
    assert panel.duplicated(subset=c.KEYS).sum() > 0
    assert (panel["median_list_price"] > c.RANGES["median_list_price"].high).any()
    assert (panel["avg_sale_to_list"] > 2).any()
    assert panel["city_full"].isin(OLD_NAMES.values()).any()
    assert c.all_zero_market(panel).mean() == pytest.approx(0.004, abs=0.004)
    assert (panel["Total Population"] == 0).mean() == pytest.approx(0.077, abs=0.03)


def _median_by_year(panel, col):
    rows = panel[panel[col] > 0]
    return rows.groupby(rows["date"].dt.year)[col].median()


def test_market_cycle_recovery_boom_and_rate_shock(panel):
    price = _median_by_year(panel, "price")
    recovery = np.log(price[2019] / price[2013]) / 6
    boom = np.log(price[2022] / price[2020]) / 2
    shock = np.log(price[2023] / price[2022])
    assert recovery > 0.02
    assert boom > 1.5 * recovery
    assert shock < boom / 2
    dom = _median_by_year(panel, "median_dom")
    assert dom[2023] > 1.3 * dom[2021]  # the 2022-23 regime change drift monitoring must see


def test_seasonality_in_sales(panel):
    by_month = panel.groupby(panel["date"].dt.month)["homes_sold"].mean()
    assert by_month[6] > 1.2 * by_month[12]


def test_census_changes_yearly_not_monthly(panel):
    one_zip = panel[panel["zipcode"] == panel["zipcode"].iloc[0]].drop_duplicates(subset=c.KEYS)
    per_year = one_zip.groupby("year")["Per Capita Income"].nunique()
    assert (per_year == 1).all()
    assert one_zip["Per Capita Income"].nunique() > 1


def test_price_is_smooth_per_zip(panel):
    dedup = panel.drop_duplicates(subset=c.KEYS).sort_values(["zipcode", "date"])
    monthly_change = dedup.groupby("zipcode")["price"].pct_change().abs()
    sale_change = dedup.groupby("zipcode")["median_sale_price"].pct_change().abs()
    assert monthly_change.median() < 0.02
    assert sale_change.median() > 2 * monthly_change.median()


def test_months_one_at_a_time_are_the_panel_row_for_row():
    from housing_core.synthetic import generate_months

    spec = SyntheticSpec(seed=5, scale=0.01)
    months = generate_months(spec)
    panel = generate_panel(spec)
    by_month = dict(list(panel.groupby(panel["date"].dt.strftime("%Y-%m"), sort=True)))
    assert months.keys == sorted(by_month)
    for key in (months.keys[0], "2016-07", months.keys[-1]):
        expected = by_month[key].reset_index(drop=True)
        pd.testing.assert_frame_equal(months.month(key), expected)
    # the duplicates planted across the panel land in their months, right after their row
    assert sum(len(months.month(k)) for k in months.keys) == len(panel)


def test_beyond_full_scale_zips_stay_unique_and_valid():
    # 5x needs more codes than the metros' own prefixes hold: spare prefixes are borrowed
    from housing_core.synthetic import _zips

    zips = _zips(np.random.default_rng(7), n_zips(5.0))
    assert len(zips) == n_zips(5.0) == 31_130
    assert zips["zipcode"].is_unique
    assert zips["zipcode"].between(501, 99_950).all()
    assert set(zips["city"]) == set(c.METROS)
    with pytest.raises(ValueError, match="scale must be in"):
        n_zips(9.0)


def test_settings_allow_exactly_the_scales_the_generator_can_make():
    from pydantic import ValidationError

    from housing_core.settings import Settings
    from housing_core.synthetic import MAX_SCALE

    assert Settings().with_(scale=MAX_SCALE).scale == MAX_SCALE
    with pytest.raises(ValidationError, match="less than or equal to 8"):
        Settings().with_(scale=MAX_SCALE + 0.5)
