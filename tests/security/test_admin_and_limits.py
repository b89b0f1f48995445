"""Admin routes need the key, compared in constant time; body and row limits hold for every
upload shape."""

import ast
import json

from fastapi.testclient import TestClient

from housing_core.splits import SPLIT
from housing_serving.app import create_app
from housing_serving.settings import ServingSettings
from tests.security.sources import _dotted, api_sources
from tests.serving.conftest import make_client, records

# --- d. admin routes ----------------------------------------------------------------------------


def test_an_empty_configured_key_disables_admin_instead_of_matching_an_empty_header(tmp_path):
    settings = ServingSettings(store=str(tmp_path / "empty"), poll_seconds=0, api_key="")
    with TestClient(create_app(settings)) as client:
        for headers in ({"X-API-Key": ""}, {}):
            response = client.post("/v1/admin/reload", headers=headers)
            assert response.status_code == 403, headers
            assert "disabled" in response.json()["detail"][0]["message"]


def test_the_admin_key_is_compared_in_constant_time():
    serving = [p for p in api_sources() if "housing_serving" in p.parts]
    tree = ast.Module(
        body=[n for p in serving for n in ast.parse(p.read_text()).body], type_ignores=[]
    )
    calls = {_dotted(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert calls & {"secrets.compare_digest", "hmac.compare_digest"}
    key_names = {"api_key", "x_api_key", "get_secret_value"}
    plain = [
        ast.unparse(n)
        for n in ast.walk(tree)
        if isinstance(n, ast.Compare)
        and any(isinstance(op, ast.Eq | ast.NotEq) for op in n.ops)
        and key_names & {_dotted(x).rsplit(".", 1)[-1] for x in ast.walk(n)}
    ]
    assert not plain, f"the API key is compared with ==: {plain}"


# --- e. limits ----------------------------------------------------------------------------------


def _chunks(data: bytes, size: int = 512):
    """An iterator body: httpx sends it chunked, without a Content-Length to check up front."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _multipart(csv: bytes) -> tuple[bytes, dict]:
    body = (
        b'--XB\r\nContent-Disposition: form-data; name="file"; filename="rows.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + csv + b"\r\n--XB--\r\n"
    )
    return body, {"content-type": "multipart/form-data; boundary=XB"}


def test_a_chunked_upload_over_the_body_limit_is_413_not_a_parse_error(tmp_path):
    settings = ServingSettings(store=str(tmp_path / "empty"), poll_seconds=0, max_body_bytes=2048)
    body, headers = _multipart(b"date,zipcode\n" + b"2023-01-31,75013\n" * 400)
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/predict/csv", content=_chunks(body), headers=headers)
    assert response.status_code == 413
    assert "over 2,048 bytes" in response.json()["detail"][0]["message"]


def test_a_chunked_json_body_over_the_limit_is_413(store, holdout):
    body = json.dumps({"rows": records(holdout.head(20))}).encode()
    with make_client(store, max_body_bytes=2048) as client:
        response = client.post(
            "/v1/predict", content=_chunks(body), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert "over 2,048 bytes" in response.json()["detail"][0]["message"]


def test_the_row_limit_applies_to_csv_uploads_too(store, holdout):
    csv = holdout.drop(columns=[SPLIT]).head(4).to_csv(index=False).encode()
    with make_client(store, max_rows=3) as client:
        response = client.post("/v1/predict/csv", files={"file": ("rows.csv", csv, "text/csv")})
    assert response.status_code == 413
    assert "limit is 3" in response.json()["detail"][0]["message"]
