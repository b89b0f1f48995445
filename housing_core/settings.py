"""The one place that reads the environment: which environment, where data lives, which source.

HOUSING_ENV      local (default) | prod
HOUSING_HOME     where everything the platform writes goes (default: <project>/.housing)
HOUSING_SOURCE   synthetic (default) | a local path | s3://bucket/prefix
HOUSING_SCALE    fraction of the ~6,226 synthetic zips (default 0.25)
HOUSING_SEED     synthetic seed (default 7)

Locations, read only when HOUSING_ENV=prod (which requires all but the artifact root); locally
everything lives under HOUSING_HOME:
HOUSING_DATA_URI          asset files: a directory or s3://bucket/data
HOUSING_SERVING_URI       serving store (bundles, `current`, reports): a directory or s3://...
MLFLOW_TRACKING_URI       the MLflow tracking server, e.g. http://mlflow:5000
HOUSING_MLFLOW_ARTIFACTS  artifact root for new experiments, e.g. s3://bucket/mlflow (optional)
HOUSING_OPTUNA_URL        Optuna study storage (SQLAlchemy URL), e.g. postgresql://...;
                          default: a file journal, journal:///<home>/data/optuna/studies.journal

In every environment:
HOUSING_POLICIES          a YAML file of thresholds -- sections retrain, gate, drift, revisions,
                          sensors (how often each sensor ticks) -- for this environment
                          (deploy/policies.example.yaml lists every one and its default)
HOUSING_ALERT_WEBHOOK_URL an HTTP endpoint taking each alert as a JSON POST (Slack-compatible
                          `text`): failed runs, gate blocks, quarantined months (default: none)
HOUSING_DASK              scale-out (docs/scale-out.md): empty = off (default; training runs in
                          the step's process) | local:N = a Dask cluster of N single-threaded
                          worker processes on this machine, started and closed by the step |
                          tcp://host:port (or tls://) = a running Dask scheduler
HOUSING_DASK_WORKER_MEMORY  memory limit of each local:N worker, e.g. 4GiB (default auto: the
                          machine's memory divided among the workers, Dask's own rule)
HOUSING_BACKFILL_CHUNK    months per run of a monthly backfill (default: the whole backfill in
                          one run)
HOUSING_BACKFILL_RUNS     runs writing monthly data at once: the `monthly_data` pool's limit
                          (default: the instance's, 1; docs/scale-out.md)
HOUSING_ECS_SIZING        1 = the sensors size each run's Fargate task from the cleaned rows
                          (`ecs/cpu` and `ecs/memory` run tags, housing_core/task_sizes.py); set
                          where the code location runs with EcsRunLauncher (default: off)
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENVIRONMENTS = ("local", "prod")
PROD_REQUIRED = {
    "HOUSING_DATA_URI": "data_uri",
    "HOUSING_SERVING_URI": "serving_uri",
    "MLFLOW_TRACKING_URI": "mlflow_uri",
    "HOUSING_OPTUNA_URL": "optuna_url",
}
DEFAULT_SCALE = 0.25
DEFAULT_SEED = 7
# Runs that may train or score at once on one machine: dagster.yaml's max_concurrent_runs
# locally (a test keeps them equal); in prod each run is its own task with its own CPUs.
LOCAL_CONCURRENT_RUNS = 2
# scheme://user:<password>@host...: the password is everything up to the last `@` (greedy, so an
# unescaped `@` or `/` in it is hidden too; a longer cut only hides more).
_USERINFO_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*):.*@")
_DASK_LOCAL = re.compile(r"^local:([1-9][0-9]*)$")
_DASK_SCHEDULER = re.compile(r"^(tcp|tls)://[^/:\s]+:[0-9]{1,5}$")
# What Dask's parse_bytes reads, kept to the units people write (settings must not import Dask).
_BYTES = re.compile(r"^(auto|[0-9]+(\.[0-9]+)?\s*(B|[kKMGT]B|[KMGT]iB))$")
DASK_FORMS = "empty (off), local:N (N workers on this machine) or tcp://host:port (a scheduler)"


def redact_url(url: str) -> str:
    """`postgresql://u:<password>@db/optuna` -> `postgresql://u:***@db/optuna`: a URL as it may be
    shown (logs, repr, Dagster's UI). URLs without a password come back unchanged."""
    return _USERINFO_PASSWORD.sub(r"\1:***@", url)


def dask_local_workers(value: str) -> int | None:
    """The N of a `local:N` HOUSING_DASK value; None for a scheduler address."""
    found = _DASK_LOCAL.match(value)
    return int(found.group(1)) if found else None


def check_dask(value: str | None) -> str | None:
    """A HOUSING_DASK value as stored: None when off, else `local:N` or a scheduler address.
    Anything else is refused in one line naming the forms it may take."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if _DASK_LOCAL.match(value) or _DASK_SCHEDULER.match(value):
        return value
    raise ValueError(f"HOUSING_DASK must be {DASK_FORMS}")  # the CLI adds the value


def project_root() -> Path:
    """The checkout holding workspace.yaml: found from the working directory, else the package."""
    for candidate in [Path.cwd(), *Path.cwd().parents]:
        if (candidate / "workspace.yaml").exists() and (candidate / "housing_assets").is_dir():
            return candidate
    return Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """What the platform reads from the environment, validated in one place (pydantic-settings).

    `Settings()` / `Settings.from_env()` read the variables above; keyword arguments win over
    them (tests and the CLI's flags). Empty variables count as unset."""

    model_config = SettingsConfigDict(
        env_prefix="HOUSING_", frozen=True, extra="ignore", env_ignore_empty=True,
        populate_by_name=True,
    )  # fmt: skip

    env: str = Field(default="local", description="local | prod")
    home: Path = Field(
        default_factory=lambda: project_root() / ".housing",
        description="Where everything the platform writes goes.",
    )
    source: str = Field(default="synthetic", description="synthetic | a path | s3://...")
    # le: housing_core/synthetic.MAX_SCALE (tests/core/test_synthetic.py keeps them equal)
    scale: float = Field(
        default=DEFAULT_SCALE, gt=0, le=8.0, description="Synthetic zips as a multiple of 6,226."
    )
    seed: int = Field(default=DEFAULT_SEED, description="Synthetic seed.")
    data_uri: str | None = None
    serving_uri: str | None = None
    mlflow_uri: str | None = Field(default=None, validation_alias="MLFLOW_TRACKING_URI")
    mlflow_artifacts: str | None = None
    optuna_url: str | None = None
    policies: Path | None = Field(
        default=None,
        description="A YAML file of thresholds (retrain, gate, drift) for this environment.",
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        description="Threads for every fit (HOUSING_THREADS), overriding the budget of "
        "housing_core/threads.py (CPUs / concurrent runs, 1 for small inputs).",
    )
    alert_webhook_url: SecretStr | None = Field(
        default=None, description="POST alerts here (failed runs, gate blocks, quarantines)."
    )
    dask: str | None = Field(
        default=None, description=f"Scale-out on Dask (HOUSING_DASK): {DASK_FORMS}."
    )
    dask_worker_memory: str = Field(
        default="auto", description="Memory limit of each local:N Dask worker, e.g. 4GiB."
    )
    backfill_chunk: int | None = Field(
        default=None,
        ge=1,
        description="Months per run of a monthly backfill (HOUSING_BACKFILL_CHUNK); unset: the "
        "whole backfill in one run.",
    )
    backfill_runs: int | None = Field(
        default=None,
        ge=1,
        description="Runs writing monthly data at once (HOUSING_BACKFILL_RUNS), the limit of the "
        "`monthly_data` pool; unset: the instance's default limit.",
    )
    ecs_sizing: bool = Field(
        default=False,
        description="Tag each sensor-requested run with its Fargate size (HOUSING_ECS_SIZING): "
        "only EcsRunLauncher reads the tags, and counting the rows costs an event-log query.",
    )

    @classmethod
    def from_env(cls) -> Settings:
        return cls()

    @field_validator("env")
    @classmethod
    def _known_environment(cls, env: str) -> str:
        if env not in ENVIRONMENTS:
            raise ValueError(f"HOUSING_ENV must be one of {ENVIRONMENTS}, got {env!r}")
        return env

    @field_validator("dask")
    @classmethod
    def _dask_form(cls, value: str | None) -> str | None:
        return check_dask(value)

    @field_validator("dask_worker_memory")
    @classmethod
    def _memory_form(cls, value: str) -> str:
        if not _BYTES.match(value.strip()):
            raise ValueError("HOUSING_DASK_WORKER_MEMORY must be auto or a size such as 4GiB")
        return value.strip()

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, home: Path) -> Path:
        return home.expanduser().resolve()

    @model_validator(mode="after")
    def _locations_in_prod_only(self) -> Settings:
        # Overrides count in prod only: locally everything stays embedded under home (MLflow
        # itself exports MLFLOW_TRACKING_URI to child processes, which must not redirect a local run).
        if self.env != "prod":
            for name in (*PROD_REQUIRED.values(), "mlflow_artifacts"):
                self.__dict__[name] = None
            return self
        missing = [var for var, name in PROD_REQUIRED.items() if not getattr(self, name)]
        if missing:
            raise ValueError(
                f"HOUSING_ENV=prod needs {', '.join(missing)} (see housing_core/settings.py)"
            )
        return self

    def __repr_args__(self):  # the URLs may carry database passwords (HOUSING_OPTUNA_URL)
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if isinstance(value, str) else value

    def with_(self, **changes) -> Settings:
        """These settings with some fields changed, validated again (the CLI's flags)."""
        return type(self)(**{**self.model_dump(), **changes})

    @property
    def concurrent_runs(self) -> int:
        """Runs sharing this machine's CPUs: the thread budget divides them among these."""
        return 1 if self.env == "prod" else LOCAL_CONCURRENT_RUNS

    @property
    def fit_slots_dir(self) -> Path | None:
        """Where local runs register while they fit, so the thread budget divides the CPUs among
        the runs actually fitting (housing_core/threads.FitSlots); prod runs have their own CPUs."""
        return None if self.env == "prod" else self.home / "fit-slots"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def serving_dir(self) -> Path:
        return self.home / "serving"

    # Where each thing lives in this environment: an override (S3, a server) or under home.
    @property
    def data_location(self) -> str:
        return self.data_uri or str(self.data_dir)

    @property
    def serving_location(self) -> str:
        return self.serving_uri or str(self.serving_dir)

    @property
    def mlflow_tracking_uri(self) -> str:
        return self.mlflow_uri or f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def mlflow_artifact_location(self) -> str | None:
        if self.mlflow_artifacts:
            return self.mlflow_artifacts
        return None if self.mlflow_uri else str(self.mlflow_dir / "artifacts")

    @property
    def optuna_storage_url(self) -> str:
        if self.optuna_url:
            return self.optuna_url
        studies = self.data_dir / "optuna"
        if self.dask and dask_local_workers(self.dask) is not None:
            # A local cluster's workers tune on one study (housing_core/shared_tuning.py), which
            # needs a database file they all open; locally HOUSING_OPTUNA_URL is not read.
            return f"sqlite:///{studies / 'studies.db'}"
        # Optuna's file journal (housing_core/tuning.py, open_storage): far cheaper per trial than SQLite.
        return f"journal:///{studies / 'studies.journal'}"
