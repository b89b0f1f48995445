"""The API under sustained load with a model swap in the middle: a real uvicorn process, client
threads on loopback, a new bundle published and reloaded halfway. Zero failed requests, the new
model takes over, and the server's memory stays flat. HOUSING_SOAK_SECONDS sets the length
(default 60 s)."""

import os

import httpx
import numpy as np
import pytest

from housing_harness.loopback import api_process
from housing_harness.soak import Call, soak
from tests.serving.conftest import API_KEY, records, republish

# A minute of load by design: the end-to-end tier.
pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("HOUSING_SOAK_SECONDS", "60"))


def test_sixty_seconds_of_load_with_a_swap_in_the_middle(store, holdout):
    one, batch = records(holdout.head(1))[0], records(holdout.head(50))
    zipcode = int(holdout["zipcode"].iloc[0])
    calls = [
        Call("predict 1 row", "POST", "/v1/predict", {"rows": [one]}, weight=6),
        Call("predict 50 rows", "POST", "/v1/predict", {"rows": batch}, weight=2),
        Call("explore series", "GET", f"/v1/explore/series?zipcode={zipcode}"),
        Call("model card", "GET", "/v1/model"),
        Call("ready", "GET", "/v1/ready"),
    ]
    with api_process(store, env={"HOUSING_SERVING_API_KEY": API_KEY}) as api:

        def swap() -> None:
            republish(store, "2022-01-v2")
            answer = httpx.post(
                f"{api.url}/v1/admin/reload", headers={"X-API-Key": API_KEY}, timeout=60
            )
            assert answer.status_code == 200 and answer.json()["swapped"], answer.text

        result = soak(
            api.url, api.process.pid, calls, seconds=SECONDS, swap_at=SECONDS / 2, swap=swap
        )
        assert api.process.poll() is None, "the server died under load"

    assert result.errors == 0, (result.statuses, result.failures)
    assert len(result.samples) > 20 * SECONDS, f"only {len(result.samples)} requests"
    names = {s.call for s in result.samples}
    assert names == {c.name for c in calls}
    # The old model answers until the swap, the new one from the swap on, nothing else.
    versions = [(s.started, s.version) for s in result.samples if s.version]
    assert {v for t, v in versions if t < SECONDS / 2} == {"2022-01-v1"}
    assert {v for _, v in versions} == {"2022-01-v1", "2022-01-v2"}
    assert versions[-1][1] == "2022-01-v2"
    assert result.first_seen("2022-01-v2") < SECONDS / 2 + 10
    # Memory flat: after a warm-up, and again once the swap has settled, no growth under load.
    # (The swap itself may hold two models for a moment; the old one must be let go.)
    warm = np.median(result.rss_between(5, SECONDS / 2 - 2))
    settled = np.median(result.rss_between(SECONDS / 2 + 8, SECONDS / 2 + 14))
    end = np.median(result.rss_between(SECONDS - 6, SECONDS))
    assert end - settled < 25, f"RSS grew under load after the swap: {settled:.0f} -> {end:.0f} MB"
    assert end < warm * 1.25, f"RSS {warm:.0f} MB before the swap, {end:.0f} MB at the end"
