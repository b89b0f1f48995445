"""The dashboard: `housing ui` (streamlit run housing_ui/app.py). Talks only to the API over HTTP.

Pages (sidebar, or `?page=` in the URL): overview (the model card), map, explorer, forecast,
what-if, errors, drift. API answers are cached per model version, so a page revisit costs no request and a new
champion invalidates everything at once.
"""

import streamlit as st

from housing_ui.client import Api, ApiRefused, ApiUnavailable
from housing_ui.common import banner, live_model
from housing_ui.views import drift, errors, explorer, forecast, overview, what_if, zip_map

VIEWS = {
    "Overview": overview.page,
    "Map": zip_map.page,
    "Explorer": explorer.page,
    "Forecast": forecast.page,
    "What-if": what_if.page,
    "Errors": errors.page,
    "Drift": drift.page,
}
PAGES = list(VIEWS)


def main() -> None:
    st.set_page_config(page_title="Housing prices", page_icon="🏠", layout="wide")
    api = Api.from_env()
    wanted = st.query_params.get("page", "overview").lower()
    slugs = [p.lower() for p in PAGES]
    # The URL picks the first page; after that the radio's state does (the map's "Open in the
    # Explorer" sets it, and a default index beside a set state is a duplicate value).
    first = slugs.index(wanted) if wanted in slugs else 0
    page = (
        st.sidebar.radio(
            "Page", PAGES, index=None if "page" in st.session_state else first, key="page"
        )
        or PAGES[first]
    )
    st.query_params["page"] = page.lower()
    st.sidebar.caption(f"API: {api.base_url}")
    try:
        model = live_model(api.base_url)
        st.sidebar.success(f"Live model **{model['version']}**")
        VIEWS[page](api, model)
    except ApiUnavailable as exc:
        st.title(page)
        banner(exc)
    except ApiRefused as exc:
        st.warning(f"The API refused a request: {exc}")


main()
