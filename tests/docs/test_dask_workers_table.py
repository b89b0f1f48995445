"""docs/deploy.md's table of what each Dask worker size handles is the template's sizes put
through the page's own rule of thumb, so changing a worker size or the memory limit it gets
(deploy/cloudformation.yaml) or the tuning sample's cap (housing_core/tuning.py) shows here."""

from pathlib import Path

import yaml

from housing_core import task_sizes, tuning
from tests.deploy.test_secure_defaults import CfnLoader, resolved, true_conditions

REPO = Path(__file__).resolve().parents[2]
HEADER = "| `DaskWorkerMemory` | worker task | `--memory-limit` | 60% of it |"
# The page's rule of thumb: the measured peaks rounded up, the assumed size of a row, and the
# fraction of the memory limit where Dask starts spilling.
IMPORTS_MIB, ROW_KIB, KEPT_UNDER = 350, 0.5, 0.60


def table_rows(text: str) -> list[list[str]]:
    lines = text.split(HEADER, 1)[1].splitlines()[2:]  # past the header's rest and |---|
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_worker_size_table_follows_the_template_and_the_rule_of_thumb():
    text = (REPO / "docs/deploy.md").read_text()
    sample = 2 * tuning.TuningSettings().max_tuning_examples  # train and early-stopping caps
    sample_mib = round(sample * ROW_KIB / 1024)
    assert f"{sample:,} × {ROW_KIB} KiB ≈ **{sample_mib} MiB**" in text
    rule = (
        f"per worker ≈ {IMPORTS_MIB} MiB + {sample_mib} MiB + its rows × {ROW_KIB} KiB, kept under "
        f"{KEPT_UNDER:.0%} of `--memory-limit`"
    )
    assert rule in " ".join(text.split()), "the rule of thumb the table applies"
    assert f"(60% − {IMPORTS_MIB + sample_mib} MiB) ÷ {ROW_KIB} KiB" in text

    template = yaml.load((REPO / "deploy/cloudformation.yaml").read_text(), Loader=CfnLoader)
    allowed = template["Parameters"]["DaskWorkerMemory"]["AllowedValues"]
    limits = template["Mappings"]["DaskWorkerMemoryLimit"]
    rows = table_rows(text)
    assert [row[0] for row in rows] == allowed
    for memory, task, limit, kept, per_worker in rows:
        when = true_conditions(template, DaskWorkers="1", DaskWorkerMemory=memory)
        cpu = resolved(template["Resources"]["DaskWorkerTask"]["Properties"]["Cpu"], when)
        assert task == str(task_sizes.TaskSize(memory=int(memory), cpu=int(cpu)))
        limit_mib = int(limits[memory]["Limit"].removesuffix("MiB"))
        assert limit == f"{limit_mib} MiB"
        assert kept == f"{round(KEPT_UNDER * limit_mib)} MiB"
        fits = (KEPT_UNDER * limit_mib - IMPORTS_MIB - sample_mib) * 1024 / ROW_KIB
        assert per_worker == f"~{fits / 1e6:.2g} M", (memory, per_worker, fits)
