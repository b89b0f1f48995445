"""Blocking checks of the model lineage: temporal splits, leak-free encoders, promotion gate."""

import dagster as dg
import numpy as np

from housing_assets.defs.training.assets import feature_state, one, splits
from housing_assets.defs.training.model import holdout_metrics
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
    state, rows = F.FeatureState(**one(feature_state, context)), one(splits, context)
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
    """Publish only a model that beats both baselines and is not worse than the champion on the same holdout rows."""
    rep, rows = one(holdout_metrics, context), one(splits, context)
    reasons, facts = [], {"model_mape": rep["model"]["mape"]}
    if promotion_policy.must_beat_baselines:
        for name, b in rep["baselines"].items():
            ours, theirs = b["model_on_same_rows"]["mape"], b["baseline"]["mape"]
            facts[f"{name}_baseline_mape"], facts[f"model_mape_on_{name}_rows"] = theirs, ours
            if b["rows"] and not ours < theirs:
                reasons.append(
                    f"MAPE {ours:.2f}% does not beat the {name} baseline {theirs:.2f}% on {b['rows']:,} rows"
                )
    store = serving_store.store()
    champion = bundle.current_version(store)
    facts["champion"] = str(champion)
    if champion is not None:
        holdout = rows[rows[S.SPLIT] == S.HOLDOUT]
        predictor = Predictor.from_bundle(bundle.load(store, champion))
        champion_mape = metrics.regression(
            holdout["price"], predictor.predict(holdout)["prediction"]
        )["mape"]
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
        metadata={**facts, "reasons": dg.MetadataValue.json(reasons)},
    )
