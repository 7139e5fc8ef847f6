"""The README's main job on a fresh install: generated samples, shipped models, every detector, no environment."""

from __future__ import annotations

import json
from pathlib import Path

from datasets.samples import write_samples
from service.cli import main
from service.settings import DEFAULT_DETECTORS


def test_scan_of_the_samples_runs_every_detector_with_the_shipped_models(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ASSETSCREEN_YOLO_MODEL", raising=False)
    monkeypatch.delenv("ASSETSCREEN_WEIGHTS", raising=False)
    monkeypatch.setenv("ASSETSCREEN_DATA", str(tmp_path / "var"))
    samples = write_samples(tmp_path / "samples")
    out = tmp_path / "results.jsonl"
    assert main(["scan", str(tmp_path / "samples"), "--out", str(out), "-q"]) == 0
    recs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["file"] for r in recs) == sorted(p.name for p in samples)
    for r in recs:
        v = r["verdict"]
        assert v["detector_status"] == [], v["detector_status"]  # nothing unavailable, nothing failed
        assert set(DEFAULT_DETECTORS) | {"recognition", "embedding", "imagenet", "objects"} <= set(v["model_versions"])
    by_name = {r["file"]: r["verdict"] for r in recs}
    letter = by_name["official_letter_scan.png"]
    assert "document" in {e["kind"] for e in letter["evidence"]}
