"""Seating (supporting evidence): chairs in a row or around a table, from the object detector's boxes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from detectors.insignia.config import (
    SeatingOptions,
)

# ----------------------------------------------------------------------------------------------- seating

CHAIR_LABELS = frozenset({"chair", "couch"})
TABLE_LABELS = frozenset({"dining table"})


@dataclass(frozen=True)
class Seating:
    box: tuple[float, float, float, float]
    arrangement: str  # "row" | "table"
    chairs: int  # chairs in the row; chairs and people at the table


def find_seating(detections: Sequence[Any], opts: SeatingOptions) -> list[Seating]:
    """Chairs set out in a row (a hall, a briefing) or around a table (a meeting), from object boxes.

    A row: chairs of one size (heights within 1.6x) whose seats stand at one level (bottoms within half a chair
    height), each within two chair widths of the next. A meeting table: chairs or people whose boxes touch the
    table's box and reach below its top edge. The furniture says nothing of whose office it is (a restaurant
    table passes too): it is supporting evidence only.
    """
    chairs = [d for d in detections if d.label in CHAIR_LABELS and d.score >= opts.min_score]
    tables = [d for d in detections if d.label in TABLE_LABELS and d.score >= opts.min_score]
    # Around a meeting table the chairs are mostly hidden by the people sitting on them.
    seated = chairs + [d for d in detections if d.label == "person" and d.score >= opts.min_score]
    if not chairs and not tables:
        return []
    out: list[Seating] = []

    def union(boxes: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))

    used: set[int] = set()
    order = sorted(range(len(chairs)), key=lambda i: chairs[i].box[0])
    for a in order:
        if a in used:
            continue
        row = [a]
        for b in order:
            if b in used or b in row:
                continue
            last, cand = chairs[row[-1]].box, chairs[b].box
            lh, ch = last[3] - last[1], cand[3] - cand[1]
            lw = last[2] - last[0]
            if cand[0] < last[0] or max(lh, ch) > 1.6 * max(min(lh, ch), 1.0):
                continue
            if abs(cand[3] - last[3]) <= 0.5 * max(lh, ch) and cand[0] - last[2] <= 2 * lw:
                row.append(b)
        if len(row) >= opts.min_row:
            used.update(row)
            out.append(Seating(union([chairs[i].box for i in row]), "row", len(row)))
    for table in tables:
        tx1, ty1, tx2, ty2 = table.box
        at = []
        for c in seated:
            x1, y1, x2, y2 = c.box
            # a chair or a sitter touches the table's box, their lower part level with or below its top
            grow = 0.25 * (x2 - x1)
            if x2 >= tx1 - grow and x1 <= tx2 + grow and y2 >= ty1 and y1 <= ty2:
                at.append(c.box)
        if len(at) >= opts.min_at_table:
            out.append(Seating(union([table.box, *at]), "table", len(at)))
    return out


