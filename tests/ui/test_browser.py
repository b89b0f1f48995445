"""The dashboard in a real browser: headless Chromium against `housing ui` and a real API."""

import httpx
import pytest

from tests.harness.browser import chromium, find_browser, open_page, running_dashboard, screenshot
from tests.ui.conftest import free_port

pytestmark = pytest.mark.skipif(
    find_browser() is None, reason="no chromium + chromedriver here (apt-get install them)"
)


@pytest.mark.slow
def test_the_overview_renders_the_live_model_version_in_chromium(api_url, tmp_path):
    pytest.importorskip("selenium")
    version = httpx.get(f"{api_url}/v1/model").json()["version"]
    with running_dashboard(api_url, free_port()) as ui_url, chromium() as driver:
        open_page(driver, f"{ui_url}/?page=overview", expect=version)
        body = driver.find_element("tag name", "body").text
        picture = screenshot(driver, tmp_path / "overview.png")
    assert "Model card" in body and f"Live model {version}" in body
    assert "Traceback" not in body and "API unreachable" not in body
    data = picture.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


@pytest.mark.slow
def test_a_click_on_the_map_opens_that_zip_in_the_explorer(api_url):
    pytest.importorskip("selenium")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def shows(text: str):
        return lambda d: text in d.find_element(By.TAG_NAME, "body").text

    with running_dashboard(api_url, free_port()) as ui_url, chromium() as driver:
        open_page(driver, f"{ui_url}/?page=map", expect="zip codes:")
        # Vega draws each zip as an SVG circle labelled with its tooltip fields (few points: SVG).
        points = driver.find_elements(
            By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"] path[aria-roledescription="circle"]'
        )
        assert len(points) == 30
        label = points[7].get_attribute("aria-label")
        zipcode = label.split("zip: ")[1].split(";")[0]
        points[7].click()
        wait = WebDriverWait(driver, 30, poll_frequency=0.1)
        wait.until(shows(f"Open {zipcode} in the Explorer"))
        button = driver.find_element(
            By.XPATH, f"//button[contains(., 'Open {zipcode} in the Explorer')]"
        )
        button.click()
        wait.until(shows(f"Zip code {zipcode} ("))
        assert "?page=explorer" in driver.current_url
