"""Drift of a month of data against the champion's training reference.

Computed with numpy and scipy only. Each feature is judged by how far its distribution moved:
the Wasserstein-1 distance of the reported values in units of the reference's interquartile
range (`wasserstein`), plus PSI of its reported/missing split (`missing_psi`: "stopped being
reported" is drift too). PSI on decile bins and the KS statistic are reported beside it. Drift
libraries (Evidently, NannyML) would add a large dependency tree for formulas we can test on
hand-made distributions; the HTML report is ours too.

Why not decile PSI: it treats bins as unordered and reads sampling noise as drift on a small
panel. A 40-zip month has four rows per decile bin, so two samples of the same market differ
by PSI ~0.2 on average, over the usual 0.25 line within a few months; on a count, a decile bin
is often one value wide, and a year of growth that moves every zip by one unit empties it (PSI
~0.45). Wasserstein-1 is the mean distance the mass moved, so one unit costs one unit whatever
the binning, its sampling noise shrinks with the sample instead of sitting on a fixed floor, and
it cannot explode. Counts get a scale of at least one count (a feature whose middle half is a
single value, such as bus stops, is measured in stops). 0.35 IQR is about what PSI 0.25 means
for a shifted normal (half a standard deviation); benchmarks/drift_statistics.py has the numbers.

Fixed thresholds are the floor: `calibrate` raises each feature's to what the data's own normal
months reached (benchmarks/drift_calibration.py has the false-alarm rates).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from housing_core import contract as c

BINS = 10
EPS = 1e-4  # floor on bin shares, so an empty bin does not make PSI infinite
REFERENCE_MONTHS = 12  # the champion's reference: the last year of data before its holdout
REFERENCE_ROWS = 20_000
# Small non-negative whole numbers per zip (and month): their scale is at least one count.
# Census counts are counts too, but in the thousands: their IQR is never below one.
COUNT_FEATURES = frozenset(c.POI_COLUMNS + c.MARKET_COUNT_STATS)
PSI, WASSERSTEIN = "psi", "wasserstein"


@dataclass(frozen=True)
class Thresholds:
    feature_psi: float = 0.25  # a feature's missing share drifts above this PSI ...
    single_feature_psi: float = 1.0  # ... and is an ERROR on its own above this
    feature_wasserstein: float = 0.35  # a feature drifts when it moved this far (reference IQRs)
    single_feature_wasserstein: float = 1.0  # ... and is an ERROR on its own beyond this
    share_warn: float = 0.2  # WARN when this share of features drifts ...
    share_error: float = 0.4  # ... ERROR above this
    prediction_psi_warn: float = 0.1
    prediction_psi_error: float = 0.25
    mape_ratio_warn: float = 1.5  # month MAPE / champion holdout MAPE
    mape_ratio_error: float = 2.0

    def as_dict(self) -> dict:
        return asdict(self)


def psi(reference: np.ndarray, current: np.ndarray, bins: int = BINS) -> float:
    """Population stability index of `current` against `reference` (NaN = its own bin)."""
    reference = np.asarray(reference, dtype="float64")
    current = np.asarray(current, dtype="float64")
    if len(reference) == 0 or len(current) == 0:
        raise ValueError("PSI needs values on both sides")
    ref_ok, cur_ok = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if len(ref_ok):
        edges = np.unique(np.quantile(ref_ok, np.linspace(0, 1, bins + 1)))
        inner = edges[1:-1]
    else:
        inner = np.array([])
    p = _shares(ref_ok, inner, len(reference))
    q = _shares(cur_ok, inner, len(current))
    return float(np.sum((q - p) * np.log(q / p)))


def _shares(values: np.ndarray, inner_edges: np.ndarray, total: int) -> np.ndarray:
    """Shares per bin (values <= each inner edge go left) plus the missing share, floored."""
    counts = np.bincount(
        np.searchsorted(inner_edges, values, side="left"), minlength=len(inner_edges) + 1
    )
    return _floored(np.append(counts, total - len(values)) / total)


def missing_psi(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI of the reported/missing split alone: the missing-value bin of `psi`, for statistics
    that only see reported values."""
    reference = np.asarray(reference, dtype="float64")
    current = np.asarray(current, dtype="float64")
    if len(reference) == 0 or len(current) == 0:
        raise ValueError("PSI needs values on both sides")
    p = _floored(np.array([np.isfinite(reference).mean(), (~np.isfinite(reference)).mean()]))
    q = _floored(np.array([np.isfinite(current).mean(), (~np.isfinite(current)).mean()]))
    return float(np.sum((q - p) * np.log(q / p)))


def _floored(shares: np.ndarray) -> np.ndarray:
    shares = np.maximum(shares, EPS)
    return shares / shares.sum()


def count_scale(reference: np.ndarray, floor: float = 1.0) -> float:
    """The reference's interquartile range of reported values, at least `floor`: one count for a
    count (an IQR of 0, e.g. 70% of zips without a bus stop, would make any move infinite);
    for a continuous feature whose middle half is one value, its full range."""
    values = np.asarray(reference, dtype="float64")
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return 1.0
    q75, q25 = np.quantile(values, [0.75, 0.25])
    if q75 > q25 or floor > 0:
        return float(max(q75 - q25, floor))
    return float(max(values.max() - values.min(), 1e-12))


def wasserstein(reference: np.ndarray, current: np.ndarray, floor: float = 1.0) -> float:
    """Wasserstein-1 distance of the reported values, in reference IQRs (`count_scale`): the
    mean distance the month's mass moved. 0 when a side has no reported values (as `ks`)."""
    a = np.asarray(reference, dtype="float64")
    b = np.asarray(current, dtype="float64")
    scale = count_scale(a, floor)
    return _w1(np.sort(a[np.isfinite(a)]), np.sort(b[np.isfinite(b)])) / scale


def _w1(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 of two sorted samples: the area between their empirical CDFs. Merging two
    sorted runs is linear (a stable sort finds the runs), so a reference sorted once serves
    every month compared with it (`calibrate` compares hundreds)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    values = np.concatenate([a, b])
    order = np.argsort(values, kind="stable")
    from_a = order < len(a)
    gaps = np.diff(values[order])
    cdf_gap = np.cumsum(from_a)[:-1] / len(a) - np.cumsum(~from_a)[:-1] / len(b)
    return float(np.sum(np.abs(cdf_gap) * gaps))


def ks(reference: np.ndarray, current: np.ndarray) -> float:
    """The two-sample KS statistic on the reported (finite) values; 0 when a side has none."""
    a = np.asarray(reference, dtype="float64")
    b = np.asarray(current, dtype="float64")
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0:
        return 0.0
    return float(stats.ks_2samp(a, b).statistic)


def judge_feature(
    name: str,
    reference: pd.Series,
    current: pd.Series,
    thresholds: Thresholds,
    *,
    count: bool,
    bars: dict[str, float] | None = None,
    previous: pd.Series | None = None,
) -> dict[str, Any]:
    """One feature's numbers. `score` is the statistic that judges it (PSI, or `wasserstein` for
    a count); `severity` is the score over its drift threshold, so features judged by different
    statistics sort and plot on one axis (> 1 drifts). A count's missing share is judged by PSI
    on its own, as the missing bin of PSI judges every other feature. `bars`: this feature's
    calibrated thresholds (`calibrate`), else the policy's. `previous`: the month before, whose
    distance to this one (`step`, in the same reference IQRs) tells a broken feed from a market
    that moved there month by month."""
    ref, cur = reference.to_numpy(dtype="float64"), current.to_numpy(dtype="float64")
    bar = bars or _policy_bars(thresholds)
    floor = 1.0 if count else 0.0
    entry: dict[str, Any] = {
        "feature": name,
        "statistic": WASSERSTEIN,
        "psi": psi(ref, cur),
        "ks": ks(ref, cur),
        "wasserstein": wasserstein(ref, cur, floor),
        "scale": count_scale(ref, floor),
        "missing_psi": missing_psi(ref, cur),
        "missing_reference": float(np.isnan(ref).mean()),
        "missing_current": float(np.isnan(cur).mean()),
        "threshold": bar["drift"],
        "alone": bar["alone"],
        "missing_threshold": bar["missing_drift"],
        "missing_alone": bar["missing_alone"],
        "calibrated": bars is not None,
        "step_alone": bar.get("step_alone", thresholds.feature_wasserstein),
    }
    entry["step"] = None if previous is None else _step(previous, cur, entry["scale"])
    entry["returning"] = previous is not None and _returning(ref, previous, cur)
    entry["score"] = entry["wasserstein"]
    severity = max(entry["score"] / bar["drift"], entry["missing_psi"] / bar["missing_drift"])
    entry["severity"] = float(severity)
    entry["drifting"] = bool(severity > 1)
    return entry


def _returning(reference: np.ndarray, previous: pd.Series, current: np.ndarray) -> bool:
    """This month's median is nearer the reference's than the month before's was: a feature on
    its way back (a market cooling after a run-up, a feed mended), not one breaking."""
    medians = [
        np.nanmedian(v) if np.isfinite(v).any() else np.nan
        for v in (reference, previous.to_numpy(dtype="float64"), current)
    ]
    ref, before, now = medians
    return bool(np.isfinite(medians).all() and abs(now - ref) < abs(before - ref))


def _step(previous: pd.Series, current: np.ndarray, scale: float) -> float | None:
    """None when either month reported nothing (the missing share judges that)."""
    before = previous.to_numpy(dtype="float64")
    before, current = before[np.isfinite(before)], current[np.isfinite(current)]
    if len(before) == 0 or len(current) == 0:
        return None
    return _w1(np.sort(before), np.sort(current)) / scale


def _policy_bars(t: Thresholds) -> dict[str, float]:
    return {
        "drift": t.feature_wasserstein,
        "alone": t.single_feature_wasserstein,
        "missing_drift": t.feature_psi,
        "missing_alone": t.single_feature_psi,
        "step_alone": t.feature_wasserstein,
    }


TRAINED = "trained"  # a month the served model learned from: reported, not judged
STATUS_COLOURS = {"ok": "#2e7d32", "warn": "#ef6c00", "error": "#c62828", TRAINED: "#757575"}


def not_judged(report: dict, model: str, trained_through: str) -> dict:
    """A month the served model was trained on cannot drift from it: its figures stay in the
    report, the verdict says why there is none."""
    return {
        **report,
        "status": TRAINED,
        "reasons": [f"model {model} was trained on months through {trained_through}: not judged"],
    }


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: list[str],
    *,
    reference_prediction: np.ndarray,
    prediction: np.ndarray,
    actual: np.ndarray | None,
    champion_mape: float,
    thresholds: Thresholds = Thresholds(),
    counts: frozenset[str] = COUNT_FEATURES,
    calibration: dict | None = None,
    previous: pd.DataFrame | None = None,
) -> dict:
    """The drift report's numbers for one month; `status` is ok / warn / error with reasons.
    Features named in `counts` are judged by `wasserstein`, the others by PSI. With a
    `calibration` (`calibrate`, from the champion's bundle) each feature and the predictions are
    judged against what the data's own normal months reached, never below the policy. With the
    month before (`previous`), a feature far from the reference is an ERROR only if it also
    jumped from that month further than the data's months ever did: a market that walked there
    month by month (a bidding war lifting sale-to-list for half a year), or that jumped back
    toward the reference (the war ending), is a WARN; the live error against persistence says
    whether the model suffers for it."""
    bars = (calibration or {}).get("features", {})
    per_feature = [
        judge_feature(
            name,
            reference[name],
            current[name],
            thresholds,
            count=name in counts,
            bars=bars.get(name),
            previous=None if previous is None else previous[name],
        )
        for name in features
    ]
    per_feature.sort(key=lambda f: -f["severity"])
    share = float(np.mean([f["drifting"] for f in per_feature])) if per_feature else 0.0
    out = {
        "rows": len(current),
        "reference_rows": len(reference),
        "features": per_feature,
        "share_drifting": share,
        "drifting_features": [f["feature"] for f in per_feature if f["drifting"]],
        "prediction_psi": psi(reference_prediction, prediction),
        "prediction_ks": ks(reference_prediction, prediction),
        "prediction_median": float(np.nanmedian(prediction)),
        "reference_prediction_median": float(np.nanmedian(reference_prediction)),
        "champion_mape": champion_mape,
        "mape": None,
        "mape_ratio": None,
        "thresholds": thresholds.as_dict(),
        "prediction_bars": (calibration or {}).get("prediction")
        or {"warn": thresholds.prediction_psi_warn, "error": thresholds.prediction_psi_error},
        "calibration": _calibration_summary(calibration),
    }
    if actual is not None:
        actual = np.asarray(actual, dtype="float64")
        known = np.isfinite(actual) & (actual > 0)
        if known.any():
            from sklearn.metrics import mean_absolute_percentage_error

            # A fraction in scikit-learn, % here like every MAPE the platform reports.
            mape = mean_absolute_percentage_error(actual[known], prediction[known]) * 100
            out["mape"], out["mape_ratio"] = mape, mape / champion_mape
    out["status"], out["reasons"] = _verdict(out, thresholds)
    return out


# Calibration: the history replayed as if each of its recent months had been a holdout start.
CALIBRATION_ANCHORS = 24  # pseudo holdout starts, the latest that leave CALIBRATION_GAPS months
CALIBRATION_GAPS = 12  # months scored after each, as a champion scores the months after its own
DRIFT_QUANTILE = 0.95  # a feature drifts above what 95% of its normal months reached ...
ALONE_MARGIN = 1.25  # ... and is an ERROR on its own beyond 1.25x the most any of them reached


def calibrate(
    rows: pd.DataFrame,
    features: list[str],
    thresholds: Thresholds = Thresholds(),
    counts: frozenset[str] = COUNT_FEATURES,
) -> dict | None:
    """Each feature's drift thresholds from the data's own history, or None when the history is
    too short (under REFERENCE_MONTHS + CALIBRATION_GAPS months).

    A fixed threshold (PSI 0.25) reads sampling noise as drift on a small panel -- a 40-zip month
    has 4 rows per decile bin -- and a steady trend as drift in a rising market. So the history
    before the holdout is replayed: each of its last CALIBRATION_ANCHORS months is taken as a
    holdout start, its previous REFERENCE_MONTHS months as the reference (sampled as the live
    reference is), and the CALIBRATION_GAPS months from it are scored against that reference
    with the same statistics. Those are normal months by definition -- the champion trained on
    them -- at the panel's own size. A feature drifts above the DRIFT_QUANTILE of its scores and
    is an ERROR alone above ALONE_MARGIN x their maximum; never below the policy's thresholds.
    Prediction drift is calibrated on the price itself, which predictions track."""
    months = rows[c.DATE].dt.to_period("M")
    order = sorted(months.unique())
    last = len(order) - CALIBRATION_GAPS  # the last anchor with all its months scored
    first = max(REFERENCE_MONTHS, last - CALIBRATION_ANCHORS + 1)
    if last < first:
        return None
    by_month = {m: rows.loc[months == m, [*features, c.TARGET]] for m in order}
    scores: dict[str, list[float]] = {f: [] for f in features}
    missing: dict[str, list[float]] = {f: [] for f in features}
    steps: dict[str, list[float]] = {f: [] for f in features}
    prices: list[float] = []
    for i in range(first, last + 1):
        window = pd.concat([by_month[m] for m in order[i - REFERENCE_MONTHS : i]])
        reference = window.sample(min(len(window), REFERENCE_ROWS), random_state=0)
        for f in features:  # the reference once per anchor: sorted, scaled, its missing share
            ref = reference[f].to_numpy("float64")
            known = np.sort(ref[np.isfinite(ref)])
            scale = count_scale(ref, 1.0 if f in counts else 0.0)
            before = None
            for month in order[i - 1 : i + CALIBRATION_GAPS]:
                cur = by_month[month][f].to_numpy("float64")
                now = np.sort(cur[np.isfinite(cur)])
                if before is not None:  # the month before each scored month (the first: i - 1)
                    scores[f].append(_w1(known, now) / scale)
                    missing[f].append(missing_psi(ref, cur))
                    if len(before) and len(now):
                        steps[f].append(_w1(before, now) / scale)
                before = now
        for month in order[i : i + CALIBRATION_GAPS]:
            prices.append(psi(reference[c.TARGET].to_numpy("float64"), by_month[month][c.TARGET]))
    out: dict[str, dict[str, float]] = {}
    base = _policy_bars(thresholds)
    for f in features:
        out[f] = {
            "drift": _quiet(scores[f], base["drift"]),
            "alone": _most(scores[f], base["alone"]),
            "missing_drift": _quiet(missing[f], base["missing_drift"]),
            "missing_alone": _most(missing[f], base["missing_alone"]),
            "step_alone": _most(steps[f] or [0.0], base["step_alone"]),
        }
    return {
        "comparisons": len(prices),
        "anchors": [str(order[first]), str(order[last])],
        "drift_quantile": DRIFT_QUANTILE,
        "alone_margin": ALONE_MARGIN,
        "features": out,
        "prediction": {
            "warn": _quiet(prices, thresholds.prediction_psi_warn),
            "error": _most(prices, thresholds.prediction_psi_error),
        },
    }


def _quiet(values: list[float], floor: float) -> float:
    return round(max(floor, float(np.quantile(values, DRIFT_QUANTILE))), 4)


def _most(values: list[float], floor: float) -> float:
    return round(max(floor, ALONE_MARGIN * float(np.max(values))), 4)


def _calibration_summary(calibration: dict | None) -> dict | None:
    """What a report says of its calibration (the thresholds themselves are per feature)."""
    if calibration is None:
        return None
    return {k: v for k, v in calibration.items() if k != "features"}


def _walked(f: dict) -> bool:
    """Far from the reference, but no further from the month before than normal months move."""
    return f["score"] > f["alone"] and f["step"] is not None and f["step"] <= f["step_alone"]


def _receding(f: dict) -> bool:
    """Far from the reference and a long way from the month before, but back toward the
    reference: the market turning, or a feed mended."""
    return f["score"] > f["alone"] and not _walked(f) and f.get("returning", False)


def _far_off(f: dict) -> list[str]:
    """Why this one feature is an ERROR on its own (empty when it is not)."""
    out = []
    if f["score"] > f["alone"] and not _walked(f) and not _receding(f):
        step = "" if f["step"] is None else f", {f['step']:.2f} of it since the month before"
        out.append(f"{f['feature']} moved {f['score']:.2f} IQR > {f['alone']:.2f}{_bar(f)}{step}")
    if f["missing_psi"] > f["missing_alone"]:
        out.append(
            f"{f['feature']} missing {f['missing_reference']:.0%} -> {f['missing_current']:.0%}: "
            f"PSI {f['missing_psi']:.2f} > {f['missing_alone']:.2f}{_bar(f)}"
        )
    return out


def _bar(f: dict) -> str:
    return " (beyond its normal months)" if f.get("calibrated") else ""


def _verdict(report: dict, t: Thresholds) -> tuple[str, list[str]]:
    errors: list[str] = []
    warnings: list[str] = []
    for f in report["features"]:  # sorted by severity, largest first
        errors += _far_off(f)
        if _walked(f):
            warnings.append(
                f"{f['feature']} moved {f['score']:.2f} IQR > {f['alone']:.2f}{_bar(f)}, month by "
                f"month ({f['step']:.2f} since the month before, normal up to {f['step_alone']:.2f})"
            )
        if _receding(f):
            warnings.append(
                f"{f['feature']} moved {f['score']:.2f} IQR > {f['alone']:.2f}{_bar(f)}, on its "
                f"way back: {f['step']:.2f} since the month before, toward the reference"
            )
    if errors:  # said once, after the features: any one of them is enough
        errors[-1] += "; one feature this far off is enough"
    share = report["share_drifting"]
    rule = (
        "each feature's drift threshold"
        if report["calibration"]
        else (f"PSI > {t.feature_psi}, counts Wasserstein > {t.feature_wasserstein} IQR")
    )
    if share > t.share_error:
        errors.append(f"{share:.0%} of features drift ({rule}; error above {t.share_error:.0%})")
    elif share > t.share_warn:
        warnings.append(f"{share:.0%} of features drift ({rule}; warn above {t.share_warn:.0%})")
    p, bars = report["prediction_psi"], report["prediction_bars"]
    if p > bars["error"]:
        errors.append(f"prediction PSI {p:.3f} > {bars['error']:.3f}")
    elif p > bars["warn"]:
        warnings.append(f"prediction PSI {p:.3f} > {bars['warn']:.3f}")
    ratio = report["mape_ratio"]
    if ratio is not None:
        detail = f"MAPE {report['mape']:.2f}% is {ratio:.2f}x the champion's holdout {report['champion_mape']:.2f}%"
        if ratio > t.mape_ratio_error:
            errors.append(detail)
        elif ratio > t.mape_ratio_warn:
            warnings.append(detail)
    if errors:
        return "error", errors + warnings
    return ("warn", warnings) if warnings else ("ok", [])


def markdown(month: str, report: dict, top: int = 8) -> str:
    lines = [
        f"**Drift {month}: {report['status'].upper()}** "
        f"({report['rows']:,} rows vs {report['reference_rows']:,} reference rows)",
        "",
        f"- features drifting: {len(report['drifting_features'])} of {len(report['features'])} "
        f"({report['share_drifting']:.0%})",
        f"- prediction PSI {report['prediction_psi']:.3f}, KS {report['prediction_ks']:.3f}",
    ]
    if report["mape"] is not None:
        lines.append(
            f"- MAPE {report['mape']:.2f}% vs champion holdout {report['champion_mape']:.2f}% "
            f"(x{report['mape_ratio']:.2f})"
        )
    lines += [f"- {r}" for r in report["reasons"]]
    lines += [
        "",
        "| feature | judged by | score | drifts above | PSI | KS |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {f['feature']} | {_label(f)} | {f['score']:.3f} | {f['threshold']} | {f['psi']:.3f} "
        f"| {f['ks']:.3f} |"
        for f in report["features"][:top]
    ]
    return "\n".join(lines)


def _label(feature: dict) -> str:
    """Reports written before every feature was judged by its move say PSI for some."""
    return "Wasserstein / IQR" if feature["statistic"] == WASSERSTEIN else "PSI"


def _optional(value: float | None, fmt: str) -> str:
    return "" if value is None else fmt.format(value)


def html(
    month: str,
    report: dict,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    reference_prediction: np.ndarray,
    prediction: np.ndarray,
    champion: str,
) -> str:
    """A self-contained HTML report (plots inlined as PNG data URIs): open it from anywhere."""
    import base64
    import html as escape

    from housing_core import plots

    def img(png: bytes, alt: str) -> str:
        return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'

    colour = STATUS_COLOURS[report["status"]]
    rows = "".join(
        f"<tr{' class=drift' if f['drifting'] else ''}><td>{escape.escape(f['feature'])}</td>"
        f"<td>{_label(f)}</td><td>{f['score']:.3f}</td><td>{f['threshold']}</td>"
        f"<td>{f['psi']:.3f}</td><td>{f['ks']:.3f}</td>"
        f"<td>{_optional(f['scale'], '{:,.0f}')}</td><td>{_optional(f['missing_psi'], '{:.3f}')}</td>"
        f"<td>{f['missing_reference']:.1%}</td><td>{f['missing_current']:.1%}</td></tr>"
        for f in report["features"]
    )
    top = [f["feature"] for f in report["features"][:3]]
    figures = [
        img(plots.drift_severity(report["features"]), "drift per feature"),
        img(
            plots.distributions(reference_prediction, prediction, "predicted price", log=True),
            "predictions",
        ),
        *(img(plots.distributions(reference[f], current[f], f), f) for f in top),
    ]
    mape = (
        f"<li>MAPE {report['mape']:.2f}% vs the champion's holdout {report['champion_mape']:.2f}% "
        f"(×{report['mape_ratio']:.2f})</li>"
        if report["mape"] is not None
        else "<li>no prices this month: MAPE not measured</li>"
    )
    reasons = "".join(f"<li>{escape.escape(r)}</li>" for r in report["reasons"]) or "<li>none</li>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Drift {month}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1100px; }}
.status {{ color: white; background: {colour}; padding: .2rem .6rem; border-radius: .3rem; }}
table {{ border-collapse: collapse; }} td, th {{ padding: .2rem .7rem; border-bottom: 1px solid #ddd; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }} tr.drift td {{ color: #c62828; font-weight: 600; }}
img {{ margin: .5rem .5rem 0 0; border: 1px solid #eee; }}
</style></head><body>
<h1>Drift report {month} <span class="status">{report["status"].upper()}</span></h1>
<p>{report["rows"]:,} rows of {month} against {report["reference_rows"]:,} reference rows
(the {REFERENCE_MONTHS} months before the holdout of champion <b>{escape.escape(champion)}</b>).</p>
<ul>
<li>features drifting (PSI &gt; {report["thresholds"]["feature_psi"]}; counts: Wasserstein &gt;
{report["thresholds"]["feature_wasserstein"]} IQR): {len(report["drifting_features"])} of
{len(report["features"])} ({report["share_drifting"]:.0%})</li>
<li>prediction drift: PSI {report["prediction_psi"]:.3f}, KS {report["prediction_ks"]:.3f}; median prediction
${report["prediction_median"]:,.0f} vs ${report["reference_prediction_median"]:,.0f} in the reference</li>
{mape}
</ul>
<h2>Why this status</h2><ul>{reasons}</ul>
<h2>Plots</h2>{"".join(figures)}
<h2>Every feature</h2>
<table><tr><th>feature</th><th>judged by</th><th>score</th><th>drifts above</th><th>PSI</th><th>KS</th>
<th>IQR (counts)</th><th>missing PSI (counts)</th><th>missing (reference)</th><th>missing (month)</th></tr>{rows}</table>
<p><small>PSI on the reference's deciles plus a missing-value bin; KS on reported values. Count
features ({escape.escape(", ".join(sorted(COUNT_FEATURES)))}) are judged by the Wasserstein-1
distance of reported values in units of the reference's IQR (at least one count): PSI's one-value
bins empty when zips move by one unit; their missing share is judged by PSI alone.
Thresholds: {escape.escape(str(report["thresholds"]))}</small></p>
</body></html>
"""
