"""The vehicle and uniform detectors' contract on real YOLO models: the shipped YOLOX-nano (weights/) and the COCO
YOLOv8n test model in ../shared. tests/test_vehicles.py and tests/test_uniforms.py run the same contract on a
fake runner, so it is checked everywhere; these add what only a real model shows. A model file that is absent
skips its class with the reason; any other error fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.runtime.yolo import YoloRunner, load_runner
from detectors.uniforms import UniformDetector
from detectors.vehicles import VehicleDetector
from service.settings import WEIGHTS_DIR
from tests.conftest import COCO_MODEL
from tests.contract import ImageDetectorContract
from tests.test_vehicles import TextureOcr

pytestmark = pytest.mark.integration

SHIPPED = WEIGHTS_DIR / "yolox_nano.onnx"


def runner(path: Path) -> YoloRunner:
    if not path.is_file():
        pytest.skip(f"model {path} not present")
    return load_runner(path)


class TestVehiclesOnShippedYolox(ImageDetectorContract):
    def make_detector(self) -> VehicleDetector:
        return VehicleDetector(runner(SHIPPED), ocr_engine=TextureOcr("POLICE"))


class TestUniformsOnShippedYolox(ImageDetectorContract):
    def make_detector(self) -> UniformDetector:
        return UniformDetector(runner(SHIPPED), ocr_engine=None)


class TestVehiclesOnSharedCoco(ImageDetectorContract):
    def make_detector(self) -> VehicleDetector:
        return VehicleDetector(runner(COCO_MODEL), ocr_engine=TextureOcr("POLICE"))


class TestUniformsOnSharedCoco(ImageDetectorContract):
    def make_detector(self) -> UniformDetector:
        return UniformDetector(runner(COCO_MODEL), ocr_engine=None)
