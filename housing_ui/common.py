"""What every page shares: cached API answers and the banner for an API that cannot answer."""

import streamlit as st

from housing_ui.client import Api, ApiUnavailable


@st.cache_data(ttl=5, show_spinner=False)
def live_model(base_url: str) -> dict:
    """Short-lived: a new champion shows up within seconds."""
    return Api(base_url).get("/v1/model")


@st.cache_data(ttl=3600, show_spinner=False, max_entries=512)
def fetch(base_url: str, version: str, path: str, params: tuple = ()) -> dict:
    """Explorer data never changes within a model version: `version` is part of the key."""
    del version  # only part of the cache key
    return Api(base_url).get(path, **dict(params))


def banner(exc: Exception) -> None:
    if isinstance(exc, ApiUnavailable) and exc.no_model:
        st.warning(
            f"**No model is loaded.** {exc}. Publish one with `uv run housing run`; the API picks "
            "it up by itself."
        )
    else:
        st.error(
            f"**API unreachable.** {exc}. Start it with `uv run housing serve`, or point "
            "HOUSING_UI_API_URL at it."
        )


# --- pages ---------------------------------------------------------------------------------------


def metro_label(metro: dict) -> str:
    """How a metro is named in every picker (the map sets the Explorer's by this label)."""
    return f"{metro['name']} ({metro['code']})"


def metro_picker(catalog: dict, key: str) -> dict:
    metros = catalog["metros"]
    names = [metro_label(m) for m in metros]
    chosen = st.selectbox("Metro", names, key=key)
    return metros[names.index(chosen)]
