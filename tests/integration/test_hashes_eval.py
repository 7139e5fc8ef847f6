"""Known-image matching on the real evaluation photos: a few registered photos are found again after
re-compression, 50% resizing and 10% crops, and no other photo of the set matches any of them."""

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
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    registered = files[:: max(1, len(files) // 8)][:8]
    store = HashStore(tmp_path / "known.json")
    for p in registered:
        store.add(p.name, read_file(p).frames[0].rgb)
    det = KnownImageDetector(store.load())

    for p in registered:
        rgb = read_file(p).frames[0].rgb
        for name, img in _transforms(rgb).items():
            ids = [e.details["item_id"] for e in det.detect(ImageContext(rgb=img))]
            assert p.name in ids, f"{p.name} not found after {name}"

    reg_digests = {digest[p] for p in registered}
    false_matches = []
    for p in files:
        if p in registered or digest[p] in reg_digests:  # byte-identical copies are the same image
            continue
        ev = det.detect(ImageContext(rgb=read_file(p).frames[0].rgb))
        false_matches.extend((p.name, e.details["item_id"], e.details["distance"]) for e in ev)
    assert false_matches == []
