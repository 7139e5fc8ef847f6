"""The shipped MobileNets on ONNX Runtime: ImageNet class probabilities and a 1024-d image embedding.

Both take the same input (uint8 NHWC 224x224 RGB, raw 0..255, a central 87.5 % crop then a bilinear resize, as
they were trained), so the image is prepared once and both run on it. `image_features(ctx, models)` memoises the
result per image, timed under the "features" stage, so the heads, the example bank and any detector share it.

A missing file or one whose sha256 differs from `weights/manifest.toml` is a `ModelMissing` naming the file:
these models are required, and a screener without them must not start (it would say `clear` to everything the
heads would have caught).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.base import ImageContext
from detectors.errors import ModelMissing
from detectors.runtime.yolo import file_sha256

INPUT_SIDE = 224
CENTRAL_CROP = 0.875


def prepare(rgb: np.ndarray) -> np.ndarray:
    """[1, 224, 224, 3] uint8: central 87.5 % crop, bilinear resize (area when shrinking a lot)."""
    import cv2

    h, w = rgb.shape[:2]
    ch, cw = max(1, round(h * CENTRAL_CROP)), max(1, round(w * CENTRAL_CROP))
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = rgb[top : top + ch, left : left + cw]
    if max(ch, cw) > 2 * INPUT_SIDE:  # shrink in two steps: bilinear alone aliases on large photos
        crop = cv2.resize(crop, (2 * INPUT_SIDE, 2 * INPUT_SIDE), interpolation=cv2.INTER_AREA)
    out = cv2.resize(crop, (INPUT_SIDE, INPUT_SIDE), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(out[None], dtype=np.uint8)


class _OnnxModel:
    def __init__(self, path: Path, threads: int) -> None:
        from detectors.errors import DetectorUnavailable
        from detectors.runtime.yolo import onnx_session

        try:
            self._session = onnx_session(path, threads)
        except DetectorUnavailable as exc:
            raise ModelMissing(f"model file {path} cannot be loaded: {exc}") from None
        self._input = self._session.get_inputs()[0].name
        self.path = path
        self.version = f"{path.stem}-{file_sha256(path)[:8]}"
        self._lock = threading.Lock()

    def run(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            return np.asarray(self._session.run(None, {self._input: batch})[0])


class ImageNetClassifier(_OnnxModel):
    """MobileNetV2 (int8): 1001 probabilities (index 0 = background)."""

    def __init__(self, path: Path, labels_path: Path, threads: int = 2) -> None:
        super().__init__(path, threads)
        if not labels_path.is_file():
            raise ModelMissing(f"class list {labels_path} is missing; it ships beside {path.name}")
        self.labels = [line.strip() for line in labels_path.read_text(encoding="utf-8").splitlines()]
        if len(self.labels) != 1001:
            raise ModelMissing(f"class list {labels_path} has {len(self.labels)} lines, expected 1001")

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        return self.run(batch).reshape(batch.shape[0], -1).astype(np.float32) / 256.0


class Embedder(_OnnxModel):
    """MobileNetV1 without its head (int8): a 1024-d L2-normalised embedding."""

    def embed(self, batch: np.ndarray) -> np.ndarray:
        v = self.run(batch).reshape(batch.shape[0], -1).astype(np.float32)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-6)


@dataclass(frozen=True)
class ImageFeatures:
    """What the pretrained models say about one image."""

    embedding: np.ndarray  # [1024] float32, L2 norm 1
    imagenet: np.ndarray  # [1001] float32 probabilities

    def top_classes(self, labels: list[str], k: int = 5) -> list[tuple[str, float]]:
        idx = np.argsort(-self.imagenet)[:k]
        return [(labels[i], round(float(self.imagenet[i]), 3)) for i in idx if self.imagenet[i] > 0]


@dataclass(frozen=True)
class PretrainedModels:
    classifier: ImageNetClassifier
    embedder: Embedder

    @property
    def versions(self) -> dict[str, str]:
        return {"imagenet": self.classifier.version, "embedding": self.embedder.version}

    def features(self, rgb: np.ndarray) -> ImageFeatures:
        batch = prepare(rgb)
        return ImageFeatures(self.embedder.embed(batch)[0], self.classifier.probabilities(batch)[0])


def image_features(ctx: ImageContext, models: PretrainedModels) -> ImageFeatures:
    """The image's embedding and class probabilities, computed once per image, timed under stage "features"."""

    def run() -> ImageFeatures:
        t0 = time.perf_counter()
        out = models.features(ctx.rgb)
        ctx.timings_ms["features"] = ctx.timings_ms.get("features", 0.0) + (time.perf_counter() - t0) * 1000
        return out

    return ctx.memo(("features", id(models)), run)


_shared: dict[tuple[str, int], PretrainedModels] = {}
_shared_lock = threading.Lock()


def shared_pretrained(weights_dir: Path, threads: int = 2) -> PretrainedModels:
    """The shipped MobileNets from `weights_dir`, hash-checked against its manifest, loaded once per process."""
    from detectors.runtime.manifest import MANIFEST_NAME, load_manifest, verified_file

    key = (str(weights_dir.resolve()), threads)
    with _shared_lock:
        if key not in _shared:
            entries = load_manifest(weights_dir / MANIFEST_NAME)
            missing = {"mobilenet_v2", "mobilenet_v1_embedder", "imagenet_labels"} - set(entries)
            if missing:
                raise ModelMissing(f"{weights_dir / MANIFEST_NAME} has no entry for {sorted(missing)}")

            def shipped(name: str) -> Path:
                return verified_file(weights_dir / entries[name].file, entries[name].sha256)

            _shared[key] = PretrainedModels(
                ImageNetClassifier(shipped("mobilenet_v2"), shipped("imagenet_labels"), threads),
                Embedder(shipped("mobilenet_v1_embedder"), threads),
            )
        return _shared[key]


__all__ = ["Embedder", "ImageFeatures", "ImageNetClassifier", "PretrainedModels", "image_features", "prepare",
           "shared_pretrained"]
