"""Review: the queue of flagged results and the decisions reviewers make on them, which teach the example bank at
once (no retraining): a confirmed or corrected kind becomes an example of that kind, a dismissal a negative
example, each from the image embedding kept with the result (never the photo itself).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from detectors.config import Strict
from detectors.errors import BadInput
from detectors.evidence import OFFICIAL_ASSET_KINDS
from detectors.recognition.bank import NEGATIVE, ExampleBank
from service.store import ResultRecord, ReviewDecision, Store, new_id, stamp

QUEUE_DECISIONS = ("review", "violation")


class BoxIn(Strict):
    image: int = Field(0, ge=0, le=100)
    kind: str
    box: tuple[float, float, float, float]


class DecisionIn(Strict):
    decision: Literal["confirm", "dismiss", "correct"]
    kinds: list[str] = Field(default_factory=list, max_length=8)
    boxes: list[BoxIn] = Field(default_factory=list, max_length=50)
    note: str = Field("", max_length=2000)


def flagged_kinds(rec: ResultRecord) -> set[str]:
    """Official kinds behind the result's non-clear findings."""
    evidence = rec.verdict.get("evidence", [])
    out: set[str] = set()
    for f in rec.verdict.get("findings", []):
        if f.get("decision") == "clear":
            continue
        out |= {evidence[i]["kind"] for i in f.get("evidence", []) if 0 <= i < len(evidence)}
    return out & OFFICIAL_ASSET_KINDS


def _image_kinds(rec: ResultRecord) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for e in rec.verdict.get("evidence", []):
        if e.get("image_index") is not None:
            out.setdefault(int(e["image_index"]), set()).add(e["kind"])
    return out


def record_decision(
    store: Store, bank: ExampleBank | None, rec: ResultRecord, reviewer: str, body: DecisionIn
) -> ReviewDecision:
    """Store a reviewer's decision, teach the example bank, and write the audit log."""
    unknown = sorted(set(body.kinds) - OFFICIAL_ASSET_KINDS) + sorted(
        {b.kind for b in body.boxes} - OFFICIAL_ASSET_KINDS
    )
    if unknown:
        raise BadInput(f"unknown kinds {unknown}; official kinds: {sorted(OFFICIAL_ASSET_KINDS)}")
    if body.decision == "confirm":
        kinds = sorted(set(body.kinds) or flagged_kinds(rec))
    elif body.decision == "correct":
        kinds = sorted(set(body.kinds) | {b.kind for b in body.boxes})
    else:
        if body.kinds:
            raise BadInput("a dismissal carries no kinds (use correct to change them)")
        kinds = []
    n_images = max(len(rec.image_sha256), 1)
    for b in body.boxes:
        x1, y1, x2, y2 = b.box
        if b.image >= n_images or not (0 <= x1 < x2 and 0 <= y1 < y2):
            raise BadInput(f"box {list(b.box)} on image {b.image} is not a valid xyxy box in the post")

    added: list[str] = []
    if bank is not None:
        per_image = _image_kinds(rec)
        boxed: dict[int, set[str]] = {}
        for b in body.boxes:
            boxed.setdefault(b.image, set()).add(b.kind)
        for idx in range(n_images):
            found = store.get_image(rec.id, idx, "embedding")
            if found is None:
                continue
            vector = np.frombuffer(found[0], dtype=np.float32)
            if kinds:
                # the decision's kinds seen on this image (by its evidence or a drawn box); a kind seen on no
                # image of the post (a correction adding it) is taken to be on every image
                seen_anywhere = set().union(*per_image.values(), *boxed.values()) if per_image or boxed else set()
                mine = [k for k in kinds if k in per_image.get(idx, set()) | boxed.get(idx, set())
                        or k not in seen_anywhere]
            else:
                mine = []
            note = f"{body.decision} of {rec.id} image {idx} by {reviewer}"
            for k in mine or ([NEGATIVE] if not kinds else []):
                added.append(bank.add(k, vector, note=note, sha256=(rec.image_sha256 or ("",))[0]).id)
    d = ReviewDecision(
        id=new_id("d"), result_id=rec.id, reviewer=reviewer, decision=body.decision, kinds=tuple(kinds),
        boxes=tuple(b.model_dump() for b in body.boxes), note=body.note, examples=tuple(added), created_at=stamp(),
    )
    store.add_decision(d)
    store.audit(reviewer, f"decision.{body.decision}", rec.id,
                {"decision_id": d.id, "kinds": kinds, "boxes": len(body.boxes), "examples": added,
                 "note": body.note[:200]})
    return d


def review_queue(
    store: Store, *, order: str = "newest", rule: str | None = None, kind: str | None = None,
    include_decided: bool = False, limit: int = 50, scan: int = 2000,
) -> list[dict[str, Any]]:
    """Non-clear results awaiting a decision, newest or highest score first, filtered by rule and kind."""
    rows: list[ResultRecord] = []
    for decision in QUEUE_DECISIONS:
        rows += store.list_results(decision=decision, limit=scan)
    decided = {d.result_id for d in store.list_decisions()} if not include_decided else set()
    items = []
    for r in rows:
        if r.id in decided:
            continue
        rules = {f["rule_id"] for f in r.verdict.get("findings", [])}
        kinds = {e["kind"] for e in r.verdict.get("evidence", [])}
        if (rule and rule not in rules) or (kind and kind not in kinds):
            continue
        items.append(r)
    key = (lambda r: (r.score, r.created_at)) if order == "score" else (lambda r: (r.created_at, r.score))
    items.sort(key=key, reverse=True)
    return [{**r.to_dict(), "flagged_kinds": sorted(flagged_kinds(r))} for r in items[:limit]]
