"""HTTP hygiene against a real uvicorn process running the API's entry command, over raw sockets:
a connection that never completes its request head is answered 408 and closed; a body that
stops arriving is dropped; the server's own time computing an answer never counts; an oversized
chunked upload is answered 413 and the connection closed, not read on. Before: a silent or
slowloris connection stayed open indefinitely, and after a 413 the server kept reading a
chunked upload (5.2 GB in 20 s)."""

import asyncio
import contextlib
import json
import socket
import time

import httpx
import pytest

from housing_harness.loopback import api_process, open_socket, read_until_closed, uvicorn_in_thread
from housing_serving.protocol import MAX_HEAD_BYTES, GuardedHttp

TIMEOUTS = {
    "HOUSING_SERVING_HEADER_TIMEOUT_S": "1",
    "HOUSING_SERVING_IDLE_TIMEOUT_S": "1",
    "HOUSING_SERVING_MAX_BODY_BYTES": str(1 << 20),
}


@pytest.fixture(scope="module")
def api(tmp_path_factory, tiny):
    store = tiny.publish(tmp_path_factory.mktemp("hygiene") / "serving")
    with api_process(store, env=TIMEOUTS) as running:
        yield running


def connect(api) -> socket.socket:
    return open_socket(api.url)


def test_a_silent_connection_gets_408_and_is_closed(api):
    with connect(api) as sock:
        answer, after = read_until_closed(sock, within=5)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["detail"][0]["message"] == (
        "request head not complete within 1 s; connection closed"
    )
    assert 0.5 < after < 2.5


def test_a_slowloris_head_is_cut_at_the_header_timeout(api):
    with connect(api) as sock:
        sock.sendall(b"GET /v1/ready HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        try:
            for _ in range(40):  # one byte every 0.2 s: never idle, never complete
                sock.sendall(b"X")
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer, _ = read_until_closed(sock, within=5)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert time.monotonic() - started < 4


def test_a_body_that_stops_arriving_is_dropped_and_the_server_goes_on(api):
    with connect(api) as sock:
        sock.sendall(
            b"POST /v1/predict HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 5000\r\n\r\n" + b'{"rows": ['
        )
        answer, after = read_until_closed(sock, within=5)
    assert answer == b"" and after < 2.5
    assert httpx.get(f"{api.url}/v1/ready", timeout=5).status_code == 200
    assert api.process.poll() is None


class _QuickTimeouts(GuardedHttp):
    header_timeout_s = 1.0
    idle_timeout_s = 0.3


async def _slow_app(scope, receive, send):
    """Reads the request, then computes for 1.5 s (five idle timeouts) before answering."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await asyncio.sleep(1.5)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})


@pytest.mark.slow
def test_the_servers_own_time_never_counts():
    with uvicorn_in_thread(_slow_app, http=_QuickTimeouts) as url, httpx.Client(timeout=10) as http:
        answer = http.post(f"{url}/", content=b"x" * 100_000)
        assert answer.status_code == 200 and answer.text == "done"
        again = http.post(f"{url}/", content=b"y")  # kept alive
        assert again.status_code == 200


def test_keep_alive_connections_are_reused(api):
    with httpx.Client(timeout=5) as http:
        for _ in range(3):
            assert http.get(f"{api.url}/v1/ready").status_code == 200
            time.sleep(0.5)  # under both the idle and the keep-alive timeouts
        pool = http._transport._pool  # one connection served all three
        assert len(pool.connections) == 1


def endless_chunked_upload(api, head: bytes, seconds: float = 20) -> tuple[int, bytes, bool]:
    """`head` (request line and headers, chunked), then 64 KB chunks until the server closes or
    `seconds` pass: the bytes sent, the server's answer, and whether it closed first."""
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with connect(api) as sock:
        sock.sendall(head + b"transfer-encoding: chunked\r\n\r\n")
        sock.settimeout(5)
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                sock.sendall(framed)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        closed_first = time.monotonic() < deadline
        try:
            answer, _ = read_until_closed(sock, within=5)
        except ConnectionResetError:
            answer = b""
    return sent, answer, closed_first


def test_an_oversized_chunked_upload_gets_413_and_the_connection_closes(api):
    sent, answer, closed_first = endless_chunked_upload(
        api, b"POST /v1/predict HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
    )
    assert closed_first and sent < 64 << 20, f"the server read {sent / 2**20:.0f} MB past 1 MB"
    if answer:  # a reset can discard the answer the server wrote before closing
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"connection: close" in answer.lower()
    print(f"sent before the server closed: {sent / 2**20:.1f} MB")


@pytest.mark.parametrize(
    "request_line, headers, status",
    [
        (b"POST /v1/nowhere", b"content-type: application/json\r\n", b"404"),
        (b"POST /v1/health", b"content-type: application/json\r\n", b"405"),
        (b"POST /v1/admin/reload", b"content-type: application/json\r\n", b"403"),
        (b"POST /v1/predict", b"content-type: text/plain\r\n", b"415"),
    ],
    ids=["unknown path", "wrong method", "admin disabled", "not JSON"],
)
def test_an_early_answer_closes_the_connection_instead_of_reading_an_endless_body(
    api, request_line, headers, status
):
    """The body limit applies only to a body a route reads: an endless chunked upload to a
    route that answers first was read and discarded for ever. Now the answer closes."""
    sent, answer, closed_first = endless_chunked_upload(
        api, request_line + b" HTTP/1.1\r\nHost: x\r\n" + headers
    )
    assert closed_first, "the server kept reading the body for 20 s"
    assert sent < 64 << 20, f"the server read {sent / 2**20:.0f} MB of a body it never needed"
    if answer:  # a reset can discard the answer the server wrote before closing
        assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
        assert b"connection: close" in answer.lower()
        assert b"\r\nserver:" not in answer.lower()  # no banner naming the server software


@pytest.mark.parametrize(
    "head",
    [
        b"X-Big: " + b"a" * (MAX_HEAD_BYTES + 1) + b"\r\n",  # one huge header
        b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEAD_BYTES // 8)),  # very many
    ],
    ids=["one huge header", "many headers"],
)
def test_a_head_over_the_cap_is_answered_431_and_closed(api, head):
    """uvicorn keeps every header it is sent, however many: the head is capped."""
    with connect(api) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n")
        try:
            answer, _ = read_until_closed(sock, within=5)
        except ConnectionResetError:
            answer = b""
    if answer:  # a reset can discard the answer the server wrote before closing
        assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
        assert b'"message": "request line and headers over' in answer
    assert httpx.get(f"{api.url}/v1/health", timeout=5).status_code == 200


def test_a_head_under_the_cap_is_served(api):
    filler = b"X-Fill: " + b"a" * (MAX_HEAD_BYTES - 1024) + b"\r\n"
    with connect(api) as sock:
        sock.sendall(
            b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + filler + b"\r\n"
        )
        answer, _ = read_until_closed(sock, within=5)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_the_servers_own_refusal_of_malformed_http_is_in_the_error_envelope(api):
    with connect(api) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n")
        answer, _ = read_until_closed(sock, within=5)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"content-type: application/json" in head.lower()
    assert json.loads(body)["detail"][0]["message"].startswith("Invalid HTTP request")
