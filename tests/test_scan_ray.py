"""`scan --backend ray` on a local Ray instance: the same per-post function in Ray actors gives the verdicts a local
scan gives, writes the same outputs (JSONL, CSV, HTML), resumes like a local scan, and reads inputs through
pyarrow URIs as it would from S3-compatible storage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the Ray backend needs Ray: pip install 'ray[data]'")

from service.scan import ScanOptions, run_scan  # noqa: E402
from service.scan_ray import RayEngine  # noqa: E402
from service.settings import Settings  # noqa: E402
from tests.imagegen import red_patch_jpeg  # noqa: E402
from tests.test_scan import ECHO, echo_engine, mixed_folder, strip_timings  # noqa: E402


def records(path: Path) -> dict[str, dict]:
    return {r["file"]: strip_timings(r) for r in (json.loads(x) for x in path.read_text().splitlines())}


def test_ray_backend_gives_the_local_verdicts_and_outputs(tmp_path: Path) -> None:
    root = mixed_folder(tmp_path / "archive", n_red=2, n_plain=1)
    (tmp_path / "post.png").write_bytes(red_patch_jpeg())
    posts = tmp_path / "posts.jsonl"
    posts.write_text(json.dumps({"post_id": "p1", "caption": "so proud", "media_paths": ["post.png"]}) + "\n")
    inputs = [str(root), str(posts), f"file://{tmp_path / 'post.png'}"]
    local = tmp_path / "local.jsonl"
    run_scan(inputs, ScanOptions(out=local), echo_engine("fake_red", "fake_caption"))

    settings = Settings(detectors=["fake_red", "fake_caption"])
    out = tmp_path / "ray.jsonl"
    engine = RayEngine.create(settings, 2, factory=ECHO)
    try:
        assert engine.workers == 2 and engine.complete
        first = run_scan(inputs, ScanOptions(out=out, csv=tmp_path / "r.csv", html=tmp_path / "r.html"), engine)
        # resuming on Ray: a lost line is screened again, nothing else
        lines = out.read_text().splitlines()
        out.write_text("\n".join(lines[:-1]) + "\n")
        again = run_scan(inputs, ScanOptions(out=out), engine)
    finally:
        engine.close()
    assert not ray.is_initialized()  # the local instance it started is stopped
    a, b = records(local), records(out)
    assert a == b and len(a) == 6
    assert first.decisions == {"review": 3, "clear": 1, "violation": 1} and first.errors == 1
    assert again.screened + again.errors == 1 and again.already == 5
    assert (tmp_path / "r.csv").read_text().count("\n") == 7
    assert "data:image/jpeg;base64," in (tmp_path / "r.html").read_text()


def test_cli_scan_on_ray(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command line's Ray path: the default pipeline factory (the shipped learned stage) in one actor."""
    from service.cli import main

    root = mixed_folder(tmp_path / "archive", n_red=1, n_plain=1)
    out = tmp_path / "r.jsonl"
    code = main(["scan", str(root), "--out", str(out), "--backend", "ray", "--workers", "1",
                 "--detectors", "fake_red", "-q"])
    assert code == 0, capsys.readouterr().err
    recs = records(out)
    assert set(recs) == {"red0.png", "plain0.jpg", "broken.jpg"}
    assert "recognition" in recs["red0.png"]["verdict"]["model_versions"]
    assert "1 worker" in capsys.readouterr().out
    assert not ray.is_initialized()
