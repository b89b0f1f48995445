"""Prometheus metrics of one app instance (its own registry, so tests and apps never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "housing_api_requests",
            "HTTP requests",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "housing_api_request_seconds",
            "Request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "housing_api_predictions", "Rows scored", ["model_version"], registry=self.registry
        )
        self.model_info = Gauge(
            "housing_api_model_info",
            "1 for the model being served",
            ["version", "vintage"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "housing_api_model_reloads", "Model swaps", ["outcome"], registry=self.registry
        )

    def serving(self, version: str, vintage: str) -> None:
        self.model_info.clear()
        self.model_info.labels(version=version, vintage=vintage).set(1)
