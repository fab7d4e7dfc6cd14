"""The service's web page in a real browser: headless Chromium (Debian's package) driven by
Playwright, started by the test. It loads the page, submits a text, sees the labels as bars
and the highlighted tokens of the label picked, and checks that the page made no request
outside the server. A screenshot is kept in ``runs/artifacts/serve-page.png``.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it) and the
``playwright`` package (dev extra); skipped without them."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

from labelwise import TextClassifier
from labelwise.types import Example
from tests.integration.test_serve import LABELS, TEXTS, TOKEN, _start

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not Path(CHROMIUM).is_file():
    pytest.skip("no Chromium (apt-get install chromium)", allow_module_level=True)

ARTIFACT = Path(__file__).resolve().parents[2] / "runs" / "artifacts" / "serve-page.png"
# what a headless Chromium needs on a closed network: no sandbox as root, no background calls
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_the_page_labels_a_text_and_shows_why(tmp_path: Path) -> None:
    run = tmp_path / "run"
    TextClassifier({"model": {"type": "linear", "linear": {"min_df": 1}}}).fit_examples(
        [Example(t, (lab,)) for t, lab in zip(TEXTS, LABELS, strict=True)], run_dir=run)
    proc, url = _start(run, env={"LABELWISE_TOKEN": TOKEN})
    requested: list[str] = []
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.on("request", lambda r: requested.append(r.url))
            page.goto(f"{url}/")
            assert "bearer token" in page.inner_text("#meta")  # the details need the token
            page.fill("#token", TOKEN)
            page.dispatch_event("#token", "change")
            page.wait_for_selector("#meta:has-text('labels')")  # (the page's CSP forbids eval'd waits)
            page.fill("#text", "a great and good day, nothing awful")
            page.click("#go")
            page.wait_for_selector(".label .bar")
            page.wait_for_selector("#tokens span")
            names = page.locator(".label .name").all_inner_texts()
            assert names[0] == "pos" and set(names) == {"pos", "neg"}
            assert "Why pos?" in page.inner_text("#why")
            tokens = page.locator("#tokens span").all_inner_texts()
            assert tokens[:3] == ["a", "great", "and"] or "great" in tokens
            page.click(".label:nth-child(2)")  # the other label's tokens
            page.wait_for_selector("#why h2:has-text('neg')")
            page.wait_for_selector("#tokens span")
            assert "2 labels" in page.inner_text("#meta")
            ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACT), full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    served = urlparse(url).netloc
    assert requested and all(urlparse(u).netloc == served for u in requested), requested
