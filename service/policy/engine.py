"""The policy engine: rules in YAML turn evidence and post context into findings that cite the rule they apply.

The policy never looks at pixels: it sees only `Evidence` records and the post's author. Each rule combines
conditions on evidence (kind, score range, count, same image), names the decision it leads to, a severity,
citations (keys into the policy's citation table) and a reason template filled from the evidence that fired.

Context changes the outcome, never the record: an official account of a government organisation (OM of
02.09.2024 para 5) or a servant holding permission is looked up by account id in an exemption registry named
by the policy; a rule lists which exemption types soften it and to what. The finding is still recorded, with
`exempted_by` set. For group posts the admins named on the author are listed as also liable (OM para 6).
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, model_validator

from detectors.base import DetectorRegistry
from detectors.config import Strict, read_yaml, validate_model
from detectors.errors import ConfigError
from detectors.evidence import Author, DecisionLevel, Evidence, Finding, Kind, Post

# Evidence the learned stage and the example bank emit, under these detector names (not in the registry).
LEARNED_DETECTORS = frozenset({"recognition", "examples"})

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.yaml")

# Placeholders a rule's reason template may use (checked when the policy loads).
REASON_FIELDS = frozenset({"evidence", "kinds", "image_kinds", "images", "words", "count"})


class Condition(Strict):
    """Evidence of one of `kinds` (or `kind`) with min_score <= score (< max_score), at least min_count times."""

    kind: str | None = None
    kinds: list[str] = Field(default_factory=list)
    min_score: float = Field(0.5, ge=0, le=1)
    max_score: float | None = Field(None, gt=0, le=1)  # exclusive: for "weak evidence" rules
    min_count: int = Field(1, ge=1)
    label: str | None = None  # optional: only evidence with this label
    source: Literal["any", "image", "caption"] = "any"  # image evidence has an image_index, caption none
    # Only evidence from these detectors (empty: any). Asset rules name the learned stage ("recognition") and the
    # example bank ("examples"): the hand-written cues feed them and explain them, the calibrated score decides.
    detectors: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_kind_field(self) -> Condition:
        if (self.kind is None) == (not self.kinds):
            raise ValueError("a condition needs exactly one of 'kind' or 'kinds'")
        if self.max_score is not None and self.max_score <= self.min_score:
            raise ValueError("max_score must be above min_score")
        return self

    @property
    def kind_set(self) -> frozenset[str]:
        return frozenset([self.kind] if self.kind is not None else self.kinds)

    def accepts(self, e: Evidence) -> bool:
        if e.kind not in self.kind_set or e.score < self.min_score:
            return False
        if self.max_score is not None and e.score >= self.max_score:
            return False
        if self.label is not None and e.label != self.label:
            return False
        if self.detectors and e.detector not in self.detectors:
            return False
        if self.source == "image" and e.image_index is None:
            return False
        return not (self.source == "caption" and e.image_index is not None)

    def matches(self, evidence: Sequence[Evidence], among: Iterable[int] | None = None) -> list[int]:
        idx = range(len(evidence)) if among is None else among
        hits = [i for i in idx if self.accepts(evidence[i])]
        return hits if len(hits) >= self.min_count else []


Outcome = Literal["clear", "review"]
RuleDecision = Literal["review", "violation"]


class Rule(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str
    decision: RuleDecision
    severity: Literal["low", "medium", "high"]
    citations: list[str] = Field(min_length=1)
    all_of: list[Condition] = Field(default_factory=list)
    any_of: list[Condition] = Field(default_factory=list)
    none_of: list[Condition] = Field(default_factory=list)
    # all_of/any_of must be met within one image (caption evidence counts for every image).
    same_image: bool = False
    # exemption type -> the decision this rule leads to for an exempt account (e.g. official_account: clear)
    exemptions: dict[str, Outcome] = Field(default_factory=dict)
    reason: str = "{evidence}"

    @model_validator(mode="after")
    def _valid(self) -> Rule:
        if not self.any_of and not self.all_of:
            raise ValueError(f"rule {self.id} needs any_of or all_of conditions")
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(self.reason) if f is not None}
        except ValueError as exc:
            raise ValueError(f"rule {self.id} reason is not a valid template: {exc}") from None
        unknown = fields - REASON_FIELDS
        if unknown:
            raise ValueError(
                f"rule {self.id} reason uses unknown placeholders {sorted(unknown)}; known: {sorted(REASON_FIELDS)}"
            )
        return self

    def _fire_among(self, evidence: Sequence[Evidence], among: Sequence[int]) -> list[int] | None:
        hits: set[int] = set()
        for cond in self.all_of:
            m = cond.matches(evidence, among)
            if not m:
                return None
            hits.update(m)
        if self.any_of:
            any_hits = [i for cond in self.any_of for i in cond.matches(evidence, among)]
            if not any_hits:
                return None
            hits.update(any_hits)
        return sorted(hits)

    def fire(self, evidence: Sequence[Evidence]) -> list[int] | None:
        """Indices of the evidence behind this rule, or None when it does not fire."""
        if any(cond.matches(evidence) for cond in self.none_of):
            return None
        if not self.same_image:
            return self._fire_among(evidence, range(len(evidence)))
        images = sorted({e.image_index for e in evidence if e.image_index is not None})
        hits: set[int] = set()
        for img in images:
            among = [i for i, e in enumerate(evidence) if e.image_index in (img, None)]
            found = self._fire_among(evidence, among)
            if found is not None:
                hits.update(found)
        return sorted(hits) if hits else None


class ExemptionType(Strict):
    description: str
    citation: str  # key into the policy's citations


class GroupAdminLiability(Strict):
    citation: str
    decisions: list[RuleDecision] = Field(default_factory=lambda: list[RuleDecision](["violation"]))


class ExemptionSettings(Strict):
    registry: Path | None = None  # relative to the policy file; None: no accounts are exempt
    types: dict[str, ExemptionType] = Field(default_factory=dict)


class ExemptAccount(Strict):
    account_id: str = Field(min_length=1)
    type: str
    name: str = ""
    reference: str = ""  # the notification or permission letter
    valid_until: dt.date | None = None


class ExemptionRegistry(Strict):
    accounts: list[ExemptAccount] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> ExemptionRegistry:
        ids = [a.account_id for a in self.accounts]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"accounts listed twice: {', '.join(dup)}")
        return self


class Policy(Strict):
    version: str
    citations: dict[str, str]
    rules: list[Rule] = Field(min_length=1)
    exemptions: ExemptionSettings = Field(default_factory=ExemptionSettings)
    group_admins: GroupAdminLiability | None = None
    # Evidence kinds beyond the project's own (detectors/evidence.py Kind) that this policy's rules may name,
    # for a site's own detectors. Any other kind in a rule is an error: a typo would never fire.
    extra_kinds: list[str] = Field(default_factory=list)

    _accounts: dict[str, ExemptAccount] = PrivateAttr(default_factory=dict)
    _lookup: Callable[[str], ExemptAccount | None] | None = PrivateAttr(None)
    _source: Path | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _check_refs(self) -> Policy:
        ids = [r.id for r in self.rules]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate rule ids: {', '.join(sorted(dup))}")
        known_kinds = {k.value for k in Kind} | set(self.extra_kinds)
        known_detectors = set(DetectorRegistry.names()) | LEARNED_DETECTORS
        for r in self.rules:
            conds = [*r.all_of, *r.any_of, *r.none_of]
            bad_kinds = sorted({k for c in conds for k in c.kind_set} - known_kinds)
            if bad_kinds:
                raise ValueError(
                    f"rule {r.id} names unknown evidence kinds {bad_kinds}; known: {sorted(known_kinds)} "
                    "(declare a site detector's own kinds under extra_kinds)"
                )
            bad_dets = sorted({d for c in conds for d in c.detectors} - known_detectors)
            if bad_dets:
                raise ValueError(f"rule {r.id} names unknown detectors {bad_dets}; known: {sorted(known_detectors)}")
            missing = [c for c in r.citations if c not in self.citations]
            if missing:
                raise ValueError(f"rule {r.id} cites unknown citation keys: {', '.join(missing)}")
            unknown = [t for t in r.exemptions if t not in self.exemptions.types]
            if unknown:
                raise ValueError(f"rule {r.id} names unknown exemption types: {', '.join(unknown)}")
        for name, t in self.exemptions.types.items():
            if t.citation not in self.citations:
                raise ValueError(f"exemption type {name} cites unknown citation key {t.citation}")
        if self.group_admins and self.group_admins.citation not in self.citations:
            raise ValueError(f"group_admins cites unknown citation key {self.group_admins.citation}")
        return self

    # --- loading ---------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path | None = None) -> Policy:
        """A policy file (default: the packaged policy.yaml) and the exemption registry it names."""
        p = Path(path) if path is not None else DEFAULT_POLICY_PATH
        data = read_yaml(p) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"policy {p} must hold a mapping at the top level")
        policy = validate_model(cls, data, f"policy {p}")
        policy._source = p
        if policy.exemptions.registry is not None:
            reg_path = policy.exemptions.registry
            if not reg_path.is_absolute():
                reg_path = p.parent / reg_path
            policy.set_exempt_accounts(load_registry(reg_path).accounts, where=str(reg_path))
        return policy

    def set_exempt_accounts(self, accounts: Iterable[ExemptAccount], where: str = "exemption registry") -> None:
        """Register exempt accounts (normally from the registry file the policy names)."""
        accounts = list(accounts)
        for a in accounts:
            if a.type not in self.exemptions.types:
                raise ConfigError(
                    f"invalid {where}: account {a.account_id} has unknown type {a.type!r}; "
                    f"known: {', '.join(sorted(self.exemptions.types)) or '(none defined in the policy)'}"
                )
        self._accounts = {a.account_id: a for a in accounts}

    @property
    def exempt_accounts(self) -> Mapping[str, ExemptAccount]:
        return dict(self._accounts)

    def use_exemption_lookup(self, lookup: Callable[[str], ExemptAccount | None] | None) -> None:
        """Look exempt accounts up with `lookup` (the service's store) instead of the registry file."""
        self._lookup = lookup

    def exemption_for(self, author: Author | None, today: dt.date | None = None) -> ExemptAccount | None:
        """The author's exemption, if the account is registered, unexpired, and its claim is verified (asserted by
        someone trusted to: an integration key, the operator). An unverified claim never exempts."""
        if author is None or not author.account_id or not author.verified:
            return None
        entry = self._lookup(author.account_id) if self._lookup is not None else None
        if entry is None:  # the store first, then the registry file the policy names (if any)
            entry = self._accounts.get(author.account_id)
        if entry is None:
            return None
        if entry.valid_until is not None and entry.valid_until < (today or dt.date.today()):
            return None
        return entry

    def score_cuts(self, detector: str) -> dict[str, list[float]]:
        """Kind -> the scores this policy compares `detector`'s evidence of that kind with (every condition's
        min_score and max_score that accepts it). A score that stays on the same side of all of them cannot
        change which rules fire."""
        cuts: dict[str, set[float]] = {}
        for rule in self.rules:
            for c in [*rule.all_of, *rule.any_of, *rule.none_of]:
                if c.detectors and detector not in c.detectors:
                    continue
                for kind in c.kind_set:
                    cuts.setdefault(kind, set()).add(c.min_score)
                    if c.max_score is not None:
                        cuts[kind].add(c.max_score)
        return {k: sorted(v) for k, v in cuts.items()}

    def uses_directly(self, detector: str, kinds: frozenset[str], *, caption_kinds: frozenset[str],
                      caption_present: frozenset[str]) -> bool:
        """Whether some rule that can still fire for this post reads `detector`'s own evidence (of `kinds`).

        A rule can still fire unless one of its `all_of` conditions can only be met by a caption (its kinds are
        caption kinds, or its source is the caption) and the post has no caption evidence of those kinds. The
        screener asks this before leaving a detector's text unread: what feeds a rule directly is always read.
        """
        for rule in self.rules:
            conds = [*rule.all_of, *rule.any_of, *rule.none_of]
            if not any(c.kind_set & kinds and (not c.detectors or detector in c.detectors) for c in conds):
                continue
            blocked = any(
                (c.source == "caption" or c.kind_set <= caption_kinds) and not (c.kind_set & caption_present)
                for c in rule.all_of
            )
            if not blocked:
                return True
        return False

    # --- evaluation ------------------------------------------------------------------------------------------

    def flagged_kinds(self, evidence: Sequence[Evidence]) -> set[str]:
        """Kinds this policy counts as present on their own: evidence some `any_of` condition accepts (its score
        band, detector and source). A kind no `any_of` condition names counts whenever it is present. The
        evaluator measures this, so its figures hold for the thresholds the policy really applies."""
        conds = [c for r in self.rules for c in r.any_of]
        ruled = {k for c in conds for k in c.kind_set}
        out: set[str] = set()
        for e in evidence:
            if e.kind not in ruled or any(c.accepts(e) for c in conds if e.kind in c.kind_set):
                out.add(e.kind)
        return out

    def evaluate(
        self,
        evidence: Sequence[Evidence],
        post: Post | None = None,
        *,
        author: Author | None = None,
        today: dt.date | None = None,
    ) -> tuple[DecisionLevel, float, list[Finding]]:
        """The decision, its score and the findings for the evidence of one post (author from `post`)."""
        author = author or (post.author if post is not None else None)
        exemption = self.exemption_for(author, today)
        findings: list[Finding] = []
        for rule in self.rules:
            hits = rule.fire(evidence)
            if hits is None:
                continue
            findings.append(self._finding(rule, [evidence[i] for i in hits], hits, author, exemption))
        if not findings:
            return DecisionLevel.CLEAR, 0.0, []
        decision = max((f.decision for f in findings), key=lambda d: d.rank)
        if decision == DecisionLevel.CLEAR:
            return decision, 0.0, findings
        score = max(evidence[i].score for f in findings if f.decision == decision for i in f.evidence)
        return decision, score, findings

    def _finding(
        self,
        rule: Rule,
        fired: Sequence[Evidence],
        hits: Sequence[int],
        author: Author | None,
        exemption: ExemptAccount | None,
    ) -> Finding:
        decision = DecisionLevel(rule.decision)
        citations = [self.citations[c] for c in rule.citations]
        reason = _sentence(rule.reason.format(**reason_fields(fired)))
        exempted_by = None
        if exemption is not None and exemption.type in rule.exemptions:
            outcome = DecisionLevel(rule.exemptions[exemption.type])
            if outcome.rank < decision.rank:
                decision = outcome
            etype = self.exemptions.types[exemption.type]
            exempted_by = f"{exemption.type}: {exemption.account_id}" + (
                f" ({exemption.reference})" if exemption.reference else ""
            )
            who = f"{exemption.name} ({exemption.account_id})" if exemption.name else exemption.account_id
            reason += f" Account {who} is registered as {etype.description}, so this is {decision.value}."
            citations.append(self.citations[etype.citation])
        also_liable: tuple[str, ...] = ()
        ga = self.group_admins
        if ga and author is not None and author.group_id and author.group_admins and decision.value in ga.decisions:
            also_liable = tuple(a for a in author.group_admins if a != author.account_id)
            if also_liable:
                reason += (
                    f" Posted in group {author.group_id}: its admins {', '.join(also_liable)} are also liable"
                    " where they are serving government servants."
                )
                citations.append(self.citations[ga.citation])
        return Finding(
            rule_id=rule.id,
            decision=decision,
            severity=rule.severity,
            citation="; ".join(citations),
            reason=reason,
            evidence=tuple(hits),
            exempted_by=exempted_by,
            also_liable=also_liable,
        )


def load_registry(path: str | Path) -> ExemptionRegistry:
    data = read_yaml(path) or {}
    return validate_model(ExemptionRegistry, data, f"exemption registry {path}")


def reason_fields(fired: Sequence[Evidence]) -> dict[str, str]:
    """Values for a rule's reason template, built from the evidence that fired."""
    images = sorted({e.image_index + 1 for e in fired if e.image_index is not None})
    words: list[str] = []
    for e in fired:
        for w in e.details.get("words", []) if isinstance(e.details, Mapping) else []:
            if isinstance(w, str) and w not in words:
                words.append(w)
    return {
        "evidence": describe(fired),
        "kinds": ", ".join(sorted({e.kind for e in fired})),
        "image_kinds": ", ".join(sorted({e.kind for e in fired if e.image_index is not None})) or "(none)",
        "images": ", ".join(str(i) for i in images) if images else "the caption",
        "words": ", ".join(f"'{w}'" for w in words) if words else "(none)",
        "count": str(len(fired)),
    }


def _sentence(text: str) -> str:
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def describe(evidence: Iterable[Evidence]) -> str:
    """A short human-readable list of evidence for a finding's reason."""
    parts = []
    for e in evidence:
        where = f" in image {e.image_index + 1}" if e.image_index is not None else ""
        parts.append(f"{e.label}{where} ({e.explanation}; score {e.score:.2f})")
    return "; ".join(parts)
