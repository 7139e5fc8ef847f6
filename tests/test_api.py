import base64

import pytest
from fastapi.testclient import TestClient

import tests.fakes  # noqa: F401
from service.api import create_app
from service.screener import Screener
from service.settings import Settings
from tests.fakes import EchoRecognizer
from tests.imagegen import png_header_only, red_patch_jpeg


@pytest.fixture(scope="module")
def client():
    settings = Settings(detectors=["fake_red", "fake_caption"])
    return TestClient(create_app(settings, Screener(settings, recognizer=EchoRecognizer())))


def test_health(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["detectors"] == {"fake_red": "1", "fake_caption": "1", "recognition": "echo"}


def test_upload_screens(client):
    r = client.post("/v1/screen", files={"files": ("a.png", red_patch_jpeg(), "image/png")}, data={"caption": "x"})
    assert r.status_code == 200, r.text
    assert r.json()["decision"] in {"review", "violation"}


def test_upload_errors_have_fixed_codes(client):
    r = client.post("/v1/screen", files={"files": ("a.jpg", b"", "image/jpeg")})
    assert r.status_code == 400 and r.json()["error"] == "BadInput"
    r = client.post("/v1/screen", files={"files": ("a.txt", b"hello there", "text/plain")})
    assert r.status_code == 415
    r = client.post("/v1/screen", files={"files": ("b.png", png_header_only(20000, 20000), "image/png")})
    assert r.status_code == 413 and "20000x20000" in r.json()["detail"]


def test_hook_json(client):
    payload = {"post_id": "p9", "caption": "so proud", "images_b64": [base64.b64encode(red_patch_jpeg()).decode()]}
    r = client.post("/v1/hook", json=payload)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["post_id"] == "p9" and {e["kind"] for e in body["evidence"]} == {"uniform", "glorification"}


def test_hook_rejects_unknown_keys_and_bad_base64(client):
    r = client.post("/v1/hook", json={"caption": "x", "imagez": []})
    assert r.status_code == 400
    assert "imagez" in r.json()["detail"]
    r = client.post("/v1/hook", json={"images_b64": ["@@@"]})
    assert r.status_code == 400 and "base64" in r.json()["detail"]
    r = client.post("/v1/hook", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_hook_passes_group_admins_to_policy():
    from detectors.evidence import DecisionLevel, Post
    from service.hooks import handle_hook

    seen: list[Post] = []

    class Recorder:
        settings = Settings()

        def screen(self, post):
            seen.append(post)
            from detectors.evidence import Verdict

            return Verdict(DecisionLevel.CLEAR, 0.0, (), (), {}, {})

    handle_hook(Recorder(), {"caption": "x", "author": {"account_id": "u1", "group_id": "g", "group_admins": ["a1"]}})
    assert seen[0].author.group_admins == ("a1",) and seen[0].author.group_id == "g"
