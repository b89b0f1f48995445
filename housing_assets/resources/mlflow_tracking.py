"""MLflow tracking as a typed resource, built on dagster-mlflow.

dagster-mlflow's `mlflow_tracking` is a legacy function-style resource (config_schema, untyped)
whose parent run stays RUNNING unless the `end_mlflow_on_run_finished` hook is attached to a job
(plain `materialize()` and asset jobs launched from the UI attach none). We keep its `MlFlow`
class -- experiment setup, one parent run per Dagster run found by the `dagster_run_id` tag,
env tags -- and wrap it in a ConfigurableResource whose context manager tags the run with the
partition and ends it FINISHED or FAILED.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import dagster as dg
from pydantic import Field

# Of the registered pyfunc. It also imports housing_assets (not on PyPI): serve it from the
# project's environment (`mlflow models serve --env-manager local`).
PIP_REQUIREMENTS = ["xgboost>=3.0", "pandas>=2.2", "numpy>=1.26", "pyarrow>=16"]


FORECAST_ALIAS = "forecast-champion"
# MLflow's UI opens an experiment on the view its kind names; without one it guesses, and an
# experiment with no traces opened on the GenAI overview.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
MODEL_DESCRIPTION = (
    "The price of a zip code in a month (HouseTS schema), 1-24 months after the zip's last known "
    "price. Each version's description is its model card: data windows, holdout error against "
    "the baselines by horizon, interval coverage and the promotion gate's verdict. The alias "
    "`champion` names the version the API serves."
)


class MlflowTracking(dg.ConfigurableResource):
    tracking_uri: str = Field(description="sqlite:///... locally, http(s)://... for a server.")
    experiment_name: str = Field(default="housing-price", description="MLflow experiment.")
    registered_model: str = Field(default="housing-price-xgb", description="Model Registry name.")
    forecast_model: str = Field(
        default="housing-price-forecast",
        description="Model Registry name of the forecaster (its own model: other input, own gate).",
    )
    artifact_location: str | None = Field(
        default=None, description="Artifact root for a new experiment (local dir or s3://)."
    )

    def _ensure_experiment(self) -> None:
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        found = mlflow.get_experiment_by_name(self.experiment_name)
        if found is None:
            mlflow.create_experiment(
                self.experiment_name,
                artifact_location=self.artifact_location,
                tags=EXPERIMENT_KIND,
            )
        elif not EXPERIMENT_KIND.items() <= found.tags.items():  # made by an older release
            for key, value in EXPERIMENT_KIND.items():
                self.client().set_experiment_tag(found.experiment_id, key, value)

    @contextlib.contextmanager
    def parent_run(
        self,
        context: dg.AssetExecutionContext,
        tags: dict[str, str],
        name: str | None = None,
        description: str | None = None,
    ) -> Iterator[str]:
        """The Dagster run's MLflow parent run, tagged, named and described (MLflow's run list
        shows the name, the run page the description); ended when the block exits."""
        import mlflow
        from dagster_mlflow.resources import MlFlow

        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        self._ensure_experiment()
        shim = SimpleNamespace(
            log=context.log,
            dagster_run=context.run,
            run_id=context.run_id,
            resource_config={
                "experiment_name": self.experiment_name,
                "mlflow_tracking_uri": self.tracking_uri,
                "extra_tags": {"dagster_job": context.run.job_name, **tags},
            },
        )
        tracker = MlFlow(shim)
        active = mlflow.active_run()
        run_id = tracker.mlflow_run_id or (active.info.run_id if active else None)
        if run_id is None:
            raise RuntimeError(
                f"MLflow opened no run for {context.run.job_name} at {self.tracking_uri}"
            )
        named = {"mlflow.runName": name} if name else {}
        if description:
            named["mlflow.note.content"] = description
        for key, value in named.items():
            self.client().set_tag(run_id, key, value)
        try:
            yield run_id
        except BaseException:
            mlflow.end_run(status="FAILED")
            raise
        while mlflow.active_run() is not None:
            mlflow.end_run(status="FINISHED")

    @contextlib.contextmanager
    def resume_run(self, run_id: str) -> Iterator[None]:
        """Log more to an existing run (e.g. holdout metrics in a later step or process)."""
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        with mlflow.start_run(run_id=run_id):
            yield

    def client(self):
        import mlflow

        return mlflow.MlflowClient(tracking_uri=self.tracking_uri)

    def has_run(self, run_id: str) -> bool:
        """Whether this tracking store holds the run (a bundle may come from another store)."""
        from mlflow.exceptions import MlflowException

        try:
            self.client().get_run(run_id)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return False
            raise
        return True

    def log_live(self, run_id: str, record: dict) -> None:
        """A landed month's live record on the champion's own run, as metrics stepped by month
        (months since 1970-01): MLflow's charts then show live error against persistence beside
        the holdout figures the model was promoted on."""
        if record["mape"] is None:
            return
        year, month = (int(part) for part in record["month"].split("-"))
        step = (year - 1970) * 12 + month - 1
        client = self.client()
        for key, name in (
            ("mape", "live_mape"),
            ("persistence_mape", "live_persistence_mape"),
            ("coverage_80", "live_coverage_80"),
        ):
            client.log_metric(run_id, name, float(record[key]), step=step)

    def trial_logger(self, tags: dict[str, str], say: Callable[[str], None]):
        """Each finished Optuna trial as a nested run of the active parent run."""
        import mlflow

        def log_trial(trial) -> None:
            with mlflow.start_run(
                run_name=f"trial-{trial.number}", nested=True, tags={**tags, "state": trial.state}
            ):
                mlflow.log_params(trial.params)
                if trial.value is not None:
                    best = trial.best_iteration
                    mlflow.log_metrics(
                        {"eval_log_mae": trial.value}
                        | ({"best_iteration": float(best)} if best is not None else {})
                    )
            say(
                f"trial {trial.number}: {trial.state} eval log-MAE {trial.value} ({trial.seconds:.1f}s)"
            )

        return log_trial

    def register_price_model(self, model, rows, state, history, importance_png: bytes, tags):
        """The tuned model's results on the active parent run (best parameters, eval metrics,
        feature importance, the datasets), the model registered as a pyfunc that prices HouseTS
        rows, and its version tagged with the vintage and data. The registered version."""
        import mlflow

        from housing_core import anchors as A
        from housing_core import publishing, pyfunc
        from housing_core import splits as S

        mlflow.log_params({f"best_{k}": v for k, v in model.tuning.best_params.items()})
        mlflow.log_metrics(
            {f"eval_{k}": v for k, v in model.eval_metrics.items()}
            | {"refit_rounds": model.rounds, "threads": model.tuning.nthread}
        )
        log_png(importance_png, "feature_importance.png")
        log_datasets(rows, tags["vintage"])
        info = pyfunc.log_model(
            publishing.predictor_files(
                state, bytes(model.booster.save_raw("json")), model.conformal, history
            ),
            rows[rows[S.SPLIT] == S.HOLDOUT].head(5),
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=self.registered_model,
        )
        version = str(info.registered_model_version)
        self.tag_version(
            version,
            {
                "vintage": tags["vintage"],
                "data_fingerprint": tags["data_fingerprint"],
                "history_until": A.month_key(int(history[A.MONTH].max())),
                "dagster_run_id": tags["dagster_run_id"],
            },
        )
        return version

    def set_forecast_champion(self, version: str) -> None:
        self.client().set_registered_model_alias(self.forecast_model, FORECAST_ALIAS, version)

    def tag_version(self, version: str, tags: dict[str, str]) -> None:
        """Tag a registered version (its vintage and data fingerprint, say)."""
        client = self.client()
        for key, value in tags.items():
            client.set_model_version_tag(self.registered_model, version, key, value)

    def tag_verdict(
        self, version: str, passed: bool, description: str, card: str | None = None
    ) -> None:
        """Mark a registered version with the promotion gate's verdict: `gate` = promoted |
        rejected, and `gate_reason` (a rejected model stays READY in the registry, so without
        this nothing told it from a model that was never judged); `card` becomes the version's
        description, and the registered model gets its own once."""
        client = self.client()
        client.set_model_version_tag(
            self.registered_model, version, "gate", "promoted" if passed else "rejected"
        )
        client.set_model_version_tag(self.registered_model, version, "gate_reason", description)
        if card is not None:
            client.update_model_version(self.registered_model, version, description=card)
        if not client.get_registered_model(self.registered_model).description:
            client.update_registered_model(self.registered_model, description=MODEL_DESCRIPTION)

    def mirror_champion(self, store) -> str | None:
        """Point the alias `champion` at the registered version the store's `current` bundle
        names. The store is the truth about what serves and the alias only mirrors it, written
        here, by the publish that just moved `current`: a publish that crashed between the two
        writes is mended by the next one. A message when the alias named another version."""
        from housing_core import bundle

        if bundle.current_version(store) is None:
            return None
        served = bundle.load(store).json(bundle.PROVENANCE)
        wanted = str(served["mlflow"]["version"])
        alias = self.champion_version()
        self.client().set_registered_model_alias(self.registered_model, "champion", wanted)
        if alias in (wanted, None):
            return None
        return f"MLflow alias champion named v{alias}, not the served {served['version']}: now v{wanted}"

    def champion_version(self) -> str | None:
        """The version the alias names; None when the model or the alias does not exist yet
        (any other MLflow error, e.g. an unreachable server, propagates)."""
        import mlflow

        try:
            alias = self.client().get_model_version_by_alias(self.registered_model, "champion")
        except mlflow.exceptions.MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise
        return str(alias.version)  # MLflow answers an int; registry versions are named as text


def log_datasets(rows, vintage: str) -> None:
    """The vintage's data as MLflow datasets of the active run: what the published model was fit
    on (train + eval, context `training`) and judged on (`holdout`). Only the schema, a profile
    and the digest are stored -- the digest is `splits.fingerprint` of the rows, not the data."""
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas

    from housing_core import contract as c
    from housing_core import splits as S

    for context, part in (
        ("training", rows[rows[S.SPLIT] != S.HOLDOUT]),
        ("holdout", rows[rows[S.SPLIT] == S.HOLDOUT]),
    ):
        dataset = from_pandas(
            part,
            targets=c.TARGET,
            name=f"housets-{vintage}-{context}",
            digest=S.fingerprint(part),
        )
        # MLflow infers a dataset's schema value by value in Python, slow on a whole panel; our
        # frames are typed, so the dtypes say the same at once. `schema` is a
        # cached property: this fills it before log_input reads it.
        dataset.schema = frame_schema(part)
        mlflow.log_input(dataset, context=context)


def frame_schema(frame):
    """MLflow's schema of a typed frame, as MLflow would infer it: the type from each column's
    dtype, a column required when it has no missing value."""
    from mlflow.types import ColSpec, DataType, Schema

    kinds = {"f": DataType.double, "i": DataType.long, "b": DataType.boolean}
    kinds |= {"M": DataType.datetime, "O": DataType.string}
    missing = frame.isna().any()
    return Schema(
        [
            ColSpec(kinds[frame[col].dtype.kind], col, required=not missing[col])
            for col in frame.columns
        ]
    )


def log_png(png: bytes, name: str) -> None:
    """Log PNG bytes as an artifact of the active run."""
    import tempfile
    from pathlib import Path

    import mlflow

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(png)
        mlflow.log_artifact(str(path))


class OptunaStorage(dg.ConfigurableResource):
    """Where Optuna studies persist, so an interrupted tuning run resumes instead of restarting."""

    storage_url: str = Field(
        description="journal:///<path> (Optuna's file journal, the local default) or an Optuna "
        "storage URL, e.g. postgresql://... or sqlite:////path/to/studies.db."
    )
