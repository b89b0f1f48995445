"""What the retraining sensor reads from the run history: each retraining it started, whether it
reached the promotion gate (only those count toward the cooldown) or crashed before it, and
why. Real runs on a real instance: a job named like the training job whose step raises, and one
whose `promotion_gate` check is evaluated (and blocks)."""

import dagster as dg

from housing_assets.defs.monitoring.sensors import _retrain_attempts
from housing_harness.failed_runs import FAILING, crashing_train

TAGS = {"housing/sensor": "retrain", "housing/data_until": "2022-06"}


def test_crashed_and_gated_retrainings_are_told_apart():
    with dg.instance_for_test() as instance:
        FAILING.resolve_job_def("train").execute_in_process(
            instance=instance, tags=TAGS, raise_on_error=False
        )
        crashing_train.execute_in_process(instance=instance, tags=TAGS, raise_on_error=False)
        crashed, gated = _retrain_attempts(instance)  # newest first
    assert crashed.crashed and not crashed.reached_gate and not crashed.in_flight
    assert crashed.error.startswith("tuned_model: MemoryError: killed while tuning")
    assert crashed.data_until == "2022-06" and crashed.ended_at is not None
    assert gated.reached_gate and not gated.crashed and gated.error == ""
