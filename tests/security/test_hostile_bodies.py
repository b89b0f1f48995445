"""Hostile prediction bodies against a real uvicorn process, with a readiness probe running
beside them: each is refused with a clear 4xx, its cost bounded by its size, and the probe is
never held up for long. Before intake.py, 10,000 empty rows (30 KB) took the server's memory up
by ~370 MB and froze every request for over a second; 32 MB of them killed it."""

import pytest

from housing_harness.hostile import CSV_HOSTILE, HOSTILE, measure
from housing_harness.loopback import api_process
from housing_serving.deps import Runtime
from housing_serving.settings import ServingSettings

MAX_PROBE_S = 0.5  # "never delays a concurrent health probe by more than a fraction of a second"
MAX_GROWTH_MB = 120  # the server's peak memory over its resident size before the request


@pytest.mark.slow
@pytest.mark.parametrize("name", list(HOSTILE) + list(CSV_HOSTILE))
def test_a_hostile_body_is_refused_cheaply_while_the_server_keeps_answering(name, store, holdout):
    make_body, status, errors, first = {**HOSTILE, **CSV_HOSTILE}[name]
    body = make_body(holdout)
    with api_process(store) as api:
        answer, probe, growth = measure(api.url, api.process.pid, body, csv=name in CSV_HOSTILE)
        assert api.process.poll() is None, "the server died"
    assert answer.status_code == status, answer.text[:500]
    detail = answer.json()["detail"]
    assert len(detail) == errors, detail[:3]
    assert detail[0]["message"].startswith(first), detail[0]
    assert probe.failures == [] and len(probe.latencies) >= 10
    assert max(probe.latencies) < MAX_PROBE_S, f"probe held up {max(probe.latencies):.2f} s"
    assert growth < MAX_GROWTH_MB, f"{len(body) / 1e6:.1f} MB body: server peak +{growth:.0f} MB"


def test_requests_beyond_their_classs_slots_get_503_with_retry_after(tmp_path):
    """With every slot of its class taken, a request waits `heavy_wait_s`, then is told to retry
    and why; the other class is not held up (two callers looping on explanations made a third
    caller's large predictions answer 503)."""
    import asyncio

    from fastapi import HTTPException

    settings = ServingSettings(
        store=str(tmp_path), heavy_requests=1, explain_requests=1, heavy_wait_s=0.05
    )
    rt = Runtime(holder=None, settings=settings, metrics=None)  # type: ignore[arg-type]

    async def contended() -> None:
        async with rt.slot("explain"):
            with pytest.raises(HTTPException) as refused:
                async with rt.slot("explain"):
                    pass
            assert refused.value.status_code == 503
            assert refused.value.headers == {"Retry-After": "1"}
            assert refused.value.detail == (
                "busy: 1 explain request(s) in progress, the most served at once; retry"
            )
            async with rt.slot("large"):  # its own queue: not held up by explanations
                with pytest.raises(HTTPException):
                    async with rt.slot("large"):
                        pass
        async with rt.slot("explain"):  # released: the next one gets in
            pass

    asyncio.run(contended())
