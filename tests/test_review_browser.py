"""The review page in a real browser (Chromium from Debian, driven by Playwright): three posts screened, the queue
opened, decisions made with the keyboard, and found in the store and the audit log, attributed to the key.

CI installs Chromium and sets ASSETSCREEN_REQUIRE_BROWSER=1, so there a missing browser fails instead of skipping.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import tests.fakes  # noqa: F401
from service.api import create_app
from service.screener import Screener
from service.settings import Settings
from service.store import MemoryStore, verify_audit
from tests.fakes import EchoRecognizer
from tests.imagegen import red_patch_jpeg


@pytest.fixture
def server() -> Iterator[tuple[str, MemoryStore, dict[str, str]]]:
    import uvicorn

    settings = Settings(detectors=["fake_red", "fake_caption"])
    store = MemoryStore()
    tokens = {r: store.add_key(f"k-{r}", r)[1] for r in ("screen", "review")}
    app = create_app(settings, Screener(settings, recognizer=EchoRecognizer()), store=store)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", store, tokens
    srv.should_exit = True
    t.join(10)


def test_review_page_decisions_with_the_keyboard(server: Any, chromium_path: str) -> None:
    chromium = chromium_path
    from playwright.sync_api import expect, sync_playwright

    base, store, tokens = server
    import httpx

    ids = []
    for caption in ("so proud of my duty", "", "on my way"):
        r = httpx.post(f"{base}/v1/screen", files={"files": ("a.jpg", red_patch_jpeg(), "image/jpeg")},
                       data={"caption": caption}, headers={"Authorization": f"Bearer {tokens['screen']}"})
        assert r.status_code == 200, r.text
        ids.append(r.json()["result_id"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/review")
        page.fill("#keyinput", tokens["review"])
        page.press("#keyinput", "Enter")
        page.wait_for_selector(".item.active")
        assert page.locator(".item").count() == 3
        page.wait_for_selector("#evimg[src^='blob:']")  # the evidence image, fetched with the key
        first = page.locator(".item.active").get_attribute("data-id")
        page.keyboard.press("n")
        page.keyboard.type("uniform clearly visible")
        page.keyboard.press("Escape")
        page.keyboard.press("c")  # confirm
        expect(page.locator(".item")).to_have_count(2)
        expect(page.locator("#status")).to_contain_text("saved confirm")
        second = page.locator(".item.active").get_attribute("data-id")
        page.keyboard.press("3")  # tick insignia as well
        page.keyboard.press("r")  # correct: uniform + insignia
        expect(page.locator(".item")).to_have_count(1)
        third = page.locator(".item.active").get_attribute("data-id")
        page.keyboard.press("d")  # dismiss
        page.wait_for_selector("text=The queue is empty.")
        browser.close()
    assert errors == []
    decided = {d.result_id: d for d in store.list_decisions()}
    assert decided[first].decision == "confirm" and decided[first].note == "uniform clearly visible"
    assert decided[second].decision == "correct" and set(decided[second].kinds) == {"uniform", "insignia"}
    assert decided[third].decision == "dismiss"
    assert {d.reviewer for d in decided.values()} == {"k-review"}
    audit = [(e.actor, e.action, e.subject) for e in store.audit_entries()]
    assert ("k-review", "decision.confirm", first) in audit and ("k-review", "decision.dismiss", third) in audit
    assert verify_audit(store) is None
