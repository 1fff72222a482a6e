"""The HTML brief as a person sees it, in a real headless Chromium."""

from __future__ import annotations

import itertools
import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# On a developer machine without Chromium these tests are skipped with the reason shown;
# in CI (CI=true) a missing browser is a failure, since .ci/run installs it.
pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Chromium is not installed (`apt-get install chromium`; .ci/run does it)",
)]


@pytest.fixture(scope="module")
def brief_html(tmp_path_factory, sample_csv):
    """The sample's brief with the shipped settings and teams, made once per session and
    shared with tests/test_brief_pages.py (tests/support/default_brief.py), copied here since
    these tests start `reporter preview` and `reporter serve` on its project: the same run
    this module made for itself before."""
    from tests.support.default_brief import default_brief

    return default_brief(tmp_path_factory, sample_csv).copy_to(tmp_path_factory.mktemp("browser")).html


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("width", [1280, 375])
def test_brief_renders_offline_without_errors_or_overflow(browser, brief_html, tmp_path, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    requests, errors = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(brief_html.as_uri())
    page.wait_for_load_state("load")

    assert [url for url in requests if not url.startswith("file:")] == [], "no external requests"
    assert errors == []
    charts = page.locator("figure.chart img")
    assert charts.count() == 9  # 7 of the personas, the propensity's lift and reliability curves
    for index in range(9):
        box = charts.nth(index).bounding_box()
        assert box["width"] > 0.6 * min(width, 736) - 40 and box["height"] > 100
    labels = page.eval_on_selector_all("figure.chart", "els => els.map(e => e.getAttribute('aria-label'))")
    assert all(label and len(label) > 20 for label in labels), "every chart has alt text"
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    rows = page.locator("table.persona-table tbody tr")
    assert rows.count() >= 3
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the page never scrolls sideways (wide tables scroll in their own box)"
    screenshot = page.screenshot(full_page=True, path=str(tmp_path / f"brief-{width}.png"))
    assert len(screenshot) > 50_000, "a real page was drawn"
    page.close()


CONTRAST = """
() => {
  const parse = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const failures = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg')) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    const a = lum(parse(style.color).slice(0, 3)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && style.fontWeight >= 700);
    const text = el.textContent.trim().slice(0, 30);
    if (ratio < (large ? 3 : 4.5)) failures.push(el.tagName + ' ' + ratio.toFixed(2) + ' ' + text);
  }
  return failures;
}
"""


def test_text_contrast_passes_wcag_aa(browser, brief_html):
    page = browser.new_page()
    page.goto(brief_html.as_uri())
    assert page.evaluate(CONTRAST) == []
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color:#bbb\">faint</p>')")
    assert page.evaluate(CONTRAST) == ["P 1.92 faint"], "the check itself catches faint text"
    page.close()


def test_headings_are_in_order_for_screen_readers(browser, brief_html):
    page = browser.new_page()
    page.goto(brief_html.as_uri())
    levels = page.evaluate(
        "[...document.querySelectorAll('h1,h2,h3')].map(h => Number(h.tagName[1]))"
    )
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
    assert page.evaluate("document.documentElement.lang") == "en"
    page.close()


def test_the_email_preview_shows_its_chart_in_a_browser(browser, brief_html, tmp_path):
    """`reporter preview` is for looking at: the chart is inline data, not a cid: a browser
    cannot follow. The sent mail keeps the cid and its attached image."""
    from reporter.app.cli import main

    config = brief_html.parent.parent.parent / "config" / "reporter.yaml"
    out = tmp_path / "preview"
    assert main(["preview", "--config", str(config), "--out", str(out)]) == 0
    pages = sorted(out.glob("*.html"))
    assert pages, "one page per team"
    for html in pages:
        text = html.read_text()
        assert "cid:" not in text and 'src="data:image/png;base64,' in text
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda message, seen=errors: message.type == "error" and seen.append(message.text))
        page.goto(html.as_uri())
        page.wait_for_load_state("load")
        images = page.locator("img")
        assert images.count() >= 1
        for index in range(images.count()):
            natural = images.nth(index).evaluate("img => [img.complete, img.naturalWidth]")
            assert natural[0] and natural[1] > 100, f"{html.name}: image {index} is broken"
        assert errors == []
        page.close()
    eml = (out / pages[0].with_suffix(".eml").name).read_text()
    assert "cid:persona-sizes" in eml


OFFLINE_ARGS = [*LAUNCH_ARGS, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1"]


@pytest.mark.server
def test_the_api_docs_render_with_the_network_blocked(browser, brief_html, tmp_path):
    """Issue 30: /docs was blank without internet, as Swagger UI came from a CDN. Here every
    name but 127.0.0.1 resolves to nothing and any other address goes to a dead proxy; the
    page must draw its operations from the files the package ships, and the server's access
    log names each route it served."""
    from tests.api_server import Server

    config = brief_html.parent.parent.parent / "config" / "reporter.yaml"
    server = Server(config)
    try:
        offline = browser.browser_type.launch(executable_path=CHROMIUM, args=OFFLINE_ARGS)
        try:
            page = offline.new_page()
            requests, failed, errors = [], [], []
            page.on("request", lambda request: requests.append(request.url))
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{server.url}/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=60_000)
            paths = page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.textContent)")
            title = page.inner_text(".swagger-ui .info .title")
            page.screenshot(path=str(tmp_path / "docs.png"), full_page=True)
        finally:
            offline.close()
        assert "/v1/assign" in paths and "/v1/customers/{customer_id}" in paths, paths
        assert "SmartCart Briefs" in title
        assert failed == [] and errors == []
        assert requests and all(url.startswith(server.url) for url in requests), requests
        for route in ("/docs", "/openapi.json", "/static/{path}"):
            server.wait_for_line(lambda line, r=route: f'"route": "{r}", "status": 200' in line)
    finally:
        server.stop()
