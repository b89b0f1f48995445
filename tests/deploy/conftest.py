"""The stack's template as its tests read it (tags such as !Ref kept as their JSON form)."""

import pytest
import yaml

from tests.deploy.test_secure_defaults import REPO, CfnLoader


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml.load((REPO / "deploy/cloudformation.yaml").read_text(), Loader=CfnLoader)


@pytest.fixture(scope="module")
def resources(template) -> dict:
    return template["Resources"]
