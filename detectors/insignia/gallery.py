"""The emblem gallery: ORB features of emblem images, matched with a RANSAC homography (scale, rotation, perspective,
partial occlusion tolerated; the projected outline says where the emblem is)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from detectors.base import downscale
from detectors.config import load_yaml_model
from detectors.errors import ConfigError
from detectors.evidence import Kind
from detectors.insignia.config import (
    GALLERY_INDEX,
    GALLERY_SIDE,
    GalleryFile,
    GalleryItem,
    InsigniaOptions,
)

# ----------------------------------------------------------------------------------------------- gallery


@dataclass(frozen=True)
class GalleryEmblem:
    name: str
    body: str
    path: Path
    size: tuple[int, int]  # (w, h) of the normalised image the keypoints refer to
    points: np.ndarray  # (N, 2) float32 keypoint positions
    descriptors: np.ndarray  # (N, 32) uint8 ORB descriptors
    kind: str = Kind.INSIGNIA.value


@dataclass(frozen=True)
class EmblemMatch:
    emblem: GalleryEmblem
    inliers: int
    matches: int
    outline: np.ndarray  # (4, 2) projected gallery corners, image pixels


def _orb(n_features: int) -> cv2.ORB:
    # 10 pyramid levels at 1.2: a 400 px gallery emblem is described down to ~80 px.
    return cv2.ORB.create(
        nfeatures=n_features, scaleFactor=1.2, nlevels=10, edgeThreshold=15, patchSize=31, fastThreshold=12
    )


def read_gallery_file(directory: Path) -> list[GalleryItem]:
    index = directory / GALLERY_INDEX
    if not index.is_file():
        return []
    return load_yaml_model(GalleryFile, index).emblems


def _load_rgb(path: Path) -> np.ndarray:
    data = np.fromfile(str(path), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise ConfigError(f"gallery image {path} cannot be read as an image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def describe_emblem(rgb: np.ndarray, n_features: int = 400) -> tuple[tuple[int, int], np.ndarray, np.ndarray]:
    """Normalised size, keypoint positions and ORB descriptors of one gallery image."""
    h, w = rgb.shape[:2]
    s = GALLERY_SIDE / max(h, w)
    img = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    kps, desc = _orb(n_features).detectAndCompute(gray, None)
    if desc is None or len(kps) < 8:
        raise ConfigError("too few features (needs a detailed emblem image, at least ~200 px)")
    pts = np.array([k.pt for k in kps], np.float32)
    return (img.shape[1], img.shape[0]), pts, desc


# Up to this many gallery descriptors an exact brute-force match is fast enough (a few emblems); above it an
# LSH index (FLANN) keeps a 50-emblem gallery within budget at a small cost in recall.
BRUTE_FORCE_MAX_DESCRIPTORS = 6000


class EmblemGallery:
    """All gallery emblems' features stacked in one matrix, indexed once, so a query is one matching pass."""

    def __init__(self, emblems: Sequence[GalleryEmblem]) -> None:
        self.emblems = list(emblems)
        self._lock = threading.Lock()
        self._matcher: Any = None
        if not self.emblems:
            return
        self._desc = np.vstack([e.descriptors for e in self.emblems])
        self._owner = np.concatenate([np.full(len(e.descriptors), i, np.int32) for i, e in enumerate(emblems)])
        self._start = np.cumsum([0] + [len(e.descriptors) for e in self.emblems])[:-1]
        if len(self._desc) <= BRUTE_FORCE_MAX_DESCRIPTORS:
            self.index_kind = "brute-force"
            self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        else:
            self.index_kind = "lsh"
            cv2.setRNGSeed(0)
            self._matcher = cv2.FlannBasedMatcher(
                {"algorithm": 6, "table_number": 6, "key_size": 12, "multi_probe_level": 1}, {"checks": 32}
            )
            self._matcher.add([self._desc])
            self._matcher.train()

    @classmethod
    def load(cls, directories: Sequence[Path]) -> EmblemGallery:
        emblems: list[GalleryEmblem] = []
        seen: set[str] = set()
        for d in directories:
            for item in read_gallery_file(d):
                if item.name in seen:
                    raise ConfigError(f"gallery emblem name {item.name!r} appears twice ({d / GALLERY_INDEX})")
                seen.add(item.name)
                path = d / item.file
                if not path.is_file():
                    raise ConfigError(f"gallery image {path} listed in {d / GALLERY_INDEX} does not exist")
                try:
                    size, pts, desc = describe_emblem(_load_rgb(path))
                except ConfigError as exc:
                    raise ConfigError(f"gallery image {path}: {exc}") from None
                emblems.append(GalleryEmblem(item.name, item.body or item.name, path, size, pts, desc, item.kind))
        return cls(emblems)

    def match(self, gray: np.ndarray, opts: InsigniaOptions) -> list[EmblemMatch]:
        """Emblems found in a grey image (coordinates of that image)."""
        if not self.emblems or min(gray.shape[:2]) < 32:
            return []
        h, w = gray.shape[:2]
        small, s = downscale(gray, opts.work_side)
        kps, desc = _orb(opts.orb_features).detectAndCompute(small, None)
        if desc is None or len(kps) < opts.min_inliers:
            return []
        qpts = np.array([k.pt for k in kps], np.float32) / s
        with self._lock:  # matcher objects are not documented as thread-safe
            if self.index_kind == "lsh":
                knn = self._matcher.knnMatch(desc, k=2)
            else:
                knn = self._matcher.knnMatch(desc, self._desc, k=2)
        by_emblem: dict[int, list[tuple[int, int]]] = {}
        for pair in knn:
            if len(pair) < 2:
                continue
            m, n = pair
            if m.distance < opts.ratio * n.distance and m.distance <= 64:
                e = int(self._owner[m.trainIdx])
                by_emblem.setdefault(e, []).append((m.queryIdx, m.trainIdx - int(self._start[e])))
        found = []
        for e, pairs in by_emblem.items():
            if len(pairs) < opts.min_inliers:
                continue
            emblem = self.emblems[e]
            src = emblem.points[[t for _, t in pairs]]
            dst = qpts[[q for q, _ in pairs]]
            hom, mask = cv2.findHomography(src, dst, cv2.RANSAC, 6.0 / s, maxIters=500, confidence=0.995)
            if hom is None or mask is None:
                continue
            inliers = int(mask.sum())
            if inliers < opts.min_inliers:
                continue
            gw, gh = emblem.size
            corners = np.array([[0, 0], [gw, 0], [gw, gh], [0, gh]], np.float32).reshape(-1, 1, 2)
            outline = cv2.perspectiveTransform(corners, hom).reshape(4, 2)
            if _plausible_outline(outline, w, h):
                found.append(EmblemMatch(emblem, inliers, len(pairs), outline))
        return sorted(found, key=lambda m: -m.inliers)


def _plausible_outline(quad: np.ndarray, width: int, height: int) -> bool:
    """A real emblem projects to a convex, not-too-skewed quadrilateral of sensible size."""
    if not np.all(np.isfinite(quad)) or not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return False
    area = cv2.contourArea(quad.astype(np.float32))
    if area < 16 * 16 or area > 4.0 * width * height:
        return False
    sides = [float(np.linalg.norm(quad[i] - quad[(i + 1) % 4])) for i in range(4)]
    if min(sides) < 8 or max(sides) / min(sides) > 6:
        return False
    # Opposite sides of a plausible perspective view differ by less than 4x.
    return (
        max(sides[0], sides[2]) / min(sides[0], sides[2]) < 4 and max(sides[1], sides[3]) / min(sides[1], sides[3]) < 4
    )


