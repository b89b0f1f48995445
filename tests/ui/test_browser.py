"""The dashboard in a real browser: headless Chromium against `housing ui` and a real API."""

import httpx
import pytest

from housing_harness.browser import chromium, find_browser, open_page, running_dashboard, screenshot
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


PAGES = {  # page -> what it shows once its data is in
    "overview": "Model card",
    "map": "zip codes:",
    "explorer": "Holdout months shown",
    "what-if": "Why this price",
    "errors": "Worst zip codes",
    "drift": "Drift",
}


@pytest.mark.slow
@pytest.mark.parametrize("width", [1440, 1920])
def test_every_page_draws_at_common_screen_widths_with_dated_axes(api_url, tmp_path, width):
    """At 1600 px the explorer's date axis read "April October April ..." with no year: the
    axis labels drawn in the browser must each name their year."""
    pytest.importorskip("selenium")
    import re

    from selenium.webdriver.common.by import By

    with running_dashboard(api_url, free_port()) as ui_url, chromium(width=width) as driver:
        for page, expect in PAGES.items():
            open_page(driver, f"{ui_url}/?page={page}", expect=expect)
            body = driver.find_element("tag name", "body").text
            assert "Traceback" not in body and "Error" not in body.split("\n")[0], page
            picture = screenshot(driver, tmp_path / f"{page}-{width}.png")
            assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            if page == "explorer":
                chart = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"]')[0]
                labels = [
                    t.text
                    for t in chart.find_elements(By.CSS_SELECTOR, ".role-axis-label text")
                    if t.text and not t.text.startswith("$")
                ]
                assert labels, "no date axis labels drawn"
                undated = [x for x in labels if not re.search(r"\b(19|20)\d\d\b", x)]
                assert not undated, undated
            if page == "map":  # the map grows with the window, as tall as the screen allows
                chart = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"]')[0]
                drawn = chart.find_element(By.CSS_SELECTOR, "svg, canvas").size
                window = driver.execute_script("return [window.innerWidth, window.innerHeight]")
                assert drawn["width"] > 0.6 * window[0], (drawn, window)
                assert min(drawn["width"] / 1.6, 0.75 * window[1]) <= drawn["height"], (
                    drawn,
                    window,
                )
                assert drawn["height"] <= 0.8 * window[1] + 1, (drawn, window)
