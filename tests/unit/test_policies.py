"""Thresholds are configuration: a per-environment YAML file (HOUSING_POLICIES) sets any of them,
the documented example lists every one with the code's default, and a typo is refused by name."""

from pathlib import Path

import pytest
import yaml

from housing_assets.definitions import POLICIES, policies, resources_for
from housing_assets.settings import Settings

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
            "sections must be ['drift', 'gate', 'retrain', 'revisions']",
        ),
    ],
)
def test_a_typo_is_refused_by_name(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as refused:
        policies(path)
    assert str(refused.value).startswith(f"{path}: {message}")
