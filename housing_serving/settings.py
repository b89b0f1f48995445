"""Serving settings: one pydantic-settings class, read from HOUSING_SERVING_* variables."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_store() -> str:
    from housing_core.settings import Settings

    return Settings.from_env().serving_location


class ServingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOUSING_SERVING_", extra="ignore")

    store: str = Field(
        default_factory=_default_store,
        description="Serving store: a directory or s3://bucket/prefix.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="Key for /v1/admin/*; unset = admin disabled."
    )
    max_rows: int = Field(default=10_000, ge=1, description="Most rows one request may carry.")
    max_explain_rows: int = Field(
        default=1_000, ge=1, description="Most rows one request may ask SHAP contributions for."
    )
    heavy_requests: int = Field(
        default=2,
        ge=1,
        description="Large requests (over 64 KB) parsed and scored at once, each in a worker "
        "thread; more wait up to `heavy_wait_s`, then get 503 with Retry-After.",
    )
    explain_requests: int = Field(
        default=1,
        ge=1,
        description="Requests asking for SHAP contributions scored at once; they queue apart "
        "from large requests, so neither class takes the other's turns.",
    )
    heavy_wait_s: float = Field(
        default=5.0, ge=0, description="How long a large or explain request waits for its slot."
    )
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024, ge=1024, description="Largest request body."
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="A request head (line and headers) must arrive within this many seconds of "
        "its first byte or of the connection opening; otherwise 408 and the connection closes.",
    )
    idle_timeout_s: float = Field(
        default=15.0,
        gt=0,
        description="While waiting for a client's request head or body, a silence this long "
        "closes the connection (the server's own time computing an answer never counts).",
    )
    body_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="A request body must be complete within this many seconds of its head, "
        "however steadily it trickles in; otherwise 408 and the connection closes.",
    )
    max_connections: int = Field(
        default=256,
        ge=1,
        description="Connections open at once; a further one is answered 503 with Retry-After "
        "and closed before it is read.",
    )
    max_inflight_body_bytes: int = Field(
        default=128 * 1024 * 1024,
        ge=1024,
        description="Request-body bytes all requests in progress may hold together; a request "
        "that would go over is answered 503 with Retry-After and its connection closed.",
    )
    poll_seconds: float = Field(
        default=10.0, ge=0, description="How often to follow `current`; 0 = never."
    )
