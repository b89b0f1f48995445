"""ASGI middleware: HTTP conventions, the request-body limit and request metrics (plain ASGI, no
per-request task)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import time

from fastapi import HTTPException
from starlette.requests import ClientDisconnect

from housing_serving.errors import error_response
from housing_serving.metrics import ApiMetrics


class _Refused(HTTPException):
    """Raised while the body streams in. An HTTPException: FastAPI's body parsing (forms, file
    uploads) passes those through, where any other error becomes a 400."""


TRIM_AFTER_BYTES = 1024 * 1024


@functools.cache
def _malloc_trim():
    """glibc's `malloc_trim`, or None elsewhere. A body arrives as many small chunks, which glibc
    keeps in its heap once freed: without a trim, memory taken by a burst of large bodies stays
    taken after they are gone."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    return getattr(libc, "malloc_trim", None)


def release_freed_memory() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),  # a JSON or CSV answer is never sniffed as HTML
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),  # no page of the API is meant to be framed
]
# Sent only on a request that reached the edge over TLS (the ALB says so in X-Forwarded-Proto):
# over plain HTTP a browser ignores it, and a local `housing serve` must stay reachable by http.
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class HttpConventions:
    """HEAD wherever GET is served (load balancers and uptime checkers send HEAD): answered as
    the GET, headers and all, without the body. The security headers on every answer (HSTS when
    the request came over TLS). And an
    answer given before the request's body was read (404, 405, 401, 415, a refused upload)
    closes the connection: kept open, the server would read and discard the rest of that body,
    however long, to reach a next request."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        declared = dict(scope.get("headers") or [])
        tls = scope.get("scheme") == "https" or declared.get(b"x-forwarded-proto") == b"https"
        headers = [*SECURITY_HEADERS, HSTS] if tls else SECURITY_HEADERS
        unread = [b"transfer-encoding" in declared or declared.get(b"content-length", b"0") != b"0"]

        async def reading():
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                unread[0] = False
            return message

        async def conventional(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in headers if k not in present]
                if unread[0] and b"connection" not in present:
                    extra.append((b"connection", b"close"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        return await self.app(scope, reading, conventional)


class BodyLimit:
    """Two bounds on request bodies, both answered before more is read and with the connection
    closed (kept open, the server would go on reading and discarding the rest of the body to
    reach a next request, at whatever rate a chunked upload sends it):

    * one body over `limit` bytes: 413;
    * the bodies of all requests in progress over `budget` bytes together: 503 with Retry-After,
      so held or trickled uploads cannot take the process's memory, however many there are.
    """

    def __init__(self, app, limit: int, budget: int):
        self.app, self.limit, self.budget = app, limit, budget
        self.held = 0  # body bytes charged to the requests in progress (one event loop: no lock)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = _Refused(
            413, f"request body over {self.limit:,} bytes", {"Connection": "close"}
        )
        busy = _Refused(
            503,
            f"busy: request bodies in progress hold over {self.budget:,} bytes; retry",
            {"Connection": "close", "Retry-After": "1"},
        )
        declared = dict(scope.get("headers") or []).get(b"content-length")
        # A declared length is charged up front, so a body that cannot fit is refused unread.
        charged = int(declared) if declared is not None and declared.isdigit() else 0
        if charged > self.limit:
            return await _refuse(too_large, scope, receive, send)
        if self.held + charged > self.budget:
            return await _refuse(busy, scope, receive, send)
        self.held += charged
        seen = 0

        async def counted():
            nonlocal seen, charged
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > charged:  # a chunked body, or one longer than it said
                self.held += seen - charged
                charged = seen
            if seen > self.limit:
                raise too_large
            if self.held > self.budget:
                raise busy
            return message

        try:
            await self.app(scope, counted, send)
        except _Refused as refused:
            await _refuse(refused, scope, receive, send)
        except ClientDisconnect:
            pass  # gone mid-body, or cut off at the body deadline: there is no one to answer
        finally:
            self.held -= charged
            if seen >= TRIM_AFTER_BYTES and self.held == 0:
                await asyncio.to_thread(release_freed_memory)


async def _refuse(refused: _Refused, scope, receive, send) -> None:
    await error_response(refused.status_code, refused.detail, headers=refused.headers)(
        scope, receive, send
    )


class Observe:
    """Counts requests by route and status and times them."""

    def __init__(self, app, metrics: ApiMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_and_record(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(
                route=path, method=scope["method"], status=str(status["code"])
            ).inc()
            self.metrics.latency.labels(route=path).observe(time.perf_counter() - started)
