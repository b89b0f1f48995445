"""Thresholds are configuration: a per-environment YAML file (HOUSING_POLICIES) sets any of them,
the documented example lists every one with the code's default, and a typo is refused by name."""

from pathlib import Path

import pytest
import yaml

from housing_assets.resources.environment import resources_for
from housing_assets.resources.policies import POLICIES, policies
from housing_core.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "policies.example.yaml"


def test_the_example_lists_every_threshold_with_its_default():
    documented = yaml.safe_load(EXAMPLE.read_text())
    for section, (_, resource) in POLICIES.items():
        defaults = resource()
        assert set(documented[section]) == set(resource.model_fields), section
        for key, value in documented[section].items():
            assert getattr(defaults, key) == value, (section, key)


def test_an_environment_file_changes_only_what_it_sets(tmp_path):
    path = tmp_path / "prod.yaml"
    path.write_text("retrain:\n  cooldown_months: 6\ndrift:\n  share_warn: 0.3\n")
    resources = resources_for(Settings(home=tmp_path, policies=path))
    assert resources["retrain_policy"].rules().cooldown_months == 6
    assert resources["retrain_policy"].rules().every_months == 6  # the default
    assert resources["drift_policy"].thresholds().share_warn == 0.3
    assert resources["promotion_policy"].policy().max_missing_months == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("retrain:\n  cooldown_month: 6\n", "unknown retrain setting(s) ['cooldown_month']"),
        (
            "retraining:\n  cooldown_months: 6\n",
            "sections must be ['drift', 'forecast', 'gate', 'retrain', 'revisions', 'sensors']",
        ),
    ],
)
def test_a_typo_is_refused_by_name(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as refused:
        policies(path)
    assert str(refused.value).startswith(f"{path}: {message}")


def test_each_sensor_ticks_at_the_interval_its_environment_sets(tmp_path):
    from housing_assets.definitions import build_definitions

    path = tmp_path / "fast.yaml"
    path.write_text("sensors:\n  new_data_seconds: 5\n  alert_seconds: 7\n")
    defs = build_definitions(Settings(home=tmp_path, policies=path))
    seconds = {
        name: defs.resolve_sensor_def(name).minimum_interval_seconds
        for name in (
            "new_source_months",
            "retrain_on_drift_or_new_data",
            "forecast_after_retrain",
            "drift_for_live_champion",
            "alert_on_failure",
        )
    }
    assert seconds == {
        "new_source_months": 5,
        "retrain_on_drift_or_new_data": 60,  # the default
        "forecast_after_retrain": 60,  # the retraining sensor's
        "drift_for_live_champion": 60,
        "alert_on_failure": 7,
    }
