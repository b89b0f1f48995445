"""What `/v1/model` says of a published model: built here once, for the route and for the check
a bundle passes before it may serve (a provenance missing a key is refused at load, not
answered with a 500 afterwards)."""

from __future__ import annotations

from datetime import UTC, datetime

from housing_core import horizons
from housing_core.published import PublishedModel
from housing_serving.schemas import ModelInfo


def model_card(model: PublishedModel) -> ModelInfo:
    p, m = model.provenance, model.metrics
    return ModelInfo(
        version=model.version,
        vintage=p["vintage"],
        training_window=p["windows"],
        registered_model=p["mlflow"],
        holdout_metrics=m["model"],
        interval_coverage=m["coverage"],
        baselines={k: v["baseline"] for k, v in m["baselines"].items()},
        by_horizon=horizons.ordered(m.get("by_horizon", {})),
        history_until=p.get("history_until"),
        model_version=p.get("model_version", model.version),
        trained_through=p.get("trained_through"),
        final_refit=p.get("published_model"),
        features=model.predictor.state.features,
        input_schema=model.schema,
        data_fingerprint=p["data_fingerprint"],
        code_version=p["code_version"],
        trained_at=p["trained_at"],
        loaded_at=datetime.fromtimestamp(model.loaded_at, UTC).isoformat(),
    )
