"""The contract every image detector inherits (after ThreatExchange's SignalTypeAutoTest).

Subclass `ImageDetectorContract` in a detector's test module and implement `make_detector()`; pytest then runs
every check below on it: blank, tiny, huge and odd-aspect images, noise, boxes inside the image, scores in
range, declared kinds only, and deterministic output.
"""

from __future__ import annotations

import numpy as np
import pytest

from detectors.base import ImageContext, ImageDetector
from detectors.evidence import Evidence
from detectors.runtime.yolo import Detection

CONTRACT_IMAGES = {
    "blank_white": lambda: np.full((480, 640, 3), 255, np.uint8),
    "blank_black": lambda: np.zeros((480, 640, 3), np.uint8),
    "tiny_1x1": lambda: np.full((1, 1, 3), 128, np.uint8),
    "tiny_7x5": lambda: np.random.default_rng(1).integers(0, 255, (5, 7, 3), dtype=np.uint8),
    "huge_4000x3000": lambda: np.full((3000, 4000, 3), 200, np.uint8),
    "odd_wide": lambda: np.random.default_rng(2).integers(0, 255, (16, 1800, 3), dtype=np.uint8),
    "odd_tall": lambda: np.random.default_rng(3).integers(0, 255, (1800, 16, 3), dtype=np.uint8),
    "noise": lambda: np.random.default_rng(4).integers(0, 255, (480, 640, 3), dtype=np.uint8),
}


class FakeYoloRunner:
    """Stands in for YOLO in the contract tests, so they run without any model file: on every image it "detects"
    each of `labels` in a box at fixed fractions of the image (one centred, one in a corner, one a sliver at the
    edge), which is how a real runner's boxes behave on blank, tiny and odd-aspect images too."""

    name = "fake-yolo"
    version = "fake-1"
    names = {0: "person", 2: "car", 5: "bus", 7: "truck"}
    BOXES = ((0.2, 0.15, 0.8, 0.95), (0.0, 0.0, 0.35, 0.4), (0.9, 0.5, 1.0, 1.0))

    def __init__(self, labels: tuple[str, ...] = ("person", "car")) -> None:
        ids = {v: k for k, v in self.names.items()}
        self.labels = [(ids[label], label) for label in labels]

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        h, w = rgb.shape[:2]
        return [
            Detection(cid, label, 0.9 - 0.1 * i, (x1 * w, y1 * h, x2 * w, y2 * h))
            for cid, label in self.labels
            for i, (x1, y1, x2, y2) in enumerate(self.BOXES)
        ]

    def detect_batch(self, images: list[np.ndarray]) -> list[list[Detection]]:
        return [self.detect(i) for i in images]


def check_evidence(ev: list[Evidence], det: ImageDetector, width: int, height: int) -> None:
    assert isinstance(ev, list)
    for e in ev:
        assert isinstance(e, Evidence)
        assert e.kind in det.produces, f"{det.name} emitted undeclared kind {e.kind}"
        assert 0.0 <= e.score <= 1.0
        assert e.detector == det.name
        if e.box is not None:
            x1, y1, x2, y2 = e.box
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height, f"box {e.box} outside {width}x{height}"


class ImageDetectorContract:
    """Mixin: implement `make_detector`. It may call pytest.skip only when a resource is genuinely absent (a model
    file, an optional package), with the reason; any other exception while building is a failure."""

    def make_detector(self) -> ImageDetector:  # pragma: no cover - overridden
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def detector(cls) -> ImageDetector:
        return cls().make_detector()

    def test_declares_itself(self, detector: ImageDetector) -> None:
        assert isinstance(detector, ImageDetector)
        assert detector.name and detector.version and detector.produces

    @pytest.mark.parametrize("image_name", sorted(CONTRACT_IMAGES))
    def test_contract_image(self, detector: ImageDetector, image_name: str) -> None:
        rgb = CONTRACT_IMAGES[image_name]()
        ev = detector.detect(ImageContext(rgb=rgb))
        check_evidence(ev, detector, rgb.shape[1], rgb.shape[0])
        if image_name.startswith(("blank", "tiny")):
            assert ev == [] or all(e.kind not in {"gov_vehicle", "uniform", "official_document"} for e in ev)

    def test_deterministic(self, detector: ImageDetector) -> None:
        rgb = CONTRACT_IMAGES["noise"]()
        a = detector.detect(ImageContext(rgb=rgb.copy()))
        b = detector.detect(ImageContext(rgb=rgb.copy()))
        assert [e.to_dict() for e in a] == [e.to_dict() for e in b]

    def test_does_not_modify_input(self, detector: ImageDetector) -> None:
        rgb = CONTRACT_IMAGES["noise"]()
        before = rgb.copy()
        detector.detect(ImageContext(rgb=rgb))
        assert np.array_equal(rgb, before)
