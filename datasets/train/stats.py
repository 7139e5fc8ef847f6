"""Counts of the training manifest for its README: per kind, per source, per licence, Pakistani share.

    python -m datasets.train.stats [datasets/train/manifest.csv]

A hard negative is a photo with none of the official-asset kinds that still shows what the detectors confuse
with them: a person, a vehicle, a flag or a document.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path

OFFICIAL = {"gov_vehicle", "uniform", "insignia", "official_document"}
KINDS = ("gov_vehicle", "uniform", "insignia", "official_document", "document", "flag_only", "person", "vehicle")


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    path = Path(args[0]) if args else Path(__file__).resolve().parent / "manifest.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    kinds = [set(filter(None, r["kinds"].split(","))) for r in rows]
    n = len(rows)
    pak = sum(r["pakistani"] == "y" for r in rows)
    hard = sum(1 for k in kinds if not k & OFFICIAL and k & {"person", "vehicle", "flag_only", "document"})
    print(f"photos: {n}; Pakistani: {pak} ({pak / n:.0%}); hard negatives: {hard}; "
          f"sources: {len({r['repo'] for r in rows})} repositories, {len({r['group'] for r in rows})} groups; "
          f"with boxes: {sum(bool(r['boxes']) for r in rows)}\n")
    print("| kind | photos | of them Pakistani |\n|---|---|---|")
    for k in KINDS:
        idx = [i for i, ks in enumerate(kinds) if k in ks]
        print(f"| {k} | {len(idx)} | {sum(rows[i]['pakistani'] == 'y' for i in idx)} |")
    print("\n| repository | licence | photos | gov_vehicle | uniform | insignia | official_document | Pakistani |")
    print("|---|---|---|---|---|---|---|---|")
    by_repo: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_repo.setdefault(r["repo"], []).append(i)
    for repo, idx in sorted(by_repo.items(), key=lambda kv: -len(kv[1])):
        c = Counter(k for i in idx for k in kinds[i])
        lic = Counter(rows[i]["licence"] for i in idx).most_common(1)[0][0]
        print(f"| {repo} | {lic} | {len(idx)} | {c['gov_vehicle']} | {c['uniform']} | {c['insignia']} | "
              f"{c['official_document']} | {sum(rows[i]['pakistani'] == 'y' for i in idx)} |")
    print("\n| licence | photos |\n|---|---|")
    for lic, cnt in Counter(r["licence"] for r in rows).most_common():
        print(f"| {lic} | {cnt} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
