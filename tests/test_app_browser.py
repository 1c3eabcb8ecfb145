"""The app in a real browser: Debian's Chromium driven by Playwright against `streamlit run app.py`.

Written from the user's side: what is typed in the grid, what the page then shows. Screenshots of every page in
both languages go to $APP_SCREENS (default: the test's temporary folder).
"""

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import DATA, ROOT

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 720}

# The quote grid's column widths (the app's own table of them), left to right, after the row marker
ROW_MARKER = 33
ROW_HEIGHT = 35


def _grid_widths() -> list[tuple[str, int]]:
    sys.path.insert(0, str(ROOT))
    from app_pages.common import QUOTE_GRID_WIDTHS

    return list(QUOTE_GRID_WIDTHS.items())


GRID = _grid_widths()
ILLUSTRATIVE_C = "Illustrative small exchange C (EX03)"   # liquid capital ¥1bn: short of a ¥2bn requirement
ILLUSTRATIVE_A = "Illustrative small exchange A (EX01)"   # R = ¥2bn under the securities-style preset
SECURITIES = "Securities-style (volume-based)"

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int) -> subprocess.Popen:
    """`streamlit run app.py` on 127.0.0.1:port, in its own process group (stopped by pid)."""
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def wait_healthy(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the app did not start")
            time.sleep(0.3)


def stop_app(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def app_url():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (make browser)")
    port = _free_port()
    proc = start_app(port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        stop_app(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(app_url, browser):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.goto(app_url)
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=60_000)
    wait_quiet(page)
    # the tests' figures are for the invented sheet (a fresh session starts on the Japanese market's sheet)
    choose(page, "Start from", "Illustrative quotes (15, invented)")
    page.wait_for_selector("text=bundled, 15 quotes", timeout=60_000)
    yield page
    context.close()


@pytest.fixture(scope="module")
def screens(tmp_path_factory):
    folder = Path(os.environ.get("APP_SCREENS") or tmp_path_factory.mktemp("screens"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ------------------------------------------------------------------ what a user does

def annual_cost(page) -> str:
    """The headline's first number (the Batch page has no headline: its first metric)."""
    headline = page.locator('.st-key-headline [data-testid="stMetricValue"]')
    return (headline if headline.count() else page.locator('[data-testid="stMetricValue"]')).first.inner_text()


def money(text: str) -> float:
    return float(re.sub(r"[^\d.]", "", text))


def wait_for_change(page, before: str, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while annual_cost(page) == before and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    return annual_cost(page)


def wait_quiet(page) -> None:
    """Until the app has finished its rerun (no running indicator)."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(200)


def grid_canvas(page):
    """The quote grid, its bottom at the bottom of the window, so its top is below the headline that stays in view."""
    canvas = page.locator('.st-key-quote_grid [data-testid="stDataFrame"] canvas').first
    canvas.evaluate("e => e.scrollIntoView({block: 'end'})")
    page.wait_for_timeout(500)
    return canvas


def type_in_grid(page, row: int, column: str, text: str) -> None:
    """Select a cell of the quote grid (row 0 = Q01), open its editor, type over it, press Enter."""
    wait_quiet(page)
    for _attempt in range(5):
        box = grid_canvas(page).bounding_box()
        x = box["x"] + ROW_MARKER
        for name, width in GRID:
            if name == column:
                x += width / 2
                break
            x += width
        page.mouse.click(x, box["y"] + ROW_HEIGHT + ROW_HEIGHT * row + ROW_HEIGHT / 2)
        page.wait_for_timeout(300)
        page.keyboard.press("Enter")  # opens the cell editor
        page.wait_for_timeout(300)
        if page.evaluate("() => document.activeElement && document.activeElement.matches('textarea.gdg-input')"):
            break
        page.keyboard.press("Escape")
        page.wait_for_timeout(700)  # the grid is being rebuilt after the previous edit
    else:
        raise AssertionError("the cell editor did not open")
    page.keyboard.press("Control+A")
    page.keyboard.type(text, delay=30)
    page.wait_for_timeout(300)  # the cell editor takes the text before Enter commits it
    page.keyboard.press("Enter")


def messages(page) -> str:
    return " ".join(page.locator('[data-testid="stAlert"]').all_inner_texts())


def wait_until(page, condition, seconds: float = 30) -> bool:
    """Poll what the user sees until `condition(page)` holds (the rerun after an edit takes a moment)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition(page):
            page.wait_for_timeout(300)
            return True
        page.wait_for_timeout(100)
    return False


def choose(page, label: str, option: str) -> None:
    """Pick an option of a selectbox by its label, typing to search as a user does in a long list."""
    box = page.get_by_role("combobox", name=label).first
    box.click()
    page.keyboard.type(option[:12], delay=20)
    page.get_by_role("option", name=option, exact=True).first.click()
    wait_quiet(page)


def show(page, view: str) -> None:
    """A view of the CFO page's results (segmented control)."""
    page.locator("button").filter(has_text=re.compile(f"^{re.escape(view)}$")).first.click()
    wait_quiet(page)


def go_to(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title).click()
    wait_quiet(page)


# ------------------------------------------------------------------ 1. quote entry that cannot mislead

def test_editing_a_premium_in_the_quote_table_changes_the_cost(page, tmp_path):
    before = annual_cost(page)
    type_in_grid(page, 2, "rate_on_line", "20")   # Q03, in the mix, at 20% a year is dearer than cash
    after = wait_for_change(page, before)
    page.screenshot(path=str(tmp_path / "after_edit.png"))
    assert after != before, "the annual cost did not change after the premium edit"
    assert money(after) > money(before)


def test_typed_rates_give_the_right_value_or_a_visible_refusal(page):
    before = annual_cost(page)
    for typed, words in ((".05", "ambiguous"), ("abc", "not a number"), ("-0.05", "negative"), ("0,04", "commas")):
        type_in_grid(page, 0, "rate_on_line", typed)
        wait_until(page, lambda p: f"'{typed}'" in messages(p))
        text = messages(page)
        assert "Row 1 (Q01) · rate on line" in text and words in text, (typed, text)
        assert annual_cost(page) == before, f"{typed!r} changed the cost"
    type_in_grid(page, 0, "rate_on_line", "4%")  # the bundled rate, typed with its sign: accepted, same cost
    assert wait_until(page, lambda p: "Row 1 (Q01)" not in messages(p))
    assert annual_cost(page) == before
    type_in_grid(page, 0, "limit", "-1")
    assert wait_until(page, lambda p: "'-1'" in messages(p))
    assert "Row 1 (Q01)" in messages(page) and "negative" in messages(page)
    assert annual_cost(page) == before
    type_in_grid(page, 0, "limit", "25%")
    assert wait_until(page, lambda p: "Row 1 (Q01)" not in messages(p))


def test_a_free_quote_is_used_only_after_confirmation(page):
    before = annual_cost(page)
    type_in_grid(page, 0, "rate_on_line", "0")
    assert wait_until(page, lambda p: "free cover" in messages(p))
    assert annual_cost(page) == before
    page.get_by_role("button", name="Yes, use 0%").click()
    assert money(wait_for_change(page, before)) < money(before)


def test_the_quote_grid_shows_every_column_without_scrolling_at_1280(page):
    grid = page.locator('.st-key-quote_grid [data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box["x"] + box["width"] <= VIEWPORT["width"]
    assert ROW_MARKER + sum(w for _, w in GRID) <= box["width"] + 1


def table_widths(page) -> list[tuple[int, int]]:
    """(scrollWidth, clientWidth) of each grid's scrolling area on the page; None for a grid still being drawn."""
    return page.evaluate("""() => [...document.querySelectorAll('[data-testid="stDataFrame"]')].map(d => {
        const s = d.querySelector('.dvn-scroller'); return s ? [s.scrollWidth, s.clientWidth] : null; })""")


def drawn(widths: list) -> bool:
    return bool(widths) and all(w is not None for w in widths)


def tables_fit(widths: list) -> bool:
    return drawn(widths) and all(scroll <= client + 1 for scroll, client in widths)


def settled_widths(page, condition, seconds: float = 30) -> list[tuple[int, int]]:
    """The tables' widths once `condition(widths)` holds, or the last ones seen when it never does: a table is laid
    out some time after the rerun ends, later on a busy machine, so the test waits for what it checks."""
    deadline = time.monotonic() + seconds
    widths = table_widths(page)
    while not condition(widths) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        widths = table_widths(page)
    return widths


def assert_tables_fit(page, where: str) -> None:
    widths = settled_widths(page, tables_fit)
    assert drawn(widths), f"no table drawn on {where}: {widths}"
    for scroll, client in widths:
        assert scroll <= client + 1, f"a table on {where} scrolls sideways: {scroll} > {client}"
    assert_page_does_not_scroll_sideways(page, where)


def assert_page_does_not_scroll_sideways(page, where: str) -> None:
    def main_widths():
        return page.evaluate("""() => { const m = document.querySelector('[data-testid="stMain"]');
            return [m.scrollWidth, m.clientWidth]; }""")
    deadline = time.monotonic() + 30
    scroll, client = main_widths()
    while scroll > client + 1 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        scroll, client = main_widths()
    assert scroll <= client + 1, f"the page scrolls sideways on {where}: {scroll} > {client}"


def test_every_table_shows_all_its_columns_at_1280_and_scrolls_only_inside_itself(page):
    assert_tables_fit(page, "CFO (quote grid and mix)")
    go_to(page, "Broker: pricing")
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=120_000)
    wait_quiet(page)
    assert_tables_fit(page, "Broker")
    page.get_by_text("Show all columns").first.click()              # the rarely used columns, on request
    wait_quiet(page)
    (scroll, client), = settled_widths(page, lambda w: drawn(w) and len(w) == 1 and w[0][0] > w[0][1])
    assert scroll > client                                           # now the table scrolls, inside itself…
    assert_page_does_not_scroll_sideways(page, "Broker, all columns")  # …and the page does not
    go_to(page, "Batch: many exchanges")
    page.get_by_role("button", name="Run batch").click()
    page.wait_for_selector(".st-key-batch_more", timeout=180_000)  # the results' column toggle: the run is done
    wait_quiet(page)
    assert_tables_fit(page, "Batch")


# ------------------------------------------------------------------ 2. the answer first, never truncated

def assert_no_metric_is_cut(page) -> None:
    values = page.locator('[data-testid="stMetricValue"]')
    assert values.count() >= 4
    sizes = values.evaluate_all("els => els.map(e => [e.innerText, e.scrollWidth, e.clientWidth,"
                                " e.firstElementChild ? e.firstElementChild.scrollWidth : 0,"
                                " e.firstElementChild ? e.firstElementChild.clientWidth : 0])")
    for text, sw, cw, inner_sw, inner_cw in sizes:
        assert sw <= cw and inner_sw <= inner_cw, f"{text} is cut: {sw} > {cw} or {inner_sw} > {inner_cw}"


def test_no_headline_metric_is_truncated_in_yen_at_1280x720(page, screens):
    choose(page, "Show amounts in", "¥")
    assert re.fullmatch(r"¥[\d,]+", annual_cost(page)), annual_cost(page)
    assert_no_metric_is_cut(page)
    sentence = page.get_by_text("Cheapest compliant mix").first.inner_text()
    assert "→" in sentence and "a year" in sentence
    page.screenshot(path=str(screens / "cfo_en_yen_unit.png"))


def test_no_headline_metric_is_truncated_in_yen_at_1024x768(page):
    page.set_viewport_size({"width": 1024, "height": 768})
    choose(page, "Show amounts in", "¥")
    assert re.fullmatch(r"¥[\d,]+", annual_cost(page)), annual_cost(page)
    assert_no_metric_is_cut(page)


def test_the_headline_stays_in_view_while_the_grid_is_edited(page):
    grid_canvas(page)
    headline = page.locator(".st-key-headline").first
    box = headline.bounding_box()
    assert box is not None and 0 <= box["y"] < VIEWPORT["height"] / 2
    assert headline.get_by_text("Annual cost").is_visible()


# ------------------------------------------------------------------ 3. one scenario across pages

def test_cfo_broker_cfo_keeps_edits_exchange_and_overrides(page):
    choose(page, "Exchange", ILLUSTRATIVE_C)
    choose(page, "Regime", SECURITIES)
    before = annual_cost(page)
    type_in_grid(page, 0, "rate_on_line", "3")
    edited = wait_for_change(page, before)
    page.get_by_text("Override the regime's parameters").click()
    box = page.get_by_label("Insurance credit at most (% of R)")
    box.fill("0")
    box.press("Enter")
    overridden = wait_for_change(page, edited)
    assert money(overridden) > money(edited)
    go_to(page, "Broker: pricing")
    page.wait_for_selector("text=Where does each layer get bought?", timeout=60_000)
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=120_000)
    assert annual_cost(page) == overridden  # Broker prices the scenario the CFO sees
    assert "Illustrative small exchange C" in page.locator(".st-key-context").inner_text()
    go_to(page, "CFO: funding mix")
    page.wait_for_selector('[data-testid="stMetricValue"]')
    assert annual_cost(page) == overridden
    assert "EX03" in page.get_by_role("combobox", name="Exchange").first.input_value()
    context = page.locator(".st-key-context").inner_text()
    assert "1 override" in context and "1 overrides" not in context and "1 edited" in context


# ------------------------------------------------------------------ 4. charts

def test_the_frontier_marks_shortfall(page):
    choose(page, "Exchange", ILLUSTRATIVE_C)  # liquid capital ¥1bn, R = ¥2bn
    choose(page, "Regime", SECURITIES)
    show(page, "Frontier")
    chart = page.locator(".vega-embed svg").first
    chart.wait_for(timeout=120_000)
    text = chart.inner_html()
    assert "no compliant mix" in text and "shortfall" in text


def default_solution():
    """The page's starting scenario solved here, from data/: the first real exchange, the bundled quote sheet and
    the cold-wallet preset."""
    from optimizer import load_profiles, load_quotes, load_regime, solve

    return solve(load_profiles(DATA / "profiles-japan-2025.csv")[0], load_quotes(DATA / "quotes.csv"),
                 load_regime(DATA / "regimes" / "cold-wallet.toml"))


def svg_text(page) -> str:
    chart = page.locator(".vega-embed svg").first
    chart.wait_for(timeout=120_000)
    wait_quiet(page)
    return chart.evaluate("e => e.textContent")


def test_charts_say_what_they_show(page):
    s = default_solution()
    show(page, "Tower")
    text = svg_text(page)
    assert "Tower: each layer in its band, at the share bought" in text
    assert "Regulatory credit allocation of a loss of R" in text and "R = " in text
    for line in s.lines:                                  # each layer bought, labelled in its own band
        assert f"{line.quote.quote_id} {100 * line.share:.0f}%" in text
    show(page, "Cost breakdown")
    text = svg_text(page)
    sources = [line.quote.quote_id for line in s.lines]
    assert all(q in text for q in sources)
    assert text.count("¥") >= len(sources) + 1             # every bar carries its amount (cash included)
    svg = page.locator(".vega-embed svg").first
    rows = sorted(svg.locator("text").filter(has_text=re.compile(f"^{q}$")).first.bounding_box()["y"] for q in sources)
    assert all(b - a >= 12 for a, b in zip(rows, rows[1:])), rows   # one readable row per bar, none on top of another
    show(page, "Stress test")
    text = svg_text(page)
    assert "R = " in text and "Historical hacks: who pays" in text
    heads = page.locator('[data-testid="stDataFrame"] table thead')
    # the stress table is drawn after the chart: wait until it is the last table on the page, then read it
    wait_until(page, lambda p: heads.count() > 0 and "loss" in heads.last.inner_text())
    headers = heads.last.inner_text()
    assert "loss (¥m)" in headers and "loss_jpy" not in headers and "$" not in headers


# ------------------------------------------------------------------ 5. reasons in words

IDENTIFIER = re.compile(r"[a-z]+_[a-z_]+|capacity:|cap binds|ineligible:")


def test_quotes_not_bought_show_the_models_reasons_in_words(page):
    details = page.get_by_text("What holds the answer where it is").first.inner_text()
    assert "fully taken" in details and "the cap on insurance credit (50% of R)" in details
    assert not IDENTIFIER.search(details), details
    show(page, "Not bought")
    reasons = page.locator(".st-key-reasons").first
    reasons.wait_for(timeout=120_000)
    wait_quiet(page)
    rows = {r.split()[0]: " ".join(r.split()) for r in reasons.locator("tbody tr").all_inner_texts() if r.strip()}
    assert {"Q01", "Q05", "Q08"} <= set(rows), rows
    assert "does not cover vendor compromise" in rows["Q05"] and "cover for vendor compromise" in rows["Q05"]
    assert "the cap on insurance credit (50% of R)" in rows["Q01"]       # Q01 is dearer per yen of credit
    assert "rating BB+ is below the regime's minimum BBB-" in rows["Q08"]
    assert not IDENTIFIER.search(" ".join(rows.values())), rows


def test_broker_shows_yen_amounts_and_dashes_never_none(page):
    go_to(page, "Broker: pricing")
    grid = page.locator('[data-testid="stDataFrame"] table').first   # the grid's own (hidden) table of its cells
    grid.wait_for(state="attached", timeout=120_000)
    wait_quiet(page)
    text = grid.inner_text()
    for column in ("premium, ¥m/yr", "break-even premium, ¥m/yr", "¥1bn more limit saves, ¥m/yr"):
        assert column in text
    assert "None" not in text and "nan" not in text and "—" in text
    assert "Why the others are not bought" in page.locator('[data-testid="stMain"]').inner_text()


# ------------------------------------------------------------------ 6. figures as people write them

def test_own_figures_take_amounts_as_written_and_refuse_in_the_forms_words(page):
    choose(page, "Exchange", "Enter my own figures")
    details = lambda p: p.get_by_text("Requirement R =").first.inner_text()  # noqa: E731
    before = details(page)
    box = page.get_by_label("Customer assets in custody (¥; e.g. 50bn, 500億)")
    box.fill("500億")
    box.press("Enter")
    assert wait_until(page, lambda p: details(p) != before, seconds=60)
    assert "¥50,000" not in messages(page) and not messages(page)
    box = page.get_by_label("Cost of capital (% a year)")
    box.fill(".1")
    box.press("Enter")
    assert wait_until(page, lambda p: "ambiguous" in messages(p), seconds=60)
    text = messages(page)
    assert "Cost of capital (% a year)" in text
    assert not re.search(r"\brow \d|\bline \d|MINE|cost_of_capital", text), text  # the form's words, not a CSV's


# ------------------------------------------------------------------ 7. exports

def test_the_workbook_summary_sheet_holds_numbers(page):
    from openpyxl import load_workbook

    show(page, "Downloads")
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("Workbook")).click()
    book = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert book.sheetnames[0] == "summary"
    rows = {r[0].value: r[1].value for r in book["summary"].iter_rows(min_row=2)}
    shown = money(annual_cost(page)) * 1e6
    assert isinstance(rows["Annual cost (¥ a year)"], int)
    assert rows["Annual cost (¥ a year)"] == pytest.approx(shown, abs=0.06e6)
    assert isinstance(rows["Requirement R (¥)"], int) and rows["Status"] == "optimal"
    inputs = {r[1].value: r[2] for r in book["inputs"].iter_rows(min_row=2)}
    assets = inputs["customer_assets_jpy"]
    assert isinstance(assets.value, int) and assets.number_format == "#,##0"       # numbers, not text
    assert isinstance(inputs["hot_wallet_share"].value, float)
    costs = [r[-1] for r in book["mix"].iter_rows(min_row=2)]
    assert all(isinstance(c.value, int) and c.number_format == "#,##0" for c in costs)  # rounded to the yen


def test_a_saved_scenario_solved_on_the_command_line_costs_what_the_page_shows(page, tmp_path):
    import json

    choose(page, "Show amounts in", "¥")
    type_in_grid(page, 2, "rate_on_line", "3.1")
    wait_until(page, lambda p: "Row 3" not in messages(p))
    wait_quiet(page)
    shown = money(annual_cost(page))
    page.locator('[data-testid="stSidebar"]').get_by_text("Open and save").click()
    save = page.get_by_role("button", name=re.compile("Save this scenario"))
    save.wait_for(timeout=60_000)
    wait_quiet(page)  # a rerun still drawing the sidebar would swallow the click
    with page.expect_download(timeout=90_000) as info:
        save.click()
    path = tmp_path / "scenario.json"
    path.write_bytes(Path(info.value.path()).read_bytes())
    out = subprocess.run([sys.executable, "-m", "optimizer", "solve", "--scenario", str(path), "--format", "json"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["annual_cost_jpy"] == pytest.approx(shown, abs=0.51)


# ------------------------------------------------------------------ 8. the batch page

def test_batch_names_its_inputs_shows_error_rows_and_marks_old_results_stale(page, tmp_path):
    import json

    go_to(page, "Batch: many exchanges")
    profiles = tmp_path / "profiles.csv"
    profiles.write_text("exchange_id,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,cost_of_capital\n"
                        "A,1e10,0.05,1e11,0.1\nB,1e10,7,1e11,0.1\n", encoding="utf-8")
    page.locator('.st-key-batch_upload input[type="file"]').set_input_files(str(profiles))
    wait_quiet(page)
    page.get_by_role("button", name="Run batch").click()
    page.wait_for_selector("text=Rows with errors", timeout=180_000)
    wait_quiet(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "Cold-wallet reserve" in main and "quote sheet bundled" in main and "profiles.csv" in main
    errors = page.locator('[data-testid="stDataFrame"] table').first.inner_text()
    assert "B" in errors and "hot_wallet_share" in errors
    with page.expect_download() as info:
        page.get_by_role("button", name="Summary (JSON)").click()
    summary = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert summary["regime"].startswith("Cold-wallet reserve") and summary["status_counts"]["error"] == 1
    go_to(page, "CFO: funding mix")
    page.get_by_text("Override the regime's parameters").click()
    box = page.get_by_label("Insurance credit at most (% of R)")
    box.fill("20")
    box.press("Enter")
    wait_quiet(page)
    go_to(page, "Batch: many exchanges")
    assert wait_until(page, lambda p: "Stale" in p.locator('[data-testid="stMain"]').inner_text(), seconds=60)


# ------------------------------------------------------------------ 9. Japanese

ALLOWED_LATIN = {"R", "EX", "Q", "CSV", "JSON", "XLSX", "TOML", "ROL", "yr", "of", "US", "bn", "m", "FSA", "BBB",
                 "AA", "A"}


def _real_names() -> set[str]:
    """The real exchanges' own names (bitFlyer, Coincheck, …): proper nouns, not English labels."""
    import csv

    with (DATA / "profiles-japan-2025.csv").open(encoding="utf-8") as f:
        return {w for row in csv.DictReader(f) for w in re.findall(r"[A-Za-z]{2,}", row["name"])}


def test_the_japanese_page_shows_no_english_label_in_the_main_view(page, screens):
    page.get_by_text("日本語").click()
    page.wait_for_selector("text=年間コスト", timeout=60_000)
    wait_quiet(page)
    text = page.evaluate("""() => { const main = document.querySelector('[data-testid="stMain"]').cloneNode(true);
        main.querySelectorAll('[data-testid="stIconMaterial"], span[role="img"][translate="no"]').forEach(e => e.remove());
        document.body.appendChild(main); const t = main.innerText; main.remove(); return t; }""")
    words = {w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in ALLOWED_LATIN | _real_names()}
    assert not words, f"English in the Japanese main view: {sorted(words)}"
    assert "百万円" in annual_cost(page)
    page.screenshot(path=str(screens / "check_ja.png"))


def test_an_upload_error_is_framed_in_japanese_on_the_japanese_page(page, tmp_path):
    page.get_by_text("日本語").click()
    page.wait_for_selector("text=年間コスト", timeout=60_000)
    wait_quiet(page)
    page.locator('[data-testid="stSidebar"]').get_by_text("開く・保存").click()
    # Streamlit's own English on the uploader ("Upload", "200MB per file") is replaced by the Japanese words
    shown = page.locator(".st-key-upload_quotes").evaluate("""e => {
        const p = e.querySelector('[data-testid="stFileUploaderDropzone"] button p');
        const note = e.querySelector('[data-testid="stFileUploaderDropzoneInstructions"] span');
        return [getComputedStyle(p).fontSize, getComputedStyle(p, '::after').content,
                getComputedStyle(note).fontSize, getComputedStyle(note, '::after').content]; }""")
    assert shown == ["0px", '"アップロード"', "0px", '"1ファイル 200MB まで"'], shown
    bad = tmp_path / "my_quotes.csv"
    bad.write_text("quote_id,kind,counterparty,rating,attachment,limit,rate_on_line\nX1,insurance,I,AA,0,1e9,cheap\n",
                   encoding="utf-8")
    page.locator('.st-key-upload_quotes input[type="file"]').set_input_files(str(bad))
    assert wait_until(page, lambda p: "my_quotes.csv" in messages(p), seconds=60)
    text = messages(page)
    assert "ファイル my_quotes.csv" in text and "1行目" in text and "列「rate_on_line」" in text, text
    assert "数値が必要です" in text and "'cheap'" in text
    assert "年間コスト" in page.locator(".st-key-headline").inner_text()  # the page and its inputs stay


# ------------------------------------------------------------------ 10. screenshots of every page, both languages

VIEWS = (("Not bought", "購入しない見積", ".st-key-reasons"), ("Tower", "タワー", ".vega-embed"),
         ("Cost breakdown", "コスト内訳", ".vega-embed"), ("Frontier", "フロンティア", ".vega-embed"),
         ("Stress test", "ストレステスト", ".vega-embed"), ("Downloads", "ダウンロード", '[data-testid="stMain"] [data-testid="stDownloadButton"]'))


def test_screenshots_of_every_page_in_both_languages(page, screens):
    for lang in ("en", "ja"):
        if lang == "ja":
            page.get_by_text("日本語").click()
            page.wait_for_selector("text=年間コスト", timeout=60_000)
        wait_quiet(page)
        page.screenshot(path=str(screens / f"cfo_{lang}.png"))
        grid_canvas(page)
        page.screenshot(path=str(screens / f"cfo_grid_{lang}.png"))
        for view, name, shown in VIEWS:
            show(page, view if lang == "en" else name)
            page.locator(shown).first.wait_for(timeout=120_000)
            wait_quiet(page)
            page.locator(shown).first.scroll_into_view_if_needed()
            page.screenshot(path=str(screens / f"cfo_{view.replace(' ', '_').lower()}_{lang}.png"))
        go_to(page, "Broker: pricing" if lang == "en" else "ブローカー：価格")
        page.wait_for_selector('[data-testid="stDataFrame"]', timeout=120_000)
        wait_quiet(page)
        page.screenshot(path=str(screens / f"broker_{lang}.png"))
        page.locator('[data-testid="stDataFrame"]').first.scroll_into_view_if_needed()
        page.screenshot(path=str(screens / f"broker_table_{lang}.png"))
        page.locator(".st-key-reasons").first.scroll_into_view_if_needed()
        page.screenshot(path=str(screens / f"broker_reasons_{lang}.png"))
        go_to(page, "Batch: many exchanges" if lang == "en" else "一括計算：多数の取引所")
        page.get_by_role("button", name="Run batch" if lang == "en" else "一括計算を実行").click()
        page.wait_for_selector(".st-key-batch_more", timeout=180_000)  # the results' column toggle: the run is done
        wait_quiet(page)
        page.screenshot(path=str(screens / f"batch_{lang}.png"))
        page.locator('[data-testid="stDataFrame"]').first.scroll_into_view_if_needed()
        page.screenshot(path=str(screens / f"batch_table_{lang}.png"))
        go_to(page, "CFO: funding mix" if lang == "en" else "CFO：資金構成")
    assert len(list(screens.glob("*_en.png"))) >= 5 and len(list(screens.glob("*_ja.png"))) >= 5


# ------------------------------------------------------------------ 11. the risk view

def risk_sentence(page) -> str:
    """The sentence above the chart naming the risk-optimal mix and its TVaR."""
    return page.locator('[data-testid="stMarkdownContainer"] p').filter(
        has=page.locator("strong", has_text=re.compile("^(Risk-optimal mix|リスク最適構成)$"))).first.inner_text()


def risk_table(page) -> str:
    return page.locator('[data-testid="stDataFrame"]').last.inner_text()


def test_the_risk_slider_re_solves_the_risk_mix_and_its_tvar(page, screens):
    choose(page, "Exchange", ILLUSTRATIVE_A)
    choose(page, "Regime", SECURITIES)
    show(page, "Risk")
    chart = page.locator(".vega-embed svg").first
    chart.wait_for(timeout=120_000)
    svg = chart.inner_html()
    assert "R = ¥2,000.0m" in svg and "cash reserve, regulatory mix" in svg
    assert "regulatory mix" in svg and "risk-optimal mix" in svg and "all cash" in svg
    before = risk_sentence(page)
    assert "TVaR at most" not in before
    thumb = page.get_by_role("slider").first
    assert thumb.get_attribute("aria-valuetext") == "no limit"
    thumb.focus()
    page.keyboard.press("Home")                         # the tightest TVaR limit offered
    assert wait_until(page, lambda p: "TVaR at most" in risk_sentence(p), 60)
    wait_quiet(page)
    after = risk_sentence(page)
    limit = money(re.search(r"TVaR at most (¥[\d,.]+m)", after).group(1))
    tvar = money(re.search(r"; TVaR (¥[\d,.]+m)", after).group(1))
    assert after != before and tvar <= limit + 0.05
    assert money(re.search(r"; TVaR (¥[\d,.]+m)", before).group(1)) > limit  # the limit bound: TVaR came down
    page.locator(".vega-embed").first.scroll_into_view_if_needed()
    page.screenshot(path=str(screens / "cfo_risk_en.png"))


def test_the_japanese_risk_view_shows_no_english_label(page, screens):
    choose(page, "Exchange", ILLUSTRATIVE_A)
    choose(page, "Regime", SECURITIES)
    page.get_by_text("日本語").click()
    page.wait_for_selector("text=年間コスト", timeout=60_000)
    wait_quiet(page)
    show(page, "リスク")
    page.locator(".vega-embed svg").first.wait_for(timeout=120_000)
    wait_quiet(page)
    assert "TVaR" in risk_sentence(page)
    text = page.evaluate("""() => { const main = document.querySelector('[data-testid="stMain"]').cloneNode(true);
        main.querySelectorAll('[data-testid="stIconMaterial"], span[role="img"][translate="no"], code').forEach(e => e.remove());
        document.body.appendChild(main); const t = main.innerText + ' ' +
            Array.from(main.querySelectorAll('svg text')).map(e => e.textContent).join(' ');
        main.remove(); return t; }""")
    assert "どのくらいの確率で" in text and "全額現金" in text and "上限なし" in text
    words = {w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in ALLOWED_LATIN | {"VaR", "TVaR"}}
    assert not words, f"English in the Japanese Risk view: {sorted(words)}"
    page.locator(".vega-embed").first.scroll_into_view_if_needed()
    page.screenshot(path=str(screens / "cfo_risk_ja.png"))


# ------------------------------------------------------------------ the market page

def test_market_page_shows_utilisation_bars_clearing_prices_and_who_falls_short(page, screens):
    go_to(page, "Market: shared capacity")
    page.get_by_role("button", name="Run market").click()
    page.wait_for_selector("text=Capacity used and clearing prices", timeout=180_000)
    wait_quiet(page)
    assert page.get_by_text("Who falls short").is_visible()
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    assert values[0] == "21"
    page.screenshot(path=str(screens / "market_en.png"), full_page=True)

    assert len(list(screens.glob("*_en.png"))) >= 12 and len(list(screens.glob("*_ja.png"))) >= 12


# ------------------------------------------------------------------ names from files are text

def test_names_from_a_scenario_file_are_shown_as_text_never_fetched_or_linked(page, tmp_path):
    import dataclasses

    from optimizer.inputs import load_profiles, load_quotes, load_regime
    from optimizer.scenario import Scenario, to_json

    evil = "x ![b](http://HOST/b.png) [renew](http://HOST/) :red[y] _z_ :material/warning: :smile: $1$"
    p = dataclasses.replace(load_profiles(DATA / "profiles-japan-2025.csv")[0], name=evil)
    r = dataclasses.replace(load_regime(DATA / "regimes" / "cold-wallet.toml"), name=evil, description=evil)
    path = tmp_path / "s.json"
    path.write_text(to_json(dataclasses.replace(Scenario(p, tuple(load_quotes(DATA / "quotes.csv")), r),
                                                quote_sheet=evil)), encoding="utf-8")
    page.locator('[data-testid="stSidebar"]').get_by_text("Open and save").click()
    page.locator('.st-key-upload_scenario input[type="file"]').set_input_files(str(path))
    assert wait_until(page, lambda p: "renew" in p.locator(".st-key-context").inner_text(), seconds=60)
    wait_quiet(page)
    bar = page.locator(".st-key-context").inner_text().replace("\u2060", "")  # the word joiner md() adds
    assert bar.count(evil) == 2, bar                     # the regime's name and the sheet's, as written
    body = page.locator("body").inner_text().replace("\u2060", "")
    assert "Requirement R" in body and evil in body
    assert page.locator('img[src*="HOST"], a[href*="HOST"]').count() == 0


# ------------------------------------------------------------------ the plan page

PLAN_TITLES = {"en": ("Plan: year by year", "What meets the requirement each year", "What each year charges to profit",
                      "fiscal year", "FY2031"),
               "ja": ("資金計画：年度ごと", "各年の要件を満たすもの", "各年に損益に計上する額", "年度", "2031年度")}


def test_the_plan_page_draws_its_chart_and_table_at_1280_in_both_languages(page, screens):
    for lang in ("en", "ja"):
        title, left, right, column, last_year = PLAN_TITLES[lang]
        if lang == "ja":  # switched on the Plan page itself
            page.get_by_text("日本語").click()
            page.wait_for_selector("text=現在価値", timeout=60_000)
            wait_quiet(page)
        go_to(page, title)
        chart = page.locator(".vega-embed svg").first
        chart.wait_for(timeout=120_000)
        wait_quiet(page)
        page.screenshot(path=str(screens / f"plan_{lang}.png"))            # the form, the answer first
        text = chart.evaluate("e => e.textContent")
        assert left in text and right in text and last_year in text   # both panels, every year on the axis
        box = page.locator(".vega-embed").first.bounding_box()
        assert box["x"] + box["width"] <= VIEWPORT["width"], "the chart runs off the page at 1280 px"
        page.locator(".vega-embed").first.scroll_into_view_if_needed()
        page.screenshot(path=str(screens / f"plan_chart_{lang}.png"))
        table = page.locator('.st-key-plan_table [data-testid="stDataFrame"]').first
        table.scroll_into_view_if_needed()
        settled_widths(page, tables_fit)
        page.screenshot(path=str(screens / f"plan_table_{lang}.png"))
        assert_tables_fit(page, f"the Plan page ({lang})")
        assert column in table.locator("table thead").first.inner_text()
        if lang == "ja":
            shown = page.evaluate("""() => { const main = document.querySelector('[data-testid="stMain"]').cloneNode(true);
                main.querySelectorAll('[data-testid="stIconMaterial"], span[role="img"][translate="no"]').forEach(e => e.remove());
                document.body.appendChild(main); const t = main.innerText + ' ' +
                    Array.from(main.querySelectorAll('svg text')).map(e => e.textContent).join(' ');
                main.remove(); return t; }""")
            commands = {"plan", "out", "csv", "xlsx", "CFO"}  # the command line's words as typed; the CFO page's name
            words = {w for w in re.findall(r"[A-Za-z]{2,}", shown) if w not in ALLOWED_LATIN | commands | _real_names()}
            assert not words, f"English on the Japanese Plan page: {sorted(words)}"

# ------------------------------------------------------------------ key columns in view at 1280 px, both languages

JAPAN_SHEET = {"en": "Japanese market, modelled on reported facts (12)", "ja": "日本市場（報道された事実に基づくモデル、12件）"}


def _switch_to_japanese(page) -> None:
    page.get_by_text("日本語").click()
    page.wait_for_selector("text=年間コスト", timeout=60_000)
    wait_quiet(page)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_key_columns_of_the_market_batch_and_broker_tables_are_in_view_at_1280(page, screens, tmp_path, lang):
    if lang == "ja":
        _switch_to_japanese(page)
    nav = page.locator('[data-testid="stSidebarNav"] a')
    choose(page, "Start from" if lang == "en" else "元にする見積表", JAPAN_SHEET[lang])
    nav.nth(1).click()                                               # Broker: the Japanese sheet's competitors
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=120_000)
    wait_quiet(page)
    page.locator('[data-testid="stDataFrame"]').first.scroll_into_view_if_needed()
    page.screenshot(path=str(screens / f"broker_japan_sheet_{lang}.png"))
    assert_tables_fit(page, f"Broker ({lang})")
    nav.nth(3).click()                                               # Market: the clearing price in view
    wait_quiet(page)
    page.locator(".st-key-market_run button").click()
    page.wait_for_selector(".st-key-market_more", timeout=180_000)
    wait_quiet(page)
    prices = page.locator('[data-testid="stDataFrame"]').nth(1)
    prices.scroll_into_view_if_needed()
    page.screenshot(path=str(screens / f"market_prices_{lang}.png"))
    headers = prices.locator("table thead th").all_inner_texts()
    assert headers[1] == ("clearing price (¥ per ¥)" if lang == "en" else "清算価格（1円あたり円）"), headers
    assert_tables_fit(page, f"Market ({lang})")
    labels = page.locator('[data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"]').evaluate_all(
        """els => els.map(e => { const r = document.createRange(); r.selectNodeContents(e);
            return [e.innerText, r.getBoundingClientRect().width,
                    e.closest('[data-testid="stMetric"]').getBoundingClientRect().width]; })""")
    # a label as wide as its column is cut with "…"
    assert len(labels) == 4 and all(drawn < room - 1 for _t, drawn, room in labels), labels
    nav.nth(2).click()                                               # Batch: an error row's message in view
    wait_quiet(page)
    profiles = tmp_path / "profiles.csv"
    profiles.write_text("exchange_id,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,cost_of_capital\n"
                        "A,1e10,0.05,1e11,0.1\nB,1e10,7,1e11,0.1\n", encoding="utf-8")
    page.locator('.st-key-batch_upload input[type="file"]').set_input_files(str(profiles))
    wait_quiet(page)
    page.locator(".st-key-batch_run button").click()
    page.wait_for_selector(".st-key-batch_more", timeout=180_000)
    wait_quiet(page)
    errors = page.locator('[data-testid="stDataFrame"]').first
    errors.scroll_into_view_if_needed()
    page.screenshot(path=str(screens / f"batch_errors_{lang}.png"))
    assert_tables_fit(page, f"Batch with an error row ({lang})")
    message = errors.locator("table tbody td").all_inner_texts()[-1]
    assert "hot_wallet_share" in message and "'7'" in message and "profiles.csv" not in message, message
    # the whole message, bad value included, is narrower than its column (the app's width for it)
    from app_pages.common import BATCH_ERROR_WIDTHS as ERROR_WIDTHS

    drawn_width = page.evaluate("""t => { const c = document.createElement('canvas').getContext('2d');
        c.font = '14px "Source Sans Pro", sans-serif'; return c.measureText(t).width; }""", message)
    assert drawn_width + 16 <= ERROR_WIDTHS["message"], (drawn_width, message)


def test_a_second_click_on_the_view_shown_keeps_it_shown(page):
    show(page, "Tower")
    show(page, "Tower")                                   # a second click on the selected view
    active = page.locator('button[aria-checked="true"]')
    assert active.count() == 1 and active.inner_text() == "Tower"
    assert page.locator(".vega-embed").count() >= 1      # the tower is still drawn


def test_a_session_of_every_page_makes_no_request_outside_127_0_0_1(app_url, browser):
    from urllib.parse import urlparse

    context = browser.new_context(viewport=VIEWPORT)
    seen: list[str] = []
    context.on("request", lambda request: seen.append(request.url))
    page = context.new_page()
    try:
        page.goto(app_url)
        page.wait_for_selector('[data-testid="stMetricValue"]', timeout=60_000)
        wait_quiet(page)
        for title in ("Broker: pricing", "Batch: many exchanges", "Market: shared capacity", "CFO: funding mix"):
            go_to(page, title)
            page.wait_for_timeout(1500)
        page.get_by_text("日本語").click()
        wait_quiet(page)
        page.wait_for_timeout(1500)
    finally:
        context.close()
    outside = sorted({u for u in seen if urlparse(u).scheme not in ("data", "blob")
                      and urlparse(u).hostname not in ("127.0.0.1",)})
    assert seen and outside == [], outside


def test_a_batch_run_on_several_workers_leaves_no_warning_in_the_server_log(browser, tmp_path):
    log = tmp_path / "server.log"
    port = _free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.address", "127.0.0.1",
             "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    profiles = tmp_path / "profiles.csv"
    profiles.write_text("exchange_id,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,cost_of_capital\n"
                        + "".join(f"E{i},{1e10 + i * 1e8:.0f},0.05,1e11,0.1\n" for i in range(300)), encoding="utf-8")
    try:
        wait_healthy(url, proc)
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector('[data-testid="stMetricValue"]', timeout=60_000)
        wait_quiet(page)
        go_to(page, "Batch: many exchanges")
        page.locator('.st-key-batch_upload input[type="file"]').set_input_files(str(profiles))
        wait_quiet(page)
        page.get_by_role("button", name="Run batch").click()           # 300 rows: chunks of 64 on every core
        seen = set()
        deadline = time.monotonic() + 300
        while not page.locator(".st-key-batch_more").count() and time.monotonic() < deadline:
            seen.update(page.locator('[data-testid="stProgress"]').all_inner_texts())
            page.wait_for_timeout(100)
        assert "Solving…" not in seen, seen   # while the workers start, the bar says so instead of standing at 0%
        wait_quiet(page)
        assert page.locator('[data-testid="stMetricValue"]').first.inner_text() == "300"
        context.close()
    finally:
        stop_app(proc)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "WARNING" not in text and "missing ScriptRunContext" not in text, text[-2000:]


# ------------------------------------------------------------------ 14. the reserve assets table

ASSETS_PRESET = "Cold-wallet reserve with deposits, JGBs and a bank guarantee for half"


def _asset_widths() -> list[tuple[str, int]]:
    from app_pages.common import ASSET_GRID_WIDTHS

    return list(ASSET_GRID_WIDTHS.items())


def asset_canvas(page):
    canvas = page.locator('.st-key-asset_grid [data-testid="stDataFrame"] canvas').first
    canvas.evaluate("e => e.scrollIntoView({block: 'end'})")
    page.wait_for_timeout(500)
    return canvas


def type_in_assets(page, row: int, column: str, text: str) -> None:
    """Select a cell of the assets table (row 0 = its first asset), open its editor, type over it, press Enter."""
    wait_quiet(page)
    for _attempt in range(5):
        box = asset_canvas(page).bounding_box()
        x = box["x"] + ROW_MARKER
        for name, width in _asset_widths():
            if name == column:
                x += width / 2
                break
            x += width
        page.mouse.click(x, box["y"] + ROW_HEIGHT + ROW_HEIGHT * row + ROW_HEIGHT / 2)
        page.wait_for_timeout(300)
        page.keyboard.press("Enter")
        page.wait_for_timeout(300)
        if page.evaluate("() => document.activeElement && document.activeElement.matches('textarea.gdg-input')"):
            break
        page.keyboard.press("Escape")
        page.wait_for_timeout(700)
    else:
        raise AssertionError("the cell editor did not open")
    page.keyboard.press("Control+A")
    page.keyboard.type(text, delay=30)
    page.wait_for_timeout(300)
    page.keyboard.press("Enter")


def metric_value(page, label: str) -> str:
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).locator(
        '[data-testid="stMetricValue"]').first.inner_text()


def test_a_guarantees_fee_and_cap_typed_as_0_4_percent_and_50_oku_reach_the_answer(page, screens):
    choose(page, "Regime", ASSETS_PRESET)
    assert wait_until(page, lambda p: p.locator('[data-testid="stMetric"]').filter(
        has_text="Saved by the reserve assets").count() > 0, seconds=60)
    before, committed = annual_cost(page), metric_value(page, "Committed by banks and parents")
    row = 5  # BG-MEGA, the bundled bank guarantee (0.4% a year, at most ¥20bn)
    type_in_assets(page, row, "rate", "0.5")
    assert wait_until(page, lambda p: "'0.5'" in messages(p))
    text = messages(page)
    assert "Row 6 (BG-MEGA) · yield or fee, % a year" in text and "ambiguous" in text, text
    assert annual_cost(page) == before
    type_in_assets(page, row, "rate", "0.4%")
    assert wait_until(page, lambda p: "Row 6 (BG-MEGA)" not in messages(p))
    assert annual_cost(page) == before
    type_in_assets(page, row, "max_amount_jpy", "50億")
    assert wait_until(page, lambda p: metric_value(p, "Committed by banks and parents") != committed)
    assert metric_value(page, "Committed by banks and parents") == "¥5,000.0m"
    assert money(annual_cost(page)) > money(before)   # less of the cheap guarantee: dearer
    assert "Row 6" not in messages(page)
    page.get_by_text("Reserve assets used").first.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(screens / "cfo_assets_en.png"))
    asset_canvas(page)
    page.screenshot(path=str(screens / "cfo_assets_grid_en.png"))
    grid = page.locator('.st-key-asset_grid [data-testid="stDataFrame"]').first
    box = grid.bounding_box()
    assert box["x"] + box["width"] <= VIEWPORT["width"]
    assert ROW_MARKER + sum(w for _, w in _asset_widths()) <= box["width"] + 1
    assert_page_does_not_scroll_sideways(page, "the CFO page with the assets table")
    page.get_by_text("日本語").click()
    page.wait_for_selector("text=準備資産による節減額", timeout=60_000)
    wait_quiet(page)
    page.get_by_text("使う準備資産").first.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(screens / "cfo_assets_ja.png"))
    asset_canvas(page)
    page.screenshot(path=str(screens / "cfo_assets_grid_ja.png"))
    assert_page_does_not_scroll_sideways(page, "the Japanese CFO page with the assets table")
