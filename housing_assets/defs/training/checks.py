"""Blocking checks of the model lineage: temporal splits, leak-free encoders, promotion gate."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from housing_assets.defs.metadata import rounded
from housing_assets.defs.training.assets import feature_state, splits
from housing_assets.defs.training.model import holdout_metrics, holdout_predictions
from housing_assets.defs.training.partitions import vintages
from housing_assets.resources.mlflow_tracking import MlflowTracking
from housing_assets.resources.serving_store import PromotionPolicy, ServingStore
from housing_core import bundle, gate, publishing, training, verdicts
from housing_core import features as F
from housing_core import splits as S


@dg.asset_check(asset=splits, partitions_def=vintages, blocking=True)
def splits_are_temporal(
    context: dg.AssetCheckExecutionContext, splits: pd.DataFrame
) -> dg.AssetCheckResult:
    """No split empty; train ends before eval starts, eval ends before holdout starts."""
    rows = splits
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
    context: dg.AssetCheckExecutionContext, feature_state: F.FeatureState, splits: pd.DataFrame
) -> dg.AssetCheckResult:
    """The encoders saw only rows dated before the eval window: refitting on exactly those rows reproduces them."""
    state, rows = feature_state, splits
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
    additional_ins={
        "splits": dg.AssetIn(),
        "tuned_model": dg.AssetIn(),
        "holdout_predictions": dg.AssetIn(),
    },
)
def promotion_gate(
    context: dg.AssetCheckExecutionContext,
    holdout_metrics: dict,
    splits: pd.DataFrame,
    holdout_predictions: pd.DataFrame,
    tuned_model: training.ModelArtifact,
    serving_store: ServingStore,
    promotion_policy: PromotionPolicy,
    mlflow_tracking: MlflowTracking,
) -> dg.AssetCheckResult:
    """Publish only a model that beats every baseline overall and in every horizon bucket, and is not worse than the champion on the same holdout rows (a champion that loses to a baseline there too is replaced by a better challenger)."""
    store = serving_store.store()
    champion = bundle.current_version(store)
    score = (
        gate.champion_on_same_rows(store, champion, splits, holdout_predictions)
        if champion
        else gate.ChampionScore(None, {}, None)
    )
    verdict = gate.decide(
        holdout_metrics,
        promotion_policy.policy(),
        champion,
        score.mape,
        score.note,
        missing_months=S.missing_months(splits),
        champion_baselines=score.baselines,
    )
    # The registry keeps every trained version; say which the gate refused, and why -- there,
    # on the run (a rejection must not read as a crash) and in the serving store for the API.
    card = verdicts.model_card(
        context.partition_key,
        publishing.windows(splits),
        holdout_metrics,
        verdict.passed,
        verdict.description,
        verdict.notes,
    )
    mlflow_tracking.tag_verdict(
        tuned_model.mlflow.version, verdict.passed, verdict.description, card
    )
    run = context.op_execution_context.run
    mark_run(context.instance, run.run_id, verdict)
    serving_store.write_report(
        verdicts.report_name(context.partition_key, tuned_model.mlflow.version),
        verdicts.document(
            vintage=context.partition_key,
            model_version=tuned_model.mlflow.version,
            passed=verdict.passed,
            reasons=verdict.reasons,
            notes=verdict.notes,
            model_mape=float(holdout_metrics["model"]["mape"]),
            champion=champion,
            run_id=run.run_id,
            decided_at=datetime.now(UTC).isoformat(timespec="seconds"),
        ),
    )
    return dg.AssetCheckResult(
        passed=verdict.passed,
        description=verdict.description,
        metadata={
            **rounded(verdict.facts),
            "reasons": dg.MetadataValue.json(verdict.reasons),
            "notes": dg.MetadataValue.json(verdict.notes),
        },
    )


def mark_run(instance: dg.DagsterInstance, run_id: str, verdict: gate.Verdict) -> None:
    """Tag the run with the gate's verdict: Dagster's run list then shows a rejected model as
    `housing/gate=rejected` with its reason, where a crash has no such tag."""
    instance.add_run_tags(run_id, verdicts.run_tags(verdict.passed, verdict.description))


@dg.asset_check(asset=holdout_predictions, partitions_def=vintages, blocking=True)
def holdout_served_from_the_past(
    context: dg.AssetCheckExecutionContext, holdout_predictions: pd.DataFrame
) -> dg.AssetCheckResult:
    """Every holdout prediction is anchored on a month before the holdout starts (no holdout price leaks into its own evaluation)."""
    preds = holdout_predictions
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
