"""Caption signals: glorification of official duty, disclosure, political opinion and disparaging remarks.

The conduct rules are as much about what staff write as about what they photograph (Sindh CM Secretariat
notice of 15.02.2025: "glorifying their official duties"; Establishment Division OM of 02.09.2024 para 4(ii),
(iii), (v)). Captions come in English, Urdu (Arabic script) and Roman Urdu, often mixed in one post, so every
lexicon runs on every caption.

Lexicons are data (detectors/data/caption/<language>.yaml, strict pydantic models): each cue is a regex on
normalised text with a role. A `strong` cue fires its signal alone ("proud to serve", "notification attached");
a `target` cue (a party, a sect, "government") and a `stance` cue ("looted", "kafir", "shame") fire only
together, so that "PTI" or "disaster" alone stays quiet. A cue preceded or followed (within its clause) by a
negation ("not on duty", "duty pe nahi") or standing inside quotation marks or reported speech ("... the
minister said") is ignored and listed as ignored in the evidence, so a reviewer sees why it did not count.
Every piece of evidence lists the words that fired.

`python -m detectors.caption --eval datasets/captions/captions.csv` prints the per-signal precision/recall on
the held-back split of the caption dataset.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from detectors.base import register_detector
from detectors.config import Strict, load_yaml_model, validate_model
from detectors.errors import ConfigError
from detectors.evidence import Evidence, Kind, Post

NAME = "caption"
VERSION = "caption-lexicon-1"
LEXICON_DIR = Path(__file__).with_name("data") / "caption"
Language = Literal["en", "ur", "roman_ur"]
LANGUAGES: tuple[Language, ...] = ("en", "ur", "roman_ur")
SIGNALS: tuple[str, ...] = (Kind.GLORIFICATION, Kind.DISCLOSURE, Kind.POLITICAL, Kind.DISPARAGING)
SIGNAL_LABELS = {
    Kind.GLORIFICATION: "glorifying caption",
    Kind.DISCLOSURE: "disclosure in caption",
    Kind.POLITICAL: "political opinion in caption",
    Kind.DISPARAGING: "disparaging remark in caption",
}

# --- lexicon files -------------------------------------------------------------------------------------------


class Cue(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    pattern: str
    role: Literal["strong", "target", "stance"] = "strong"
    weight: float | None = Field(None, gt=0, le=1)  # default by role

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return v


class SignalLexicon(Strict):
    negatable: bool = True  # political/disparaging cues stay cues under negation ("PTI is not a party for us")
    cues: list[Cue] = Field(default_factory=list)


class NegationWindow(Strict):
    before: int = Field(3, ge=0)
    after: int = Field(0, ge=0)


class Lexicon(Strict):
    language: str
    negations: list[str] = Field(default_factory=list)
    negation_window: NegationWindow = Field(default_factory=NegationWindow)
    reporting_markers: list[str] = Field(default_factory=list)  # regexes for reported speech
    variants: dict[str, list[str]] = Field(default_factory=dict)  # canonical spelling -> variants
    signals: dict[Literal["glorification", "disclosure", "political", "disparaging"], SignalLexicon]


ROLE_WEIGHT = {"strong": 0.8, "target": 0.35, "stance": 0.35}


class CaptionOptions(Strict):
    """`detector_options.caption` in the settings."""

    min_score: float = Field(0.5, ge=0, le=1)
    lexicon_dir: Path | None = None  # None: the packaged detectors/data/caption
    languages: list[Language] = Field(default_factory=lambda: list(LANGUAGES))


# --- normalisation -------------------------------------------------------------------------------------------

# Arabic-script letter variants that Urdu text mixes freely (Arabic yeh/kaf/heh typed on Arabic keyboards).
_ARABIC_MAP = str.maketrans(
    {
        "\u064a": "\u06cc",  # ي Arabic yeh -> ی Farsi yeh
        "\u0649": "\u06cc",  # ى alef maksura -> ی
        "\u0643": "\u06a9",  # ك Arabic kaf -> ک keheh
        "\u0647": "\u06c1",  # ه Arabic heh -> ہ heh goal
        "\u06c2": "\u06c1",  # ۂ heh goal with hamza -> ہ
        "\u0629": "\u06c1",  # ة teh marbuta -> ہ
        "\u06c3": "\u06c1",  # ۃ -> ہ
        "\u0623": "\u0627",  # أ -> ا
        "\u0625": "\u0627",  # إ -> ا
        "\u200c": " ",  # zero-width non-joiner separates words
        "\u200d": None,  # zero-width joiner
        "\u0640": None,  # tatweel
        **{chr(0x06F0 + i): str(i) for i in range(10)},  # Urdu digits
        **{chr(0x0660 + i): str(i) for i in range(10)},  # Arabic-Indic digits
        "\u2019": "'",
        "\u2018": "'",
    }
)
_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")
_REPEATS = re.compile(r"([a-z])\1{3,}")  # "proudddd" -> "proud" (but "ppp" stays a party)
_SPACES = re.compile(r"\s+")


def normalise_arabic(text: str) -> str:
    """Urdu letter variants and diacritics folded; used on both captions and lexicon patterns."""
    text = unicodedata.normalize("NFKC", text)
    return _DIACRITICS.sub("", text.translate(_ARABIC_MAP))


def normalise(text: str, variants: dict[str, str] | None = None) -> str:
    """Case-folded, Urdu variants folded, diacritics removed, letter runs collapsed, Roman Urdu spellings mapped."""
    text = normalise_arabic(text).casefold()
    text = _REPEATS.sub(r"\1", text)
    if variants:
        text = re.sub(r"[a-z]+", lambda m: variants.get(m.group(0), m.group(0)), text)
    return _SPACES.sub(" ", text).strip()


# --- matching ------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[#@]?\w+(?:'\w+)?|[.,!?;:\u060c\u061b\u061f\u06d4]")
_CLAUSE_PUNCT = set(".,!?;:\u060c\u061b\u061f\u06d4")
_SENTENCE = re.compile(r"[^.!?\u06d4\n]+")
_QUOTES = re.compile(r"\"[^\"]*\"|“[^”]*”|«[^»]*»|‘[^’]*’")


@dataclass(frozen=True)
class CueMatch:
    signal: str
    cue: str
    lexicon: str
    role: str
    weight: float
    text: str
    start: int
    end: int
    ignored: str | None = None  # why it does not count: "negated by 'not'", "inside quotation marks"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "words": self.text,
            "cue": self.cue,
            "lexicon": self.lexicon,
            "role": self.role,
            "weight": round(self.weight, 3),
        }
        if self.ignored:
            d["ignored"] = self.ignored
        return d


@dataclass(frozen=True)
class _CompiledCue:
    signal: str
    cue: Cue
    regex: re.Pattern[str]
    negatable: bool
    weight: float


class CompiledLexicon:
    """One language's lexicon with its regexes compiled and its spelling variants inverted."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.language = lexicon.language
        self.variants = {v.casefold(): canon.casefold() for canon, vs in lexicon.variants.items() for v in vs}
        self.negations = {normalise(n, self.variants) for n in lexicon.negations}
        self.window = lexicon.negation_window
        self.reporting = [
            re.compile(rf"(?<!\w)(?:{normalise_arabic(p)})(?!\w)", re.IGNORECASE) for p in lexicon.reporting_markers
        ]
        self.cues: list[_CompiledCue] = []
        for signal, sig in lexicon.signals.items():
            for cue in sig.cues:
                regex = re.compile(rf"(?<!\w)(?:{normalise_arabic(cue.pattern)})(?!\w)", re.IGNORECASE)
                weight = cue.weight if cue.weight is not None else ROLE_WEIGHT[cue.role]
                self.cues.append(_CompiledCue(signal, cue, regex, sig.negatable, weight))


def load_lexicons(directory: Path, languages: Iterable[str] = LANGUAGES) -> list[CompiledLexicon]:
    out = []
    for lang in languages:
        path = directory / f"{lang}.yaml"
        if not path.is_file():
            raise ConfigError(f"caption lexicon {path} not found (expected one YAML file per language)")
        out.append(CompiledLexicon(load_yaml_model(Lexicon, path)))
    return out


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _QUOTES.finditer(text)]


def _reported_spans(text: str, lexicon: CompiledLexicon) -> list[tuple[int, int]]:
    """Sentences that attribute their words to someone else ("... the minister said", "police ke mutabiq")."""
    spans = []
    for sent in _SENTENCE.finditer(text):
        if any(r.search(sent.group(0)) for r in lexicon.reporting):
            spans.append(sent.span())
    return spans


def _negator(
    tokens: Sequence[tuple[str, int, int]],
    starts: Sequence[int],
    span: tuple[int, int],
    lexicons: Sequence[CompiledLexicon],
    consumed: set[int],
) -> str | None:
    """A negation word near the cue, in its clause, within the window of the negation's own language.

    English negates before the phrase ("not on duty"), Urdu and Roman Urdu mostly after ("duty pe nahi"),
    whatever language the cue itself is in. Negation words that belong to another cue ("not yet public",
    "jari nahi"; token indices in `consumed`) are part of that cue's meaning and negate nothing else.
    """
    start, end = span
    reach = max((max(lx.window.before, lx.window.after) for lx in lexicons), default=0)

    def near(indices: Iterable[int]) -> list[str]:
        out: list[str] = []
        for i in indices:
            if len(out) >= reach:
                break
            if i not in consumed:
                out.append(tokens[i][0])
        return out

    before = near(range(bisect.bisect_left(starts, start) - 1, -1, -1))
    after = near(range(bisect.bisect_left(starts, end), len(tokens)))
    for lx in lexicons:
        for seq, n in ((before, lx.window.before), (after, lx.window.after)):
            for tok in seq[:n]:
                if tok in _CLAUSE_PUNCT:
                    break
                if tok in lx.negations:
                    return tok
    return None


def _inside(spans: Sequence[tuple[int, int]], starts: Sequence[int], s: int, e: int) -> bool:
    """Whether [s, e) lies inside one of the sorted, non-overlapping `spans`."""
    i = bisect.bisect_right(starts, s) - 1
    return i >= 0 and spans[i][1] >= e


def _has_negation(words: str, negations: set[str]) -> bool:
    return any(t in negations for t in _TOKEN.findall(words))


def find_cues(caption: str, lexicons: Sequence[CompiledLexicon]) -> list[CueMatch]:
    """Every cue of every lexicon in the caption, each marked ignored (with why) where negated or quoted."""
    all_negations: set[str] = set().union(*(lx.negations for lx in lexicons)) if lexicons else set()
    # Lexicons whose spelling variants leave the caption unchanged share one normalised text (and its spans).
    by_text: dict[str, list[tuple[CompiledLexicon, _CompiledCue, re.Match[str]]]] = {}
    for lx in lexicons:
        text = normalise(caption, lx.variants)
        by_text.setdefault(text, []).extend((lx, cc, m) for cc in lx.cues for m in cc.regex.finditer(text))
    matches: list[CueMatch] = []
    for text, found in by_text.items():
        tokens = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]
        starts = [t[1] for t in tokens]
        quoted = _quoted_spans(text)
        quoted_starts = [q[0] for q in quoted]
        lexicons_here = {lx.language: lx for lx, _, _ in found}
        reported = {lang: _reported_spans(text, lx) for lang, lx in lexicons_here.items()}
        reported_starts = {k: [r[0] for r in v] for k, v in reported.items()}
        negating_cues = {m.span() for _, _, m in found if _has_negation(m.group(0), all_negations)}
        consumed: set[int] = set()
        for cs, ce in negating_cues:
            i = bisect.bisect_left(starts, cs)
            while i < len(tokens) and tokens[i][2] <= ce:
                consumed.add(i)
                i += 1
        for lx, cc, m in found:
            s, e = m.span()
            ignored = None
            if _inside(quoted, quoted_starts, s, e):
                ignored = "inside quotation marks"
            elif _inside(reported[lx.language], reported_starts[lx.language], s, e):
                ignored = "reported speech"
            elif cc.negatable and m.span() not in negating_cues:
                neg = _negator(tokens, starts, m.span(), lexicons, consumed)
                if neg:
                    ignored = f"negated by {neg!r}"
            matches.append(
                CueMatch(cc.signal, cc.cue.id, lx.language, cc.cue.role, cc.weight, m.group(0), s, e, ignored)
            )
    return matches


def score_signal(matches: Sequence[CueMatch]) -> float:
    """Noisy-OR of the counted cues, 0 unless a strong cue or a target+stance pair is present."""
    counted = [m for m in matches if m.ignored is None]
    roles = {m.role for m in counted}
    if "strong" not in roles and not {"target", "stance"} <= roles:
        return 0.0
    seen: dict[tuple[str, str], float] = {}
    for m in counted:  # a cue counts once however often it repeats
        seen[(m.lexicon, m.cue)] = max(seen.get((m.lexicon, m.cue), 0.0), m.weight)
    p_none = 1.0
    for w in seen.values():
        p_none *= 1.0 - w
    return 1.0 - p_none


# --- the detector --------------------------------------------------------------------------------------------


class CaptionDetector:
    """Text evidence from a post's caption; box and image_index are None."""

    name = NAME
    version = VERSION
    produces: frozenset[str] = frozenset(SIGNALS)

    def __init__(self, lexicons: Sequence[CompiledLexicon], min_score: float = 0.5) -> None:
        self.lexicons = list(lexicons)
        self.min_score = min_score

    @classmethod
    def from_options(cls, options: CaptionOptions) -> CaptionDetector:
        return cls(load_lexicons(options.lexicon_dir or LEXICON_DIR, options.languages), options.min_score)

    def scores(self, caption: str) -> dict[str, tuple[float, list[CueMatch]]]:
        matches = find_cues(caption, self.lexicons) if caption.strip() else []
        out = {}
        for signal in SIGNALS:
            mine = [m for m in matches if m.signal == signal]
            out[str(signal)] = (score_signal(mine), mine)
        return out

    def detect_text(self, caption: str) -> list[Evidence]:
        evidence = []
        for signal, (score, matches) in self.scores(caption).items():
            if score < self.min_score or score <= 0.0:
                continue
            counted = [m for m in matches if m.ignored is None]
            ignored = [m for m in matches if m.ignored is not None]
            words = sorted({m.text for m in counted})
            evidence.append(
                Evidence(
                    kind=signal,
                    label=SIGNAL_LABELS[Kind(signal)],
                    score=round(score, 4),
                    detector=self.name,
                    detector_version=self.version,
                    explanation="caption words: " + ", ".join(f"'{w}'" for w in words),
                    details={
                        "words": words,
                        "matches": [m.to_dict() for m in counted],
                        "ignored": [m.to_dict() for m in ignored],
                        "languages": sorted({m.lexicon for m in counted}),
                    },
                )
            )
        return evidence

    def detect_post(self, post: Post) -> list[Evidence]:
        return self.detect_text(post.caption or "")


@register_detector(NAME)
def build(settings: Any) -> CaptionDetector:
    opts = settings.options_for(NAME) if hasattr(settings, "options_for") else {}
    options = validate_model(CaptionOptions, opts, "detector_options.caption")
    return CaptionDetector.from_options(options)


# --- evaluation on the caption dataset ----------------------------------------------------------------------


@dataclass(frozen=True)
class CaptionRow:
    id: str
    split: str
    lang: str
    labels: frozenset[str]
    text: str


def read_caption_dataset(path: str | Path) -> list[CaptionRow]:
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            labels = frozenset(x.strip() for x in (r["labels"] or "").split(";") if x.strip())
            unknown = labels - set(SIGNALS)
            if unknown:
                raise ConfigError(f"{path}: row {r['id']} has unknown labels {sorted(unknown)}")
            rows.append(CaptionRow(r["id"], r["split"], r["lang"], labels, r["text"]))
    return rows


@dataclass(frozen=True)
class SignalScore:
    signal: str
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def evaluate_captions(
    predict: Any, rows: Sequence[CaptionRow]
) -> tuple[list[SignalScore], list[tuple[CaptionRow, set[str]]]]:
    """Per-signal counts for `predict(text) -> set of signals`, plus the rows it got wrong."""
    counts = {s: [0, 0, 0] for s in SIGNALS}
    errors = []
    for row in rows:
        pred = set(predict(row.text))
        for s in SIGNALS:
            if s in pred and s in row.labels:
                counts[s][0] += 1
            elif s in pred:
                counts[s][1] += 1
            elif s in row.labels:
                counts[s][2] += 1
        if pred != set(row.labels):
            errors.append((row, pred))
    return [SignalScore(str(s), *counts[s]) for s in SIGNALS], errors


def format_table(scores: Sequence[SignalScore]) -> str:
    lines = [f"{'signal':<14} {'tp':>3} {'fp':>3} {'fn':>3} {'precision':>9} {'recall':>6}"]
    for s in scores:
        lines.append(f"{s.signal:<14} {s.tp:>3} {s.fp:>3} {s.fn:>3} {s.precision:>9.3f} {s.recall:>6.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m detectors.caption", description=__doc__.splitlines()[0])
    parser.add_argument("--eval", metavar="CSV", help="caption dataset to measure (id,split,lang,labels,text)")
    parser.add_argument("--split", default="heldout", help="split to measure, or 'all' (default: heldout)")
    parser.add_argument("--errors", action="store_true", help="list the captions it got wrong")
    parser.add_argument("text", nargs="*", help="captions to screen")
    args = parser.parse_args(argv)
    detector = CaptionDetector.from_options(CaptionOptions())
    if args.eval:
        rows = [r for r in read_caption_dataset(args.eval) if args.split == "all" or r.split == args.split]
        scores, errors = evaluate_captions(lambda t: {e.kind for e in detector.detect_text(t)}, rows)
        print(f"caption lexicon {VERSION}: {len(rows)} captions (split {args.split})")
        print(format_table(scores))
        if args.errors:
            for row, pred in errors:
                print(f"  {row.id} [{row.lang}] want={sorted(row.labels)} got={sorted(pred)}: {row.text}")
        return 0
    for text in args.text:
        for e in detector.detect_text(text):
            print(f"{e.kind} {e.score:.2f} {e.explanation}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
