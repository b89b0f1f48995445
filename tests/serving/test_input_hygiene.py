"""Input hygiene: every text field has a length limit, `year` must agree with `date`, and an id
may hold any character (`{` and `:` inside strings are not counted as rows or keys)."""

import pytest

from housing_serving.schemas import MAX_ID, MAX_NAME
from tests.serving.conftest import records


def _rows(holdout, n=3, **override):
    rows = records(holdout.head(n))
    for row in rows:
        row.update(override)
    return rows


def test_ids_with_braces_and_colons_are_counted_right(client, holdout):
    """A `{` or `:` inside an id was counted as a row or a key: a valid request was refused."""
    rows = _rows(holdout, n=3)
    for i, row in enumerate(rows):
        row["id"] = "{" * 40 + f"r{i}:" + ":" * 80
    answer = client.post("/v1/predict", json={"rows": rows})
    assert answer.status_code == 200, answer.text
    assert [p["id"] for p in answer.json()["predictions"]] == [r["id"] for r in rows]


@pytest.mark.parametrize(
    "field, limit", [("id", MAX_ID), ("city", MAX_NAME), ("city_full", MAX_NAME)]
)
def test_every_text_field_has_a_length_limit(client, holdout, field, limit):
    ok = client.post("/v1/predict", json={"rows": _rows(holdout, n=1, **{field: "x" * limit})})
    assert ok.status_code == 200, ok.text
    long = client.post(
        "/v1/predict", json={"rows": _rows(holdout, n=1, **{field: "x" * (limit + 1)})}
    )
    assert long.status_code == 422
    message = long.json()["detail"][0]["message"]
    assert f"row 0: {field}" in message and str(limit) in message, message
    assert len(long.content) < 2_000  # the refused text is not echoed back


def test_a_year_that_disagrees_with_the_date_is_refused_by_row(client, holdout):
    rows = _rows(holdout, n=3)
    rows[1]["year"] = int(rows[1]["date"][:4]) - 3
    answer = client.post("/v1/predict", json={"rows": rows})
    assert answer.status_code == 422
    message = answer.json()["detail"][0]["message"]
    assert message.startswith("row 1:") and "is not the year of date" in message, message
    rows[1]["year"] = int(rows[1]["date"][:4])
    assert client.post("/v1/predict", json={"rows": rows}).status_code == 200
