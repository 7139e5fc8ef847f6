"""Learning in batches: reviewed results -> a labelled folder -> new heads -> compared with the current ones on a
held-back split -> promoted into weights/ only if they do not regress.

- `export_dataset`: the latest decision per result becomes a row of `labels.csv` (the format of
  `../shared/eval/labels.csv`, plus `split`, `group`, `result_id`, `decision`), with the original image when
  retention kept it, and YOLO-format boxes (the reviewer's drawn boxes, else the evidence boxes of the decided
  kinds). The split is fixed by the result id's hash, so a result never moves between train and held-back.
- `compare_heads`: the same folder screened with the current and with the candidate heads.
- `promote_heads`: installs the candidate as weights/heads.json (the old one kept beside it), pins its sha256 in
  weights/manifest.toml and writes the audit log, only when post-level F1 and recall do not drop by more than
  the tolerance.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detectors.errors import BadInput
from detectors.evidence import OFFICIAL_ASSET_KINDS
from service.store import ResultRecord, ReviewDecision, Store

YOLO_CLASSES = ("gov_vehicle", "uniform", "insignia", "official_document")


def heldout(result_id: str, share: float) -> bool:
    return int(hashlib.sha256(result_id.encode()).hexdigest()[:8], 16) % 10_000 < share * 10_000


def _ext(data: bytes) -> str:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp",
                    "TIFF": ".tif"}.get(im.format or "", ".bin")
    except Exception:
        return ".bin"


@dataclass
class ExportSummary:
    decisions: int = 0
    rows: int = 0
    images: int = 0
    without_image: int = 0
    boxes: int = 0
    heldout: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _image_kinds(rec: ResultRecord, d: ReviewDecision, idx: int, n_images: int) -> set[str]:
    kinds = set(d.kinds) & OFFICIAL_ASSET_KINDS
    if n_images <= 1:
        return kinds
    seen = {e["kind"] for e in rec.verdict.get("evidence", []) if e.get("image_index") == idx}
    seen |= {b["kind"] for b in d.boxes if b.get("image") == idx}
    anywhere = {e["kind"] for e in rec.verdict.get("evidence", [])} | {b["kind"] for b in d.boxes}
    return {k for k in kinds if k in seen or k not in anywhere}


def _yolo_lines(rec: ResultRecord, d: ReviewDecision, idx: int, kinds: set[str]) -> list[str]:
    sizes = rec.verdict.get("images") or []
    if idx >= len(sizes):
        return []
    w, h = float(sizes[idx]["width"]), float(sizes[idx]["height"])
    drawn = [(b["kind"], b["box"]) for b in d.boxes if b.get("image") == idx]
    boxes = drawn or [
        (e["kind"], e["box"]) for e in rec.verdict.get("evidence", [])
        if e.get("image_index") == idx and e.get("box") and e["kind"] in kinds and e["detector"] != "recognition"
    ]
    lines = []
    for kind, (x1, y1, x2, y2) in boxes:
        if kind not in YOLO_CLASSES:
            continue
        cx, cy, bw, bh = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h
        lines.append(f"{YOLO_CLASSES.index(kind)} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}")
    return lines


def export_dataset(store: Store, out: Path, *, heldout_share: float = 0.2) -> ExportSummary:
    """Write the reviewed results under `out` (labels.csv, the images, yolo/). Returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    latest: dict[str, ReviewDecision] = {}
    decisions = store.list_decisions()
    for d in decisions:
        latest[d.result_id] = d  # in time order: the last decision on a result stands
    summary = ExportSummary(decisions=len(decisions))
    (out / "yolo" / "labels").mkdir(parents=True, exist_ok=True)
    (out / "yolo" / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for result_id, d in sorted(latest.items()):
        rec = store.get_result(result_id)
        if rec is None:
            continue
        n = max(len(rec.image_sha256), 1)
        split = "heldout" if heldout(result_id, heldout_share) else "train"
        for idx in range(len(rec.image_sha256)):
            kinds = _image_kinds(rec, d, idx, n)
            found = store.get_image(rec.id, idx, "original")
            if found is None:
                summary.without_image += 1
                continue
            name = f"{rec.id}_{idx}{_ext(found[0])}"
            (out / name).write_bytes(found[0])
            summary.images += 1
            rows.append({"file": name, "kinds": ",".join(sorted(kinds)), "split": split, "group": rec.id,
                         "result_id": rec.id, "decision": d.decision, "reviewer": d.reviewer})
            summary.heldout += split == "heldout"
            lines = _yolo_lines(rec, d, idx, kinds)
            summary.boxes += len(lines)
            target = out / "yolo" / "images" / name
            if not target.exists():
                shutil.copyfile(out / name, target)
            (out / "yolo" / "labels" / f"{Path(name).stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    summary.rows = len(rows)
    fields = ["file", "kinds", "split", "group", "result_id", "decision", "reviewer"]
    for name, keep in (("labels.csv", None), ("train.csv", "train"), ("heldout.csv", "heldout")):
        with (out / name).open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            w.writerows(r for r in rows if keep is None or r["split"] == keep)
    (out / "yolo" / "data.yaml").write_text(
        "path: .\ntrain: images\nval: images\nnames:\n" + "".join(f"  {i}: {k}\n" for i, k in enumerate(YOLO_CLASSES))
    )
    (out / "export.json").write_text(json.dumps(summary.to_dict(), indent=1))
    return summary


# --- compare and promote -----------------------------------------------------------------------------------------


def compare_heads(
    settings: Any, folder: Path, labels: dict[str, set[str]], candidate: Path,
    *, detectors: list[str] | None = None, progress: Callable[[str], None] | None = None,
) -> tuple[Any, Any]:
    """Evaluation reports (current heads, candidate heads) on the same labelled folder."""
    from service.evaluation import evaluate
    from service.screener import Screener

    if not Path(candidate).is_file():
        raise BadInput(f"candidate heads not found: {candidate}")
    overrides = {"detectors": detectors} if detectors else {}
    current_settings = settings.model_copy(update=overrides)
    cand_settings = settings.model_copy(update={
        **overrides, "recognition": settings.recognition.model_copy(update={"heads": Path(candidate)})})
    reports = []
    for s in (current_settings, cand_settings):
        reports.append(evaluate(Screener(s), folder, labels, progress=progress))
    return reports[0], reports[1]


def regressions(current: Any, candidate: Any, tolerance: float) -> list[str]:
    """What got worse by more than `tolerance`: post-level F1 or recall, or the F1 of any official kind the
    held-back photos hold. Empty when nothing did."""
    cur_d, cand_d = current.to_dict(), candidate.to_dict()
    out = []
    for metric in ("f1", "recall"):
        a, b = cur_d["post"][metric], cand_d["post"][metric]
        if b < a - tolerance:
            out.append(f"post {metric} {b:.3f} < current {a:.3f} - {tolerance}")
    for kind in sorted(OFFICIAL_ASSET_KINDS):
        a_k, b_k = cur_d["kinds"].get(kind), cand_d["kinds"].get(kind)
        if a_k and b_k and a_k.get("support", 0) and b_k["f1"] < a_k["f1"] - tolerance:
            out.append(f"{kind} F1 {b_k['f1']:.3f} < current {a_k['f1']:.3f} - {tolerance}")
    return out


def promote_heads(candidate: Path, weights_dir: Path, store: Store | None, actor: str,
                  detail: dict[str, Any]) -> dict[str, str]:
    """Install `candidate` as weights/heads.json and pin it in the manifest; the previous file is kept as
    heads-<its version>.json. Returns {version, sha256, previous}."""
    from detectors.recognition.heads import HeadSet

    new = HeadSet.load(candidate)  # refuses a file that is not a heads file
    target = weights_dir / "heads.json"
    manifest = weights_dir / "manifest.toml"
    if not manifest.is_file():
        raise BadInput(f"no manifest.toml in {weights_dir}")
    previous = ""
    if target.is_file():
        previous = HeadSet.load(target).version
        shutil.copyfile(target, weights_dir / f"heads-{previous}.json")
    data = Path(candidate).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    text = manifest.read_text(encoding="utf-8")
    section = re.search(r"(?ms)^\[models\.heads\]\n.*?(?=^\[|\Z)", text)
    if section is None or not re.search(r'(?m)^sha256 = "[0-9a-f]*"$', section.group(0)):
        raise BadInput(f"{manifest} has no [models.heads] entry with a sha256 to update")
    body = re.sub(r'(?m)^sha256 = "[0-9a-f]*"$', f'sha256 = "{sha}"', section.group(0), count=1)
    tmp_manifest = manifest.with_suffix(".toml.tmp")
    tmp_manifest.write_text(text[: section.start()] + body + text[section.end():], encoding="utf-8")
    tmp_heads = target.with_suffix(".json.tmp")
    tmp_heads.write_bytes(data)
    tmp_heads.replace(target)
    tmp_manifest.replace(manifest)
    if store is not None:
        store.audit(actor, "heads.promote", new.version, {"sha256": sha, "previous": previous, **detail})
    return {"version": new.version, "sha256": sha, "previous": previous}
