"""A model swap under load, against a real uvicorn server on loopback."""

import threading
import time

import httpx

from housing_harness.loopback import serve_in_thread
from housing_serving.settings import ServingSettings
from tests.serving.conftest import API_KEY, records, republish


def test_publishing_a_new_bundle_swaps_models_with_zero_failed_requests(store, holdout):
    settings = ServingSettings(store=str(store), poll_seconds=0.2, api_key=API_KEY)
    payload = {"rows": records(holdout.head(3))}
    seen: list[tuple[float, int, str | None]] = []
    stop = threading.Event()

    with serve_in_thread(settings) as base:
        url = f"{base}/v1/predict"

        def client_loop() -> None:
            with httpx.Client(timeout=10) as http:
                while not stop.is_set():
                    response = http.post(url, json=payload)
                    version = (
                        response.json().get("model_version")
                        if response.status_code == 200
                        else None
                    )
                    seen.append((time.monotonic(), response.status_code, version))

        clients = [threading.Thread(target=client_loop) for _ in range(2)]
        try:
            for t in clients:
                t.start()
            # Conditions, not fixed sleeps: a loaded machine only makes these take longer.
            wait_for(lambda: len(seen) >= 20, "20 answers from the first model")
            swapped_at = time.monotonic()
            republish(store, "2022-01-v2")
            wait_for(lambda: any(v == "2022-01-v2" for _, _, v in seen), "the new bundle")
            served = len(seen)
            wait_for(lambda: len(seen) >= served + 20, "20 answers after the swap")
        finally:
            stop.set()
            for t in clients:
                t.join(timeout=15)

    statuses = [s for _, s, _ in seen]
    assert len(seen) > 20 and set(statuses) == {200}, (
        f"{len(seen)} requests, statuses {set(statuses)}"
    )
    before = {v for t, _, v in seen if t < swapped_at}
    assert before == {"2022-01-v1"}
    assert seen[-1][2] == "2022-01-v2"


def wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(0.05)
