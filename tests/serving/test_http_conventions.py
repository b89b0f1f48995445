"""HTTP conventions at the edge: HEAD wherever GET is served (load balancers and uptime checkers
send it), answered like the GET without a body; the security headers on every answer, errors
included."""

import pytest


@pytest.mark.parametrize("path", ["/v1/health", "/v1/ready", "/v1/model", "/v1/models"])
def test_head_answers_like_get_without_a_body(client, path):
    got, head = client.get(path), client.head(path)
    assert got.status_code == head.status_code == 200, (path, head.status_code)
    assert head.content == b"" and got.content
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == got.headers["content-length"]


def test_head_is_no_way_around_a_routes_methods(client):
    answer = client.head("/v1/predict")
    assert answer.status_code == 405 and answer.content == b""


@pytest.mark.parametrize(
    "method, path",
    [("get", "/v1/health"), ("get", "/v1/nowhere"), ("post", "/v1/predict"), ("head", "/v1/model")],
)
def test_every_answer_carries_the_security_headers(client, method, path):
    answer = client.request(method.upper(), path, json={} if method == "post" else None)
    assert answer.headers["x-content-type-options"] == "nosniff", (method, path)
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["x-frame-options"] == "DENY"


def test_hsts_only_on_a_request_that_came_over_tls(client):
    """Behind the ALB the API sees plain HTTP and the proxy's X-Forwarded-Proto; a local
    `housing serve` over http must not tell a browser to refuse http for a year."""
    over_tls = client.get("/v1/health", headers={"x-forwarded-proto": "https"})
    assert over_tls.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert "strict-transport-security" not in client.get("/v1/health").headers


@pytest.mark.parametrize("declared", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_json_route_reads_only_a_body_declared_as_json(client, holdout, declared):
    import json

    from tests.serving.conftest import records

    body = json.dumps({"rows": records(holdout.head(1))})
    headers = {"content-type": declared} if declared else {}
    answer = client.post("/v1/predict", content=body, headers=headers)
    assert answer.status_code == 415, answer.text
    assert "application/json" in answer.json()["detail"][0]["message"]
    ok = client.post(
        "/v1/predict", content=body, headers={"content-type": "application/json; charset=utf-8"}
    )
    assert ok.status_code == 200, ok.text
