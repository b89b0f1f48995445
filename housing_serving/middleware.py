"""ASGI middleware: HTTP conventions, the request-body limit and request metrics (plain ASGI, no
per-request task)."""

from __future__ import annotations

import time

from fastapi import HTTPException

from housing_serving.errors import error_response
from housing_serving.metrics import ApiMetrics


class _TooLarge(HTTPException):
    """Raised while the body streams in. An HTTPException: FastAPI's body parsing (forms, file
    uploads) passes those through, where any other error becomes a 400."""


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),  # a JSON or CSV answer is never sniffed as HTML
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),  # no page of the API is meant to be framed
]


class HttpConventions:
    """HEAD wherever GET is served (load balancers and uptime checkers send HEAD): answered as
    the GET, headers and all, without the body. The security headers on every answer. And an
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
        unread = [b"transfer-encoding" in declared or declared.get(b"content-length", b"0") != b"0"]

        async def reading():
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                unread[0] = False
            return message

        async def conventional(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if unread[0] and b"connection" not in present:
                    extra.append((b"connection", b"close"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        return await self.app(scope, reading, conventional)


class BodyLimit:
    """Answers 413 before reading more than `limit` bytes of a request body, and closes the
    connection: kept open, the server would go on reading (and discarding) the rest of the
    body to reach a next request, at whatever rate a chunked upload sends it."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = f"request body over {self.limit:,} bytes"
        close = {"Connection": "close"}
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await error_response(413, too_large, headers=close)(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge(413, too_large, headers=close)
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await error_response(413, too_large, headers=close)(scope, receive, send)


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
