"""The optional Dask cluster of deploy/cloudformation.yaml, read from the parsed template with
its conditions evaluated: absent by default (DaskWorkers 0), and when asked for, a scheduler
under the Cloud Map name the runs' HOUSING_DASK gives, and workers whose Dask memory limit fits
their Fargate task and whose ports are the ones the security groups open.

The commands themselves start here on loopback (slow tier): `dask scheduler` and `dask worker`
with the template's flags, until the worker has registered with the limits the template gives."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from housing_core import task_sizes
from housing_core.settings import check_dask
from housing_harness.loopback import free_port, stop, wait_for
from tests.core.test_task_sizes import valid_fargate
from tests.deploy.test_secure_defaults import (
    env_of,
    members,
    reaching,
    ref,
    resolved,
    security_group_rules,
    true_conditions,
)

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MIB = 2**20

# Where the runs' refit steps read HOUSING_DASK: the EcsRunLauncher registers each run's task
# definition from the daemon's (use_current_ecs_task_config), and the code server loads the same
# definitions (its resources, shown in the UI).
RUN_TASKS = ("DagsterDaemonTask", "DagsterCodeTask")
DASK_GROUPS = {"DaskSchedulerSecurityGroup", "DaskWorkerSecurityGroup"}


@pytest.fixture(scope="module")
def on(template) -> set[str]:
    """The conditions of a stack with a cluster, its services deployed."""
    return true_conditions(template, DaskWorkers="4")


def deployed(resources: dict, when: set[str]) -> dict:
    """The resources a stack with these conditions creates, as it creates them."""
    return {
        name: resolved(r, when)
        for name, r in resources.items()
        if "Condition" not in r or r["Condition"] in when
    }


def container(task: dict) -> dict:
    (found,) = task["Properties"]["ContainerDefinitions"]
    return found


def option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def port_range(task: dict) -> tuple[int, int]:
    """The ephemeral ports a task's kernel hands out: what XGBoost's collective listens on."""
    controls = {c["Namespace"]: c["Value"] for c in container(task).get("SystemControls", [])}
    low, high = controls["net.ipv4.ip_local_port_range"].split()
    return int(low), int(high)


# --- absent by default ------------------------------------------------------------------------


def test_the_default_stack_has_no_dask_cluster_and_no_scheduler_address(template, resources):
    workers = template["Parameters"]["DaskWorkers"]
    assert workers["Default"] == "0"
    # Only one spelling of none: "00" would pass a Number, miss the condition and start a
    # scheduler without workers.
    allowed = re.compile(workers["AllowedPattern"])
    assert [n for n in ("0", "00", "01", "1", "32", "33", "-1") if allowed.match(n)] == [
        "0",
        "1",
        "32",
    ]
    default = true_conditions(template)
    assert "WithDask" not in default and "ServicesOn" in default
    stack = deployed(resources, default)
    dask_named = {name for name in resources if name.startswith("Dask")}
    assert dask_named, "the template has no Dask resources"
    assert not dask_named & set(stack), dask_named & set(stack)
    # Nothing the default stack creates mentions Dask: the run tasks' environment included.
    mentions = [name for name, r in stack.items() if "dask" in json.dumps(r).lower()]
    assert mentions == []
    for task in RUN_TASKS:
        assert "HOUSING_DASK" not in env_of(resources[task], default)


def test_asking_for_workers_creates_the_whole_cluster(template, resources, on):
    assert {"WithDask", "DaskServicesOn"} <= on
    stack = deployed(resources, on)
    assert {name for name in resources if name.startswith("Dask")} <= set(stack)
    assert stack["DaskWorkerService"]["Properties"]["DesiredCount"] == {"Ref": "DaskWorkers"}
    assert stack["DaskSchedulerService"]["Properties"]["DesiredCount"] == 1
    # Never two schedulers under the one name, not even while a deployment replaces it.
    deployment = stack["DaskSchedulerService"]["Properties"]["DeploymentConfiguration"]
    assert deployment["MaximumPercent"] == 100
    # The first deployment, before the images are pushed, starts no service: nor the cluster's.
    first = true_conditions(template, DaskWorkers="4", DeployServices="false")
    assert not {"DaskSchedulerService", "DaskWorkerService"} & set(deployed(resources, first))


# --- the runs find the scheduler --------------------------------------------------------------


def test_the_runs_scheduler_address_is_the_scheduler_services_name_and_port(resources, on):
    stack = deployed(resources, on)
    service = stack["DaskSchedulerService"]["Properties"]
    (registry,) = service["ServiceRegistries"]
    discovery = stack[ref(registry["RegistryArn"])]["Properties"]
    namespace = stack[ref(discovery["NamespaceId"])]["Properties"]["Name"]
    scheduler = container(stack[ref(service["TaskDefinition"])])
    port = int(option(scheduler["Command"], "--port"))
    assert [m["ContainerPort"] for m in scheduler["PortMappings"]] == [port]
    address = f"tcp://{discovery['Name']}.{namespace}:{port}"
    assert address == "tcp://dask-scheduler.housing.local:8786"
    for task in RUN_TASKS:
        assert env_of(resources[task], on)["HOUSING_DASK"] == address, task
    assert check_dask(address) == address  # a value the settings accept as a scheduler
    worker = container(stack["DaskWorkerTask"])["Command"]
    assert worker[:3] == ["dask", "worker", address]


# --- the workers' size ------------------------------------------------------------------------


@pytest.mark.parametrize("memory", ["2048", "4096", "8192", "12288", "16384"])
def test_each_worker_size_is_a_fargate_task_its_dask_memory_limit_fits(template, memory):
    from dask.utils import parse_bytes

    parameter = template["Parameters"]["DaskWorkerMemory"]
    assert memory in parameter["AllowedValues"]
    when = true_conditions(template, DaskWorkers="2", DaskWorkerMemory=memory)
    # The mapping lookup, the one intrinsic `resolved` leaves: done as CloudFormation does.
    task = resolved(template["Resources"]["DaskWorkerTask"], when)
    command = container(task)["Command"]
    at = command.index("--memory-limit") + 1
    mapping, key, field = command[at]["Fn::FindInMap"]
    assert key == {"Ref": "DaskWorkerMemory"}
    command[at] = template["Mappings"][mapping][memory][field]

    size = task_sizes.TaskSize(memory=int(memory), cpu=int(task["Properties"]["Cpu"]))
    assert task["Properties"]["Memory"] == {"Ref": "DaskWorkerMemory"}
    assert valid_fargate(size), size
    assert int(option(command, "--nthreads")) == size.cpu // 1024  # a thread per vCPU
    limit = parse_bytes(option(command, "--memory-limit"))
    # Under the task's memory by room for the nanny (~75 MiB), and most of the task still.
    assert size.memory * MIB - 512 * MIB <= limit < size.memory * MIB - 256 * MIB


def test_every_worker_size_has_a_memory_limit(template):
    allowed = template["Parameters"]["DaskWorkerMemory"]["AllowedValues"]
    assert sorted(template["Mappings"]["DaskWorkerMemoryLimit"], key=int) == allowed
    assert template["Parameters"]["DaskWorkerMemory"]["Default"] in allowed


# --- the ports the groups open ----------------------------------------------------------------


def test_the_commands_listen_on_the_ports_the_groups_open_and_nothing_else(resources, on):
    stack = deployed(resources, on)
    scheduler = container(stack["DaskSchedulerTask"])["Command"]
    worker = container(stack["DaskWorkerTask"])["Command"]
    worker_port, nanny_port = (
        int(option(worker, "--worker-port")),
        int(option(worker, "--nanny-port")),
    )
    assert (int(option(scheduler, "--port")), worker_port, nanny_port) == (8786, 8788, 8789)
    mapped = {m["ContainerPort"] for m in container(stack["DaskWorkerTask"])["PortMappings"]}
    assert mapped == {worker_port, nanny_port}
    # The HTTP servers (no authentication) on loopback: left to itself a worker's takes a
    # random port on every interface, one inside the range the collective rules open.
    for command in (scheduler, worker):
        assert option(command, "--dashboard-address").startswith("127.0.0.1:")
        assert "--no-dashboard" not in command


def test_the_dask_groups_let_in_exactly_the_clusters_flows(resources, on):
    stack = deployed(resources, on)
    low, high = port_range(stack["DaskWorkerTask"])
    assert port_range(stack["DaskSchedulerTask"]) == (low, high)
    assert low > 8789  # the fixed ports lie outside the range the kernel hands out
    into_dask = {rule for rule in security_group_rules(resources) if rule[1] in DASK_GROUPS}
    runs, scheduler, workers = (
        "DagsterDaemonSecurityGroup",
        "DaskSchedulerSecurityGroup",
        "DaskWorkerSecurityGroup",
    )
    assert into_dask == {
        (runs, scheduler, 8786, 8786),  # the runs' client
        (workers, scheduler, 8786, 8786),  # workers and nannies register, report
        (workers, scheduler, low, high),  # XGBoost's tracker, started in the scheduler
        (runs, workers, 8788, 8788),  # a client sending or fetching data directly
        (scheduler, workers, 8788, 8789),  # the scheduler to each worker and its nanny
        (workers, workers, 8788, 8788),  # peer transfers
        (workers, workers, low, high),  # XGBoost's allreduce between workers
    }
    # XGBoost's ports, by service: only the workers open them, on the scheduler and each other.
    for service in ("DaskSchedulerService", "DaskWorkerService"):
        assert reaching(stack, service, low, high) == {"DaskWorkerService"}, service
    # The cluster's tasks are the groups' only members: the runs reach them, nobody else.
    who = members(stack)
    assert {name for name, groups in who.items() if groups & DASK_GROUPS} == {
        "DaskSchedulerService",
        "DaskWorkerService",
    }
    assert DASK_GROUPS.isdisjoint(who["DagsterDaemonService"])


def test_workers_reach_the_database_and_may_only_read_data(resources, on):
    stack = deployed(resources, on)
    workers = stack["DaskWorkerService"]["Properties"]["NetworkConfiguration"]
    groups = {ref(g) for g in workers["AwsvpcConfiguration"]["SecurityGroups"]}
    assert "DatabaseClientSecurityGroup" in groups  # the Optuna study the workers tune on
    scheduler = stack["DaskSchedulerService"]["Properties"]["NetworkConfiguration"]
    assert {ref(g) for g in scheduler["AwsvpcConfiguration"]["SecurityGroups"]} == {
        "DaskSchedulerSecurityGroup"
    }
    assert "TaskRoleArn" not in stack["DaskSchedulerTask"]["Properties"]  # no AWS API at all
    role = stack[ref(stack["DaskWorkerTask"]["Properties"]["TaskRoleArn"])]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    granted = {
        (action, json.dumps(s["Resource"]))
        for s in statements
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert granted == {
        (
            "s3:GetObject",
            json.dumps({"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/data/*"}),
        ),
        ("s3:ListBucket", json.dumps({"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}"})),
    }
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["data/*"]}}
    assert all(s["Effect"] == "Allow" for s in statements)


# --- the commands run -------------------------------------------------------------------------


def local(command: list[str], ports: dict[str, int]) -> list[str]:
    """A task's command on this machine: the scheduler's name is loopback, each fixed port a
    free one, and the program the installed one."""
    text = json.dumps(command).replace("dask-scheduler.housing.local", "127.0.0.1")
    for fixed, free in ports.items():
        text = re.sub(rf"(?<=[\":]){fixed}(?=[\"/])", str(free), text)
    words = json.loads(text)
    return [str(BIN / words[0]), *words[1:]]


def health_probe(task: dict, ports: dict[str, int]) -> list[str]:
    probe = local(container(task)["HealthCheck"]["Command"][1:], ports)
    return [str(BIN / "python"), *probe[1:]]


@pytest.mark.slow
def test_the_scheduler_and_worker_commands_start_and_the_worker_registers(
    template, resources, tmp_path
):
    from dask.utils import parse_bytes
    from distributed import Client

    when = true_conditions(template, DaskWorkers="1", DaskWorkerMemory="2048")
    stack = deployed(resources, when)
    ports = {p: free_port() for p in ("8786", "8787", "8788", "8789", "8790")}
    scheduler_task, worker_task = stack["DaskSchedulerTask"], stack["DaskWorkerTask"]
    worker_command = container(worker_task)["Command"]
    at = worker_command.index("--memory-limit") + 1
    worker_command[at] = template["Mappings"]["DaskWorkerMemoryLimit"]["2048"]["Limit"]

    def healthy(task: dict) -> bool:
        probe = subprocess.run(health_probe(task, ports), capture_output=True, timeout=20)
        return probe.returncode == 0

    processes = []
    try:
        for task, command in (
            (scheduler_task, container(scheduler_task)["Command"]),
            (worker_task, worker_command),
        ):
            process = subprocess.Popen(
                local(command, ports),
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            processes.append(process)
            wait_for(lambda t=task: healthy(t), what=command[1], timeout=120, process=process)
        with Client(f"tcp://127.0.0.1:{ports['8786']}", timeout=60) as client:
            client.wait_for_workers(1, timeout=60)
            ((address, worker),) = client.scheduler_info()["workers"].items()
        assert address.endswith(f":{ports['8788']}")
        assert worker["nanny"].endswith(f":{ports['8789']}")
        assert worker["nthreads"] == 1
        assert worker["memory_limit"] == parse_bytes("1536MiB")
    finally:
        for process in reversed(processes):
            stop(process, timeout=20)
