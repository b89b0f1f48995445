"""The OpenAPI document as a user reads it in /docs: each route lists only the errors it can
give, all in the envelope; descriptions speak of the API, not of our modules; the examples are
real answers, and the request example prices a zip the quick start's model knows."""

import re

import pytest

from housing_serving.schemas import EXAMPLE_ROW

INTERNALS = re.compile(
    r"\w+\.py\b|\bintake\b|pydantic|housing_core|(?<!HOUSING_SERVING_)\b(heavy|explain)_requests\b"
)


@pytest.fixture
def spec(client) -> dict:
    return client.get("/openapi.json").json()


def operations(spec: dict):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield f"{method.upper()} {path}", op


def test_every_error_answer_is_the_envelope_and_fastapis_own_shape_is_gone(spec):
    for name, op in operations(spec):
        for code, answer in op["responses"].items():
            if code.startswith(("4", "5")):
                ref = answer["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorResponse"), (name, code)
                assert answer["description"] != "Error Response", (name, code)  # says what
    assert not {"HTTPValidationError", "ValidationError"} & set(spec["components"]["schemas"])
    # The HTML report itself is still documented as a page.
    assert (
        "text/html"
        in spec["paths"]["/v1/drift/{month}/report"]["get"]["responses"]["200"]["content"]
    )


def test_a_route_lists_only_the_errors_it_can_give(spec):
    listed = {name: sorted(op["responses"]) for name, op in operations(spec)}
    for plain in ("GET /v1/health", "GET /v1/metrics", "GET /v1/models", "GET /v1/gate"):
        assert listed[plain] == ["200"], plain
    assert listed["GET /v1/ready"] == ["200", "503"]
    assert listed["POST /v1/admin/reload"] == ["200", "401", "403"]
    assert listed["POST /v1/predict"] == ["200", "408", "413", "415", "422", "503"]
    assert listed["GET /v1/forecast"] == ["200", "404"]


def test_descriptions_are_for_users_not_about_our_modules(spec):
    for name, op in operations(spec):
        text = " ".join(filter(None, (op.get("summary"), op.get("description"))))
        assert not INTERNALS.search(text), (name, INTERNALS.search(text).group())


def test_examples_are_answers_not_placeholders(spec, client):
    schemas = spec["components"]["schemas"]
    for name in ("PredictResponse", "ErrorResponse", "ZipForecast"):
        (example,) = schemas[name]["examples"]
        assert "string" not in str(example), name
    # The documented answer has the shape the route gives.
    answer = client.post("/v1/predict", json={"rows": [EXAMPLE_ROW]}).json()
    (documented,) = schemas["PredictResponse"]["examples"]
    assert documented.keys() == answer.keys()
    assert documented["predictions"][0].keys() == answer["predictions"][0].keys()


def test_the_request_example_is_a_row_of_the_default_panel():
    """The example zip was one the default panel never saw: /docs' "Try it out" answered from
    the cold path. It is now the default panel's own row, so the quick start's model has its
    history."""
    import pandas as pd

    from housing_core.settings import DEFAULT_SCALE, DEFAULT_SEED
    from housing_core.synthetic import SyntheticSpec, generate_panel

    panel = generate_panel(SyntheticSpec(seed=DEFAULT_SEED, scale=DEFAULT_SCALE))
    day = pd.Timestamp(EXAMPLE_ROW["date"])
    (row,) = panel[(panel["zipcode"] == EXAMPLE_ROW["zipcode"]) & (panel["date"] == day)].to_dict(
        "records"
    )
    assert row["city"] == EXAMPLE_ROW["city"] and row["city_full"] == EXAMPLE_ROW["city_full"]
    for stat in ("median_sale_price", "median_list_price", "inventory", "median_dom"):
        assert EXAMPLE_ROW[stat] == pytest.approx(row[stat], rel=1e-3), stat
    assert (panel[panel["zipcode"] == EXAMPLE_ROW["zipcode"]]["date"] < day).sum() > 12
