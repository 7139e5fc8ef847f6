"""Marker groups: weighted phrases and patterns of official documents matched in normalised OCR text."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from detectors.config import load_yaml_model
from detectors.documents.config import (
    DEFAULT_MARKERS,
    MarkerFile,
)
from detectors.errors import ConfigError

# --------------------------------------------------------------------------------------------- markers


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, one space between words (Urdu letters kept)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch if (ch.isalnum() or ch.isspace()) else " " for ch in text)
    return " ".join(text.split())


@dataclass(frozen=True)
class MarkerHit:
    group: str
    category: str
    marker: str  # the phrase or pattern that matched
    matched: str  # the text it matched
    line_index: int


@dataclass(frozen=True)
class _Group:
    name: str
    category: str
    weight: float
    max_weight: float
    phrases: tuple[tuple[str, re.Pattern[str], str | None], ...]  # (phrase, word-boundary regex, compact)
    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    near_words: tuple[tuple[str, ...], ...]


class MarkerSet:
    """Compiled marker groups; `match(lines)` finds them, `score(hits)` weighs them."""

    def __init__(self, spec: MarkerFile, source: str = "") -> None:
        self.threshold = spec.official_threshold
        self.stamp_weight = spec.stamp_weight
        self.near_distance = spec.near_distance
        self.source = source
        groups = []
        for g in spec.groups:
            phrases = []
            for ph in g.phrases:
                norm = normalise(ph)
                if not norm:
                    raise ConfigError(f"{source}: group {g.name}: phrase {ph!r} has no letters")
                compact = norm.replace(" ", "")
                phrases.append((norm, re.compile(rf"(?<!\w){re.escape(norm)}(?!\w)"),
                                compact if len(compact) >= 8 else None))
            patterns = []
            for pat in g.patterns:
                try:
                    patterns.append((pat, re.compile(pat)))
                except re.error as exc:
                    raise ConfigError(f"{source}: group {g.name}: bad pattern {pat!r}: {exc}") from None
            near = tuple(tuple(normalise(w) for w in ws) for ws in g.near_words if ws)
            groups.append(_Group(g.name, g.category, g.weight, g.max_weight or g.weight, tuple(phrases),
                                 tuple(patterns), near))
        self.groups = tuple(groups)

    @classmethod
    def load(cls, path: Path | None = None) -> MarkerSet:
        p = path or DEFAULT_MARKERS
        return cls(load_yaml_model(MarkerFile, p), str(p))

    def match(self, lines: Sequence[str], boxes: Sequence[Sequence[float]] | None = None,
              line_height: float = 0.0) -> list[MarkerHit]:
        """Marker hits in OCR lines; `boxes` (xyxy per line) and `line_height` enable `near_words`."""
        hits: list[MarkerHit] = []
        norms = [normalise(t) for t in lines]
        # Two-line windows catch a phrase split across lines ("Government of" / "Sindh").
        windows = [(i, n) for i, n in enumerate(norms)] + [
            (i, f"{norms[i]} {norms[i + 1]}") for i in range(len(norms) - 1)
        ]
        for g in self.groups:
            seen: set[str] = set()
            for phrase, rx, compact in g.phrases:
                for i, text in windows:
                    if rx.search(text) or (compact and compact in text.replace(" ", "")):
                        if phrase not in seen:
                            seen.add(phrase)
                            hits.append(MarkerHit(g.name, g.category, phrase, phrase, i))
                        break
            for pat, rx in g.patterns:
                for i, raw in enumerate(lines):
                    m = rx.search(raw)
                    if m and pat not in seen:
                        seen.add(pat)
                        hits.append(MarkerHit(g.name, g.category, pat, m.group(0).strip(), i))
                        break
            if boxes is not None and line_height > 0:
                for words in g.near_words:
                    at = _near_words_at(words, norms, boxes, self.near_distance * line_height)
                    if at is not None:
                        hits.append(MarkerHit(g.name, g.category, " + ".join(words), " ".join(words), at))
        return hits

    def score(self, hits: Sequence[MarkerHit], stamp: bool = False) -> float:
        by_group: dict[str, int] = {}
        for h in hits:
            by_group[h.group] = by_group.get(h.group, 0) + 1
        total = 0.0
        for g in self.groups:
            n = by_group.get(g.name, 0)
            if n:
                total += min(g.max_weight, g.weight * n)
        if stamp:
            total += self.stamp_weight
        return total


def _near_words_at(words: Sequence[str], norms: Sequence[str], boxes: Sequence[Sequence[float]],
                   reach: float) -> int | None:
    """Index of a line holding the first word when every word is on some line within `reach` of it."""
    def holders(word: str) -> list[int]:
        rx = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)")
        return [i for i, n in enumerate(norms) if rx.search(n)]

    def centre(i: int) -> tuple[float, float]:
        b = boxes[i]
        return ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)

    lists = [holders(w) for w in words]
    if not all(lists):
        return None
    for i in lists[0]:
        cx, cy = centre(i)
        if all(any(math.hypot(centre(j)[0] - cx, centre(j)[1] - cy) <= reach for j in js) for js in lists[1:]):
            return i
    return None


