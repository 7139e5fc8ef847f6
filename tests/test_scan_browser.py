"""The scan's HTML report in a real browser (Chromium from Debian, driven by Playwright), opened from a file with no
server: every flagged post is shown with its thumbnail, the counts are right, filtering and sorting work, nothing is
fetched from anywhere, and a hostile file name is shown as text.

CI installs Chromium and sets ASSETSCREEN_REQUIRE_BROWSER=1, so there a missing browser fails instead of skipping.
"""

from __future__ import annotations

import json
from pathlib import Path

from service.scan import ScanOptions, run_scan
from service.scan_inputs import collect
from tests.imagegen import red_patch_jpeg
from tests.test_scan import echo_engine, mixed_folder, red_png

HOSTILE = "<img src=x onerror=alert(1)>.png"


def test_html_report_shows_every_flagged_post_offline(tmp_path: Path, chromium_path: str) -> None:
    chromium = chromium_path
    from playwright.sync_api import sync_playwright

    root = mixed_folder(tmp_path / "archive", n_red=3, n_plain=3)
    (root / HOSTILE).write_bytes(red_png(7))
    (tmp_path / "post.png").write_bytes(red_patch_jpeg())
    posts = tmp_path / "posts.jsonl"
    post = {"post_id": "p1", "caption": "so proud of my duty", "media_paths": ["post.png"]}
    posts.write_text(json.dumps(post) + "\n")
    out, html = tmp_path / "r.jsonl", tmp_path / "report.html"
    run_scan(collect([root, posts]), ScanOptions(out=out, html=html), echo_engine("fake_red", "fake_caption"))
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    flagged = {r["file"] for r in recs if "verdict" in r and r["verdict"]["decision"] != "clear"}
    assert len(flagged) == 5  # 3 red, the hostile-named red, the post
    text = html.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text and "<img src=x" not in text

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        requests: list[str] = []
        dialogs: list[str] = []
        errors: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(html.as_uri())
        page.wait_for_load_state("load")
        rows = page.locator("#posts tbody tr.post")
        assert rows.count() == len(flagged)
        shown = set(page.eval_on_selector_all("#posts tbody tr.post td.file",
                                              "tds => tds.map(td => td.firstChild.textContent)"))
        assert shown == flagged  # the hostile name among them, as text
        loaded = page.eval_on_selector_all(
            "#posts tbody tr.post img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
        assert len(loaded) == len(flagged) and all(loaded)  # every flagged post's thumbnail renders
        assert page.locator("#by-decision").inner_text().split() == [
            "Files", "by", "verdict", "verdict", "files", "violation", "1", "review", "4", "clear", "3", "error", "1"]
        assert "uniform" in page.locator("#by-kind").inner_text()

        page.select_option("#f-decision", "violation")
        assert page.locator("#posts tbody tr.post:visible").count() == 1
        assert page.locator("#shown").inner_text() == "1"
        assert "so proud of my duty" in page.locator("#posts tbody tr.post:visible").inner_text()
        page.select_option("#f-decision", "")
        page.fill("#f-text", "onerror")
        assert page.locator("#posts tbody tr.post:visible").count() == 1
        page.fill("#f-text", "")
        page.select_option("#f-kind", "uniform")
        assert page.locator("#posts tbody tr.post:visible").count() == 5
        page.select_option("#f-kind", "")

        page.click("#posts th[data-sort=score]")  # highest first
        scores = [float(s) for s in page.eval_on_selector_all(
            "#posts tbody tr.post", "trs => trs.map(t => t.dataset.score)")]
        assert scores == sorted(scores, reverse=True)
        page.click("#posts th[data-sort=score]")
        scores = [float(s) for s in page.eval_on_selector_all(
            "#posts tbody tr.post", "trs => trs.map(t => t.dataset.score)")]
        assert scores == sorted(scores)
        page.click("#posts th[data-sort=file]")
        files = page.eval_on_selector_all("#posts tbody tr.post", "trs => trs.map(t => t.dataset.file)")
        assert files == sorted(files)
        assert "1" in page.locator("h2", has_text="Not screened").inner_text()
        browser.close()
    assert dialogs == [] and errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
