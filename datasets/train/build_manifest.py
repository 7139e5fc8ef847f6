"""Merge labelled collection sheets into `datasets/train/manifest.csv`, dropping near-duplicates.

    python -m datasets.train.build_manifest PARTS.csv... --photos /data/trainphotos [--against ../shared/eval] \
        [--resolutions datasets/train/resolutions.csv]

Each input sheet has the manifest's columns (file, repo, commit, path, sha256, licence, kinds, pakistani, note,
group, boxes) and the photos lie under --photos. The script checks every file's sha256, normalises the kinds
(gov_vehicle implies vehicle, uniform implies person, official_document implies document; unknown kinds are an
error naming the row), and keeps one photo of every set of near-identical ones: the project's 256-bit DCT hash
(detectors.hashes.phash256, Hamming distance <= 24 of 256: looser than the known-image detector's 18, so more
near-copies go) within
the set and against the photos of --against (the evaluation folder, so no photo is both a training photo and
an evaluation photo). What it drops is printed with the reason.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from pathlib import Path

import cv2
import numpy as np

from detectors.hashes import phash256

COLUMNS = ["file", "repo", "commit", "path", "sha256", "licence", "kinds", "pakistani", "note", "group", "boxes"]
KINDS = {"gov_vehicle", "uniform", "insignia", "flag_only", "document", "official_document", "person", "vehicle"}
IMPLIES = {"gov_vehicle": "vehicle", "uniform": "person", "official_document": "document"}
NEAR = 24


def photo_hash(path: Path) -> np.ndarray | None:
    """The photo's hash, decoded the way screening decodes it; None when the service cannot read it (an AVIF
    file named .jpeg, say): such a photo would only ever be an error line."""
    from detectors.errors import AssetScreenError
    from service.media import read_file

    try:
        rgb = read_file(path).frames[0].rgb
    except AssetScreenError:
        return None
    if min(rgb.shape[:2]) < 16:
        return None
    return phash256(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parts", nargs="+", type=Path)
    ap.add_argument("--photos", type=Path, required=True)
    ap.add_argument("--against", type=Path, action="append", default=[])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "manifest.csv")
    ap.add_argument("--resolutions", type=Path, help="CSV file,kinds,reason: labels settled after a second pass")
    args = ap.parse_args(argv)
    resolved: dict[str, str] = {}
    if args.resolutions:
        with args.resolutions.open(encoding="utf-8", newline="") as fh:
            resolved = {r["file"]: r["kinds"] for r in csv.DictReader(fh)}

    seen: list[np.ndarray] = []
    for folder in args.against:
        for p in sorted(folder.glob("*")):
            if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp", ".bmp"}:
                h = photo_hash(p)
                if h is not None:
                    seen.append(h)
    n_against = len(seen)
    kept: list[dict[str, str]] = []
    shas: set[str] = set()
    dropped: list[tuple[str, str]] = []
    for part in args.parts:
        with part.open(encoding="utf-8", newline="") as fh:
            for lineno, row in enumerate(csv.DictReader(fh), start=2):
                row = {c: (row.get(c) or "").strip() for c in COLUMNS}
                if row["file"] in resolved:
                    row["kinds"] = resolved[row["file"]]
                kinds = {k.strip() for k in row["kinds"].split(",") if k.strip()}
                unknown = kinds - KINDS
                if unknown:
                    raise SystemExit(f"{part}:{lineno}: unknown kinds {sorted(unknown)}")
                kinds |= {IMPLIES[k] for k in kinds if k in IMPLIES}
                row["kinds"] = ",".join(sorted(kinds))
                if row["pakistani"] not in {"y", "n", "unsure"}:
                    raise SystemExit(f"{part}:{lineno}: pakistani must be y, n or unsure")
                path = args.photos / row["file"]
                if not path.is_file():
                    dropped.append((row["file"], "photo not found"))
                    continue
                data = path.read_bytes()
                if hashlib.sha256(data).hexdigest() != row["sha256"]:
                    dropped.append((row["file"], "sha256 differs from the sheet"))
                    continue
                if row["sha256"] in shas:
                    dropped.append((row["file"], "byte-identical duplicate"))
                    continue
                h = photo_hash(path)
                if h is None:
                    dropped.append((row["file"], "not decodable"))
                    continue
                if seen:
                    d = np.count_nonzero(np.stack(seen) != h, axis=1)
                    j = int(d.argmin())
                    if d[j] <= NEAR:
                        what = "an evaluation photo" if j < n_against else kept[j - n_against]["file"]
                        dropped.append((row["file"], f"near-copy (distance {int(d[j])}) of {what}"))
                        continue
                seen.append(h)
                shas.add(row["sha256"])
                kept.append(row)
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(sorted(kept, key=lambda r: r["file"]))
    print(f"kept {len(kept)} photos, dropped {len(dropped)}; wrote {args.out}")
    for f, why in dropped:
        print(f"  dropped {f}: {why}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
