"""The deployment sizes its tasks as housing_core/task_sizes.py says: the API task from the
ApiMemory parameter (a valid Fargate pair for every allowed value, each a row of the docs' table),
and every sensor-requested run from the cleaned rows (the code server, where the sensors run,
turns sizing on, and the instance launches runs with the launcher that reads the tags)."""

from pathlib import Path

import yaml

from housing_core import task_sizes
from tests.core.test_task_sizes import valid_fargate
from tests.deploy.test_secure_defaults import CfnLoader, env_of

REPO = Path(__file__).resolve().parents[2]


def template() -> dict:
    return yaml.load((REPO / "deploy/cloudformation.yaml").read_text(), Loader=CfnLoader)


def test_every_allowed_api_memory_is_a_valid_fargate_size_the_docs_describe():
    cfn = template()
    parameter = cfn["Parameters"]["ApiMemory"]
    allowed = [int(v) for v in parameter["AllowedValues"]]
    assert allowed == list(task_sizes.API_MEMORY_CHOICES)
    assert int(parameter["Default"]) == task_sizes.API_FLOOR.memory
    task = cfn["Resources"]["ApiTask"]["Properties"]
    assert task["Memory"] == {"Ref": "ApiMemory"}
    condition, two, one = task["Cpu"]["Fn::If"]
    two_vcpu = {int(equals["Fn::Equals"][1]) for equals in cfn["Conditions"][condition]["Fn::Or"]}
    for memory in allowed:
        size = task_sizes.TaskSize(memory=memory, cpu=int(two if memory in two_vcpu else one))
        assert valid_fargate(size), size
        assert size == task_sizes.fargate_size(memory, task_sizes.API_FLOOR)


def test_the_sensors_size_runs_where_the_launcher_reads_the_tags():
    tasks = template()["Resources"]
    assert env_of(tasks["DagsterCodeTask"])["HOUSING_ECS_SIZING"] == "1"
    instance = yaml.safe_load((REPO / "deploy/dagster.yaml").read_text())
    launcher = instance["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    fixed = launcher["config"]["run_resources"]
    assert (
        task_sizes.TaskSize(memory=int(fixed["memory"]), cpu=int(fixed["cpu"]))
        == task_sizes.RUN_FLOOR
    )
    # Compose runs each run in the code server's container: no launcher there reads the tags.
    assert "HOUSING_ECS_SIZING" not in (REPO / "docker-compose.yml").read_text()
