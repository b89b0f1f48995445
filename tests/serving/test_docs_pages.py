"""/docs and /redoc work offline: every script, stylesheet and icon they load is served by the
API itself (from a CDN, the pages are blank without internet)."""

import re

import pytest

# src/href/spec-url attributes, and Swagger UI's `url: '/openapi.json'` option.
ASSET = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|\burl\s*:\s*['"]([^'"]+)['"]""")
EXPECTED_TYPE = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}


def loaded_urls(html: str) -> list[str]:
    """What a browser would fetch for the page: src/href attributes and the spec's URL."""
    return [a or b for a, b in ASSET.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_everything_from_the_api_itself(client, page):
    answer = client.get(page)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert "://" not in html, "a page loads something from another host (a CDN)"
    urls = loaded_urls(html)
    assert "/openapi.json" in urls
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts, f"{page} loads no script: {urls}"
    for url in urls:
        assert url.startswith("/"), url
        got = client.get(url)
        assert got.status_code == 200, url
        kind = EXPECTED_TYPE[url[url.rindex(".") :]]
        assert kind in got.headers["content-type"], (url, got.headers["content-type"])
        assert got.content, url
    if page == "/docs":
        assert any(u.endswith("swagger-ui.css") for u in urls)
        assert "SwaggerUIBundle" in client.get(scripts[0]).text
    else:
        assert "Redoc" in client.get(scripts[0]).text


def test_the_oauth2_redirect_helper_is_served_and_the_assets_are_not_in_the_schema(client):
    assert client.get("/docs/oauth2-redirect").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]


def test_a_missing_asset_is_a_404_in_the_error_envelope(client):
    answer = client.get("/docs/assets/nope.js")
    assert answer.status_code == 404
    assert answer.json()["detail"][0]["message"]


def test_the_api_address_itself_leads_to_its_documentation(client):
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 307 and answer.headers["location"] == "/docs"
    assert "/" not in client.get("/openapi.json").json()["paths"]  # not an API route
