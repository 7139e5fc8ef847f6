"""Runtime comparison: ORT and TFLite give the same answers on the same input; a missing TFLite is a message.

No speed is asserted here (service/runtime_compare.py measures it on real photos); only shapes and agreement.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detectors.runtime.mobilenet import prepare
from service import runtime_compare as rc
from tests.imagegen import gradient


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    smooth = gradient(320, 240)
    noisy = np.clip(smooth.astype(np.int16) + rng.integers(-40, 40, smooth.shape), 0, 255).astype(np.uint8)
    return [smooth, noisy[::-1].copy()]


def test_without_tflite_onnx_is_still_timed_and_the_output_says_why(tmp_path: Path, monkeypatch, capsys):
    for mod in ("ai_edge_litert", "ai_edge_litert.interpreter"):  # import fails as if not installed
        monkeypatch.setitem(sys.modules, mod, None)
    for i, img in enumerate(_images()):
        Image.fromarray(img).save(tmp_path / f"{i}.png")
    assert rc.main([str(tmp_path), "--limit", "2", "--repeats", "1"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert "ai-edge-litert" in out["tflite_error"]
    assert out["images"] == 2 and set(out["models"]) == {"classifier", "embedder"}
    for entry in out["models"].values():
        assert entry["onnxruntime_ms"]["median_ms"] > 0 and "tflite_ms" not in entry


@pytest.mark.integration  # the TFLite originals are in ../shared/models/small, not shipped
def test_onnx_and_tflite_agree_on_the_same_input():
    pytest.importorskip("ai_edge_litert")
    images = _images()
    paths = rc.onnx_paths()
    for role, size in (("classifier", 1001), ("embedder", 1024)):
        ort = rc.onnx_runner(paths[role], 1)
        tfl, xnn = rc.tflite_runner(rc.TFLITE_DIR / f"{paths[role].stem}.tflite", 1)
        batch = prepare(images[0])
        a, b = ort(batch), tfl(batch)
        assert a.dtype == b.dtype == np.uint8 and a.size == b.size == size
        assert xnn["applied"] and xnn["ops_delegated"] > 20
    result = rc.compare_runtimes(images, threads=1, repeats=1)
    assert "tflite_error" not in result
    cls, emb = result["models"]["classifier"], result["models"]["embedder"]
    assert cls["agreement"]["top1_agreement"] == 1.0 and cls["agreement"]["max_abs_prob_diff"] < 0.1
    assert emb["agreement"]["mean_cosine"] > 0.99
    assert cls["tflite_ms"]["median_ms"] > 0 and emb["onnxruntime_ms"]["median_ms"] > 0
