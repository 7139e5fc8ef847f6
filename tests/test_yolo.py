"""The YOLO runtime: letterbox geometry, NMS, decoding, the shared per-image pass, and missing-model messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors.base import ImageContext
from detectors.errors import DetectorUnavailable
from detectors.runtime import yolo
from detectors.runtime.yolo import (
    Detection,
    OnnxYoloRunner,
    batched_nms,
    letterbox,
    load_runner,
    nms,
    objects,
    parse_names,
)


def test_letterbox_fits_and_maps_boxes_back() -> None:
    img = np.zeros((100, 200, 3), np.uint8)
    canvas, lb = letterbox(img, (640, 640))
    assert canvas.shape == (640, 640, 3)
    assert lb.scale == pytest.approx(3.2)
    assert (lb.pad_x, lb.pad_y) == (0.0, 160.0)
    assert canvas[0, 0, 0] == yolo.LETTERBOX_FILL and canvas[320, 320, 0] == 0
    # A box drawn around the whole image in model pixels maps back to the image bounds.
    back = lb.to_image(np.array([[0.0, 160.0, 640.0, 480.0]]), 200, 100)
    assert back[0] == pytest.approx([0, 0, 200, 100])


def test_nms_suppresses_overlaps_and_keeps_other_classes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]
    classes = np.array([0, 1, 0])
    assert sorted(batched_nms(boxes, scores, classes, 0.5).tolist()) == [0, 1, 2]


def test_parse_names_from_metadata() -> None:
    assert parse_names("{0: 'person', 2: 'car'}") == {0: "person", 2: "car"}
    assert parse_names("['a', 'b']") == {0: "a", 1: "b"}
    assert parse_names("not python") == {} and parse_names(None) == {}


def _bare_runner(names: dict[int, str]) -> OnnxYoloRunner:
    runner = OnnxYoloRunner.__new__(OnnxYoloRunner)  # decoding needs no session
    runner.conf, runner.iou, runner.max_det, runner.names = 0.25, 0.45, 300, names
    return runner


def test_decode_ultralytics_head_output() -> None:
    names = {0: "person", 1: "car"}
    runner = _bare_runner(names)
    pred = np.zeros((4 + 2, 5), np.float32)
    # cx, cy, w, h in model pixels; three candidates for one car (two overlapping), one person, one weak.
    pred[:4, 0] = [320, 320, 100, 50]
    pred[5, 0] = 0.9
    pred[:4, 1] = [322, 321, 100, 50]
    pred[5, 1] = 0.6
    pred[:4, 2] = [100, 100, 20, 60]
    pred[4, 2] = 0.8
    pred[:4, 3] = [500, 500, 10, 10]
    pred[4, 3] = 0.1
    _canvas, lb = letterbox(np.zeros((640, 640, 3), np.uint8), (640, 640))
    dets = runner._decode(pred, lb, 640, 640)
    assert [(d.label, round(d.score, 1)) for d in dets] == [("car", 0.9), ("person", 0.8)]
    assert dets[0].box == pytest.approx((270, 295, 370, 345))


def test_missing_model_says_which_file_and_how(tmp_path: Path) -> None:
    missing = tmp_path / "weights" / "yolov8n.onnx"
    with pytest.raises(DetectorUnavailable) as err:
        load_runner(missing)
    msg = str(err.value)
    assert str(missing) in msg and "assetscreen models fetch yolov8n" in msg and yolo.ENV_MODEL in msg
    assert err.value.missing_file == str(missing)


def test_pt_model_without_ultralytics_names_the_extra(tmp_path: Path) -> None:
    try:
        import ultralytics  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("ultralytics is installed here")
    pt = tmp_path / "model.pt"
    pt.write_bytes(b"not a real model")
    with pytest.raises(DetectorUnavailable, match=r"pip install -e \.\[train\]"):
        load_runner(pt)


def test_vehicles_factory_reports_missing_model(tmp_path: Path) -> None:
    from detectors.base import DetectorRegistry
    from service.settings import Settings

    settings = Settings.load(yolo={"model": str(tmp_path / "absent.onnx")})
    with pytest.raises(DetectorUnavailable, match="absent.onnx"):
        DetectorRegistry.factory("vehicles")(settings)
    with pytest.raises(DetectorUnavailable, match="absent.onnx"):
        DetectorRegistry.factory("uniforms")(settings)


class CountingRunner:
    name = "counting"
    version = "test"
    names = {0: "person", 2: "car"}

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        self.calls += 1
        return [Detection(2, "car", 0.9, (1.0, 1.0, 5.0, 5.0))]

    def detect_batch(self, images: list[np.ndarray]) -> list[list[Detection]]:
        return [self.detect(i) for i in images]


def test_objects_run_once_per_image_and_are_timed() -> None:
    runner = CountingRunner()
    ctx = ImageContext(rgb=np.zeros((8, 8, 3), np.uint8))
    a = objects(ctx, runner)
    b = objects(ctx, runner)
    assert a is b and runner.calls == 1
    assert "yolo" in ctx.timings_ms
    objects(ImageContext(rgb=np.zeros((8, 8, 3), np.uint8)), runner)
    assert runner.calls == 2


def test_coco_model_loads_names_and_runs(coco_model: Path) -> None:
    runner = load_runner(coco_model)
    assert runner.names[0] == "person" and "car" in runner.names.values()
    assert runner.detect(np.full((480, 640, 3), 255, np.uint8)) == []
    out = runner.detect_batch([np.zeros((10, 30, 3), np.uint8), np.zeros((300, 20, 3), np.uint8)])
    assert len(out) == 2
    stats = yolo.benchmark(runner, repeats=2, warmup=1)
    assert set(stats) >= {"median_ms", "p95_ms"}


def test_shared_runner_is_one_per_model(coco_model: Path) -> None:
    from service.settings import Settings

    s = Settings.load(yolo={"model": str(coco_model)})
    assert yolo.shared_yolo_runner(s.yolo) is yolo.shared_yolo_runner(s.yolo)
