"""The policy engine: rules in YAML turn evidence into findings that cite the rule they apply.

The policy never looks at pixels: it sees only `Evidence` records. Each rule names conditions on evidence
(kind, minimum score, minimum count), the decision it leads to, a severity, citations (keys into the policy's
citation table) and a reason template filled from the evidence that fired.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from detectors.config import Strict, load_yaml_model
from detectors.evidence import DecisionLevel, Evidence, Finding

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.yaml")


class Condition(Strict):
    kind: str
    min_score: float = Field(0.5, ge=0, le=1)
    min_count: int = Field(1, ge=1)
    label: str | None = None  # optional: only evidence with this label

    def matches(self, evidence: Sequence[Evidence]) -> list[int]:
        hits = [
            i
            for i, e in enumerate(evidence)
            if e.kind == self.kind and e.score >= self.min_score and (self.label is None or e.label == self.label)
        ]
        return hits if len(hits) >= self.min_count else []


class Rule(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str
    decision: Literal["review", "violation"]
    severity: Literal["low", "medium", "high"]
    citations: list[str] = Field(min_length=1)
    any_of: list[Condition] = Field(default_factory=list)
    all_of: list[Condition] = Field(default_factory=list)
    reason: str = "{evidence}"

    @model_validator(mode="after")
    def _has_conditions(self) -> Rule:
        if not self.any_of and not self.all_of:
            raise ValueError(f"rule {self.id} needs any_of or all_of conditions")
        return self

    def fire(self, evidence: Sequence[Evidence]) -> list[int] | None:
        """Indices of the evidence behind this rule, or None when it does not fire."""
        hits: set[int] = set()
        for cond in self.all_of:
            m = cond.matches(evidence)
            if not m:
                return None
            hits.update(m)
        if self.any_of:
            any_hits = [i for cond in self.any_of for i in cond.matches(evidence)]
            if not any_hits:
                return None
            hits.update(any_hits)
        return sorted(hits)


class Policy(Strict):
    version: str
    citations: dict[str, str]
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_refs(self) -> Policy:
        ids = [r.id for r in self.rules]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate rule ids: {', '.join(sorted(dup))}")
        for r in self.rules:
            missing = [c for c in r.citations if c not in self.citations]
            if missing:
                raise ValueError(f"rule {r.id} cites unknown citation keys: {', '.join(missing)}")
        return self

    @classmethod
    def load(cls, path: str | Path | None = None) -> Policy:
        return load_yaml_model(cls, path or DEFAULT_POLICY_PATH)

    def evaluate(self, evidence: Sequence[Evidence]) -> tuple[DecisionLevel, float, list[Finding]]:
        findings: list[Finding] = []
        for rule in self.rules:
            hits = rule.fire(evidence)
            if hits is None:
                continue
            findings.append(
                Finding(
                    rule_id=rule.id,
                    decision=DecisionLevel(rule.decision),
                    severity=rule.severity,
                    citation="; ".join(self.citations[c] for c in rule.citations),
                    reason=rule.reason.format(evidence=describe(evidence[i] for i in hits)),
                    evidence=tuple(hits),
                )
            )
        if not findings:
            return DecisionLevel.CLEAR, 0.0, []
        decision = max((f.decision for f in findings), key=lambda d: d.rank)
        score = max(evidence[i].score for f in findings if f.decision == decision for i in f.evidence)
        return decision, score, findings


def describe(evidence: object) -> str:
    """A short human-readable list of evidence for a finding's reason."""
    parts = []
    for e in evidence:  # type: ignore[attr-defined]
        where = f" in image {e.image_index + 1}" if e.image_index is not None else ""
        parts.append(f"{e.label}{where} ({e.explanation}; score {e.score:.2f})")
    return "; ".join(parts)
