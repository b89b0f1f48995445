"""The API loading its bundle from S3 and hot-swapping when the pointer flips."""

import json

import pytest
from fastapi.testclient import TestClient

from housing_core import bundle
from housing_core.published import PublishedModel
from housing_serving.app import create_app
from housing_serving.settings import ServingSettings
from tests.serving.conftest import API_KEY, records


def test_the_api_serves_from_s3_and_follows_a_pointer_flip(tiny, bucket, tmp_path):
    holdout = tiny.holdout
    local = bundle.load(bundle.LocalStore(tiny.publish(tmp_path / "serving")))
    uri = f"s3://{bucket}/serving"
    s3 = bundle.store_for(uri)
    bundle.publish(s3, local.version, local.files)
    settings = ServingSettings(store=uri, poll_seconds=0, api_key=API_KEY)
    with TestClient(create_app(settings)) as api:
        assert api.get("/v1/ready").json() == {"status": "ready", "model_version": local.version}
        rows = {"rows": records(holdout.head(3))}
        before = api.post("/v1/predict", json=rows).json()
        assert before["model_version"] == local.version

        files = dict(local.files)
        provenance = json.loads(files["provenance.json"]) | {"version": "2022-01-v2"}
        files["provenance.json"] = json.dumps(provenance).encode()
        bundle.publish(s3, "2022-01-v2", files)
        reload = api.post("/v1/admin/reload", headers={"X-API-Key": API_KEY}).json()
        assert reload == {"swapped": True, "model_version": "2022-01-v2", "error": None}
        after = api.post("/v1/predict", json=rows).json()
        assert after["model_version"] == "2022-01-v2"
        assert [p["prediction"] for p in after["predictions"]] == [
            p["prediction"] for p in before["predictions"]
        ]
        assert api.get("/v1/models").json()["models"][-1]["live"]


@pytest.mark.slow
def test_an_unreachable_store_is_a_refused_refresh_not_a_crash(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    settings = ServingSettings(store="s3://nowhere/serving", poll_seconds=0)
    with TestClient(create_app(settings)) as api:
        assert api.get("/v1/health").status_code == 200
        ready = api.get("/v1/ready")
        assert ready.status_code == 503 and "store could not be loaded" in ready.text
        # Public words: neither the store's location nor the endpoint it failed on.
        assert "s3://nowhere" not in ready.text and "127.0.0.1:9" not in ready.text


def test_the_explorer_of_an_s3_bundle_reads_its_local_copy(tiny, bucket, tmp_path):
    local = bundle.load(bundle.LocalStore(tiny.publish(tmp_path / "serving")))
    uri = f"s3://{bucket}/serving"
    bundle.publish(bundle.store_for(uri), local.version, local.files)
    zipcode = int(tiny.holdout["zipcode"].iloc[0])
    settings = ServingSettings(store=uri, poll_seconds=0, api_key=API_KEY)
    with TestClient(create_app(settings)) as api:
        series = api.get("/v1/explore/series", params={"zipcode": zipcode}).json()["points"]
        copies = api.app.state.runtime.holder.current.published.files.copies
        assert set(copies) == set(bundle.EXPLORER_FILES)
        assert all(copy.read() == local.files[n] for n, copy in copies.items())
    assert series == PublishedModel.from_bundle(local).explorer.zip_series(zipcode)
