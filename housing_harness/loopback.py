"""Servers on loopback for tests, benchmarks and the docs' screenshots: a free port, waiting
until something answers, and the API in a thread or as its own process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from housing_serving.protocol import uvicorn_command

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def open_socket(url: str) -> socket.socket:
    """A raw TCP connection to an http://host:port URL, for requests no HTTP client would send."""
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def read_until_closed(sock: socket.socket, within: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and when it closed (s from now)."""
    started, chunks = time.monotonic(), []
    sock.settimeout(within)
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise AssertionError(f"still open after {within} s") from None
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - started


def http_ok(url: str) -> Callable[[], bool]:
    """A check: does `url` answer 200 now?"""

    def check() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def wait_for(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float = 120,
    process: subprocess.Popen | None = None,
) -> None:
    """Poll `check` until it passes; fail naming `what` (with the process's output if it died)."""
    deadline = time.monotonic() + timeout
    while not check():
        if process is not None and process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise RuntimeError(f"{what}: the process exited {process.returncode}\n{output[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: no answer within {timeout:.0f} s")
        time.sleep(0.25)


@contextlib.contextmanager
def uvicorn_in_thread(app, http: type | str = "auto") -> Iterator[str]:
    """An ASGI app under uvicorn in a thread of this process (`http`: uvicorn's protocol)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host=HOST, port=port, http=http, log_level="warning")  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, what="uvicorn in a thread", timeout=30)
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextlib.contextmanager
def serve_in_thread(settings) -> Iterator[str]:
    """The app from `create_app(settings)` under uvicorn in a thread of this process."""
    from housing_serving.app import create_app

    with uvicorn_in_thread(create_app(settings)) as url:
        yield url


@dataclass(frozen=True)
class Running:
    url: str
    process: subprocess.Popen


@contextlib.contextmanager
def api_process(
    store: str | Path | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    checkout: Path | None = None,
) -> Iterator[Running]:
    """The API as its own process (uvicorn, one worker, no polling), ready to serve a model.
    `store`: the serving store; default: the one the environment's settings name. `env`: more
    settings (e.g. HOUSING_SERVING_API_KEY for the admin routes). `checkout`: run the code of
    this working tree (another revision, for a side-by-side benchmark) with this environment."""
    port = free_port()
    env = {**os.environ, "HOUSING_SERVING_POLL_SECONDS": "0", **(env or {})}
    if store is not None:
        env["HOUSING_SERVING_STORE"] = str(store)
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)  # ahead of the installed packages
    command = [sys.executable, "-m", *uvicorn_command(HOST, port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, cwd=checkout)
    url = f"http://{HOST}:{port}"
    try:
        wait_for(
            http_ok(f"{url}/v1/ready"),
            what=f"the API on {url} (is a bundle published? `uv run housing run`)",
            timeout=timeout,
            process=process,
        )
        yield Running(url, process)
    finally:
        stop(process, timeout=30)


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
