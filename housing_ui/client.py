"""The dashboard's only way to data: the prediction API over HTTP."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from housing_ui.settings import UiSettings


class ApiUnavailable(RuntimeError):
    """The API cannot answer (down, unreachable, no model loaded): shown as a banner, never a trace."""

    def __init__(self, message: str, *, no_model: bool = False):
        super().__init__(message)
        self.no_model = no_model


class ApiRefused(RuntimeError):
    """The API answered 4xx: the request itself was wrong (e.g. an out-of-contract what-if value)."""


@dataclass(frozen=True)
class Api:
    base_url: str
    timeout: float = 10.0

    @classmethod
    def from_env(cls) -> Api:
        settings = UiSettings()
        return cls(settings.api_url.rstrip("/"), settings.timeout_s)

    def get(self, path: str, **params) -> dict:
        return self._call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def text(self, path: str) -> str:
        """A non-JSON answer (an HTML report)."""
        return self._call("GET", path, raw=True)

    def post(self, path: str, body: dict) -> dict:
        return self._call("POST", path, json=body)

    def _call(self, method: str, path: str, raw: bool = False, **kwargs):
        url = f"{self.base_url}{path}"
        try:
            response = httpx.request(method, url, timeout=self.timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"the API at {self.base_url} is unreachable ({exc})") from exc
        if response.status_code == 503:
            raise ApiUnavailable(
                f"the API at {self.base_url} has no model loaded: {_detail(response)}",
                no_model=True,
            )
        if 400 <= response.status_code < 500:
            raise ApiRefused(_detail(response))
        if response.status_code >= 500:
            raise ApiUnavailable(
                f"the API at {self.base_url} failed ({response.status_code}): {_detail(response)}"
            )
        return response.text if raw else response.json()


def _detail(response: httpx.Response) -> str:
    try:
        details = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return response.text[:300]
    if isinstance(details, list):
        return "; ".join(str(d.get("message", d)) for d in details)
    return str(details)
