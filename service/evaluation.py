"""Measuring the screener on labelled photos: per-kind and post-level precision, recall and F1.

An image is predicted positive for a kind when its verdict holds evidence of that kind that the policy's rules
accept (score band and detector: a hand-written cue below the learned head's threshold does not count).
The post-level truth is
"labels contain an official-asset kind" and the post-level prediction is "verdict is review or violation".
The JSON form (`EvalReport.to_dict`) is a contract other tools rely on: keep its keys stable.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detectors.errors import AssetScreenError, BadInput
from detectors.evidence import OFFICIAL_ASSET_KINDS, DecisionLevel, Verdict
from detectors.scoring import Counts
from service.scan import screen_file
from service.screener import Screener

EVAL_KINDS: tuple[str, ...] = ("gov_vehicle", "uniform", "insignia", "document", "official_document")
LABEL_KINDS = frozenset(
    {"gov_vehicle", "uniform", "insignia", "flag_only", "document", "official_document", "person", "vehicle"}
)


@dataclass
class EvalReport:
    kinds: dict[str, Counts] = field(default_factory=lambda: {k: Counts() for k in EVAL_KINDS})
    post: Counts = field(default_factory=Counts)
    n_images: int = 0
    seconds: float = 0.0
    errors: list[dict[str, str]] = field(default_factory=list)
    misclassified: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        screened = self.n_images - len(self.errors)
        return {
            "n_images": self.n_images,
            "kinds": {k: c.to_dict() for k, c in self.kinds.items()},
            "post": self.post.to_dict(),
            "seconds_per_image": round(self.seconds / screened, 4) if screened else 0.0,
            "errors": list(self.errors),
            "misclassified": list(self.misclassified),
        }

    def table(self) -> str:
        d = self.to_dict()
        rows = [f"{'kind':<18} {'prec':>6} {'recall':>6} {'f1':>6} {'tp':>4} {'fp':>4} {'fn':>4} {'support':>7}"]
        for name, m in [*d["kinds"].items(), ("POST (official)", d["post"])]:
            rows.append(
                f"{name:<18} {m['precision']:>6.3f} {m['recall']:>6.3f} {m['f1']:>6.3f} "
                f"{m['tp']:>4} {m['fp']:>4} {m['fn']:>4} {m['support']:>7}"
            )
        rows.append(f"images: {d['n_images']}  errors: {len(d['errors'])}  seconds/image: {d['seconds_per_image']}")
        if d["errors"]:
            rows.append("errors:")
            rows += [f"  {e['file']}: {e['error']}" for e in d["errors"]]
        if d["misclassified"]:
            rows.append("misclassified:")
            rows += [
                f"  {m['file']}: {m['kind']} expected={m['expected']} predicted={m['predicted']}"
                for m in d["misclassified"]
            ]
        return "\n".join(rows)


def read_labels(path: Path) -> dict[str, set[str]]:
    """labels.csv (file,kinds[,...]) -> {file: set of kinds}. Unknown kinds are an error naming the row."""
    if not path.is_file():
        raise BadInput(f"labels file not found: {path}")
    labels: dict[str, set[str]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "file" not in reader.fieldnames or "kinds" not in reader.fieldnames:
            raise BadInput(f"{path}: needs a header with columns 'file' and 'kinds'")
        for lineno, row in enumerate(reader, start=2):
            kinds = {k.strip() for k in (row["kinds"] or "").split(",") if k.strip()}
            unknown = kinds - LABEL_KINDS
            if unknown:
                raise BadInput(f"{path}:{lineno}: unknown kinds {sorted(unknown)}")
            labels[row["file"].strip()] = kinds
    return labels


def predicted_kinds(verdict: Verdict, policy: Any = None) -> set[str]:
    """The kinds the verdict counts as present: with a policy, only evidence its rules accept (thresholds and
    detectors as applied); without one, every kind present."""
    if policy is None:
        return verdict.kinds()
    return set(policy.flagged_kinds(verdict.evidence))


def evaluate(
    screener: Screener,
    folder: Path,
    labels: dict[str, set[str]],
    *,
    progress: Callable[[str], None] | None = None,
    files: Sequence[str] | None = None,
) -> EvalReport:
    report = EvalReport()
    t_total = 0.0
    for name in files if files is not None else sorted(labels):
        truth = labels[name]
        report.n_images += 1
        if progress:
            progress(name)
        t0 = time.perf_counter()
        try:
            verdict = screen_file(screener, folder / name)
        except AssetScreenError as exc:
            report.errors.append({"file": name, "error": str(exc)})
            continue
        t_total += time.perf_counter() - t0
        got = predicted_kinds(verdict, screener.policy)
        for kind, counts in report.kinds.items():
            exp, pred = kind in truth, kind in got
            counts.add(exp, pred)
            if exp != pred:
                report.misclassified.append({"file": name, "kind": kind, "expected": exp, "predicted": pred})
        exp_post = bool(truth & OFFICIAL_ASSET_KINDS)
        pred_post = verdict.decision != DecisionLevel.CLEAR
        report.post.add(exp_post, pred_post)
        if exp_post != pred_post:
            report.misclassified.append({"file": name, "kind": "post", "expected": exp_post, "predicted": pred_post})
    report.seconds = t_total
    return report
