"""Process settings: which detectors run, where models and data live, and the media caps.

Config is data: a YAML file validated by pydantic with unknown keys rejected (the key is named in the error).
A named config file that does not exist is an error, never a quiet fallback to defaults. Each detector
validates its own options (`detector_options[NAME]`) with its own pydantic model, so a typo there is named too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

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
    # Estimated from the header before any pixel is decoded (service.media.decode_cost): the decoded raster, a
    # full-size copy where the mode needs one, and every frame an animation decodes to reach the last sample.
    # 512 MiB admits any still image under max_pixels; bounds an animation's decoding to about 5 s of one core.
    max_decode_bytes: int = Field(512 * 1024 * 1024, gt=0, description="largest estimated decoding cost, bytes")


class OcrSettings(Strict):
    engine: str = "rapidocr"
    threads: int = Field(2, gt=0)
    max_side: int = Field(1280, gt=0)
    # learned: read an image's text only where it could change the verdict (a learned head could reach its
    # report floor, or a rule reads the detector directly); always: every detector reads text whenever it asks.
    gate: Literal["learned", "always"] = "learned"


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


def default_data_dir() -> Path:
    """ASSETSCREEN_DATA, else $XDG_DATA_HOME/assetscreen (~/.local/share/assetscreen): never the working folder,
    so the store, the example bank and the known hashes do not depend on where a command was started."""
    env = os.environ.get("ASSETSCREEN_DATA")
    if env:
        return Path(env).expanduser().resolve()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser().resolve() / "assetscreen"


class StoreSettings(Strict):
    # A SQLAlchemy URL (postgresql+psycopg://user@host/db), "memory" for a throwaway store, or None: SQLite in
    # WAL mode at <data_dir>/assetscreen.db. ASSETSCREEN_STORE_URL overrides (keeps passwords out of files).
    url: str | None = None


class RetentionSettings(Strict):
    # Image bytes kept per result. The uploads themselves are never kept unless `originals` is on (needed to
    # export reviewed items with their images). The evidence rendering (boxes drawn, documents redacted,
    # longest side 800 px) is kept for non-clear results by default so a reviewer can see what was flagged.
    evidence_images: Literal["none", "flagged", "all"] = "flagged"
    originals: bool = False
    image_days: int = Field(30, ge=0, description="days image bytes are kept; 0: forever")
    result_days: int = Field(0, ge=0, description="days results are kept; 0: forever")


def _cores() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


class ServiceSettings(Strict):
    workers: int = Field(default_factory=_cores, gt=0, description="posts screened at once (threads)")
    queue: int = Field(32, ge=0, description="requests allowed to wait for a worker before 429")
    retry_after_s: int = Field(2, gt=0)
    max_body_bytes: int = Field(64 * 1024 * 1024, gt=0, description="largest multipart upload, all files")
    max_json_bytes: int = Field(16 * 1024 * 1024, gt=0, description="largest JSON body (hook, inbound)")
    max_files: int = Field(8, gt=0, description="files per post")
    max_caption_chars: int = Field(10_000, gt=0)
    max_field_chars: int = Field(512, gt=0, description="ids and other short form fields")
    max_request_pixels: int = Field(120_000_000, gt=0, description="decoded pixels per post, all images")


class InboundSettings(Strict):
    # Mastodon admin webhooks (status.created, report.created): the webhook's secret (or the env variable
    # ASSETSCREEN_MASTODON_SECRET) and the hosts media may be fetched from. Nothing else is ever fetched.
    mastodon_secret: str | None = None
    allowed_media_hosts: list[str] = Field(default_factory=list)
    allow_private_addresses: bool = False
    media_timeout_s: float = Field(10.0, gt=0)


Event = Literal["result.review", "result.violation", "result.incomplete", "result.clear"]


class WebhookSettings(Strict):
    max_attempts: int = Field(5, ge=1)
    base_delay_s: float = Field(1.0, ge=0)
    max_delay_s: float = Field(60.0, ge=0)
    timeout_s: float = Field(5.0, gt=0)
    events: list[Event] = Field(default_factory=lambda: list[Event](["result.review", "result.violation",
                                                                       "result.incomplete"]))


class Settings(Strict):
    detectors: list[str] = Field(default_factory=lambda: list(DEFAULT_DETECTORS))
    detector_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    yolo: YoloSettings = Field(default_factory=YoloSettings)
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    recognition: RecognitionSettings = Field(default_factory=RecognitionSettings)
    media: MediaLimits = Field(default_factory=MediaLimits)
    policy: Path | None = None  # None: the packaged service/policy/policy.yaml
    data_dir: Path = Field(default_factory=default_data_dir)
    store: StoreSettings = Field(default_factory=StoreSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    inbound: InboundSettings = Field(default_factory=InboundSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)

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
        env_store = os.environ.get("ASSETSCREEN_STORE_URL")
        if env_store:
            data["store"] = {**data.get("store", {}), "url": env_store}
        env_secret = os.environ.get("ASSETSCREEN_MASTODON_SECRET")
        if env_secret:
            data["inbound"] = {**data.get("inbound", {}), "mastodon_secret": env_secret}
        data.update({k: v for k, v in overrides.items() if v is not None})
        return validate_model(cls, data, f"settings{f' in {path}' if path else ''}")
