"""The HTTP service through HTTP: keys and roles, every endpoint, every error shape, limits, exemptions."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

import tests.fakes  # noqa: F401  (registers the fake detectors)
from detectors.errors import ConfigError
from service.api import create_app
from service.screener import Screener
from service.settings import Settings
from service.store import MemoryStore
from tests.fakes import EchoRecognizer
from tests.imagegen import png_header_only, red_patch_jpeg


def make_app(store: MemoryStore | None = None, **settings_kw: Any) -> tuple[TestClient, MemoryStore, dict[str, str]]:
    settings = Settings(detectors=["fake_red", "fake_caption"], **settings_kw)
    store = store or MemoryStore()
    app = create_app(settings, Screener(settings, recognizer=EchoRecognizer()), store=store)
    tokens = {role: store.add_key(f"k-{role}", role)[1] for role in ("screen", "integration", "review", "admin")}
    return TestClient(app), store, tokens


@pytest.fixture(scope="module")
def env() -> Any:
    client, store, tokens = make_app()
    with client:
        yield client, store, tokens


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload(client: TestClient, token: str, data: bytes | None = None, **form: str) -> Any:
    files = {"files": ("a.jpg", red_patch_jpeg() if data is None else data, "image/jpeg")}
    return client.post("/v1/screen", files=files, data=form, headers=auth(token))


def test_liveness_needs_no_key_and_everything_else_does(env: Any) -> None:
    client, _, tokens = env
    assert client.get("/healthz").json() == {"status": "ok"}
    for method, path in [("get", "/readyz"), ("get", "/metrics"), ("post", "/v1/screen"), ("post", "/v1/hook"),
                         ("get", "/v1/results"), ("get", "/v1/results/r_x"), ("get", "/v1/exemptions"),
                         ("get", "/v1/audit")]:
        r = getattr(client, method)(path)
        assert r.status_code == 401, path
        assert r.json()["error"] == "Unauthorized" and r.headers["www-authenticate"] == "Bearer"
    r = client.get("/readyz", headers={"Authorization": "Bearer as_not-a-key"})
    assert r.status_code == 401
    r = client.get("/readyz", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


def test_roles_are_enforced(env: Any) -> None:
    client, _, tokens = env
    assert upload(client, tokens["review"]).status_code == 403
    assert client.get("/v1/results", headers=auth(tokens["screen"])).status_code == 403
    assert client.get("/v1/exemptions", headers=auth(tokens["review"])).status_code == 403
    r = client.get("/v1/audit", headers=auth(tokens["integration"]))
    assert r.status_code == 403 and r.json()["error"] == "Forbidden"


def test_revoked_key_is_refused() -> None:
    client, store, tokens = make_app()
    with client:
        assert client.get("/readyz", headers=auth(tokens["screen"])).status_code == 200
        store.revoke_key("k-screen")
        assert client.get("/readyz", headers=auth(tokens["screen"])).status_code == 401


def test_screen_stores_a_result_that_can_be_fetched_listed_and_drawn(env: Any) -> None:
    client, store, tokens = env
    r = upload(client, tokens["screen"], caption="so proud", post_id="p1")
    assert r.status_code == 200, r.text
    body = r.json()
    rid = body["result_id"]
    assert body["decision"] in {"review", "violation"} and body["post_id"] == "p1"
    assert {"decode", "total"} <= set(body["timings_ms"])
    got = client.get(f"/v1/results/{rid}", headers=auth(tokens["screen"])).json()  # its own result
    assert got["id"] == rid and got["decision"] == body["decision"] and got["caption"] == "so proud"
    assert got["submitted_by"] == "k-screen"
    # another submitting key does not see it; reviewers do
    assert client.get(f"/v1/results/{rid}", headers=auth(tokens["integration"])).status_code == 404
    assert client.get(f"/v1/results/{rid}", headers=auth(tokens["review"])).status_code == 200
    listed = client.get("/v1/results", params={"verdict": body["decision"]}, headers=auth(tokens["review"])).json()
    assert rid in [x["id"] for x in listed["results"]]
    assert all(x["decision"] == body["decision"] for x in listed["results"])
    since = client.get("/v1/results", params={"since": "2999-01-01"}, headers=auth(tokens["review"])).json()
    assert since["results"] == []
    png = client.get(f"/v1/results/{rid}/evidence.png", headers=auth(tokens["review"]))
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    drawn = cv2.imdecode(np.frombuffer(png.content, np.uint8), cv2.IMREAD_COLOR)
    assert drawn is not None and drawn.shape[1] == 320  # the 320x240 upload, boxes drawn on it
    assert client.get(f"/v1/results/{rid}/evidence.png", params={"image": 3},
                      headers=auth(tokens["review"])).status_code == 404
    assert client.get("/v1/results/r_nope", headers=auth(tokens["review"])).json()["error"] == "NotFound"


def test_clear_results_keep_no_image_bytes(env: Any) -> None:
    client, store, tokens = env
    blank = cv2.imencode(".jpg", np.full((120, 160, 3), 200, np.uint8))[1].tobytes()
    r = upload(client, tokens["screen"], data=blank)
    assert r.status_code == 200 and r.json()["decision"] == "clear"
    rid = r.json()["result_id"]
    assert store.get_image(rid, 0, "evidence") is None and store.get_image(rid, 0, "original") is None


def test_caption_only_post(env: Any) -> None:
    client, _, tokens = env
    r = client.post("/v1/screen", data={"caption": "so proud of my duty"}, headers=auth(tokens["screen"]))
    assert r.status_code == 200, r.text
    assert {e["kind"] for e in r.json()["evidence"]} == {"glorification"}


def test_errors_have_the_documented_shape_and_never_echo_uploads(env: Any) -> None:
    client, _, tokens = env
    t = tokens["screen"]
    r = upload(client, t, data=b"")
    assert r.status_code == 400 and r.json()["error"] == "BadInput"
    r = client.post("/v1/screen", files={"files": ("a.txt", b"hello secret text", "text/plain")}, headers=auth(t))
    assert r.status_code == 415 and "hello" not in r.text
    r = upload(client, t, data=png_header_only(20000, 20000))
    assert r.status_code == 413 and "20000x20000" in r.json()["detail"]
    r = client.post("/v1/screen", headers=auth(t))  # nothing at all
    assert r.status_code == 400 and set(r.json()) == {"error", "detail"}
    r = client.get("/v1/results", params={"limit": "many"}, headers=auth(tokens["review"]))
    assert r.status_code == 422 and r.json()["error"] == "ValidationError" and "limit" in r.json()["detail"]
    assert "many" not in r.text
    r = client.get("/v1/results", params={"since": "yesterday"}, headers=auth(tokens["review"]))
    assert r.status_code == 400 and "yesterday" in r.json()["detail"]
    r = client.get("/no/such/route")
    assert r.status_code == 404 and r.json()["error"] == "NotFound"


def test_limits_on_bodies_captions_files_and_pixels() -> None:
    client, _, tokens = make_app(service={"max_body_bytes": 200_000, "max_json_bytes": 50_000,
                                          "max_caption_chars": 100, "max_files": 2,
                                          "max_request_pixels": 200_000})
    t = tokens["screen"]
    with client:
        r = client.post("/v1/screen", files={"files": ("a.jpg", b"\xff" * 300_000, "image/jpeg")}, headers=auth(t))
        assert r.status_code == 413 and r.json()["error"] == "MediaTooLarge"
        r = client.post("/v1/hook", content=b"{" + b" " * 60_000 + b"}",
                        headers={**auth(t), "content-type": "application/json"})
        assert r.status_code == 413
        r = client.post("/v1/hook", json={"caption": "x" * 101}, headers=auth(t))
        assert r.status_code == 413 and "caption" in r.json()["detail"]
        three = [("files", (f"{i}.jpg", red_patch_jpeg(), "image/jpeg")) for i in range(3)]
        assert client.post("/v1/screen", files=three, headers=auth(t)).status_code == 413
        r = upload(client, t, data=red_patch_jpeg(640, 480))  # 307 kP > 200 kP per post
        assert r.status_code == 413 and "MP" in r.json()["detail"]

        def chunks() -> Any:  # no Content-Length: the limit holds while reading
            for _ in range(10):
                yield b"x" * 10_000

        r = client.post("/v1/hook", content=chunks(), headers={**auth(t), "content-type": "application/json"})
        assert r.status_code == 413


def test_hook_json_and_its_errors(env: Any) -> None:
    client, _, tokens = env
    t = tokens["screen"]
    payload = {"post_id": "p9", "caption": "so proud", "images_b64": [base64.b64encode(red_patch_jpeg()).decode()]}
    r = client.post("/v1/hook", json=payload, headers=auth(t))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["post_id"] == "p9" and body["result_id"].startswith("r_")
    assert {e["kind"] for e in body["evidence"]} >= {"uniform", "glorification"}
    r = client.post("/v1/hook", json={"caption": "x", "imagez": []}, headers=auth(t))
    assert r.status_code == 400 and "imagez" in r.json()["detail"]
    r = client.post("/v1/hook", json={"images_b64": ["@@@"]}, headers=auth(t))
    assert r.status_code == 400 and "base64" in r.json()["detail"]
    r = client.post("/v1/hook", content=b"not json", headers={**auth(t), "content-type": "application/json"})
    assert r.status_code == 400
    deep = b"[" * 100_000 + b"]" * 100_000
    r = client.post("/v1/hook", content=deep, headers={**auth(t), "content-type": "application/json"})
    assert r.status_code in (400, 413) and r.json()["error"] in {"BadInput", "MediaTooLarge"}
    r = client.post("/v1/hook", json={"caption": "x", "media_paths": ["/etc/passwd"]}, headers=auth(t))
    assert r.status_code == 400 and "command line" in r.json()["detail"]


def test_exemption_applies_only_when_an_integration_key_asserts_the_author(env: Any) -> None:
    client, store, tokens = env
    r = client.post("/v1/exemptions", headers=auth(tokens["admin"]),
                    json={"account_id": "fb:sindhpolice", "type": "official_account", "name": "Sindh Police"})
    assert r.status_code == 201, r.text
    bad = client.post("/v1/exemptions", headers=auth(tokens["admin"]),
                      json={"account_id": "x", "type": "offical_account"})
    assert bad.status_code == 400 and "offical_account" in bad.json()["detail"]
    listed = client.get("/v1/exemptions", headers=auth(tokens["admin"])).json()["exemptions"]
    assert [e["account_id"] for e in listed] == ["fb:sindhpolice"]

    claimed = upload(client, tokens["screen"], account_id="fb:sindhpolice").json()
    assert claimed["decision"] != "clear"
    assert all(f["exempted_by"] is None for f in claimed["findings"])
    assert claimed["author"] == {"account_id": "fb:sindhpolice", "verified": False}  # recorded, not honoured
    trusted = upload(client, tokens["integration"], account_id="fb:sindhpolice").json()
    assert trusted["decision"] == "clear" and trusted["author"]["verified"] is True
    assert any(f["exempted_by"] for f in trusted["findings"])

    assert client.delete("/v1/exemptions/fb:sindhpolice", headers=auth(tokens["admin"])).status_code == 200
    assert upload(client, tokens["integration"], account_id="fb:sindhpolice").json()["decision"] != "clear"
    actions = [e["action"] for e in client.get("/v1/audit", headers=auth(tokens["admin"])).json()["entries"]]
    assert actions[-2:] == ["exemption.add", "exemption.remove"]


def test_readyz_metrics_and_docs(env: Any) -> None:
    client, _, tokens = env
    upload(client, tokens["screen"])
    r = client.get("/readyz", headers=auth(tokens["screen"]))
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert r.json()["models"]["fake_red"] == "1"
    m = client.get("/metrics", headers=auth(tokens["screen"])).text
    assert "assetscreen_verdicts_total" in m and "assetscreen_stage_seconds_bucket" in m
    assert 'route="/v1/screen"' in m and "assetscreen_queue_depth" in m
    spec = client.get("/openapi.json").json()
    for path in ["/v1/screen", "/v1/hook", "/v1/results", "/v1/results/{result_id}",
                 "/v1/results/{result_id}/evidence.png", "/readyz", "/metrics", "/v1/exemptions"]:
        assert path in spec["paths"], path
    assert "images_b64" in json.dumps(spec["paths"]["/v1/hook"])
    docs = client.get("/docs").text
    assert "/docs/assets/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_incomplete_verdict_is_503_and_stored() -> None:
    settings = Settings(detectors=["fake_red", "fake_crash"])
    store = MemoryStore()
    _, token = store.add_key("s", "screen")
    app = create_app(settings, Screener(settings, recognizer=EchoRecognizer()), store=store)
    with TestClient(app) as client:
        r = upload(client, token)
        assert r.status_code == 503
        body = r.json()
        assert body["error"] == "IncompleteVerdict" and "fake_crash" in body["detail"]
        assert store.get_result(body["result_id"]).decision == "incomplete"


def test_unknown_detector_or_option_stops_the_start() -> None:
    with pytest.raises(ConfigError, match="fake_rde"):
        create_app(Settings(detectors=["fake_rde"]), store=MemoryStore())
    with pytest.raises(ConfigError, match="vehicels"):
        create_app(Settings(detectors=["fake_red"], detector_options={"vehicels": {}}), store=MemoryStore())


def test_busy_server_answers_429_with_retry_after_and_healthz_stays_fast() -> None:
    gate = threading.Event()

    class SlowScreener(Screener):
        def screen(self, post: Any, **kw: Any) -> Any:
            gate.wait(10)
            return super().screen(post, **kw)

    settings = Settings(detectors=["fake_red"], service={"workers": 1, "queue": 1})
    store = MemoryStore()
    _, token = store.add_key("s", "screen")
    app = create_app(settings, SlowScreener(settings, recognizer=EchoRecognizer()), store=store)
    with TestClient(app) as client:
        results: list[int] = []
        threads = [threading.Thread(target=lambda: results.append(upload(client, token).status_code))
                   for _ in range(2)]
        for th in threads:
            th.start()
        deadline = time.time() + 5
        while app.state.pool.pending < 2 and time.time() < deadline:
            time.sleep(0.01)
        r = upload(client, token)
        assert r.status_code == 429 and r.headers["retry-after"] == "2" and r.json()["error"] == "Busy"
        t0 = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        assert time.perf_counter() - t0 < 1.0  # the event loop is free while both workers' posts wait
        gate.set()
        for th in threads:
            th.join()
        assert results == [200, 200]
