"""Property-based requests generated from the API's own OpenAPI schema: none may get a 5xx."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from housing_serving.app import create_app
from housing_serving.settings import ServingSettings
from tests.serving.conftest import API_KEY
from tests.serving.test_forecast_api import publish_forecast

# A few thousand generated requests in all (~20 operations); HOUSING_SCHEMATHESIS_EXAMPLES
# raises it for a longer hunt.
EXAMPLES_PER_ROUTE = int(os.environ.get("HOUSING_SCHEMATHESIS_EXAMPLES", "400"))


@pytest.mark.slow
def test_no_generated_request_gets_a_server_error(store):
    publish_forecast(store)  # the forecast routes answer from data, not only "not published"
    app = create_app(
        ServingSettings(store=str(store), poll_seconds=0, api_key=API_KEY, max_rows=50)
    )
    assert app.state.runtime.refresh()  # load the model up front: generated calls skip the lifespan
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    routes, calls = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        routes.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_ROUTE,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case):
            response = case.call()
            calls.append(response.status_code)
            assert response.status_code < 500, (
                f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"
            )

        no_server_error()
    assert "POST /v1/predict" in routes and "POST /v1/predict/csv" in routes
    assert "GET /v1/forecast/{zipcode}" in routes and "POST /v1/forecast" in routes
    # Hypothesis stops early on operations with few distinct inputs; the total still counts.
    assert len(calls) >= 5 * EXAMPLES_PER_ROUTE, (len(calls), len(routes))
    print(
        f"{len(calls):,} generated requests over {len(routes)} operations, statuses {sorted(set(calls))}"
    )
