"""The learned caption model and its fusion with the lexicon, served with numpy only.

The model is data (detectors/data/caption/model.json, written by datasets/captions/train_model.py): word 1-2
gram and character (within-word, 2-5) n-gram TF-IDF on the normalised caption, one logistic regression per
signal. The fusion is a second, tiny logistic regression per signal over [model log-odds, lexicon score,
lexicon fired, a cue negated/quoted/reported, a context cue (wedding, airport, public website)], fitted on
out-of-fold predictions, then shifted so that the operating point grouped cross-validation chose sits at 0.5
(the policy's caption threshold). Lexicon half-evidence (a party named with no stance) is deliberately not an
input: nested CV scored it lower, and a target alone must not fire. Both are dot products, so run time needs
no scikit-learn and no pickle.

The analyzers below are the ones the training script hands to scikit-learn's TfidfVectorizer, so training and
serving compute the same features by construction; the training script also checks that the scores agree.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detectors.caption.lexicon import LEXICON_DIR, normalise
from detectors.errors import ConfigError, ModelMissing

FORMAT = "assetscreen-caption-model/1"
MODEL_FILE = LEXICON_DIR / "model.json"
FUSION_FEATURES: tuple[str, ...] = ("model_logit", "lexicon_score", "lexicon_fired", "ignored", "context")

_WORD = re.compile(r"\w+|[^\w\s]")


def word_ngrams(text: str) -> list[str]:
    """Word unigrams and bigrams of a normalised caption; punctuation and each emoji are tokens too."""
    toks = _WORD.findall(text)
    return toks + [f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False)]


def char_ngrams(text: str, lo: int = 2, hi: int = 5) -> list[str]:
    """Character n-grams inside space-padded words (scikit-learn's `char_wb`), `lo` to `hi` long."""
    out: list[str] = []
    for w in text.split():
        w = f" {w} "
        for n in range(lo, hi + 1):
            if len(w) < n:
                break
            out.extend(w[i : i + n] for i in range(len(w) - n + 1))
    return out


ANALYZERS: dict[str, Callable[[str], list[str]]] = {"word": word_ngrams, "char": char_ngrams}


def model_text(caption: str) -> str:
    """What the model reads: the caption normalised like the lexicons read it (no spelling variants)."""
    return normalise(caption)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Block:
    """One TF-IDF block: its analyzer, vocabulary (term -> column) and idf, sublinear tf, l2-normalised."""

    name: str
    index: Mapping[str, int]
    idf: np.ndarray
    offset: int

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Columns and TF-IDF values of `text` in this block (l2-normalised within the block)."""
        counts = Counter(t for t in ANALYZERS[self.name](text) if t in self.index)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        cols = np.fromiter((self.index[t] for t in counts), dtype=np.int64, count=len(counts))
        tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
        vals = tf * self.idf[cols]
        norm = float(np.sqrt(vals @ vals))
        return cols + self.offset, vals / norm if norm else vals


@dataclass(frozen=True)
class Fusion:
    """Per-signal logistic regression over FUSION_FEATURES; `shift` puts the chosen operating point at 0.5."""

    coef: np.ndarray
    intercept: float
    threshold: float  # the calibrated probability CV chose as the operating point

    def probability(self, features: Sequence[float]) -> float:
        return _sigmoid(float(np.asarray(features, dtype=np.float64) @ self.coef) + self.intercept)

    def score(self, probability: float) -> float:
        """The probability moved (in log-odds) so that `threshold` maps to 0.5: the policy's 0.5 is CV's choice."""
        return _sigmoid(_logit(probability) - _logit(self.threshold))


@dataclass(frozen=True)
class SignalModel:
    coef: np.ndarray
    intercept: float
    fusion: Fusion


@dataclass(frozen=True)
class ModelScore:
    """One signal's model output for one caption."""

    logit: float
    probability: float  # the model alone, Platt-free (the fusion calibrates)
    top_ngrams: list[tuple[str, float]] = field(default_factory=list)


class CaptionModel:
    """The learned n-gram model plus the fusion weights, loaded once from model.json."""

    def __init__(self, data: Mapping[str, Any], source: str = "model.json") -> None:
        if data.get("format") != FORMAT:
            raise ConfigError(f"{source}: not a caption model (format {data.get('format')!r}, expected {FORMAT!r})")
        try:
            self.version: str = str(data["version"])
            self.blocks: list[Block] = []
            offset = 0
            for b in data["features"]["blocks"]:
                if b["analyzer"] not in ANALYZERS:
                    raise ConfigError(f"{source}: unknown analyzer {b['analyzer']!r}")
                terms = list(b["terms"])
                idf = np.asarray(b["idf"], dtype=np.float64)
                if len(terms) != idf.shape[0]:
                    raise ConfigError(f"{source}: block {b['analyzer']}: {len(terms)} terms but {idf.shape[0]} idf")
                self.blocks.append(Block(b["analyzer"], {t: i for i, t in enumerate(terms)}, idf, offset))
                offset += len(terms)
            self.n_features = offset
            self.terms: list[str] = [f"{b.name}:{t}" for b in self.blocks for t in b.index]
            self.signals: dict[str, SignalModel] = {}
            for name, s in data["signals"].items():
                coef = np.asarray(s["coef"], dtype=np.float64)
                if coef.shape[0] != offset:
                    raise ConfigError(f"{source}: signal {name}: {coef.shape[0]} weights for {offset} features")
                f = s["fusion"]
                fcoef = np.asarray([f["coef"][k] for k in FUSION_FEATURES], dtype=np.float64)
                fusion = Fusion(fcoef, float(f["intercept"]), float(f["threshold"]))
                self.signals[name] = SignalModel(coef, float(s["intercept"]), fusion)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: malformed caption model ({exc!r})") from None
        self.recipe: Mapping[str, Any] = data.get("recipe", {})
        self.cv: Mapping[str, Any] = data.get("cv", {})

    @classmethod
    def load(cls, path: Path | None = None) -> CaptionModel:
        p = path or MODEL_FILE
        if not p.is_file():
            raise ModelMissing(
                f"caption model {p} not found; rebuild it with `python datasets/captions/train_model.py` "
                "or set detector_options.caption.use_model: false for the lexicon alone"
            )
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p} is not valid JSON: {exc}") from None
        return cls(data, str(p))

    def features(self, caption: str) -> tuple[np.ndarray, np.ndarray]:
        """Sparse (columns, values) of a caption over every block."""
        text = model_text(caption)
        parts = [b.vector(text) for b in self.blocks]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def score(self, caption: str, top: int = 5) -> dict[str, ModelScore]:
        cols, vals = self.features(caption)
        out = {}
        for name, sm in self.signals.items():
            contrib = vals * sm.coef[cols]
            logit = float(contrib.sum()) + sm.intercept
            order = np.argsort(-contrib)[:top]
            tops = [(self.terms[cols[i]], round(float(contrib[i]), 3)) for i in order if contrib[i] > 0.05]
            out[name] = ModelScore(logit, _sigmoid(logit), tops)
        return out
