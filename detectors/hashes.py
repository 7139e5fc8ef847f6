"""Known images: perceptual hashes of images the operator registered (leaked documents, actioned posts).

A re-shared image is rarely byte-identical: it has been re-compressed, resized or cropped by the platform or the
poster. A DCT perceptual hash (pHash, 256 bits: the sign of the 16x16 lowest DCT frequencies of a 64x64 grey
thumbnail, against their median) survives re-compression and resizing almost unchanged. Cropping shifts the
content, so each registered item also keeps hashes of its centre and of each side-cropped view, and the query
is hashed whole and as its centre: the smallest Hamming distance over those pairs is compared to the threshold.
This is our own numpy/OpenCV implementation (no PDQ wheel installs offline here); the store is a JSON file in
the data directory so the operator can read and back it up.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from detectors.base import ImageContext, register_detector
from detectors.config import Strict, validate_model
from detectors.errors import BadInput, ConfigError
from detectors.evidence import Evidence, Kind

HASH_BITS = 256
STORE_FILE = "known_hashes.json"
STORE_FORMAT = "assetscreen-known-hashes/1"

# Views hashed for a registered item: (name, (left, top, right, bottom) fractions kept). The side crops let a
# query that lost up to ~10% on one side still line up with one stored view.
ITEM_VIEWS: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("full", (0.0, 0.0, 1.0, 1.0)),
    ("centre90", (0.05, 0.05, 0.95, 0.95)),
    ("centre80", (0.10, 0.10, 0.90, 0.90)),
    ("left90", (0.0, 0.0, 0.90, 1.0)),
    ("right90", (0.10, 0.0, 1.0, 1.0)),
    ("top90", (0.0, 0.0, 1.0, 0.90)),
    ("bottom90", (0.0, 0.10, 1.0, 1.0)),
    ("topleft90", (0.0, 0.0, 0.90, 0.90)),
    ("topright90", (0.10, 0.0, 1.0, 0.90)),
    ("bottomleft90", (0.0, 0.10, 0.90, 1.0)),
    ("bottomright90", (0.10, 0.10, 1.0, 1.0)),
)
# Views hashed for a query image.
QUERY_VIEWS: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("full", (0.0, 0.0, 1.0, 1.0)),
    ("centre90", (0.05, 0.05, 0.95, 0.95)),
)


def _crop(gray: np.ndarray, frac: tuple[float, float, float, float]) -> np.ndarray:
    h, w = gray.shape[:2]
    x1, y1 = int(round(frac[0] * w)), int(round(frac[1] * h))
    x2, y2 = max(x1 + 1, int(round(frac[2] * w))), max(y1 + 1, int(round(frac[3] * h)))
    return gray[y1:y2, x1:x2]


def phash256(gray: np.ndarray) -> np.ndarray:
    """256-bit DCT hash of a grey image, as a bool array of length 256."""
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
    # Blur a little first so JPEG blocking and resampling noise do not flip low-frequency signs.
    small = cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
    dct = cv2.dct(np.asarray(cv2.GaussianBlur(small, (3, 3), 0), np.float32))[:16, :16].flatten()
    med = np.median(dct[1:])  # the DC term would skew the median
    bits: np.ndarray = dct > med
    return bits


def hash_to_hex(bits: np.ndarray) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def hex_to_hash(text: str) -> np.ndarray:
    raw = bytes.fromhex(text)
    if len(raw) * 8 != HASH_BITS:
        raise ValueError(f"hash must be {HASH_BITS} bits, got {len(raw) * 8}")
    return np.unpackbits(np.frombuffer(raw, np.uint8)).astype(bool)


def image_views_hashes(
    gray: np.ndarray, views: Sequence[tuple[str, tuple[float, float, float, float]]]
) -> dict[str, np.ndarray]:
    return {name: phash256(_crop(gray, frac)) for name, frac in views}


@dataclass(frozen=True)
class KnownItem:
    item_id: str
    note: str
    added: str
    hashes: dict[str, np.ndarray] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.item_id,
            "note": self.note,
            "added": self.added,
            "hashes": {k: hash_to_hex(v) for k, v in self.hashes.items()},
        }


class HashStore:
    """Registered items in one JSON file; writes are atomic (temp file + rename)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def load(self) -> list[KnownItem]:
        if not self.path.is_file():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"known-image store {self.path} is not readable JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != STORE_FORMAT:
            raise ConfigError(f"known-image store {self.path} is not a {STORE_FORMAT} file")
        items = []
        for raw in data.get("items", []):
            try:
                items.append(
                    KnownItem(
                        item_id=str(raw["id"]),
                        note=str(raw.get("note", "")),
                        added=str(raw.get("added", "")),
                        hashes={k: hex_to_hash(v) for k, v in raw["hashes"].items()},
                    )
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise ConfigError(f"known-image store {self.path} has a bad item: {exc}") from None
        return items

    def _save(self, items: Sequence[KnownItem]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": STORE_FORMAT, "bits": HASH_BITS, "items": [i.to_json() for i in items]}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".known_hashes.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1)
        os.replace(tmp, self.path)

    def add(self, item_id: str, rgb: np.ndarray, note: str = "", *, replace: bool = False) -> KnownItem:
        if not item_id or not item_id.strip():
            raise BadInput("a known image needs a non-empty id")
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if min(gray.shape[:2]) < 16:
            raise BadInput(f"image for {item_id!r} is too small to hash ({gray.shape[1]}x{gray.shape[0]})")
        item = KnownItem(
            item_id=item_id.strip(),
            note=note,
            added=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            hashes=image_views_hashes(gray, ITEM_VIEWS),
        )
        with self._lock:
            items = self.load()
            if any(i.item_id == item.item_id for i in items):
                if not replace:
                    raise BadInput(f"a known image with id {item.item_id!r} is already registered")
                items = [i for i in items if i.item_id != item.item_id]
            items.append(item)
            self._save(items)
        return item

    def remove(self, item_id: str) -> bool:
        with self._lock:
            items = self.load()
            kept = [i for i in items if i.item_id != item_id]
            if len(kept) == len(items):
                return False
            self._save(kept)
            return True


@dataclass(frozen=True)
class HashMatch:
    item: KnownItem
    distance: int
    query_view: str
    item_view: str


class HashIndex:
    """The registered hashes as one bit matrix, so a query is a single vectorised Hamming pass."""

    def __init__(self, items: Sequence[KnownItem]) -> None:
        self.items = list(items)
        rows: list[np.ndarray] = []
        self._owner: list[tuple[int, str]] = []
        for n, item in enumerate(self.items):
            for view, bits in item.hashes.items():
                rows.append(bits)
                self._owner.append((n, view))
        self._matrix = np.array(rows, dtype=bool).reshape(len(rows), HASH_BITS)

    def best_matches(self, query: dict[str, np.ndarray], threshold: int) -> list[HashMatch]:
        """The closest view pair per item, for items within `threshold` bits."""
        if not self.items:
            return []
        best: dict[int, HashMatch] = {}
        for qview, qbits in query.items():
            dists = np.count_nonzero(self._matrix != qbits[None, :], axis=1)
            for row in np.flatnonzero(dists <= threshold):
                n, iview = self._owner[int(row)]
                d = int(dists[row])
                if n not in best or d < best[n].distance:
                    best[n] = HashMatch(self.items[n], d, qview, iview)
        return sorted(best.values(), key=lambda m: (m.distance, m.item.item_id))


class HashOptions(Strict):
    store: Path | None = Field(None, description="JSON store; default <data_dir>/known_hashes.json")
    threshold: int = Field(18, ge=0, le=HASH_BITS // 2, description="max Hamming distance of 256 bits")
    min_side: int = Field(32, gt=0, description="images smaller than this are not hashed")


class KnownImageDetector:
    """Emits `known_image` when an image is within the threshold of a registered item."""

    name = "hashes"
    version = "phash256-1"
    produces = frozenset({Kind.KNOWN_IMAGE.value})

    def __init__(self, items: Sequence[KnownItem], options: HashOptions | None = None) -> None:
        self.options = options or HashOptions()
        self.index = HashIndex(items)

    def detect(self, ctx: ImageContext) -> list[Evidence]:
        if not self.index.items or min(ctx.width, ctx.height) < self.options.min_side:
            return []
        gray = ctx.gray()
        query = ctx.memo(("phash256", QUERY_VIEWS), lambda: image_views_hashes(gray, QUERY_VIEWS))
        out = []
        for m in self.index.best_matches(query, self.options.threshold):
            # 0 bits apart -> 1.0; at the threshold -> 0.6: still above the policy's 0.5 bar.
            score = 1.0 - 0.4 * m.distance / max(self.options.threshold, 1)
            out.append(
                Evidence(
                    kind=Kind.KNOWN_IMAGE.value,
                    label=f"known image {m.item.item_id}",
                    score=score,
                    detector=self.name,
                    detector_version=self.version,
                    explanation=(
                        f"perceptual hash {m.distance}/{HASH_BITS} bits from registered item {m.item.item_id!r}"
                        + (f" ({m.item.note})" if m.item.note else "")
                    ),
                    details={
                        "item_id": m.item.item_id,
                        "note": m.item.note,
                        "distance": m.distance,
                        "threshold": self.options.threshold,
                        "query_view": m.query_view,
                        "item_view": m.item_view,
                    },
                )
            )
        return out


def store_path(settings: Any) -> Path:
    opts = validate_model(HashOptions, settings.options_for("hashes"), "detector_options.hashes")
    return Path(opts.store) if opts.store else Path(settings.data_dir) / STORE_FILE


@register_detector("hashes")
def build(settings: Any) -> KnownImageDetector:
    opts = validate_model(HashOptions, settings.options_for("hashes"), "detector_options.hashes")
    path = Path(opts.store) if opts.store else Path(settings.data_dir) / STORE_FILE
    return KnownImageDetector(HashStore(path).load(), opts)
