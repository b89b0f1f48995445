"""The one place that reads the environment: which environment, where data lives, which source.

HOUSING_ENV      local (default) | prod
HOUSING_HOME     where everything the platform writes goes (default: <project>/.housing)
HOUSING_SOURCE   synthetic (default) | a local path | s3://bucket/prefix
HOUSING_SCALE    fraction of the ~6,226 synthetic zips (default 0.25)
HOUSING_SEED     synthetic seed (default 7)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

ENVIRONMENTS = ("local", "prod")
DEFAULT_SCALE = 0.25
DEFAULT_SEED = 7


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

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get("HOUSING_ENV", "local")
        if env not in ENVIRONMENTS:
            raise ValueError(f"HOUSING_ENV must be one of {ENVIRONMENTS}, got {env!r}")
        home = Path(os.environ.get("HOUSING_HOME", project_root() / ".housing")).expanduser()
        return cls(
            env=env,
            home=home.resolve(),
            source=os.environ.get("HOUSING_SOURCE", "synthetic"),
            scale=float(os.environ.get("HOUSING_SCALE", DEFAULT_SCALE)),
            seed=int(os.environ.get("HOUSING_SEED", DEFAULT_SEED)),
        )

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
