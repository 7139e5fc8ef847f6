"""Process settings: which detectors run, where models and data live, and the media caps.

Config is data: a YAML file validated by pydantic with unknown keys rejected (the key is named in the error).
A named config file that does not exist is an error, never a quiet fallback to defaults. Each detector
validates its own options (`detector_options[NAME]`) with its own pydantic model, so a typo there is named too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field

from detectors.config import Strict, read_yaml, validate_model
from detectors.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Model files and their manifest: the checkout's weights/ by default; an installed package (Docker) sets this.


def _packaged_weights() -> Path:
    try:
        import weights

        return Path(weights.__file__).resolve().parent
    except ImportError:  # pragma: no cover - a source tree without the package on the path
        return PROJECT_ROOT / "weights"


WEIGHTS_DIR = Path(os.environ.get("ASSETSCREEN_WEIGHTS") or _packaged_weights())
# Documents first: the text lines it reads are reused by the insignia detector's name-plate cue.
DEFAULT_DETECTORS = ["documents", "vehicles", "uniforms", "insignia", "hashes", "caption"]


class MediaLimits(Strict):
    max_bytes: int = Field(50 * 1024 * 1024, gt=0, description="largest accepted upload, bytes")
    max_pixels: int = Field(60_000_000, gt=0, description="largest accepted image, width*height")
    max_side: int = Field(20_000, gt=0, description="longest accepted side, pixels")
    max_frames: int = Field(8, gt=0, description="frames sampled from an animated image or a video")
    work_side: int = Field(1920, gt=0, description="images are downscaled to this longest side before detection")


class OcrSettings(Strict):
    engine: str = "rapidocr"
    threads: int = Field(2, gt=0)
    max_side: int = Field(1280, gt=0)


class YoloSettings(Strict):
    # The shipped Apache-2.0 YOLOX-nano; an Ultralytics export (AGPL, optional) is auto-detected by its layout.
    model: Path = Field(default_factory=lambda: WEIGHTS_DIR / "yolox_nano.onnx")
    imgsz: int = Field(640, gt=0)
    conf: float = Field(0.25, ge=0, le=1)
    iou: float = Field(0.45, ge=0, le=1)
    threads: int = Field(2, gt=0)
    # Which model classes are vehicles and persons (COCO names by default); swap for Open Images/fine-tuned.
    vehicle_classes: list[str] = ["car", "bus", "truck", "motorcycle"]
    person_classes: list[str] = ["person"]


class RecognitionSettings(Strict):
    # The learned heads (a JSON file; its sha256 is checked against weights/manifest.toml when listed there).
    heads: Path = Field(default_factory=lambda: WEIGHTS_DIR / "heads.json")
    # Example bank: a neighbour at or above this cosine similarity votes. Measured on the 244 evaluation photos:
    # 99.9% of pairs of different photos are below 0.83; a nearest neighbour at >= 0.88 shared the photo's
    # official-asset labels in 16 of 16 cases (0.85: 25 of 26).
    bank_min_similarity: float = Field(0.88, gt=0, le=1)
    bank_k: int = Field(5, ge=1)


class Settings(Strict):
    detectors: list[str] = Field(default_factory=lambda: list(DEFAULT_DETECTORS))
    detector_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    yolo: YoloSettings = Field(default_factory=YoloSettings)
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    recognition: RecognitionSettings = Field(default_factory=RecognitionSettings)
    media: MediaLimits = Field(default_factory=MediaLimits)
    policy: Path | None = None  # None: the packaged service/policy/policy.yaml
    data_dir: Path = Field(default_factory=lambda: Path(os.environ.get("ASSETSCREEN_DATA", "var")))

    def options_for(self, detector: str) -> dict[str, Any]:
        return dict(self.detector_options.get(detector, {}))

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> Settings:
        """Settings from a YAML file (or defaults), then environment, then explicit overrides."""
        data: dict[str, Any] = {}
        if path is not None:
            loaded = read_yaml(path) or {}
            if not isinstance(loaded, dict):
                raise ConfigError(f"settings file {path} must hold a mapping at the top level")
            data.update(loaded)
        env_model = os.environ.get("ASSETSCREEN_YOLO_MODEL")
        if env_model:
            data["yolo"] = {**data.get("yolo", {}), "model": env_model}
        data.update({k: v for k, v in overrides.items() if v is not None})
        return validate_model(cls, data, f"settings{f' in {path}' if path else ''}")
