"""Blocking checks of the model lineage: temporal splits, leak-free encoders, promotion gate."""

import json

import dagster as dg
import numpy as np

from housing_assets.defs.training.assets import feature_state, one, splits
from housing_assets.defs.training.model import holdout_metrics, holdout_predictions
from housing_assets.defs.training.partitions import vintages
from housing_assets.lib import bundle, metrics
from housing_assets.lib import features as F
from housing_assets.lib import splits as S
from housing_assets.lib.predictor import Predictor
from housing_assets.resources.serving_store import PromotionPolicy, ServingStore


@dg.asset_check(asset=splits, partitions_def=vintages, blocking=True)
def splits_are_temporal(
    context: dg.AssetCheckExecutionContext, splits: dict
) -> dg.AssetCheckResult:
    """No split empty; train ends before eval starts, eval ends before holdout starts."""
    rows = one(splits, context)
    found = S.problems(rows)
    return dg.AssetCheckResult(
        passed=not found,
        description="; ".join(found) or "train < eval < holdout",
        metadata={
            "problems": dg.MetadataValue.json(found),
            "windows": dg.MetadataValue.json(S.summary(rows)),
        },
    )


@dg.asset_check(
    asset=feature_state,
    partitions_def=vintages,
    blocking=True,
    additional_ins={"splits": dg.AssetIn()},
)
def encoders_fit_on_train_only(
    context: dg.AssetCheckExecutionContext, feature_state: dict, splits: dict
) -> dg.AssetCheckResult:
    """The encoders saw only rows dated before the eval window: refitting on exactly those rows reproduces them."""
    state, rows = F.FeatureState.from_dict(one(feature_state, context)), one(splits, context)
    eval_start = rows.loc[rows[S.SPLIT] == S.EVAL, "date"].min()
    problems = F.leak_problems(state, rows, eval_start)
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems) or "encoders reproduce from pre-eval rows only",
        metadata={
            "eval_starts": eval_start.strftime("%Y-%m-%d"),
            "fitted_on": dg.MetadataValue.json(state.fitted_on),
            "problems": dg.MetadataValue.json(problems),
        },
    )


@dg.asset_check(
    asset=holdout_metrics,
    partitions_def=vintages,
    blocking=True,
    additional_ins={"splits": dg.AssetIn()},
)
def promotion_gate(
    context: dg.AssetCheckExecutionContext,
    holdout_metrics: dict,
    splits: dict,
    serving_store: ServingStore,
    promotion_policy: PromotionPolicy,
) -> dg.AssetCheckResult:
    """Publish only a model that beats every baseline overall and in every horizon bucket, and is not worse than the champion on the same holdout rows."""
    rep, rows = one(holdout_metrics, context), one(splits, context)
    reasons, notes = [], []
    facts: dict = {"model_mape": rep["model"]["mape"]}
    if promotion_policy.must_beat_baselines:
        for name, b in rep["baselines"].items():
            ours, theirs = b["model_on_same_rows"]["mape"], b["baseline"]["mape"]
            facts[f"{name}_baseline_mape"], facts[f"model_mape_on_{name}_rows"] = theirs, ours
            if b["rows"] and not ours < theirs:
                reasons.append(
                    f"MAPE {ours:.2f}% does not beat the {name} baseline {theirs:.2f}% on {b['rows']:,} rows"
                )
        bucket_reasons, notes = bucket_verdicts(rep, promotion_policy.min_bucket_rows)
        reasons += bucket_reasons
    store = serving_store.store()
    champion = bundle.current_version(store)
    facts["champion"] = str(champion)
    if champion is not None:
        champion_mape, why_not = champion_on_same_rows(store, champion, rows)
        if why_not:
            notes.append(why_not)
        else:
            facts["champion_mape_same_rows"] = champion_mape
            if rep["model"]["mape"] > champion_mape + promotion_policy.max_mape_regression:
                reasons.append(
                    f"MAPE {rep['model']['mape']:.2f}% is worse than champion {champion} ({champion_mape:.2f}%) "
                    f"by more than {promotion_policy.max_mape_regression} points"
                )
    facts = {k: (float(v) if isinstance(v, float | np.floating) else v) for k, v in facts.items()}
    return dg.AssetCheckResult(
        passed=not reasons,
        description="; ".join(reasons) or "promote",
        metadata={
            **facts,
            "reasons": dg.MetadataValue.json(reasons),
            "notes": dg.MetadataValue.json(notes),
        },
    )


def bucket_verdicts(rep: dict, min_rows: int) -> tuple[list[str], list[str]]:
    """Per horizon bucket and baseline: a reason when the model does not beat it, a note when
    the bucket is too small to judge."""
    reasons, notes = [], []
    for label, entry in rep.get("by_horizon", {}).items():
        for name, b in entry["baselines"].items():
            if not b["rows"]:
                continue
            if b["rows"] < min_rows:
                notes.append(
                    f"horizon {label}: {b['rows']} rows with a {name} baseline, too few to judge"
                )
                continue
            ours, theirs = b["model_on_same_rows"]["mape"], b["baseline"]["mape"]
            if not ours < theirs:
                reasons.append(
                    f"horizon {label} months: MAPE {ours:.2f}% does not beat the {name} baseline "
                    f"{theirs:.2f}% on {b['rows']:,} rows"
                )
    return reasons, notes


def champion_on_same_rows(store, version: str, rows) -> tuple[float | None, str | None]:
    """The champion's MAPE on this vintage's holdout, served from the same pre-holdout history
    as the challenger (its own published history runs later and would flatter it). A champion
    this release cannot read (published by an older feature version) is not compared, and the
    note says so."""
    published = bundle.load(store, version)
    state = json.loads(published.files["feature_state.json"])
    if state.get("version") != F.STATE_VERSION or bundle.ANCHORS not in published.files:
        return None, (
            f"champion {version} was published by an older release (feature state version "
            f"{state.get('version')}); not compared on the same rows"
        )
    history = rows[rows[S.SPLIT] != S.HOLDOUT]
    predictor = Predictor.from_bundle(published)
    predictor = predictor.with_anchors(F.anchor_table(history, predictor.state))
    holdout = rows[rows[S.SPLIT] == S.HOLDOUT]
    return metrics.regression(holdout["price"], predictor.predict(holdout)["prediction"])[
        "mape"
    ], None


@dg.asset_check(asset=holdout_predictions, partitions_def=vintages, blocking=True)
def holdout_served_from_the_past(
    context: dg.AssetCheckExecutionContext, holdout_predictions: dict
) -> dg.AssetCheckResult:
    """Every holdout prediction is anchored on a month before the holdout starts (no holdout price leaks into its own evaluation)."""
    preds = one(holdout_predictions, context)
    starts = preds["date"].min().strftime("%Y-%m")
    anchors = preds["anchor_month"].dropna()
    late = anchors[anchors >= starts]
    return dg.AssetCheckResult(
        passed=late.empty,
        description=(
            f"{len(late):,} holdout rows anchored on {sorted(set(late))[:5]}, inside the holdout"
            if len(late)
            else f"all {len(anchors):,} anchored rows anchored before {starts}"
        ),
        metadata={
            "holdout_starts": starts,
            "last_anchor_month": str(anchors.max()) if len(anchors) else "none",
            "cold_rows": int(preds["anchor_month"].isna().sum()),
        },
    )
