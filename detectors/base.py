"""The `Detector` protocol, the per-image context that shares expensive work, and the detector registry.

A detector declares which evidence kinds it `produces` (the screener routes and reports on that) and turns one
`ImageContext` (image detectors) or one `Post` (text detectors) into evidence. It never decides a verdict.

Expensive stages that several detectors need (OCR, the YOLO object pass) run once per image: detectors ask the
context for them through `ImageContext.memo`, keyed by the engine that computes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np

from detectors.errors import DetectorUnavailable
from detectors.evidence import Evidence, Post

__all__ = ["DetectorUnavailable", "ImageContext", "ImageDetector", "TextDetector", "downscale", "register_detector"]

T = TypeVar("T")


def downscale(img: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """`img` shrunk (area interpolation) so that its longer side is at most `side`, and the scale applied.

    At scale 1.0 the input itself comes back, not a copy: callers that draw on the result must copy it.
    """
    import cv2

    h, w = img.shape[:2]
    s = min(1.0, side / max(h, w, 1))
    if s >= 1.0:
        return img, 1.0
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA), s


@dataclass
class ImageContext:
    """One decoded image plus a memo of derived results shared by all detectors for this image."""

    rgb: np.ndarray
    index: int = 0
    name: str = ""
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False)
    # Stage name -> milliseconds, filled by engines that want their cost reported separately (e.g. "ocr").
    timings_ms: dict[str, float] = field(default_factory=dict, repr=False)
    # Whether text may be read now. The screener first runs the detectors with OCR held back, then reruns
    # only the detectors that asked for text, and only when the text could change a learned score.
    ocr: bool = True
    ocr_requests: int = field(default=0, repr=False)

    def ocr_held_back(self) -> bool:
        """True (and the request counted) when OCR is held back: the caller returns "no text" for now."""
        if self.ocr:
            return False
        self.ocr_requests += 1
        return True

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """Compute `key` once for this image; later callers get the same object."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[no-any-return]

    def cached(self, tag: str) -> list[tuple[Any, Any]]:
        """(key, value) pairs memoised so far whose key is a tuple starting with `tag`, e.g. "ocr".

        Lets a detector reuse what another detector already computed (say, text lines read for a document)
        without computing it itself.
        """
        return [(k, v) for k, v in self._memo.items() if isinstance(k, tuple) and k and k[0] == tag]

    def gray(self) -> np.ndarray:
        import cv2

        return self.memo("gray", lambda: cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY))


@runtime_checkable
class ImageDetector(Protocol):
    name: str
    version: str
    produces: frozenset[str]

    def detect(self, ctx: ImageContext) -> list[Evidence]: ...


@runtime_checkable
class TextDetector(Protocol):
    name: str
    version: str
    produces: frozenset[str]

    def detect_post(self, post: Post) -> list[Evidence]: ...


Detector = ImageDetector | TextDetector

# name -> factory(settings) -> detector. Factories raise DetectorUnavailable when they cannot build.
DetectorFactory = Callable[[Any], "ImageDetector | TextDetector"]


class DetectorRegistry:
    """Named detector factories; the screener builds the enabled ones once per process."""

    _factories: ClassVar[dict[str, DetectorFactory]] = {}

    @classmethod
    def register(cls, name: str) -> Callable[[DetectorFactory], DetectorFactory]:
        def deco(factory: DetectorFactory) -> DetectorFactory:
            cls._factories[name] = factory
            return factory

        return deco

    @classmethod
    def names(cls) -> list[str]:
        _load_builtin_detectors()
        return sorted(cls._factories)

    @classmethod
    def factory(cls, name: str) -> DetectorFactory:
        _load_builtin_detectors()
        try:
            return cls._factories[name]
        except KeyError:
            raise KeyError(f"unknown detector {name!r}; known: {', '.join(sorted(cls._factories))}") from None


register_detector = DetectorRegistry.register

# Modules that register built-in detectors on import. A module that does not exist yet is skipped.
BUILTIN_DETECTOR_MODULES: tuple[str, ...] = (
    "detectors.documents",
    "detectors.vehicles",
    "detectors.uniforms",
    "detectors.insignia",
    "detectors.hashes",
    "detectors.caption",
)


def _load_builtin_detectors(modules: Iterable[str] = BUILTIN_DETECTOR_MODULES) -> None:
    import importlib

    for mod in modules:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:  # a real missing dependency inside an existing module
                raise
