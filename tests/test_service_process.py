"""The service as an operator runs it: a real server process killed and restarted, outbound webhooks to a real
receiver, the Mastodon inbound webhook, the stdin hook command."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import tests.fakes  # noqa: F401
from service.api import create_app
from service.notify import Notifier
from service.screener import Screener
from service.settings import Settings
from service.store import MemoryStore
from service.webhooks import MediaFetcher, verify
from tests.fakes import EchoRecognizer
from tests.imagegen import red_patch_jpeg

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, env: dict[str, str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], input=stdin, capture_output=True, env=env,
                          cwd=ROOT, timeout=120)


def start_server(port: int, config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--config",
                             str(config)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stderr.read().decode()[-2000:]}") from None
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start")


def call(port: int, path: str, token: str, data: bytes | None = None, ctype: str = "application/json") -> Any:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_a_killed_and_restarted_server_still_serves_earlier_results(tmp_path: Path) -> None:
    env = {**os.environ, "ASSETSCREEN_DATA": str(tmp_path / "data")}
    config = tmp_path / "settings.yaml"
    config.write_text("detectors: [caption]\n")
    made = cli("keys", "add", "ops", "--role", "admin", env=env)
    assert made.returncode == 0, made.stderr.decode()
    token = made.stdout.decode().strip()
    port = free_port()
    proc = start_server(port, config, env)
    try:
        body = json.dumps({"post_id": "p1", "caption": "Proud to serve as SHO, took charge today"}).encode()
        first = call(port, "/v1/hook", token, body)
        rid = first["result_id"]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    proc = start_server(port, config, env)
    try:
        again = call(port, f"/v1/results/{rid}", token)
        assert again["id"] == rid and again["decision"] == first["decision"]
        assert again["evidence"] == first["evidence"] and again["post_id"] == "p1"
    finally:
        proc.terminate()
        proc.wait(10)
    listed = cli("keys", "list", "--json", env=env)
    assert [k["name"] for k in json.loads(listed.stdout)] == ["ops"]
    assert cli("audit", "verify", env=env).returncode == 0


class Receiver(http.server.ThreadingHTTPServer):
    """Fails the first `fail` requests with 500, then accepts; keeps every request."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.got: list[tuple[int, dict[str, str], bytes]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if len(outer.got) < outer.fail else 200
                outer.got.append((status, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *a: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail=2)
    t = threading.Thread(target=r.serve_forever, daemon=True)
    t.start()
    yield r
    r.shutdown()


def test_a_receiver_that_fails_twice_then_succeeds_gets_exactly_one_delivery(receiver: Receiver) -> None:
    settings = Settings(detectors=["fake_red"], webhooks={"base_delay_s": 0.01, "max_delay_s": 0.05})
    store = MemoryStore()
    _, token = store.add_key("s", "screen")
    secret = "a-long-webhook-secret"
    store.add_webhook(f"http://127.0.0.1:{receiver.server_address[1]}/hook", secret, [])
    notifier = Notifier(store, settings.webhooks)
    app = create_app(settings, Screener(settings, recognizer=EchoRecognizer()), store=store, notifier=notifier)
    with TestClient(app) as client:
        r = client.post("/v1/screen", files={"files": ("a.jpg", red_patch_jpeg(), "image/jpeg")},
                        headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["decision"] in {"review", "violation"}
        notifier.wait_idle()
    statuses = [s for s, _, _ in receiver.got]
    assert statuses == [500, 500, 200]
    ids = {h["x-assetscreen-delivery"] for _, h, _ in receiver.got}
    bodies = {b for _, _, b in receiver.got}
    assert len(ids) == 1 and len(bodies) == 1  # one delivery, retried with the same id and body
    _, headers, body = receiver.got[-1]
    assert verify(secret, int(headers["x-assetscreen-timestamp"]), body, headers["x-assetscreen-signature"],
                  now=time.time())
    assert json.loads(body)["result_id"] == r.json()["result_id"]
    [d] = store.list_deliveries()
    assert (d.status, d.attempts, d.last_status) == ("delivered", 3, 200)


def test_a_delivery_that_never_succeeds_is_dead_lettered() -> None:
    dead = Receiver(fail=100)
    t = threading.Thread(target=dead.serve_forever, daemon=True)
    t.start()
    try:
        settings = Settings(detectors=["fake_red"], webhooks={"base_delay_s": 0.0, "max_attempts": 3})
        store = MemoryStore()
        _, token = store.add_key("s", "screen")
        store.add_webhook(f"http://127.0.0.1:{dead.server_address[1]}/", "a-long-webhook-secret", [])
        notifier = Notifier(store, settings.webhooks)
        app = create_app(settings, Screener(settings, recognizer=EchoRecognizer()), store=store, notifier=notifier)
        with TestClient(app) as client:
            client.post("/v1/screen", files={"files": ("a.jpg", red_patch_jpeg(), "image/jpeg")},
                        headers={"Authorization": f"Bearer {token}"})
            notifier.wait_idle()
        assert [(d.status, d.attempts) for d in store.list_deliveries(status="dead")] == [("dead", 3)]
        assert len(dead.got) == 3
    finally:
        dead.shutdown()


def test_mastodon_webhook_refuses_forged_signatures_and_screens_signed_posts() -> None:
    image = red_patch_jpeg()

    class Media(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(image)))
            self.end_headers()
            self.wfile.write(image)

        def log_message(self, *a: Any) -> None:
            pass

    media = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Media)
    threading.Thread(target=media.serve_forever, daemon=True).start()
    try:
        secret = "mastodon-webhook-secret"
        settings = Settings(detectors=["fake_red"], inbound={"mastodon_secret": secret,
                                                             "allowed_media_hosts": ["127.0.0.1"]})
        store = MemoryStore()
        fetcher = MediaFetcher(["127.0.0.1"], 10_000_000, 5.0, allow_private=True, allow_http=True)
        app = create_app(settings, Screener(settings, recognizer=EchoRecognizer()), store=store, fetcher=fetcher)
        event = {"event": "status.created", "created_at": "2026-11-30T10:00:00Z", "object": {
            "id": "1101", "content": "<p>On duty today</p>", "account": {"id": "7", "acct": "officer@example.social"},
            "media_attachments": [{"id": "5", "type": "image",
                                   "url": f"http://127.0.0.1:{media.server_address[1]}/m/1.jpg"}]}}
        body = json.dumps(event).encode()
        good = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        with TestClient(app) as client:
            forged = client.post("/v1/inbound/mastodon", content=body,
                                 headers={"X-Hub-Signature": "sha256=" + "0" * 64, "content-type": "application/json"})
            assert forged.status_code == 401 and store.list_results() == []
            missing = client.post("/v1/inbound/mastodon", content=body)
            assert missing.status_code == 401
            r = client.post("/v1/inbound/mastodon", content=body,
                            headers={"X-Hub-Signature": good, "content-type": "application/json"})
            assert r.status_code == 202 and r.json()["accepted"] == ["mastodon:status:1101"]
            deadline = time.time() + 10
            while not store.list_results() and time.time() < deadline:
                time.sleep(0.05)
        [res] = store.list_results()
        assert res.source == "mastodon" and res.post_id == "mastodon:status:1101"
        assert res.decision in {"review", "violation"} and res.caption.strip() == "On duty today"
    finally:
        media.shutdown()


def test_hook_command_reads_stdin_and_exits_per_verdict(tmp_path: Path) -> None:
    env = {**os.environ, "ASSETSCREEN_DATA": str(tmp_path / "data")}
    img = tmp_path / "a.jpg"
    img.write_bytes(red_patch_jpeg())
    clear = cli("hook", "--detectors", "caption", stdin=json.dumps({"caption": "Happy birthday, my daughter"})
                .encode(), env=env)
    assert clear.returncode == 0, clear.stderr.decode()
    assert json.loads(clear.stdout)["decision"] == "clear"
    payload = {"caption": "x", "media_paths": [str(img)],
               "images_b64": [base64.b64encode(red_patch_jpeg()).decode()]}
    both = cli("hook", "--detectors", "caption", stdin=json.dumps(payload).encode(), env=env)
    assert both.returncode == 0 and len({e.get("image_index") for e in json.loads(both.stdout)["evidence"]}) <= 2
    bad = cli("hook", stdin=b"{not json", env=env)
    assert bad.returncode == 2 and "JSON" in bad.stderr.decode()
    unknown = cli("hook", stdin=json.dumps({"captoin": "x"}).encode(), env=env)
    assert unknown.returncode == 2 and "captoin" in unknown.stderr.decode()
