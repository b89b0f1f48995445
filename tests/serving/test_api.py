"""Every endpoint, and every class of bad input, through FastAPI's TestClient (status and body)."""

import io
import json

import pandas as pd
import pytest

from housing_core import bundle
from housing_core import contract as c
from tests.serving.conftest import API_KEY, assert_close, make_client, records, republish


def test_health_ready_and_model(client, tiny):
    assert client.get("/v1/health").json() == {"status": "ok"}
    ready = client.get("/v1/ready")
    assert ready.status_code == 200 and ready.json()["model_version"] == "2022-01-v1"
    info = client.get("/v1/model").json()
    assert info["version"] == "2022-01-v1" and info["vintage"] == "2022-01"
    assert info["training_window"]["train"]["last"] == "2019-12"
    assert info["registered_model"]["version"] == "1"
    assert set(info["interval_coverage"]) == {"80", "95"}
    judged = json.loads(tiny.files["metrics.json"])["model"]["mape"]
    assert info["holdout_metrics"]["mape"] == pytest.approx(judged)
    assert "median_sale_price" not in info["features"] and "horizon" in info["features"]
    assert len(info["input_schema"]["columns"]) == 39


def test_predict_keeps_order_echoes_ids_and_reports_errors(client, holdout):
    rows = records(holdout.head(5))
    for i, row in enumerate(rows):
        row["id"] = f"r{i}"
    body = client.post("/v1/predict", json={"rows": rows[::-1]}).json()
    assert body["model_version"] == "2022-01-v1"
    preds = body["predictions"]
    assert [p["id"] for p in preds] == ["r4", "r3", "r2", "r1", "r0"] and [
        p["row"] for p in preds
    ] == [0, 1, 2, 3, 4]
    for p, row in zip(preds, rows[::-1], strict=True):
        lo80, hi80 = p["interval_80"]
        lo95, hi95 = p["interval_95"]
        assert lo95 <= lo80 < p["prediction"] < hi80 <= hi95
        assert p["actual"] == pytest.approx(row["price"])
        assert p["error"] == pytest.approx(p["prediction"] - row["price"])
        assert p["flags"] == []


def test_holdout_through_the_api_equals_the_lineage_predictions(
    judged_client, holdout, holdout_predictions
):
    body = judged_client.post("/v1/predict", json={"rows": records(holdout)}).json()
    got = pd.DataFrame(body["predictions"])
    assert len(got) == len(holdout_predictions)
    assert_close(got["prediction"], holdout_predictions["prediction"])
    assert_close(got["interval_95"].str[1], holdout_predictions["upper_95"])
    assert set(got["anchor_month"]) == {"2021-12"}
    assert_close(got["horizon"], holdout_predictions["horizon"])


def test_the_published_model_serves_from_the_freshest_history(client, holdout, store):
    from housing_core import bundle
    from housing_core.predictor import Predictor

    body = client.post("/v1/predict", json={"rows": records(holdout)}).json()
    got = pd.DataFrame(body["predictions"])
    months = holdout["date"].dt.to_period("M")
    assert (got["anchor_month"] == (months - 1).astype(str)).all()
    assert (got["horizon"] == 1).all()
    alone = Predictor.from_bundle(bundle.load(bundle.LocalStore(store))).predict(holdout)
    assert_close(got["prediction"], alone["prediction"])
    # A month ahead of a smooth index: far closer than the holdout as judged two years out.
    fresh = (got["prediction"] - holdout["price"]).abs() / holdout["price"]
    assert fresh.mean() < 0.5 * client.get("/v1/model").json()["holdout_metrics"]["mape"] / 100


def test_explain_returns_shap_contributions(client, holdout):
    body = client.post(
        "/v1/predict", json={"rows": records(holdout.head(2)), "explain": True}
    ).json()
    contributions = body["predictions"][0]["contributions"]
    assert len(contributions) == 8
    assert abs(contributions[0]["contribution"]) >= abs(contributions[-1]["contribution"])
    info = client.get("/v1/model").json()
    assert {c["feature"] for c in contributions} <= set(info["features"])


def test_unknown_zip_and_metro_are_predicted_and_flagged(client, holdout):
    row = records(holdout.head(1))[0]
    row.update(zipcode=99_901, city="ZZZ", city_full="Nowhere")
    p = client.post("/v1/predict", json={"rows": [row]}).json()["predictions"][0]
    assert p["flags"] == ["unseen_zip", "unseen_metro"] and p["prediction"] > 0


def test_price_is_optional_and_month_keys_are_accepted(client, holdout):
    row = records(holdout.head(1))[0]
    row.pop("price")
    row["date"] = row["date"][:7]
    p = client.post("/v1/predict", json={"rows": [row]}).json()["predictions"][0]
    assert p["actual"] is None and p["error"] is None and p["prediction"] > 0


@pytest.mark.parametrize(
    ("mutate", "field", "text"),
    [
        (lambda r: r.pop("inventory"), "inventory", "Field required"),
        (lambda r: r.update(median_dom="soon"), "median_dom", "valid number"),
        (lambda r: r.update(zipcode=12), "zipcode", "greater than or equal to 501"),
        (lambda r: r.update(date="last spring"), "date", "date"),
        (lambda r: r.update(date="2263-01-31"), "date", "between 1990-01 and 2100-12"),
        (lambda r: r.update(inventry=3.0), "inventry", "Extra inputs are not permitted"),
    ],
)
def test_missing_or_mistyped_fields_name_the_field_and_row(client, holdout, mutate, field, text):
    rows = records(holdout.head(3))
    mutate(rows[2])
    response = client.post("/v1/predict", json={"rows": rows})
    assert response.status_code == 422
    (detail,) = response.json()["detail"]
    assert detail["row"] == 2 and detail["field"] == field and text in detail["message"]


def test_out_of_contract_values_are_rejected_with_the_rule(client, holdout):
    rows = records(holdout.head(2))
    rows[1]["avg_sale_to_list"] = 5.0
    response = client.post("/v1/predict", json={"rows": rows})
    assert response.status_code == 422
    (detail,) = response.json()["detail"]
    assert detail == {
        "row": 1,
        "field": "avg_sale_to_list",
        "message": "avg_sale_to_list=5 breaks the rule: ratios within [0, 2]",
    }


def test_not_reported_zeros_are_accepted(client, holdout):
    row = records(holdout.head(1))[0]
    row.update(median_sale_price=0.0, median_list_price=0.0, homes_sold=0.0)
    assert client.post("/v1/predict", json={"rows": [row]}).status_code == 200


@pytest.mark.parametrize(
    ("payload", "status", "text"),
    [
        ({"rows": []}, 422, "at least 1 item"),
        ({}, 422, "rows: Field required"),
        ({"rows": "all of them"}, 422, "valid array"),
    ],
)
def test_empty_or_malformed_requests(client, payload, status, text):
    response = client.post("/v1/predict", json=payload)
    assert response.status_code == status
    assert text in response.json()["detail"][0]["message"]


def test_malformed_json_is_a_4xx_with_a_message(client):
    response = client.post(
        "/v1/predict", content=b'{"rows": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON" in response.json()["detail"][0]["message"]


def test_row_limit_and_body_limit_answer_413(store, holdout):
    with make_client(store, max_rows=3) as small:
        response = small.post("/v1/predict", json={"rows": records(holdout.head(4))})
        assert (
            response.status_code == 413 and "limit is 3" in response.json()["detail"][0]["message"]
        )
    with make_client(store, max_body_bytes=2048) as tiny:
        response = tiny.post("/v1/predict", json={"rows": records(holdout.head(4))})
        assert (
            response.status_code == 413
            and "over 2,048 bytes" in response.json()["detail"][0]["message"]
        )


def test_csv_in_csv_out_matches_json(client, holdout):
    csv = holdout.drop(columns=["split"]).head(20).to_csv(index=False)
    response = client.post("/v1/predict/csv", files={"file": ("rows.csv", csv, "text/csv")})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    got = pd.read_csv(io.StringIO(response.text))
    assert len(got) == 20 and list(got["id"]) == list(range(20))
    via_json = client.post("/v1/predict", json={"rows": records(holdout.head(20))}).json()[
        "predictions"
    ]
    assert_close(got["prediction"], [p["prediction"] for p in via_json])
    assert (got["model_version"] == "2022-01-v1").all() and "error" in got.columns


@pytest.mark.parametrize(
    ("content", "text"),
    [
        (b"", "not a readable CSV"),
        (b"date,zipcode\n", "the CSV has no rows"),
        (b"date,zipcode\n2023-01-31,75013\n", "missing columns"),
        (b"\xff\xfe\x00garbage", "not a readable CSV"),
    ],
)
def test_bad_csv_uploads_are_422_with_a_message(client, content, text):
    response = client.post("/v1/predict/csv", files={"file": ("rows.csv", content, "text/csv")})
    assert response.status_code == 422
    assert text in response.json()["detail"][0]["message"]


def test_prometheus_metrics(client, holdout):
    client.post("/v1/predict", json={"rows": records(holdout.head(3))})
    text = client.get("/v1/metrics").text
    assert 'housing_api_requests_total{method="POST",route="/v1/predict",status="200"} 1.0' in text
    assert 'housing_api_predictions_total{model_version="2022-01-v1"} 3.0' in text
    assert 'housing_api_model_info{version="2022-01-v1",vintage="2022-01"} 1.0' in text
    assert "housing_api_request_seconds_bucket" in text


def test_admin_reload_needs_the_key_and_swaps(client, store):
    assert client.post("/v1/admin/reload").status_code == 401
    assert client.post("/v1/admin/reload", headers={"X-API-Key": "wrong"}).status_code == 401
    republish(store, "2022-01-v2")
    swapped = client.post("/v1/admin/reload", headers={"X-API-Key": API_KEY}).json()
    assert swapped == {"swapped": True, "model_version": "2022-01-v2", "error": None}
    assert client.get("/v1/ready").json()["model_version"] == "2022-01-v2"


def test_admin_is_disabled_without_a_configured_key(store):
    from fastapi.testclient import TestClient

    from housing_serving.app import create_app
    from housing_serving.settings import ServingSettings

    with TestClient(create_app(ServingSettings(store=str(store), poll_seconds=0))) as open_client:
        response = open_client.post("/v1/admin/reload", headers={"X-API-Key": "anything"})
        assert response.status_code == 403 and "disabled" in response.json()["detail"][0]["message"]


def test_a_tampered_bundle_is_refused_and_the_old_model_keeps_serving(client, store):
    republish(store, "2022-01-v3")
    (store / "bundles" / "2022-01-v3" / "model.json").write_text("{}")
    answer = client.post("/v1/admin/reload", headers={"X-API-Key": API_KEY}).json()
    assert answer["swapped"] is False and answer["model_version"] == "2022-01-v1"
    assert "model.json does not match" in answer["error"]
    assert client.get("/v1/ready").json()["model_version"] == "2022-01-v1"


def test_without_a_model_ready_and_predict_are_503_but_health_is_ok(tmp_path, holdout):
    with make_client(tmp_path / "empty") as empty:
        assert empty.get("/v1/health").status_code == 200
        ready = empty.get("/v1/ready")
        assert (
            ready.status_code == 503
            and "no model is published yet" in ready.json()["detail"][0]["message"]
        )
        assert empty.post("/v1/predict", json={"rows": records(holdout.head(1))}).status_code == 503


def test_a_half_written_bundle_at_startup_is_refused(tmp_path, store):
    local = bundle.LocalStore(store)
    (store / "bundles" / "2022-01-v1" / "MANIFEST.json").unlink()
    with make_client(store) as c:
        assert c.get("/v1/ready").status_code == 503
    assert bundle.current_version(local) == "2022-01-v1"


def test_openapi_documents_every_route_with_an_example(client):
    spec = client.get("/openapi.json").json()
    assert {
        "/v1/health",
        "/v1/ready",
        "/v1/model",
        "/v1/predict",
        "/v1/predict/csv",
        "/v1/metrics",
        "/v1/admin/reload",
    } <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert schemas["PredictRequest"]["examples"][0]["rows"][0]["Total Population"] > 0
    body = spec["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/PredictRequest"}
    row = schemas[schemas["PredictRequest"]["properties"]["rows"]["items"]["$ref"].split("/")[-1]]
    assert set(row["required"]) == set(c.COLUMNS) - {"price", "city_full", "year"}
    response = spec["paths"]["/v1/predict"]["post"]["responses"]["200"]["content"]
    assert response["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PredictResponse"
    }


def test_ready_says_in_words_why_nothing_serves_and_never_where_or_a_trace(store):
    """A bundle that cannot load at start-up: the public 503 names the refused version and
    where to look, not the store's path or the native error; the admin route has the detail."""
    local = bundle.LocalStore(store)
    files = {k: v for k, v in bundle.load(local).files.items() if k != bundle.MANIFEST}
    files[bundle.MODEL] = b'{"learner": {"gradient_booster": 7}}'  # XGBoost fails natively
    bundle.publish(local, "2022-01-v2", files)  # a fresh manifest: every checksum matches
    with make_client(store) as c:
        message = c.get("/v1/ready").json()["detail"][0]["message"]
        assert c.get("/v1/ready").status_code == 503
        assert "2022-01-v2" in message and "server log" in message
        assert str(store) not in message and "Error" not in message and "xgboost" not in message
        detail = c.post("/v1/admin/reload", headers={"X-API-Key": API_KEY}).json()["error"]
        assert detail and detail != message  # the whole reason, for whoever holds the key
    with make_client(store.parent / "empty") as c:
        assert "`housing run`" in c.get("/v1/ready").json()["detail"][0]["message"]
