"""Caption lexicons: normalisation, the YAML lexicon models, cue matching with negation and quotation, scoring.

Lexicons are data (detectors/data/caption/<language>.yaml, strict pydantic models): each cue is a regex on
normalised text with a role. A `strong` cue fires its signal alone ("proud to serve", "notification attached");
a `target` cue (a party, a sect, "government") and a `stance` cue ("looted", "kafir", "shame") fire only
together, so that "PTI" or "disaster" alone stays quiet. A `context` cue scores nothing: it names a setting in
which the signal's target+stance pairs mean something else (a wedding motorcade, an airport protocol lane, a
cricket "zindabad", a citizen thanking the police) and cancels them; strong cues still count. A cue preceded
or followed (within its clause) by a negation ("not on duty", "duty pe nahi") or standing inside quotation
marks or reported speech ("... the minister said") is ignored and listed as ignored in the evidence, so a
reviewer sees why it did not count.

A lexicon may name reusable alternations under `terms` (designations, document types) and use them in patterns
as `<<name>>`. The groups that disparaging remarks target (sects, faiths, ethnic groups, institutions) live in
one list, detectors/data/caption/groups.yaml, shared by every language; the operator extends it through the
detector options (`extra_groups`) or replaces it (`groups_file`).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from detectors.config import Strict, load_yaml_model
from detectors.errors import ConfigError
from detectors.evidence import Kind

LEXICON_DIR = Path(__file__).resolve().parent.parent / "data" / "caption"
GROUPS_FILE = LEXICON_DIR / "groups.yaml"
Language = Literal["en", "ur", "roman_ur"]
LANGUAGES: tuple[Language, ...] = ("en", "ur", "roman_ur")
SIGNALS: tuple[str, ...] = (Kind.GLORIFICATION, Kind.DISCLOSURE, Kind.POLITICAL, Kind.DISPARAGING)
SignalName = Literal["glorification", "disclosure", "political", "disparaging"]

# --- lexicon files -------------------------------------------------------------------------------------------


def _check_regex(v: str) -> str:
    try:
        re.compile(re.sub(r"<<\w+>>", "x", v))
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return v


class Cue(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    pattern: str
    role: Literal["strong", "target", "stance", "context"] = "strong"
    weight: float | None = Field(None, gt=0, le=1)  # default by role

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        return _check_regex(v)


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
    terms: dict[str, str] = Field(default_factory=dict)  # name -> regex alternation, used as <<name>>
    signals: dict[SignalName, SignalLexicon]

    @field_validator("terms")
    @classmethod
    def _terms_compile(cls, v: dict[str, str]) -> dict[str, str]:
        for name, pattern in v.items():
            if not re.fullmatch(r"\w+", name):
                raise ValueError(f"term name {name!r} must be a word")
            _check_regex(pattern)
        return v


class GroupList(Strict):
    """groups.yaml: the groups a disparaging remark can target, by category, in every script."""

    weight: float = Field(0.4, gt=0, le=1)
    categories: dict[str, list[str]]

    @field_validator("categories")
    @classmethod
    def _terms_compile(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, terms in v.items():
            if not re.fullmatch(r"[a-z0-9_]+", name):
                raise ValueError(f"category name {name!r} must be lowercase letters, digits or _")
            for t in terms:
                _check_regex(t)
        return v


ROLE_WEIGHT = {"strong": 0.8, "target": 0.35, "stance": 0.35, "context": 0.0}
SCORING_ROLES = frozenset({"strong", "target", "stance"})

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
        "\ufe0f": None,  # emoji variation selector
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


def normalise(text: str, variants: Mapping[str, str] | None = None) -> str:
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


def _expand_terms(pattern: str, terms: Mapping[str, str], where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in terms:
            raise ConfigError(f"{where}: unknown term <<{name}>> (known: {', '.join(sorted(terms)) or 'none'})")
        return f"(?:{terms[name]})"

    return re.sub(r"<<(\w+)>>", sub, pattern)


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w)(?:{normalise_arabic(pattern)})(?!\w)", re.IGNORECASE)


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
            for i, cue in enumerate(sig.cues):
                where = f"lexicon {lexicon.language}: signals.{signal}.cues.{i} ({cue.id})"
                pattern = _expand_terms(cue.pattern, lexicon.terms, where)
                try:
                    regex = _compile(pattern)
                except re.error as exc:
                    raise ConfigError(f"{where}: not a valid regular expression: {exc}") from None
                weight = cue.weight if cue.weight is not None else ROLE_WEIGHT[cue.role]
                self.cues.append(_CompiledCue(signal, cue, regex, sig.negatable, weight))

    @classmethod
    def from_groups(cls, groups: GroupList, extra: Mapping[str, Sequence[str]] | None = None) -> CompiledLexicon:
        """The shared group list as a pseudo-lexicon ("groups") of disparaging target cues, one per category."""
        categories: dict[str, list[str]] = {k: list(v) for k, v in groups.categories.items()}
        for name, terms in (extra or {}).items():
            categories.setdefault(name, []).extend(terms)
        cues = [
            Cue(id=f"group_{name}", pattern="|".join(terms), role="target", weight=groups.weight)
            for name, terms in categories.items()
            if terms
        ]
        lexicon = Lexicon(language="groups", signals={"disparaging": SignalLexicon(negatable=False, cues=cues)})
        return cls(lexicon)


def load_lexicons(
    directory: Path,
    languages: Iterable[str] = LANGUAGES,
    groups_file: Path | None = None,
    extra_groups: Mapping[str, Sequence[str]] | None = None,
) -> list[CompiledLexicon]:
    """Every language's lexicon plus the group list (the packaged groups.yaml unless `groups_file` is given)."""
    out = []
    for lang in languages:
        path = directory / f"{lang}.yaml"
        if not path.is_file():
            raise ConfigError(f"caption lexicon {path} not found (expected one YAML file per language)")
        out.append(CompiledLexicon(load_yaml_model(Lexicon, path)))
    gpath = groups_file or (directory / "groups.yaml" if (directory / "groups.yaml").is_file() else GROUPS_FILE)
    if not gpath.is_file():
        raise ConfigError(f"caption group list {gpath} not found")
    for name, terms in (extra_groups or {}).items():
        if not re.fullmatch(r"[a-z0-9_]+", name):
            raise ConfigError(f"extra_groups: category name {name!r} must be lowercase letters, digits or _")
        for t in terms:
            try:
                _check_regex(t)
            except ValueError as exc:
                raise ConfigError(f"extra_groups.{name}: {t!r}: {exc}") from None
    out.append(CompiledLexicon.from_groups(load_yaml_model(GroupList, gpath), extra_groups))
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
    reporting = [lx for lx in lexicons if lx.reporting]
    matches: list[CueMatch] = []
    for text, found in by_text.items():
        tokens = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]
        starts = [t[1] for t in tokens]
        quoted = _quoted_spans(text)
        quoted_starts = [q[0] for q in quoted]
        # reported speech in any language silences cues of every lexicon ("police ke mutabiq ... on duty")
        reported = sorted({span for lx in reporting for span in _reported_spans(text, lx)})
        merged: list[tuple[int, int]] = []
        for s, e in reported:
            if merged and s < merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        reported_starts = [r[0] for r in merged]
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
            elif _inside(merged, reported_starts, s, e):
                ignored = "reported speech"
            elif cc.negatable and m.span() not in negating_cues:
                neg = _negator(tokens, starts, m.span(), lexicons, consumed)
                if neg:
                    ignored = f"negated by {neg!r}"
            matches.append(
                CueMatch(cc.signal, cc.cue.id, lx.language, cc.cue.role, cc.weight, m.group(0), s, e, ignored)
            )
    return _apply_context(matches)


def _apply_context(matches: list[CueMatch]) -> list[CueMatch]:
    """Counted `context` cues cancel their signal's target and stance cues (listed as ignored, with why)."""
    contexts: dict[str, str] = {}
    for m in matches:
        if m.role == "context" and m.ignored is None:
            contexts.setdefault(m.signal, m.text)
    if not contexts:
        return matches
    out = []
    for m in matches:
        ctx = contexts.get(m.signal)
        if ctx is not None and m.ignored is None and m.role in ("target", "stance"):
            m = CueMatch(m.signal, m.cue, m.lexicon, m.role, m.weight, m.text, m.start, m.end, f"context {ctx!r}")
        out.append(m)
    return out


def _noisy_or(matches: Iterable[CueMatch]) -> float:
    seen: dict[tuple[str, str], float] = {}
    for m in matches:  # a cue counts once however often it repeats
        if m.role not in SCORING_ROLES:
            continue
        seen[(m.lexicon, m.cue)] = max(seen.get((m.lexicon, m.cue), 0.0), m.weight)
    p_none = 1.0
    for w in seen.values():
        p_none *= 1.0 - w
    return 1.0 - p_none


def score_signal(matches: Sequence[CueMatch]) -> float:
    """Noisy-OR of the counted cues, 0 unless a strong cue or a target+stance pair is present."""
    counted = [m for m in matches if m.ignored is None]
    roles = {m.role for m in counted}
    if "strong" not in roles and not {"target", "stance"} <= roles:
        return 0.0
    return _noisy_or(counted)
