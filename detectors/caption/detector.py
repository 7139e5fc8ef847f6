"""The caption detector: lexicon cues (the explanation) fused with the learned n-gram model (the recall).

Per signal, the lexicon gives its cue strength (noisy-OR of the counted cues, gated on a strong cue or a
target+stance pair) and whether a cue was ignored (negated, quoted, reported, cancelled by context); the model
gives its log-odds. The fusion (model.py) turns these into one score whose 0.5 is
the operating point grouped cross-validation chose, so the policy's `min_score: 0.5` applies it. Evidence lists
the words that fired, the ignored ones, the model's probability and the n-grams that pushed it up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from detectors.base import register_detector
from detectors.caption.lexicon import (
    LANGUAGES,
    LEXICON_DIR,
    SIGNALS,
    CompiledLexicon,
    CueMatch,
    Language,
    find_cues,
    load_lexicons,
    score_signal,
)
from detectors.caption.model import CaptionModel, ModelScore
from detectors.config import Strict, validate_model
from detectors.evidence import Evidence, Kind, Post

NAME = "caption"
VERSION = "caption-fused-1"
SIGNAL_LABELS = {
    Kind.GLORIFICATION: "glorifying caption",
    Kind.DISCLOSURE: "disclosure in caption",
    Kind.POLITICAL: "political opinion in caption",
    Kind.DISPARAGING: "disparaging remark in caption",
}


class CaptionOptions(Strict):
    """`detector_options.caption` in the settings."""

    min_score: float = Field(0.5, ge=0, le=1)
    lexicon_dir: Path | None = None  # None: the packaged detectors/data/caption
    languages: list[Language] = Field(default_factory=lambda: list(LANGUAGES))
    groups_file: Path | None = None  # None: groups.yaml in lexicon_dir, else the packaged one
    extra_groups: dict[str, list[str]] = Field(default_factory=dict)  # category -> more terms (regexes)
    use_model: bool = True  # False: the lexicon alone decides (score = cue strength)
    model_file: Path | None = None  # None: the packaged detectors/data/caption/model.json


@dataclass(frozen=True)
class SignalAssessment:
    """One signal's evidence for one caption, before the min_score cut."""

    signal: str
    score: float  # the fused score (0.5 = the CV operating point); the lexicon score without a model
    lexicon_score: float
    matches: list[CueMatch]
    model: ModelScore | None = None
    probability: float | None = None  # the fused, calibrated probability

    @property
    def counted(self) -> list[CueMatch]:
        return [m for m in self.matches if m.ignored is None and m.role != "context"]

    @property
    def context(self) -> list[CueMatch]:
        return [m for m in self.matches if m.ignored is None and m.role == "context"]

    @property
    def ignored(self) -> list[CueMatch]:
        return [m for m in self.matches if m.ignored is not None]


def fusion_features(lexicon_score: float, matches: Sequence[CueMatch], model_logit: float) -> list[float]:
    """The fusion's inputs, in model.FUSION_FEATURES order."""
    return [
        model_logit,
        lexicon_score,
        1.0 if lexicon_score >= 0.5 else 0.0,
        1.0 if any(m.ignored and not m.ignored.startswith("context") for m in matches) else 0.0,
        1.0 if any(m.role == "context" and m.ignored is None for m in matches) else 0.0,
    ]


class CaptionDetector:
    """Text evidence from a post's caption; box and image_index are None."""

    name = NAME
    version = VERSION
    produces: frozenset[str] = frozenset(SIGNALS)

    def __init__(
        self, lexicons: Sequence[CompiledLexicon], min_score: float = 0.5, model: CaptionModel | None = None
    ) -> None:
        self.lexicons = list(lexicons)
        self.min_score = min_score
        self.model = model
        self.version = f"{VERSION}+{model.version}" if model is not None else f"{VERSION}+lexicon-only"

    @classmethod
    def from_options(cls, options: CaptionOptions) -> CaptionDetector:
        lexicons = load_lexicons(
            options.lexicon_dir or LEXICON_DIR, options.languages, options.groups_file, options.extra_groups
        )
        model = CaptionModel.load(options.model_file) if options.use_model else None
        return cls(lexicons, options.min_score, model)

    def assess(self, caption: str) -> dict[str, SignalAssessment]:
        text = caption if caption.strip() else ""
        matches = find_cues(text, self.lexicons) if text else []
        model_scores = self.model.score(text) if self.model is not None and text else {}
        out = {}
        for signal in SIGNALS:
            s = str(signal)
            mine = [m for m in matches if m.signal == s]
            lex = score_signal(mine)
            ms = model_scores.get(s)
            if self.model is None or ms is None or s not in self.model.signals:
                out[s] = SignalAssessment(s, lex if text else 0.0, lex, mine)
                continue
            fusion = self.model.signals[s].fusion
            prob = fusion.probability(fusion_features(lex, mine, ms.logit))
            out[s] = SignalAssessment(s, fusion.score(prob), lex, mine, ms, prob)
        return out

    def scores(self, caption: str) -> dict[str, tuple[float, list[CueMatch]]]:
        return {s: (a.score, a.matches) for s, a in self.assess(caption).items()}

    def evidence(self, a: SignalAssessment) -> Evidence:
        counted, ignored = a.counted, a.ignored
        words = sorted({m.text for m in counted})
        details: dict[str, Any] = {
            "words": words,
            "matches": [m.to_dict() for m in counted],
            "ignored": [m.to_dict() for m in ignored],
            "languages": sorted({m.lexicon for m in counted}),
            "lexicon_score": round(a.lexicon_score, 4),
        }
        if a.context:
            details["context"] = [m.to_dict() for m in a.context]
        parts = []
        if words:
            parts.append("caption words: " + ", ".join(f"'{w}'" for w in words))
        if a.model is not None and a.probability is not None:
            details["model_score"] = round(a.model.probability, 4)
            details["probability"] = round(a.probability, 4)
            details["ngrams"] = [{"ngram": t, "weight": w} for t, w in a.model.top_ngrams]
            top = [t.split(":", 1)[1] for t, _ in a.model.top_ngrams if t.startswith("word:")][:3]
            if not words and top:  # the model alone: its strongest words stand in for the lexicon's
                details["words"] = top
            grams = ", ".join(f"'{t.split(':', 1)[1].strip()}'" for t, _ in a.model.top_ngrams[:3])
            parts.append(f"model {a.model.probability:.2f}" + (f" ({grams})" if grams else ""))
        if ignored:
            parts.append("ignored: " + ", ".join(f"'{m.text}' ({m.ignored})" for m in ignored[:3]))
        return Evidence(
            kind=a.signal,
            label=SIGNAL_LABELS[Kind(a.signal)],
            score=round(min(max(a.score, 0.0), 1.0), 4),
            detector=self.name,
            detector_version=self.version,
            explanation="; ".join(parts) or "caption",
            details=details,
        )

    def detect_text(self, caption: str) -> list[Evidence]:
        return [self.evidence(a) for a in self.assess(caption).values() if a.score >= self.min_score and a.score > 0.0]

    def detect_post(self, post: Post) -> list[Evidence]:
        return self.detect_text(post.caption or "")


@register_detector(NAME)
def build(settings: Any) -> CaptionDetector:
    opts = settings.options_for(NAME) if hasattr(settings, "options_for") else {}
    options = validate_model(CaptionOptions, opts, "detector_options.caption")
    return CaptionDetector.from_options(options)
