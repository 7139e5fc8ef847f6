"""Text cues: designations, office names and form titles matched in OCR words; the OCR gate."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from detectors.base import ImageContext, downscale
from detectors.insignia.config import (
    Vocabulary,
)

# ----------------------------------------------------------------------------------------------- text


OFFICE_LINE_MAX_WORDS = 10
ON_VEHICLE_SHARE = 0.8  # a text box this much inside a detected vehicle is its marking (the vehicles' evidence)


@dataclass(frozen=True)
class TextHit:
    phrase: str
    text: str
    box: tuple[float, float, float, float]
    what: str  # "designation" | "office" | "form"


class TextMatcher:
    """Designation and office phrases from the vocabulary, compiled once."""

    def __init__(self, vocab: Vocabulary) -> None:
        def words(p: str) -> re.Pattern[str]:
            return re.compile(r"\b" + r"\s+".join(re.escape(t) for t in p.split()) + r"\b", re.IGNORECASE)

        self._designations = [(p, words(p)) for p in vocab.designations]
        self._acronyms = [(a, re.compile(r"(?<![A-Za-z])" + re.escape(a) + r"(?![A-Za-z])")) for a in vocab.acronyms]
        self._urdu_designations = [(p, p.replace(" ", "")) for p in vocab.urdu_designations]
        self._offices = [(p, words(p)) for p in vocab.office_phrases]
        self._urdu_offices = [(p, p.replace(" ", "")) for p in vocab.urdu_office_phrases]
        self._forms = [(p, words(p)) for p in vocab.form_titles]

    def hits(self, words: Sequence[Any]) -> list[TextHit]:
        out: list[TextHit] = []
        for w in words:
            text = str(w.text)
            compact = text.replace(" ", "")
            # A designation counts on a short line (a plate or a board), not inside a running sentence.
            short = len(text.split()) <= 6
            for phrase, rx in self._designations:
                if short and rx.search(text):
                    out.append(TextHit(phrase, text, w.box, "designation"))
                    break
            else:
                for phrase, rx in self._acronyms:
                    if len(text.split()) <= 4 and rx.search(text):
                        out.append(TextHit(phrase, text, w.box, "designation"))
                        break
                for phrase, needle in self._urdu_designations:
                    if short and needle in compact:
                        out.append(TextHit(phrase, text, w.box, "designation"))
                        break
            for phrase, rx in self._offices:
                # An office named on a sign or a letterhead line, not mentioned inside a running sentence.
                if len(text.split()) <= OFFICE_LINE_MAX_WORDS and rx.search(text):
                    out.append(TextHit(phrase, text, w.box, "office"))
                    break
            else:
                for phrase, needle in self._urdu_offices:
                    if needle in compact:
                        out.append(TextHit(phrase, text, w.box, "office"))
                        break
            for phrase, rx in self._forms:
                # A form's title is a heading of its own, not a mention inside a sentence.
                if len(text.split()) <= 8 and rx.search(text):
                    out.append(TextHit(phrase, text, w.box, "form"))
                    break
        return out


def _cached_ocr_words(ctx: ImageContext) -> list[Any] | None:
    """Text lines other detectors already recognised for this image (any engine), or None if none did.

    `ocr_words` memoises whole-image OCR under ("ocr", id(engine)) and `read_quads` keeps the lines it read
    under ("rec_lines", id(engine)); we collect both rather than building an engine with possibly different
    options and missing the cache.
    """
    found: dict[tuple[int, ...], Any] = {}
    seen_any = False
    for key, value in ctx.cached("ocr") + ctx.cached("rec_lines"):
        if key[0] == "ocr":
            seen_any = True
            words = list(value)
        elif key[0] == "rec_lines" and isinstance(value, dict):
            seen_any = True
            words = [w for w in value.values() if w is not None]
        else:
            continue
        for w in words:
            found.setdefault(tuple(int(round(v)) for v in w.box), w)
    return list(found.values()) if seen_any else None


def page_like_share(rgb: np.ndarray, side: int = 320) -> float:
    """Share of near-white, unsaturated pixels: high for paper, letterheads, boards and plain signs."""
    small, _ = downscale(rgb, side)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    return float(((hsv[..., 1] <= 40) & (hsv[..., 2] >= 130)).mean())


