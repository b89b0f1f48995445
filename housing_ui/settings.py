"""Dashboard settings: one pydantic-settings class, read from HOUSING_UI_* variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_URL = "http://127.0.0.1:8000"


class UiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOUSING_UI_", extra="ignore", frozen=True)

    api_url: str = Field(
        default=DEFAULT_API_URL,
        pattern=r"^https?://",
        description="The prediction API the dashboard reads everything from.",
    )
    timeout_s: float = Field(default=10.0, gt=0, description="Per-request timeout (s).")
