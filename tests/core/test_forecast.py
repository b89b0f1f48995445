"""housing_core/forecast: the panel grid, leak-free signals and fits, the protocol's split, bands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from housing_core.forecast import intervals as I
from housing_core.forecast import model as M
from housing_core.forecast import protocol as P
from housing_core.forecast import signals as S
from housing_core.forecast.panel import Panel


def rows(n_months: int = 72, n_zips: int = 6, seed: int = 0, momentum: float = 0.9) -> pd.DataFrame:
    """Zips whose monthly growth is AR(1) with `momentum`, in two metros, with market stats."""
    rng = np.random.default_rng(seed)
    months = pd.period_range("2012-03", periods=n_months, freq="M")
    growth = np.zeros((n_months, n_zips))
    for t in range(1, n_months):
        growth[t] = momentum * growth[t - 1] + rng.normal(0, 0.004, n_zips)
    price = 300_000 * np.exp(np.cumsum(growth + 0.002, axis=0))
    frames = []
    for z in range(n_zips):
        frames.append(
            pd.DataFrame(
                {
                    "zipcode": 20000 + z,
                    "date": months.to_timestamp(how="end").normalize(),
                    "price": price[:, z],
                    "city_full": "DC" if z % 2 else "Austin",
                    "avg_sale_to_list": 0.98 + growth[:, z],
                    "median_dom": 40 - 500 * growth[:, z],
                    "pending_sales": rng.poisson(40, n_months).astype(float),
                    "inventory": rng.poisson(30, n_months).astype(float),
                    "homes_sold": rng.poisson(35, n_months).astype(float),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_panel_is_a_months_by_zips_grid_with_gaps_as_nan():
    data = rows(24, 3)
    data = data.drop(index=data[(data.zipcode == 20001)].index[5])
    panel = Panel.from_rows(data)
    assert panel.months[0] == "2012-03" and panel.months[-1] == "2014-02"
    assert panel.price.shape == (24, 3)
    assert np.isnan(panel.price[5, 1]) and np.isfinite(panel.price).sum() == 71
    assert list(panel.metros) == ["Austin", "DC", "Austin"]
    assert set(panel.stats) == {
        "avg_sale_to_list",
        "median_dom",
        "pending_sales",
        "inventory",
        "homes_sold",
    }


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda d: pd.concat([d, d.iloc[[7]]]), "repeat a zip-month, e.g. zip 20000 in 2012-10"),
        (
            lambda d: d.assign(price=d.price.where(d.index != 3, 0.0)),
            "non-positive prices, e.g. zip 20000 in 2012-06",
        ),
        (lambda d: d.drop(columns="price"), "lack column(s) ['price']"),
        (lambda d: d.iloc[:0], "no rows"),
    ],
)
def test_panel_refuses_bad_rows_naming_zip_and_month(spoil, message):
    with pytest.raises(
        ValueError,
        match=message.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ):
        Panel.from_rows(spoil(rows(24, 2)))


@pytest.mark.parametrize(
    "n_months, test_start, origins_12, origins_6",
    [(118, "2020-01", 13, 19), (142, "2021-09", 17, 23)],  # the counts for both DC panels
)
def test_protocol_split_matches_the_benchmark(n_months, test_start, origins_12, origins_6):
    months = [str(p) for p in pd.period_range("2012-03", periods=n_months, freq="M")]
    split = P.Split(n_months)
    assert months[split.test_start] == test_start
    assert len(split.origins(12)) == origins_12 and len(split.origins(6)) == origins_6
    assert split.origins(12)[0] == split.test_start - 1
    assert split.origins(12)[-1] + 12 == n_months - 1


def test_signals_and_fit_never_see_past_their_month():
    panel = Panel.from_rows(rows(72, 6))
    later = panel.price.copy()
    later[50:] *= 1.5  # a different future after month 49
    changed = Panel(panel.months, panel.zips, panel.metros, later, panel.stats)
    a, b = S.compute(panel, 12), S.compute(changed, 12)
    for name in a.names:
        np.testing.assert_array_equal(a.grids[name][:50], b.grids[name][:50], err_msg=name)
    assert not np.allclose(a.grids["g1"][50], b.grids["g1"][50])
    params = M.Params(alpha=1.0, half_life=24.0, shrink=0.8)
    fit_a = M.fit(M.Examples(panel, a), 49, params)
    fit_b = M.fit(M.Examples(changed, b), 49, params)
    for ma, mb in zip(fit_a.members, fit_b.members, strict=True):
        np.testing.assert_allclose(ma.coef, mb.coef)


def test_the_gram_fit_is_the_weighted_ridge_it_claims_even_with_gaps():
    data = rows(60, 5, seed=3)
    data = data.drop(index=data.sample(25, random_state=1).index)  # scattered missing months
    panel = Panel.from_rows(data)
    examples = M.Examples(panel, S.compute(panel, 12))
    params = M.Params(alpha=3.0, half_life=12.0, shrink=1.0)
    last = 55
    member = M.fit(examples, last, params).members[0]
    h = 4
    cols = [examples.signals.names.index(n) for n in member.signals]
    use = examples.usable & (examples.origins <= last - h) & np.isfinite(examples.Y[:, h - 1])
    newest = last - h
    w = 0.5 ** ((newest - examples.origins[use]) / params.half_life)
    A = np.column_stack(
        [
            np.ones(use.sum()),
            np.nan_to_num((examples.X[use][:, cols] - member.center) / member.scale),
        ]
    )
    penalty = np.eye(A.shape[1]) * params.alpha * w.sum() / 1000
    penalty[0, 0] = 0
    direct = np.linalg.solve(A.T @ (A * w[:, None]) + penalty, A.T @ (w * examples.Y[use, h - 1]))
    np.testing.assert_allclose(member.coef[h - 1], direct, rtol=1e-8, atol=1e-12)


def test_forecaster_uses_momentum_where_it_exists_and_round_trips_as_json():
    panel = Panel.from_rows(rows(96, 8, seed=1, momentum=0.9))
    run = P.run(panel, 6, window=12, trials=4)
    ours = P.scores(run.points, "model")["mape"]
    assert ours < 0.8 * P.scores(run.points, "persistence")["mape"]
    again = M.Forecaster.from_dict(json.loads(json.dumps(run.forecaster.to_dict())))
    X = M.Examples(panel, S.compute(panel, 12)).X[-8:]
    np.testing.assert_array_equal(again.predict(X), run.forecaster.predict(X))
    assert run.forecaster.predict(X).shape == (8, M.HORIZON)


def test_too_short_a_history_is_refused_with_the_reason():
    panel = Panel.from_rows(rows(30, 3))
    with pytest.raises(ValueError, match="too little history"):
        P.run(panel, 6, window=12, trials=2)


def pool_with(sd_by_step: dict[int, float], months: range, n: int = 40, seed: int = 0) -> I.Pool:
    rng = np.random.default_rng(seed)
    pool = I.Pool(horizon=3)
    for target in months:
        for step, sd in sd_by_step.items():
            pool.add(np.full(n, target), np.full(n, step), rng.normal(0, sd, n))
    return pool


def test_bands_are_conformal_quantiles_per_horizon_and_borrow_from_longer_ones():
    pool = pool_with({1: 0.01, 3: 0.03}, range(0, 24))
    half = pool.quantiles(as_of=23, months=24)
    assert half["80"][0] == pytest.approx(0.01 * 1.2816, rel=0.1)
    assert half["95"][2] == pytest.approx(0.03 * 1.96, rel=0.1)
    assert half["80"][1] == half["80"][2]  # step 2 has no residual: it takes step 3's
    # Only residuals whose target month is known by `as_of` count.
    assert pool.quantiles(as_of=5, months=24)["80"][0] == pytest.approx(0.0128, rel=0.2)


def test_bands_widen_the_month_one_step_errors_run_above_their_window():
    pool = pool_with({1: 0.01, 3: 0.03}, range(0, 24))
    calm = pool.quantiles(as_of=23, months=24)["80"][2]
    # A turn: the last six months' one-step errors triple.
    for target in range(24, 30):
        pool.add(
            np.full(40, target), np.full(40, 1), np.random.default_rng(target).normal(0, 0.03, 40)
        )
    turned = pool.quantiles(as_of=29, months=24)["80"][2]
    assert turned > 1.5 * calm


def test_an_empty_pool_is_an_error_not_a_zero_width_band():
    with pytest.raises(ValueError, match="empty"):
        I.Pool(horizon=3).quantiles(as_of=10)
    with pytest.raises(ValueError, match="fewer than 20"):
        pool_with({1: 0.01}, range(0, 2), n=5).quantiles(as_of=10)
