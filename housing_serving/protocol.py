"""uvicorn's HTTP protocol with the bounds it lacks: `uvicorn --http
housing_serving.protocol:GuardedHttp` (what `housing serve` and the API image run).

uvicorn closes an idle keep-alive connection only after a response (`--timeout-keep-alive`). A
connection that never completes its request head -- opened and left silent, or sent one header
byte every few seconds (slowloris) -- holds a socket and a parser forever, and a body that
stops arriving holds a request slot. Here:

* **header timeout**: a request head (request line and headers) must be complete within
  `header_timeout_s` of its first byte, or of the connection opening; otherwise 408 and close;
* **idle timeout**: while the server waits for the client (the head or the rest of the body),
  a silence longer than `idle_timeout_s` closes the connection. Time the server spends
  computing a response never counts;
* **body deadline**: a request body must be complete within `body_timeout_s` of its head, however
  steadily it trickles in; otherwise 408 and close;
* **head size**: a request line and headers over `MAX_HEAD_BYTES` together are answered 431
  and the connection closed (uvicorn keeps every header it is sent, however many);
* **a body is read only when asked for**: an answer given before the app reads the body closes
  the connection having read only what arrived with the head;
* **connections**: past `max_connections` open at once, a new connection is answered 503 with
  `Retry-After` and closed before a byte of it is read;
* uvicorn's own refusals of a malformed request come in the API's JSON error envelope, not as
  plain text.
"""

from __future__ import annotations

import asyncio
import functools
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# The upstream release the subclasses below were verified on (tests/test_overrides.py;
# docs/decisions/overrides.md says what each buys and how to re-verify it).
UPSTREAM_VERSION = ("uvicorn", "0.54.0")


@functools.cache
def _bounds() -> tuple[float, float, float, int]:
    from housing_serving.settings import ServingSettings

    s = ServingSettings()
    return s.header_timeout_s, s.idle_timeout_s, s.body_timeout_s, s.max_connections


# Request line and headers together; what an ALB in front forwards is smaller still.
MAX_HEAD_BYTES = 64 * 1024


_BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})


class _HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops parsing and uvicorn answers through
    `send_400_response`, which says 431."""


def _answer(status: str, message: str, extra: str = "") -> bytes:
    """A complete HTTP answer in the API's error envelope that closes the connection."""
    body = json.dumps({"detail": [{"row": None, "field": None, "message": message}]}).encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedHttp(HttpToolsProtocol):
    header_timeout_s: float | None = None  # None: from ServingSettings (HOUSING_SERVING_*)
    idle_timeout_s: float | None = None
    body_timeout_s: float | None = None
    max_connections: int | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        header_s, idle_s, body_s, most = _bounds()
        self._header_s = self.header_timeout_s or header_s
        self._idle_s = self.idle_timeout_s or idle_s
        self._body_s = self.body_timeout_s or body_s
        self._head_timer: asyncio.TimerHandle | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._awaiting_client = True
        self._head_bytes, self._head_too_large = 0, False
        most = self.max_connections or most
        if len(self.connections) > most:
            transport.write(
                _answer(
                    "503 Service Unavailable",
                    f"busy: {most:,} connections open, the most this server holds; retry",
                    extra="retry-after: 1\r\n",
                )
            )
            transport.close()
            return
        self._arm_head()
        self._arm_idle()

    # -- timers ---------------------------------------------------------------------------
    def _arm_head(self) -> None:
        self._cancel(self._head_timer)
        self._head_timer = self.loop.call_later(self._header_s, self._head_expired)

    def _arm_idle(self) -> None:
        self._cancel(self._idle_timer)
        self._idle_timer = self.loop.call_later(self._idle_s, self._idle_expired)

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()

    def _head_expired(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(
                _answer(
                    "408 Request Timeout",
                    f"request head not complete within {self._header_s:g} s; connection closed",
                )
            )
            self.transport.close()

    def _body_expired(self) -> None:
        if not self._awaiting_client or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_started:
            self.transport.write(
                _answer(
                    "408 Request Timeout",
                    f"request body not complete within {self._body_s:g} s; connection closed",
                )
            )
        self.transport.close()

    def _idle_expired(self) -> None:
        if self._awaiting_client and not self.transport.is_closing():
            self.transport.close()  # mid-body: the request is abandoned, as a disconnect

    # -- where the client is or is not expected to send -----------------------------------
    def data_received(self, data: bytes) -> None:
        if self._awaiting_client:
            self._arm_idle()
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._awaiting_client = True
        self._arm_head()
        self._arm_idle()

    # -- the head's size ----------------------------------------------------------------------
    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._head_too_large = True
            raise _HeadTooLarge

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)  # ": " and the line's end
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        if self._head_too_large:
            answer = _answer(
                "431 Request Header Fields Too Large",
                f"request line and headers over {MAX_HEAD_BYTES:,} bytes; connection closed",
            )
        else:
            answer = _answer("400 Bad Request", f"{msg} (malformed HTTP; connection closed)")
        self.transport.write(answer)
        self.transport.close()

    def on_headers_complete(self) -> None:
        self._cancel(self._head_timer)
        self._body_timer = self.loop.call_later(self._body_s, self._body_expired)
        super().on_headers_complete()
        if any(name in _BODY_HEADERS for name, _ in self.headers):
            # Read no more of the body until the app asks for it (uvicorn resumes reading on
            # the app's first receive): an answer given without reading it -- 404, 405, 401 --
            # then closes having read only what came with the head.
            self.flow.pause_reading()

    def on_message_complete(self) -> None:
        self._awaiting_client = False  # the server's turn: its own time never counts
        self._cancel(self._idle_timer)
        self._cancel(self._body_timer)
        super().on_message_complete()

    def _cancel_all(self) -> None:
        for timer in (self._head_timer, self._idle_timer, self._body_timer):
            self._cancel(timer)

    def on_response_complete(self) -> None:
        # Between requests uvicorn's keep-alive timeout applies; a new request's first byte
        # arms the timers again (on_message_begin).
        self._cancel_all()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_all()
        super().connection_lost(exc)


def uvicorn_command(host: str, port: int) -> list[str]:
    """The API's one entry command: `housing serve`, the API image and the tests run this."""
    return [
        "uvicorn", "housing_serving.main:app", "--host", host, "--port", str(port),
        "--workers", "1", "--no-access-log",
        "--http", "housing_serving.protocol:GuardedHttp", "--timeout-keep-alive", "5",
        "--no-server-header",  # no banner naming the server software to a scanner
    ]  # fmt: skip
