"""Alerts an operator must not miss: a run that failed, a model the gate blocked, a month
quarantined. One small interface, a webhook by default (Slack-, Teams- or any HTTP receiver that
takes a JSON POST); no Dagster imports.

An alert is a JSON object:
    {"kind": "run_failed" | "gate_blocked" | "quarantined" | "champion_losing", "title": ...,
     "text": ..., "fix": ...,
     "run_id": ..., "job": ..., "at": ISO time, "details": {...}}
Slack-compatible receivers read `text`: at most `TEXT_LIMIT` characters, ending on whole words
and always ending with the fix (what to do, as the platform runs under the daemon), since
receivers cut or fold longer text; the whole findings are in `details`.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Protocol

KINDS = ("run_failed", "gate_blocked", "quarantined", "champion_losing")
TITLE_LIMIT = 80
TEXT_LIMIT = 400


def fit(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut after a whole word with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:(")
    return cut + "…"


@dataclass(frozen=True)
class Alert:
    kind: str
    title: str
    text: str
    run_id: str
    job: str
    fix: str = ""
    details: dict = field(default_factory=dict)
    at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"alert kind must be one of {KINDS}, got {self.kind!r}")
        if len(self.title) > TITLE_LIMIT or len(self.text) > TEXT_LIMIT:
            raise ValueError(
                f"alert title/text over {TITLE_LIMIT}/{TEXT_LIMIT} characters: build it with "
                "Alert.compose, which fits them"
            )

    @classmethod
    def compose(cls, kind: str, title: str, what: str, fix: str, **rest) -> Alert:
        """An alert whose text is `what`, cut to whole words so that `fix` still fits after it."""
        text = f"{fit(what, TEXT_LIMIT - len(fix) - 1)} {fix}"
        return cls(kind, fit(title, TITLE_LIMIT), text, fix=fix, **rest)

    def payload(self) -> bytes:
        return json.dumps(asdict(self)).encode()


class Notifier(Protocol):
    def send(self, alert: Alert) -> None: ...


class AlertNotDelivered(RuntimeError):
    """The receiver did not take the alert: raised, so the sensor tick fails visibly."""


@dataclass(frozen=True)
class WebhookNotifier:
    url: str
    timeout_s: float = 10.0

    def send(self, alert: Alert) -> None:
        request = urllib.request.Request(
            self.url,
            data=alert.payload(),
            headers={"Content-Type": "application/json", "User-Agent": "housing-alerts/1"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                status = answer.status
        except OSError as exc:  # refused, timed out, or an HTTP error status
            raise AlertNotDelivered(f"alert {alert.kind} to {self.url}: {exc}") from exc
        if not 200 <= status < 300:
            raise AlertNotDelivered(f"alert {alert.kind} to {self.url}: HTTP {status}")
