"""Every page in a real headless chromium: no console error, no failed or external request, no
"loading…" left, figures drawn; the β table equals the JSON at its stated precision; the slider
moves the readout to β(p); a badge reveals its finding. Screenshots at 1280 and 400 px wide go to
tests/_artifacts/microsite/."""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bridge.site import gengauss
from bridge.site.pages import PAGES


REPO = Path(__file__).resolve().parents[2]
WIDTHS = (1280, 400)
SCREENSHOT_MAX_HEIGHT = 3200
PAGE_SLUGS = [slug for slug, _ in PAGES]


def _set_width(driver, width: int, height: int = 900) -> None:
    driver.execute("executeCdpCommand", {"cmd": "Emulation.setDeviceMetricsOverride", "params": {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}})


def _log(driver, kind: str) -> list[dict]:
    """Chrome's ``browser`` (console) or ``performance`` (DevTools events) log since the last read."""
    return driver.execute("getLog", {"type": kind})["value"]


def _drain_logs(driver) -> None:
    _log(driver, "browser")
    _log(driver, "performance")


def _wait(driver, script: str, timeout: float = 300.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


ALL_DRAWN = """
const plots = document.querySelectorAll('.plot');
return document.readyState === 'complete' &&
  Array.from(plots).every(p => p.dataset.rendered === 'true');
"""


def _load(driver, url: str, width: int) -> None:
    _set_width(driver, width)
    _drain_logs(driver)
    driver.get(url)
    _wait(driver, ALL_DRAWN)


def _network(driver, base: str) -> tuple[list[str], list[str], list[str]]:
    """(requested URLs, failed requests, external requests) from chrome's performance log."""
    requested, failed, external = [], [], []
    origin = urlsplit(base)
    urls = {}
    for entry in _log(driver, "performance"):
        msg = json.loads(entry["message"])["message"]
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            urls[params["requestId"]] = url
            requested.append(url)
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
                external.append(url)
        elif method == "Network.loadingFailed":
            failed.append(f"{urls.get(params['requestId'], params['requestId'])}: {params.get('errorText')}")
        elif method == "Network.responseReceived":
            status = params["response"]["status"]
            if status >= 400:
                failed.append(f"{params['response']['url']}: HTTP {status}")
    return requested, failed, external


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("slug", PAGE_SLUGS)
def test_page_in_browser(browser, site_url, artifacts_dir, slug, width):
    url = f"{site_url}{slug}.html"
    _load(browser, url, width)
    console = [e for e in _log(browser, "browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not console, f"{slug}: console errors: {console}"
    requested, failed, external = _network(browser, site_url)
    assert any(u.endswith(f"/{slug}.html") for u in requested), requested
    assert not failed, f"{slug}: failed requests: {failed}"
    assert not external, f"{slug}: external requests: {external}"
    body = browser.find_element("tag name", "body").text
    assert "loading…" not in body.lower() and "loading..." not in body.lower()
    assert not browser.find_elements("css selector", ".loading")
    # Provenance on every page.
    assert browser.find_element("css selector", "[data-commit]").text
    assert browser.find_element("css selector", "[data-dirty]").text in ("clean", "dirty (uncommitted changes)", "unknown")
    assert re.fullmatch(r"[0-9a-f]{64}", browser.find_element("css selector", "[data-digest]").text)
    # Accessibility basics: every table has header cells; every figure has a caption.
    for table in browser.find_elements("css selector", "main table"):
        assert table.find_elements("css selector", "th"), f"{slug}: a table without <th>"
    for fig in browser.find_elements("css selector", "figure.figure"):
        assert fig.find_element("css selector", "figcaption").get_attribute("textContent").strip()
    height = min(int(browser.execute_script("return document.documentElement.scrollHeight")), SCREENSHOT_MAX_HEIGHT)
    _set_width(browser, width, height)
    time.sleep(0.3)
    assert browser.save_screenshot(str(artifacts_dir / f"{slug}-{width}.png"))


def _expected(value: float, precision: str) -> str:
    m = re.fullmatch(r"(\d+) decimals?", precision)
    assert m, f"unexpected stated precision {precision!r}"
    text = f"{value:,.{int(m.group(1))}f}"
    if text.startswith("-"):
        text = text[1:] if set(text[1:]) <= set("0.,") else "\u2212" + text[1:]
    return text


def test_beta_table_equals_the_json(browser, site_url):
    """Every numeric cell of the index tables equals paper_table.json at the precision its header states."""
    _load(browser, f"{site_url}index.html", 1280)
    doc = json.loads((REPO / "evidence" / "summary" / "paper_table.json").read_text(encoding="utf-8"))
    tab = doc["tables"]["models"]
    seen = set()
    checked = 0
    for table_id in ("seed-table", "more-table"):
        table = browser.find_element("id", table_id)
        heads = table.find_elements("css selector", "thead th")
        keys = [h.get_attribute("data-key") for h in heads]
        precisions = [h.get_attribute("data-precision") for h in heads]
        caption = table.find_element("tag name", "caption").text
        body_rows = table.find_elements("css selector", "tbody tr")
        assert len(body_rows) == len(tab["rows"])
        for r, tr in enumerate(body_rows):
            cells = tr.find_elements("css selector", "th, td")
            assert len(cells) == len(keys)
            for key, prec, td in zip(keys, precisions, cells):
                seen.add(key)
                value = tab["rows"][r][key]
                if tab["columns"][key]["quantity"] == "label":
                    assert td.text == value
                    continue
                assert prec and prec in caption, f"{table_id}: precision of {key} not stated in the caption"
                assert td.text == _expected(value, prec), (table_id, key, r, td.text, value)
                checked += 1
    assert seen == set(tab["columns"]), "every column of the summary table is shown"
    assert checked >= len(tab["rows"])
    beta_headers = [h.text for h in browser.find_elements("css selector", "#seed-table thead th")]
    assert beta_headers[:2] == [tab["columns"]["model"]["description"], tab["columns"]["beta_raw"]["description"]]


def _beta(p: float) -> float:
    return math.exp(2 * math.lgamma(2 / p) - math.lgamma(1 / p) - math.lgamma(3 / p))


def test_slider_reads_out_beta_of_p(browser, site_url):
    from selenium.webdriver.common.keys import Keys

    _load(browser, f"{site_url}explore.html", 1280)
    slider = browser.find_element("id", "shape-p")
    readout = {k: browser.find_element("css selector", f"[data-readout={k}]") for k in ("p", "beta", "cos")}
    start = float(readout["p"].get_attribute("data-value"))
    assert readout["beta"].text == f"{_beta(start):.4f}"
    grid = gengauss.SLIDER.p_values()
    seen = set()
    for keys in ([Keys.ARROW_RIGHT] * 7, [Keys.END], [Keys.HOME], [Keys.PAGE_UP, Keys.ARROW_RIGHT]):
        slider.send_keys(*keys)
        index = int(slider.get_attribute("value"))
        _wait(browser, f"return document.getElementById('beta-widget').dataset.shownIndex === '{index}'")
        p = float(readout["p"].get_attribute("data-value"))
        assert p == pytest.approx(grid[index], rel=1e-12)
        assert readout["p"].text == f"{p:.3f}"
        assert readout["beta"].text == f"{_beta(p):.4f}", (p, readout["beta"].text)
        assert readout["cos"].text == f"{math.sqrt(_beta(p)):.4f}"
        # The density trace follows: its peak is the unit-variance generalised Gaussian's f(0).
        peak = browser.execute_script("return Math.max(...document.getElementById('density-figure').data[0].y)")
        alpha = math.exp(0.5 * (math.lgamma(1 / p) - math.lgamma(3 / p)))
        assert peak == pytest.approx(p / (2 * alpha * math.gamma(1 / p)), rel=1e-9)
        seen.add(index)
    assert 0 in seen and len(grid) - 1 in seen and len(seen) == 4


def test_narrow_explore_shows_the_snapshot(browser, site_url):
    _load(browser, f"{site_url}explore.html", 400)
    assert not browser.find_element("id", "beta-widget").is_displayed()
    snap = browser.find_element("css selector", ".widget-snapshot")
    assert snap.is_displayed() and snap.find_element("tag name", "svg")
    _set_width(browser, 1280)
    _wait(browser, "return document.getElementById('beta-widget').offsetParent !== null")
    assert not snap.is_displayed()


def test_badge_reveals_finding_and_reason(browser, site_url):
    _load(browser, f"{site_url}index.html", 1280)
    badges = browser.find_elements("css selector", "details.verdict[data-verdict=acknowledged]")
    assert badges, "the repository's claims include acknowledged findings"
    first = badges[0]
    finding = first.find_element("css selector", ".finding[data-finding]")
    assert not finding.is_displayed()
    first.find_element("tag name", "summary").click()
    assert finding.is_displayed()
    assert "Acknowledged because:" in finding.text


def test_audit_lists_the_seed_findings_first(browser, site_url):
    _load(browser, f"{site_url}audit.html", 1280)
    rows = browser.find_elements("css selector", "#seed-findings-table tbody tr")
    subjects = [r.get_attribute("data-subject") for r in rows[:3]]
    assert subjects == ["s001.floor_beta", "s001.ppl_degradation", "s001.kv_ratio"]
    assert "0.7979" in rows[0].text and "36.6" in rows[1].text and "1.87" in rows[2].text


def test_the_checks_can_fail(browser, site_url, built_site):
    """A page with a console error and a request to another origin (a loopback address, port 1:
    nothing listens) is caught by the same log readers the page tests use."""
    (built_site / "harness-check.html").write_text(
        '<!doctype html><html><head><link rel="icon" href="data:,"></head><body>'
        '<p class="loading">loading…</p><img src="http://127.0.0.2:1/x.png" alt="">'
        '<script>console.error("planted error")</script></body></html>', encoding="utf-8")
    _set_width(browser, 1280)
    _drain_logs(browser)
    browser.get(f"{site_url}harness-check.html")
    _wait(browser, "return document.readyState === 'complete'")
    time.sleep(0.5)
    console = [e for e in _log(browser, "browser") if e["level"] in ("SEVERE", "ERROR")]
    assert any("planted error" in e["message"] for e in console)
    _, failed, external = _network(browser, site_url)
    assert external == ["http://127.0.0.2:1/x.png"]
    assert any(f.startswith("http://127.0.0.2:1/x.png") for f in failed)
    assert browser.find_elements("css selector", ".loading")
