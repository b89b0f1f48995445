"""The gate's verdict as Dagster shows it: on the run's tags, so the run list tells a rejected
model from a crashed run."""

import dagster as dg

from housing_assets.defs.training.checks import mark_run
from housing_core import verdicts
from housing_core.gate import GatePolicy, decide


def test_a_rejected_run_is_tagged_in_dagster_and_a_crash_is_not():
    """A gate block is not a crash. The verdict is on the run's tags, so
    Dagster's run list (and a tag filter) tells a rejected model from a crashed run."""

    @dg.op
    def fails():
        raise RuntimeError("boom")

    @dg.job
    def step():
        fails()

    rejection = decide(
        {"model": {"mape": 9.0}, "baselines": {}, "by_horizon": {}},
        GatePolicy(),
        champion="2022-01-v1",
        champion_mape=5.0,
    )
    assert not rejection.passed
    with dg.instance_for_test() as instance:
        rejected = step.execute_in_process(instance=instance, raise_on_error=False)
        crashed = step.execute_in_process(instance=instance, raise_on_error=False)
        mark_run(instance, rejected.run_id, rejection)
        tags = instance.get_run_by_id(rejected.run_id).tags
        assert tags[verdicts.GATE_TAG] == "rejected"
        assert tags[verdicts.REASON_TAG] == rejection.description
        assert "worse than champion" in rejection.description
        marked = instance.get_runs(dg.RunsFilter(tags={verdicts.GATE_TAG: "rejected"}))
        assert [r.run_id for r in marked] == [rejected.run_id]
        assert verdicts.GATE_TAG not in instance.get_run_by_id(crashed.run_id).tags
