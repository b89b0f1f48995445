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
HOUSING_OPTUNA_URL        Optuna study storage (SQLAlchemy URL), e.g. postgresql://...
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

ENVIRONMENTS = ("local", "prod")
PROD_REQUIRED = {
    "HOUSING_DATA_URI": "data_uri",
    "HOUSING_SERVING_URI": "serving_uri",
    "MLFLOW_TRACKING_URI": "mlflow_uri",
    "HOUSING_OPTUNA_URL": "optuna_url",
}
DEFAULT_SCALE = 0.25
DEFAULT_SEED = 7
# scheme://user:<password>@host...: the password is everything up to the last `@` (greedy, so an
# unescaped `@` or `/` in it is hidden too; a longer cut only hides more).
_USERINFO_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*):.*@")


def redact_url(url: str) -> str:
    """`postgresql://u:<password>@db/optuna` -> `postgresql://u:***@db/optuna`: a URL as it may be
    shown (logs, repr, Dagster's UI). URLs without a password come back unchanged."""
    return _USERINFO_PASSWORD.sub(r"\1:***@", url)


def project_root() -> Path:
    """The checkout holding workspace.yaml: found from the working directory, else the package."""
    for candidate in [Path.cwd(), *Path.cwd().parents]:
        if (candidate / "workspace.yaml").exists() and (candidate / "housing_assets").is_dir():
            return candidate
    return Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    env: str = "local"
    home: Path = Path(".housing")
    source: str = "synthetic"
    scale: float = DEFAULT_SCALE
    seed: int = DEFAULT_SEED
    data_uri: str | None = None
    serving_uri: str | None = None
    mlflow_uri: str | None = None
    mlflow_artifacts: str | None = None
    optuna_url: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get("HOUSING_ENV", "local")
        if env not in ENVIRONMENTS:
            raise ValueError(f"HOUSING_ENV must be one of {ENVIRONMENTS}, got {env!r}")
        home = Path(os.environ.get("HOUSING_HOME", project_root() / ".housing")).expanduser()
        # Overrides are read in prod only: locally everything stays embedded under home (MLflow
        # itself exports MLFLOW_TRACKING_URI to child processes, which must not redirect a local run).
        locations = {
            field: (os.environ.get(var) or None) if env == "prod" else None
            for var, field in PROD_REQUIRED.items()
        }
        if env == "prod":
            missing = [var for var, field in PROD_REQUIRED.items() if not locations[field]]
            if missing:
                raise ValueError(
                    f"HOUSING_ENV=prod needs {', '.join(missing)} (see housing_assets/settings.py)"
                )
        return cls(
            **locations,
            mlflow_artifacts=(os.environ.get("HOUSING_MLFLOW_ARTIFACTS") or None)
            if env == "prod"
            else None,
            env=env,
            home=home.resolve(),
            source=os.environ.get("HOUSING_SOURCE", "synthetic"),
            scale=float(os.environ.get("HOUSING_SCALE", DEFAULT_SCALE)),
            seed=int(os.environ.get("HOUSING_SEED", DEFAULT_SEED)),
        )

    def __repr__(self) -> str:  # the URLs may carry database passwords (HOUSING_OPTUNA_URL)
        shown = (
            f"{f.name}={(redact_url(v) if isinstance(v, str) else v)!r}"
            for f in fields(self)
            for v in [getattr(self, f.name)]
        )
        return f"Settings({', '.join(shown)})"

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

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
        return self.optuna_url or f"sqlite:///{self.data_dir / 'optuna' / 'studies.db'}"
