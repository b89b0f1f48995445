"""An operator sees every model swap in the API's own output (a real uvicorn process): the
service's log lines used to go nowhere, since uvicorn configures only its own loggers."""

import os
import subprocess
import sys

import httpx

from housing_harness.loopback import free_port, http_ok, stop, wait_for
from housing_serving.protocol import uvicorn_command
from tests.serving.conftest import API_KEY, republish


def test_the_api_logs_each_model_going_live(store):
    port = free_port()
    env = {
        **os.environ,
        "HOUSING_SERVING_STORE": str(store),
        "HOUSING_SERVING_POLL_SECONDS": "0",
        "HOUSING_SERVING_API_KEY": API_KEY,
    }
    command = [sys.executable, "-m", *uvicorn_command("127.0.0.1", port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(http_ok(f"{url}/v1/ready"), what="the API", timeout=120, process=process)
        republish(store, "2022-01-v2")
        answer = httpx.post(f"{url}/v1/admin/reload", headers={"X-API-Key": API_KEY}, timeout=60)
        assert answer.json()["swapped"] is True
    finally:
        stop(process)
    log = process.stderr.read()
    assert "model swapped: none -> 2022-01-v1 (vintage 2022-01, holdout MAPE " in log
    assert "model swapped: 2022-01-v1 -> 2022-01-v2 (vintage 2022-01, " in log
    assert f"from {store}" in log
