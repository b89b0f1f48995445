"""Passwords in URLs are never shown: not in reprs, logs or Dagster's UI, yet runs get the real URLs."""

import pytest

from housing_core.settings import Settings, redact_url

# --- c. passwords in URLs are never shown -------------------------------------------------------

PASSWORD = "s3cretPW-42"
ML_PASSWORD = "mlP4ss-17"
PROD_ENV_WITH_PASSWORDS = {
    "HOUSING_ENV": "prod",
    "HOUSING_DATA_URI": "s3://housing-prod/data",
    "HOUSING_SERVING_URI": "s3://housing-prod/serving",
    "MLFLOW_TRACKING_URI": f"https://ml:{ML_PASSWORD}@mlflow.internal:5000",
    "HOUSING_OPTUNA_URL": f"postgresql://optuna:{PASSWORD}@db.internal:5432/optuna",
}


@pytest.mark.parametrize(
    ("url", "password", "shown"),
    [
        ("postgresql://u:<pw>@host/db", "s3cret", "postgresql://u:***@host/db"),
        (
            "postgresql+psycopg2://u:<pw>@h:5432/db",
            "p%40ss",
            "postgresql+psycopg2://u:***@h:5432/db",
        ),
        ("https://u:<pw>@mlflow:5000/x", "p@ss/w", "https://u:***@mlflow:5000/x"),
        ("postgresql://:<pw>@host/db", "pw", "postgresql://:***@host/db"),
        ("postgresql://optuna@db/optuna", "", "postgresql://optuna@db/optuna"),
        ("http://mlflow:5000", "", "http://mlflow:5000"),
        ("sqlite:////data/optuna/studies.db", "", "sqlite:////data/optuna/studies.db"),
        ("s3://bucket/prefix", "", "s3://bucket/prefix"),
    ],
)
def test_redact_url(url, password, shown):
    assert redact_url(url.replace("<pw>", password)) == shown


@pytest.fixture
def prod_env(monkeypatch):
    for name, value in PROD_ENV_WITH_PASSWORDS.items():
        monkeypatch.setenv(name, value)


def test_settings_repr_hides_url_passwords(prod_env):
    settings = Settings.from_env()
    assert settings.optuna_url == PROD_ENV_WITH_PASSWORDS["HOUSING_OPTUNA_URL"]
    shown = repr(settings) + str(settings)
    assert PASSWORD not in shown and ML_PASSWORD not in shown
    assert "postgresql://optuna:***@db.internal:5432/optuna" in shown


def test_dagster_shows_no_url_password_yet_runs_get_the_real_urls(prod_env):
    import dagster as dg
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster._serdes import serialize_value

    from housing_assets.definitions import build_definitions
    from housing_assets.resources.environment import resources_for
    from housing_assets.resources.mlflow_tracking import MlflowTracking, OptunaStorage

    settings = Settings.from_env()
    # What the code location sends to the webserver: the UI's resource page shows this config.
    snapshot = serialize_value(
        RepositorySnap.from_def(build_definitions(settings).get_repository_def())
    )
    assert "HOUSING_OPTUNA_URL" in snapshot and "MLFLOW_TRACKING_URI" in snapshot
    assert PASSWORD not in snapshot and ML_PASSWORD not in snapshot

    seen = {}

    @dg.asset
    def probe(context, optuna_storage: OptunaStorage, mlflow_tracking: MlflowTracking) -> None:
        seen.update(optuna=optuna_storage.storage_url, mlflow=mlflow_tracking.tracking_uri)
        context.log.info(f"optuna {redact_url(optuna_storage.storage_url)}")

    resources = resources_for(settings)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [probe],
            resources={k: resources[k] for k in ("optuna_storage", "mlflow_tracking")},
            instance=instance,
        )
        assert result.success
        events = "\n".join(serialize_value(e) for e in instance.all_logs(result.run_id))
    assert seen == {
        "optuna": PROD_ENV_WITH_PASSWORDS["HOUSING_OPTUNA_URL"],
        "mlflow": PROD_ENV_WITH_PASSWORDS["MLFLOW_TRACKING_URI"],
    }
    assert "optuna:***@db.internal" in events
    assert PASSWORD not in events and ML_PASSWORD not in events
