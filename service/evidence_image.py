"""The evidence image a reviewer sees: the frame, downscaled, with each finding's boxes and labels drawn.

Documents are redacted (their boxes pixelated) so the evidence kept for review does not itself become a copy of
the official document it flags; the box and its label still show where it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from detectors.evidence import Evidence

MAX_SIDE = 800
REDACT_KINDS = frozenset({"document", "official_document"})
# BGR colours by kind family: official assets red, plain objects grey, caption/other blue.
_COLOURS = {
    "gov_vehicle": (40, 40, 230),
    "uniform": (40, 40, 230),
    "insignia": (40, 40, 230),
    "official_document": (40, 40, 230),
    "document": (0, 140, 255),
    "known_image": (200, 0, 200),
}


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def render(rgb: np.ndarray, evidence: Sequence[Evidence], *, max_side: int = MAX_SIDE) -> bytes:
    """PNG bytes: `rgb` (HxWx3 uint8) downscaled to `max_side`, documents pixelated, every boxed piece of
    evidence outlined and labelled with its kind, score and detector."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    img = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if scale < 1.0:
        img = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ih, iw = img.shape[:2]

    def box_px(e: Evidence) -> tuple[int, int, int, int] | None:
        if e.box is None:
            return None
        x1, y1, x2, y2 = (round(v * scale) for v in e.box)
        x1, x2 = max(0, min(iw - 1, x1)), max(0, min(iw, x2))
        y1, y2 = max(0, min(ih - 1, y1)), max(0, min(ih, y2))
        return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None

    for e in evidence:
        b = box_px(e)
        if b is not None and e.kind in REDACT_KINDS:
            x1, y1, x2, y2 = b
            roi = img[y1:y2, x1:x2]
            small = cv2.resize(roi, (max(1, (x2 - x1) // 16), max(1, (y2 - y1) // 16)), interpolation=cv2.INTER_AREA)
            img[y1:y2, x1:x2] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
    for e in evidence:
        b = box_px(e)
        if b is None:
            continue
        x1, y1, x2, y2 = b
        colour = _COLOURS.get(e.kind, (160, 160, 160))
        cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), colour, 2)
        label = _ascii(f"{e.kind} {e.score:.2f} ({e.detector})")
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        ty = y1 - 4 if y1 - th - 6 >= 0 else min(ih - 2, y1 + th + 4)
        cv2.rectangle(img, (x1, ty - th - 3), (min(iw - 1, x1 + tw + 4), ty + base - 1), colour, -1)
        cv2.putText(img, label, (x1 + 2, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - OpenCV cannot fail to encode a valid uint8 image
        raise RuntimeError("could not encode the evidence image")
    return buf.tobytes()
