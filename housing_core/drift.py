"""Drift of a month of data against the champion's training reference.

Computed with numpy and scipy only: PSI on the reference's decile bins (plus a bin for missing
values, since "stopped being reported" is drift too) and the two-sample Kolmogorov-Smirnov
statistic; count features (the contract's POI and monthly market counts) are judged by the
Wasserstein-1 distance in units of the reference's interquartile range instead (`wasserstein`). A drift library (Evidently, NannyML) would add a large dependency tree to the code
location for two formulas we can test on hand-made distributions; the HTML report is ours too.

Conventions (the usual PSI reading): < 0.1 stable, 0.1-0.25 moderate, > 0.25 a real shift.

Why counts get their own statistic: PSI treats its bins as unordered. On a count, a decile bin is
often one value wide ((1, 2] holding 6% of the zips); when a year of growth moves those zips to 3,
the bin empties, the floor on shares turns 6% -> 0% into a PSI of ~0.45 and a calm month counts
as drift, although every zip moved by one unit. One bin per distinct value empties the same way.
Wasserstein-1 is the mean distance the mass has to move, so one unit costs one unit whatever the
binning, and it cannot explode. Scaled by the reference's IQR (at least one count: a feature
whose middle half is a single value, such as bus stops, is measured in stops), 0.35 is about what
PSI 0.25 means for a shifted normal (half a standard deviation) and clears the seasonal swing of
the reference's own months (<= 0.30 measured); benchmarks/drift_statistics.py has the numbers.
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
# Small non-negative whole numbers per zip (and month): judged by `wasserstein`, not decile PSI.
# Census counts are counts too, but in the thousands and yearly: no value holds a decile's mass.
COUNT_FEATURES = frozenset(c.POI_COLUMNS + c.MARKET_COUNT_STATS)
PSI, WASSERSTEIN = "psi", "wasserstein"


@dataclass(frozen=True)
class Thresholds:
    feature_psi: float = 0.25  # a feature drifts above this PSI
    single_feature_psi: float = 1.0  # one feature this far off is an ERROR on its own
    feature_wasserstein: float = 0.35  # a count feature drifts above this (reference IQRs)
    single_feature_wasserstein: float = 1.0  # ... and is an ERROR on its own above this
    share_warn: float = 0.2  # WARN when this share of features drifts ...
    share_error: float = 0.4  # ... ERROR above this
    prediction_psi_warn: float = 0.1
    prediction_psi_error: float = 0.25
    mape_ratio_warn: float = 1.5  # month MAPE / champion holdout MAPE
    mape_ratio_error: float = 2.0

    def as_dict(self) -> dict:
        return asdict(self)

    def drift(self, statistic: str) -> float:
        return {PSI: self.feature_psi, WASSERSTEIN: self.feature_wasserstein}[statistic]


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


def count_scale(reference: np.ndarray) -> float:
    """The reference's interquartile range of reported values, at least one count (an IQR of 0,
    e.g. 70% of zips without a bus stop, would make any move infinite)."""
    values = np.asarray(reference, dtype="float64")
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return 1.0
    q75, q25 = np.quantile(values, [0.75, 0.25])
    return float(max(q75 - q25, 1.0))


def wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """Wasserstein-1 distance of the reported values, in reference IQRs (`count_scale`): the
    mean distance the month's mass moved. 0 when a side has no reported values (as `ks`)."""
    a = np.asarray(reference, dtype="float64")
    b = np.asarray(current, dtype="float64")
    scale = count_scale(a)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0:
        return 0.0
    return float(stats.wasserstein_distance(a, b) / scale)


def ks(reference: np.ndarray, current: np.ndarray) -> float:
    """The two-sample KS statistic on the reported (finite) values; 0 when a side has none."""
    a = np.asarray(reference, dtype="float64")
    b = np.asarray(current, dtype="float64")
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0:
        return 0.0
    return float(stats.ks_2samp(a, b).statistic)


def judge_feature(
    name: str, reference: pd.Series, current: pd.Series, thresholds: Thresholds, *, count: bool
) -> dict[str, Any]:
    """One feature's numbers. `score` is the statistic that judges it (PSI, or `wasserstein` for
    a count); `severity` is the score over its drift threshold, so features judged by different
    statistics sort and plot on one axis (> 1 drifts). A count's missing share is judged by PSI
    on its own, as the missing bin of PSI judges every other feature."""
    ref, cur = reference.to_numpy(dtype="float64"), current.to_numpy(dtype="float64")
    entry: dict[str, Any] = {
        "feature": name,
        "statistic": WASSERSTEIN if count else PSI,
        "psi": psi(ref, cur),
        "ks": ks(ref, cur),
        "wasserstein": None,
        "scale": None,
        "missing_psi": None,
        "missing_reference": float(np.isnan(ref).mean()),
        "missing_current": float(np.isnan(cur).mean()),
    }
    if count:
        entry.update(
            wasserstein=wasserstein(ref, cur),
            scale=count_scale(ref),
            missing_psi=missing_psi(ref, cur),
        )
        entry["score"] = entry["wasserstein"]
        severity = max(
            entry["score"] / thresholds.feature_wasserstein,
            entry["missing_psi"] / thresholds.feature_psi,
        )
    else:
        entry["score"] = entry["psi"]
        severity = entry["score"] / thresholds.feature_psi
    entry["threshold"] = thresholds.drift(entry["statistic"])
    entry["severity"] = float(severity)
    entry["drifting"] = bool(severity > 1)
    return entry


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
) -> dict:
    """The drift report's numbers for one month; `status` is ok / warn / error with reasons.
    Features named in `counts` are judged by `wasserstein`, the others by PSI."""
    per_feature = [
        judge_feature(name, reference[name], current[name], thresholds, count=name in counts)
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


def _far_off(f: dict, t: Thresholds) -> list[str]:
    """Why this one feature is an ERROR on its own (empty when it is not)."""
    enough = "(one feature this far off is enough)"
    out = []
    if f["statistic"] == WASSERSTEIN:
        if f["score"] > t.single_feature_wasserstein:
            out.append(
                f"{f['feature']} Wasserstein {f['score']:.2f} IQR > {t.single_feature_wasserstein}"
                f" {enough}"
            )
        if f["missing_psi"] > t.single_feature_psi:
            out.append(
                f"{f['feature']} missing {f['missing_reference']:.0%} -> "
                f"{f['missing_current']:.0%}: PSI {f['missing_psi']:.2f} > {t.single_feature_psi}"
                f" {enough}"
            )
    elif f["score"] > t.single_feature_psi:
        out.append(f"{f['feature']} PSI {f['score']:.2f} > {t.single_feature_psi} {enough}")
    return out


def _verdict(report: dict, t: Thresholds) -> tuple[str, list[str]]:
    errors: list[str] = []
    warnings: list[str] = []
    for f in report["features"]:  # sorted by severity, largest first
        errors += _far_off(f, t)
    share = report["share_drifting"]
    rule = f"PSI > {t.feature_psi}, counts Wasserstein > {t.feature_wasserstein} IQR"
    if share > t.share_error:
        errors.append(f"{share:.0%} of features drift ({rule}; error above {t.share_error:.0%})")
    elif share > t.share_warn:
        warnings.append(f"{share:.0%} of features drift ({rule}; warn above {t.share_warn:.0%})")
    p = report["prediction_psi"]
    if p > t.prediction_psi_error:
        errors.append(f"prediction PSI {p:.3f} > {t.prediction_psi_error}")
    elif p > t.prediction_psi_warn:
        warnings.append(f"prediction PSI {p:.3f} > {t.prediction_psi_warn}")
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

    colour = {"ok": "#2e7d32", "warn": "#ef6c00", "error": "#c62828"}[report["status"]]
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
