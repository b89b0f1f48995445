"""Alerts an operator must not miss: a run that failed, a model the gate blocked, a month
quarantined. One small interface, a webhook by default (Slack-, Teams- or any HTTP receiver that
takes a JSON POST); no Dagster imports.

An alert is a JSON object:
    {"kind": "run_failed" | "gate_blocked" | "quarantined", "title": ..., "text": ...,
     "run_id": ..., "job": ..., "at": ISO time, "details": {...}}
Slack-compatible receivers read `text`; the rest is for machines.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Protocol

KINDS = ("run_failed", "gate_blocked", "quarantined")


@dataclass(frozen=True)
class Alert:
    kind: str
    title: str
    text: str
    run_id: str
    job: str
    details: dict = field(default_factory=dict)
    at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"alert kind must be one of {KINDS}, got {self.kind!r}")

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
