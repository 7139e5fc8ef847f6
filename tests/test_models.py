"""Shipped models: the manifest verifies them, a missing or corrupt file fails closed naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from detectors.errors import ModelMissing
from detectors.runtime.manifest import load_manifest, model_status
from detectors.runtime.mobilenet import prepare, shared_pretrained
from detectors.runtime.yolo import load_runner
from detectors.runtime.yolox import YoloxRunner, grids
from service.cli import main
from service.settings import WEIGHTS_DIR

SHIPPED = [e for e in load_manifest(WEIGHTS_DIR / "manifest.toml").values() if e.shipped]


def test_every_shipped_file_is_present_verified_and_licensed():
    assert {e.name for e in SHIPPED} >= {"mobilenet_v2", "mobilenet_v1_embedder", "yolox_nano", "heads"}
    for e in SHIPPED:
        row = model_status(e, WEIGHTS_DIR)
        assert row["check"] == "ok (sha256 verified)", (e.name, row)
        assert e.licence and (WEIGHTS_DIR / e.licence_file).is_file(), e.name
        assert "AGPL" not in e.licence


def test_models_list_exits_3_naming_a_corrupt_file(tmp_path: Path, capsys):
    copy = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert main(["models", "list", "--manifest", str(copy / "manifest.toml")]) == 0
    target = copy / "yolox_nano.onnx"
    target.write_bytes(target.read_bytes()[:1000])
    assert main(["models", "list", "--manifest", str(copy / "manifest.toml")]) == 3
    assert "yolox_nano.onnx" in capsys.readouterr().err
    target.unlink()
    assert main(["models", "list", "--manifest", str(copy / "manifest.toml")]) == 3


def test_screening_with_a_corrupt_or_missing_model_exits_3(tmp_path: Path, capsys):
    from PIL import Image

    img = tmp_path / "x.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(img)

    def weights_copy(name: str) -> tuple[Path, Path]:
        copy = tmp_path / name
        shutil.copytree(WEIGHTS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(
            f"yolo: {{model: {copy / 'yolox_nano.onnx'}}}\nrecognition: {{heads: {copy / 'heads.json'}}}\n"
            f"data_dir: {tmp_path / 'var'}\n",
            encoding="utf-8",
        )
        return copy, cfg

    for broken in ("heads.json", "yolox_nano.onnx"):
        copy, cfg = weights_copy(broken.replace(".", "_"))
        (copy / broken).write_bytes(b"not a model")
        assert main(["screen", str(img), "--config", str(cfg), "--json"]) == 3
        err = capsys.readouterr().err
        assert broken in err and "corrupt" in err
    copy, cfg = weights_copy("missing")
    (copy / "heads.json").unlink()
    assert main(["screen", str(img), "--config", str(cfg)]) == 3
    assert "heads.json is missing" in capsys.readouterr().err


def test_mobilenets_give_probabilities_and_unit_embeddings():
    models = shared_pretrained(WEIGHTS_DIR)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (300, 500, 3), dtype=np.uint8)
    assert prepare(img).shape == (1, 224, 224, 3)
    f = models.features(img)
    assert f.embedding.shape == (1024,) and abs(float(np.linalg.norm(f.embedding)) - 1) < 1e-4
    assert f.imagenet.shape == (1001,) and 0.9 < float(f.imagenet.sum()) < 1.1
    assert models.features(img).embedding.tolist() == f.embedding.tolist()  # deterministic


def test_yolox_grid_layout_and_decoding():
    cells, strides = grids((416, 416))
    assert cells.shape == (3549, 2) and strides[0, 0] == 8 and strides[-1, 0] == 32
    runner = load_runner(WEIGHTS_DIR / "yolox_nano.onnx")
    assert isinstance(runner, YoloxRunner) and runner.names[3] == "motorcycle"
    raw = np.zeros((3549, 85), np.float32)
    k = 52 * 10 + 20  # stride-8 cell (x=20, y=10)
    raw[k, :2] = 0.5
    raw[k, 2:4] = np.log(40 / 8)
    raw[k, 4] = 0.9
    raw[k, 5 + 2] = 0.8  # car
    from detectors.runtime.yolo import Letterbox

    (d,) = runner._decode(raw, Letterbox(0.5, 0.0, 0.0), 832, 832)
    assert d.label == "car" and d.score == pytest.approx(0.72)
    cx, cy = 20.5 * 8, 10.5 * 8
    assert d.box == pytest.approx(((cx - 20) / 0.5, (cy - 20) / 0.5, (cx + 20) / 0.5, (cy + 20) / 0.5))


def test_yolox_on_an_image_returns_boxes_inside_it():
    runner = load_runner(WEIGHTS_DIR / "yolox_nano.onnx")
    img = np.full((300, 700, 3), 120, np.uint8)
    for d in runner.detect(img):
        assert 0 <= d.box[0] < d.box[2] <= 700 and 0 <= d.box[1] < d.box[3] <= 300


def test_missing_shipped_model_is_model_missing(tmp_path: Path):
    from detectors.runtime.manifest import verified_file

    with pytest.raises(ModelMissing, match="nothing.onnx is missing"):
        verified_file(tmp_path / "nothing.onnx", None)


def test_running_without_a_cue_detector_the_heads_use_is_said_in_the_verdict(tmp_path: Path, monkeypatch):
    from detectors.evidence import Post, PostImage
    from service.screener import Screener
    from service.settings import Settings

    monkeypatch.delenv("ASSETSCREEN_YOLO_MODEL", raising=False)
    settings = Settings(detectors=["vehicles"], data_dir=tmp_path)
    v = Screener(settings).screen(Post(images=(PostImage("x.png", np.full((64, 64, 3), 128, np.uint8)),)))
    (status,) = [s for s in v.detector_status if s.detector == "recognition"]
    assert status.status == "partial" and "documents" in status.message and "vehicles" not in status.message
