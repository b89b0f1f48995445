"""Property-based requests generated from the API's own OpenAPI schema: none may get a 5xx."""

import schemathesis
from hypothesis import HealthCheck, given, settings

from housing_serving.app import create_app
from housing_serving.settings import ServingSettings
from tests.serving.conftest import API_KEY

EXAMPLES_PER_ROUTE = 60  # bounded so CI stays quick: ~7 routes x 60 requests


def test_no_generated_request_gets_a_server_error(store):
    app = create_app(
        ServingSettings(store=str(store), poll_seconds=0, api_key=API_KEY, max_rows=50)
    )
    assert app.state.holder.refresh()  # load the model up front: generated calls skip the lifespan
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    routes = []
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
            assert response.status_code < 500, (
                f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"
            )

        no_server_error()
    assert "POST /v1/predict" in routes and "POST /v1/predict/csv" in routes
