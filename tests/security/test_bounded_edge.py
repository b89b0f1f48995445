"""The edge's whole-server bounds, over raw sockets against real uvicorn: a body must be complete
by a deadline however steadily it trickles, connections past a cap are refused before a byte of
them is read, and the bodies of all requests in progress share one memory budget. Before, 20
connections trickling ~31 MB bodies held the server open for as long as they liked and took
its memory with them."""

import contextlib
import json
import time

import httpx
import pytest

from housing_harness.loopback import open_socket, read_until_closed, uvicorn_in_thread
from housing_serving.middleware import BodyLimit
from housing_serving.protocol import GuardedHttp


class _Bounded(GuardedHttp):
    header_timeout_s = 2.0
    idle_timeout_s = 0.5
    body_timeout_s = 1.0
    max_connections = 2


async def _read_then_answer(scope, receive, send):
    """Reads the whole body, then answers how many bytes it read."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def _head(length: int) -> bytes:
    return (
        f"POST / HTTP/1.1\r\nHost: x\r\nconnection: close\r\ncontent-length: {length}\r\n\r\n"
    ).encode()


def _message(answer: bytes) -> str:
    return json.loads(answer.partition(b"\r\n\r\n")[2])["detail"][0]["message"]


def test_a_trickled_body_is_cut_at_the_body_deadline():
    with uvicorn_in_thread(_read_then_answer, http=_Bounded) as url, open_socket(url) as sock:
        sock.sendall(_head(1000))
        started = time.monotonic()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(20):  # a byte every 0.2 s: never idle, never complete
                sock.sendall(b"x")
                time.sleep(0.2)
        answer, _ = read_until_closed(sock, within=5)
        cut_after = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert _message(answer) == "request body not complete within 1 s; connection closed"
    assert cut_after < 2.5


def test_a_body_inside_the_deadline_is_served():
    with uvicorn_in_thread(_read_then_answer, http=_Bounded) as url:
        answer = httpx.post(url, content=b"x" * 200_000, timeout=10)
    assert (answer.status_code, answer.text) == (200, "200000")


def test_past_the_connection_cap_a_connection_is_refused_unread():
    with uvicorn_in_thread(_read_then_answer, http=_Bounded) as url:
        held = [open_socket(url), open_socket(url)]
        try:
            time.sleep(0.1)  # both accepted before the third arrives
            with open_socket(url) as third:
                answer, _ = read_until_closed(third, within=5)
            assert answer.startswith(b"HTTP/1.1 503"), answer[:100]
            assert b"retry-after: 1\r\n" in answer.lower()
            assert _message(answer) == "busy: 2 connections open, the most this server holds; retry"
        finally:
            for sock in held:
                sock.close()
        time.sleep(0.2)  # the held ones closed: room again
        assert httpx.post(url, content=b"abc", timeout=10).text == "3"


def _chunked(data: bytes) -> bytes:
    head = b"POST / HTTP/1.1\r\nHost: x\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n"
    return head + b"".join(
        f"{len(data[i : i + 65536]):x}\r\n".encode() + data[i : i + 65536] + b"\r\n"
        for i in range(0, len(data), 65536)
    )


@pytest.mark.parametrize(
    "second",
    [_head(1_000_000) + b"b" * 900_000, _chunked(b"b" * 900_000)],
    ids=["declared: refused unread", "chunked: refused as it goes over"],
)
def test_bodies_in_progress_share_one_memory_budget(second):
    """Two uploads of 1 MB under a 1.5 MB budget: the one that takes the total over is refused
    503 with Retry-After and closed; the other completes, and its bytes are returned to the
    budget when it ends."""
    app = BodyLimit(_read_then_answer, limit=1 << 20, budget=1_500_000)
    with uvicorn_in_thread(app) as url:
        first, other = open_socket(url), open_socket(url)
        try:
            first.sendall(_head(1_000_000) + b"a" * 900_000)
            time.sleep(0.3)  # read and held by the first request
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                other.sendall(second)
            refused, _ = read_until_closed(other, within=5)
            assert refused.startswith(b"HTTP/1.1 503"), refused[:100]
            assert b"retry-after: 1" in refused.lower() and b"connection: close" in refused.lower()
            assert _message(refused) == (
                "busy: request bodies in progress hold over 1,500,000 bytes; retry"
            )
            first.sendall(b"a" * 100_000)
            served, _ = read_until_closed(first, within=5)
            assert served.startswith(b"HTTP/1.1 200") and b"\r\n1000000\r\n" in served
        finally:
            first.close()
            other.close()
        again = httpx.post(url, content=b"c" * 900_000, timeout=10)
        assert (again.status_code, again.text) == (200, "900000")
