"""The app in a real browser: Debian's Chromium driven by Playwright against `streamlit run app.py`."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (make browser)")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the app did not start")
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(app_url)
        page.wait_for_selector('[data-testid="stMetricValue"]', timeout=60_000)
        yield page
        browser.close()


def _annual_cost(page) -> str:
    return page.locator('[data-testid="stMetricValue"]').first.inner_text()


def test_editing_a_premium_in_the_quote_table_changes_the_cost(page, tmp_path):
    before = _annual_cost(page)
    page.screenshot(path=str(tmp_path / "before.png"))

    # The quote sheet is the last data grid (a canvas); its columns are: row marker, quote, rate on line, …
    canvas = page.locator('[data-testid="stDataFrame"]').last.locator("canvas").first
    canvas.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + 145, box["y"] + 35 + 17)  # first row (Q01), rate on line
    page.keyboard.press("Enter")  # open the cell editor
    page.wait_for_timeout(300)
    page.keyboard.press("Control+A")
    page.keyboard.type("0.2")
    page.screenshot(path=str(tmp_path / "editing.png"))
    page.keyboard.press("Enter")

    deadline = time.monotonic() + 30
    while _annual_cost(page) == before and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    after = _annual_cost(page)
    page.screenshot(path=str(tmp_path / "after_edit.png"), full_page=True)
    assert after != before, "the annual cost did not change after the premium edit"
    # Q01 at 20% is dearer than cash: the optimum no longer buys it, and the cost rises
    assert float(after.strip("¥m").replace(",", "")) > float(before.strip("¥m").replace(",", ""))
    shutil.copy(tmp_path / "after_edit.png", tmp_path / "screenshot.png")
    assert (tmp_path / "screenshot.png").stat().st_size > 10_000


def test_tower_and_broker_pages_render(page, tmp_path):
    page.get_by_text("Tower", exact=True).click()
    page.wait_for_selector('[data-testid="stVegaLiteChart"], .vega-embed', timeout=30_000)
    page.screenshot(path=str(tmp_path / "tower.png"))
    page.get_by_text("Broker: pricing").click()
    page.wait_for_selector("text=break-even", timeout=60_000)
    page.wait_for_selector('.vega-embed', timeout=60_000)
    page.screenshot(path=str(tmp_path / "broker.png"), full_page=True)
    assert "Traceback" not in page.content()
