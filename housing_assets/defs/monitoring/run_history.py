"""What a finished run says about itself, read from its event log: its check evaluations and
the error that failed it (the user's, unwrapped). Used by the sensors that retry, back off and
alert."""

import dagster as dg


def check_evaluations(instance: dg.DagsterInstance, run_id: str) -> list:
    """The run's asset check evaluations (`AssetCheckEvaluation`), in order."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=1000
    ).records
    return [
        r.event_log_entry.dagster_event.event_specific_data
        for r in records
        if r.event_log_entry.dagster_event is not None
    ]


def first_error(instance: dg.DagsterInstance, run_id: str, limit: int = 200) -> str:
    """`<step>: <the user's error>` of the run's first failed step ('' if none failed)."""
    failures = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.STEP_FAILURE, limit=1
    ).records
    event = failures[0].event_log_entry.dagster_event if failures else None
    cause = event.step_failure_data.error if event is not None else None
    while cause is not None and cause.cause is not None:  # Dagster's wrappers around it
        cause = cause.cause
    if event is None or cause is None:
        return ""
    return f"{event.step_key}: {cause.message.strip()}"[:limit]
