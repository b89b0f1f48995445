"""The forecaster: log(price[o+h] / price[o]) for h = 1..24, one ridge per horizon and member.

Why linear, and why three members: on the real DC panel every regime we can replay (the flat
2016-19 years, the 2020-21 boom, the mid-2021 stall) was forecast best, on average, by ridge
regressions on momentum signals; trees extrapolated the boom further and lost the stall. Metro
signals help at turns and hurt in the boom, market stats the reverse, so each is a member on top
of the zip's own momentum and the forecast is their mean -- no one regime's winner decides alone.
`shrink` pulls every forecast toward persistence (0 change): tuned on rolling-origin validation,
it is how much the history says extrapolation can be trusted.

The fit solves the ridge normal equations from per-origin Gram matrices, so one fit costs one
pass over the examples whatever the number of horizons, and tuning refits cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from housing_core.forecast.panel import Panel
from housing_core.forecast.signals import Signals

HORIZON = 24
# Each ridge member adds a family to the zip's own momentum; a panel without that family's data
# (no market stats) drops the member rather than fitting momentum twice. A damped trend joins
# them (`damped_trend`).
MEMBERS = (("momentum",), ("momentum", "metro"), ("momentum", "market"))


@dataclass(frozen=True)
class Params:
    alpha: float = 10.0  # ridge penalty on standardized signals
    half_life: float = 0.0  # months; 0 = every origin weighs the same
    shrink: float = 1.0  # share of the modelled change kept; the rest is persistence
    damping: float = 0.9  # per month, of the damped-trend member's last monthly growth
    # Per month, the chance that the regime the members extrapolate has ended. A prior, not
    # tuned: a history of one long expansion (DC 2012-21) cannot say how long regimes last, and
    # its folds would always pick 0. 1/18 leaves a month's forecast growth half its weight a
    # year out. On the DC boom test months it costs 0.2 points at H = 12 (3.48 -> 3.68%); on the
    # synthetic 2022 turn it takes the 7-12-month bucket from worse than persistence to better.
    hazard: float = 1 / 18

    def as_dict(self) -> dict:
        return {
            "alpha": self.alpha,
            "half_life": self.half_life,
            "shrink": self.shrink,
            "damping": self.damping,
            "hazard": self.hazard,
        }


class Examples:
    """Every (origin, zip) of a panel with its signals and its realized change at each horizon.

    Built once; a fit masks the targets it may see (`last_target`), so rolling-origin validation
    refits without rebuilding anything. Signals at origin o use nothing after o (signals.py).
    """

    def __init__(self, panel: Panel, signals: Signals, horizon: int = HORIZON):
        self.panel, self.signals, self.horizon = panel, signals, horizon
        n_months, n_zips = panel.price.shape
        self.n_zips = n_zips
        self.origins = np.repeat(np.arange(n_months), n_zips)
        self.X = signals.at(np.arange(n_months))
        lp = np.log(panel.price)
        self.Y = np.full((n_months * n_zips, horizon), np.nan)
        for h in range(1, min(horizon, n_months - 1) + 1):  # a short history has no far target
            change = np.full_like(lp, np.nan)
            change[: n_months - h] = lp[h:] - lp[: n_months - h]
            self.Y[:, h - 1] = change.ravel()
        momentum = [signals.names.index(n) for n in signals.of("momentum")]
        self.usable = np.isfinite(self.X[:, momentum]).all(axis=1) & np.isfinite(lp.ravel())

    def rows_at(self, origin: int) -> slice:
        return slice(origin * self.n_zips, (origin + 1) * self.n_zips)


@dataclass
class Member:
    signals: list[str]
    center: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # horizon x (1 + signals): intercept first

    def predict(self, X: np.ndarray, names: list[str]) -> np.ndarray:
        cols = [names.index(s) for s in self.signals]
        Z = np.nan_to_num((X[:, cols] - self.center) / self.scale)
        return self.coef[:, :1].T + Z @ self.coef[:, 1:].T


@dataclass
class Forecaster:
    members: list[Member]
    params: Params
    window: int | None
    trained_through: str  # the last target month the fit saw
    horizon: int = HORIZON
    signal_names: list[str] = field(default_factory=list)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """rows x horizon log changes from the origin's price (rows of `Signals.at`): the
        members' mean, each month's step weighted by the regime's survival, then shrunk."""
        mean = np.mean([m.predict(X, self.signal_names) for m in self.members], axis=0)
        steps = np.diff(mean, axis=1, prepend=0.0)
        survival = (1 - self.params.hazard) ** np.arange(1, mean.shape[1] + 1)
        return self.params.shrink * np.cumsum(steps * survival, axis=1)

    def to_dict(self) -> dict:
        return {
            "horizon": self.horizon,
            "window": self.window,
            "trained_through": self.trained_through,
            "params": self.params.as_dict(),
            "signal_names": self.signal_names,
            "members": [
                {
                    "signals": m.signals,
                    "center": m.center.tolist(),
                    "scale": m.scale.tolist(),
                    "coef": m.coef.tolist(),
                }
                for m in self.members
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Forecaster:
        members = [
            Member(m["signals"], np.array(m["center"]), np.array(m["scale"]), np.array(m["coef"]))
            for m in data["members"]
        ]
        return cls(
            members,
            Params(**data["params"]),
            data["window"],
            data["trained_through"],
            data["horizon"],
            data["signal_names"],
        )


def can_fit(examples: Examples, last_target: int) -> bool:
    """Whether some usable origin has a known target at every horizon by `last_target`."""
    usable = examples.origins[examples.usable]
    return bool(len(usable)) and int(usable.min()) + examples.horizon <= last_target


def fit(examples: Examples, last_target: int, params: Params) -> Forecaster:
    """Fit on every change whose target month is at most `last_target` (a panel month index)."""
    sig = examples.signals
    train = examples.usable & (examples.origins < last_target)
    if not train.any():
        raise ValueError(
            f"forecaster: no usable history before {examples.panel.months[last_target]} "
            "(each zip needs a price and its momentum signals at an origin)"
        )
    members = []
    for families in MEMBERS:
        names = [n for fam in families for n in sig.of(fam)]
        if len(families) > 1 and len(names) == len(sig.of("momentum")):
            continue
        members.append(_fit_member(examples, train, last_target, names, params))
    members.append(damped_trend(params.damping, examples.horizon))
    return Forecaster(
        members,
        params,
        sig.window,
        examples.panel.months[last_target],
        examples.horizon,
        list(sig.names),
    )


def damped_trend(damping: float, horizon: int) -> Member:
    """The zip's last monthly growth carried on, damped: g1 * (phi + phi^2 + ... + phi^h).

    The member that knows when not to extrapolate. The ridge members learn from history that
    prices grow (their intercept is the panel's average growth) and that a zip's trend persists;
    when the last months go flat after a boom -- DC in late 2021 -- they keep forecasting the
    average year, while this member forecasts what the last month shows, fading. Equal weight
    with the others: on the real panel it cut the H = 12 error of the boom test months and held
    the flat years (benchmarks/forecast_protocol.py)."""
    if not 0 <= damping < 1:
        raise ValueError(f"damping must be in [0, 1), got {damping}")
    powers = np.cumsum(damping ** np.arange(1, horizon + 1))
    coef = np.column_stack([np.zeros(horizon), powers])
    return Member(["g1"], np.zeros(1), np.ones(1), coef)


def _weights(newest: int, half_life: float) -> np.ndarray:
    """Origin weights for a horizon whose newest usable origin is `newest` (recency decay)."""
    age = newest - np.arange(newest + 1)
    return 0.5 ** (age / half_life) if half_life > 0 else np.ones(newest + 1)


def _fit_member(
    ex: Examples, train: np.ndarray, last_target: int, names: list[str], params: Params
) -> Member:
    cols = [ex.signals.names.index(n) for n in names]
    X = ex.X[train][:, cols]
    center = np.nanmean(X, axis=0)
    scale = np.nanstd(X, axis=0)
    scale[~(scale > 0)] = 1.0
    center = np.nan_to_num(center)
    A = np.column_stack([np.ones(len(X)), np.nan_to_num((X - center) / scale)])
    Y = ex.Y[train]
    origins = ex.origins[train]
    first = int(origins.min())
    n_origins = last_target - first
    k = A.shape[1]
    # Per-origin sufficient statistics: a horizon's fit sums those of the origins it may see.
    gram = np.zeros((n_origins, k, k))
    moment = np.zeros((n_origins, k, ex.horizon))
    rel = origins - first
    known = np.isfinite(Y)
    Yz = np.where(known, Y, 0.0)
    for o in range(n_origins):
        rows = rel == o
        if rows.any():
            Ao = A[rows]
            gram[o] = Ao.T @ Ao
            moment[o] = Ao.T @ Yz[rows]
    penalty = np.ones(k)
    penalty[0] = 0.0  # the intercept is not shrunk
    coef = np.zeros((ex.horizon, k))
    for h in range(1, ex.horizon + 1):
        newest = last_target - h - first  # the last origin whose target month is <= last_target
        if newest < 0:
            raise ValueError(
                f"forecaster: no origin has a known price {h} months later by "
                f"{ex.panel.months[last_target]}"
            )
        weight = _weights(newest, params.half_life)
        G = np.tensordot(weight, gram[: newest + 1], axes=1)
        b = np.tensordot(weight, moment[: newest + 1, :, h - 1], axes=1)
        # A zip missing the target month (a gap in its history) leaves the shared Gram matrix.
        gap = ~known[:, h - 1] & (rel <= newest)
        if gap.any():
            Ag = A[gap] * np.sqrt(weight[rel[gap]])[:, None]
            G -= Ag.T @ Ag
        # alpha is per 1,000 weighted examples, so one setting means the same on 40 zips or 6,000.
        coef[h - 1] = np.linalg.solve(G + np.diag(penalty * params.alpha * G[0, 0] / 1000), b)
    return Member(names, center, scale, coef)
