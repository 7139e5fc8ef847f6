"""Known-image matching on the real evaluation photos: every photo is registered, a sample is found again after
re-compression, 50% resizing and 10% crops, and no photo matches any other photo of the set (byte-identical
copies excepted)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from detectors.base import ImageContext
from detectors.hashes import HashStore, KnownImageDetector
from service.media import read_file


def _transforms(rgb: np.ndarray) -> dict[str, np.ndarray]:
    h, w = rgb.shape[:2]
    ok, buf = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, 50])
    assert ok
    return {
        "jpeg_q50": cv2.imdecode(buf, cv2.IMREAD_UNCHANGED),
        "half": cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
        "crop_centre_10pct": rgb[int(0.05 * h) : int(0.95 * h), int(0.05 * w) : int(0.95 * w)],
        "crop_bottom_10pct": rgb[: int(0.9 * h)],
        "crop_corner_10pct": rgb[int(0.1 * h) :, int(0.1 * w) :],
    }


def test_registered_eval_photos_match_and_nothing_else_does(eval_dir: Path, tmp_path: Path) -> None:
    files = sorted(p for p in eval_dir.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    assert len(files) > 50
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    store = HashStore(tmp_path / "known.json")
    images = {}
    for p in files:
        images[p.name] = read_file(p).frames[0].rgb
        store.add(p.name, images[p.name])
    det = KnownImageDetector(store.load())

    missed = []
    for name in sorted(images)[::8]:
        for tname, img in _transforms(images[name]).items():
            ids = [e.details["item_id"] for e in det.detect(ImageContext(rgb=img))]
            if name not in ids:
                missed.append((name, tname))
    assert missed == []

    false_matches = []
    for name, rgb in images.items():
        for e in det.detect(ImageContext(rgb=rgb)):
            other = e.details["item_id"]
            if other != name and digest[other] != digest[name]:
                false_matches.append((name, other, e.details["distance"]))
    assert false_matches == []
