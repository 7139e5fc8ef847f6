"""Agreement between two independent labelling passes: Cohen's kappa per kind, and the rows that differ.

    python -m datasets.train.agreement datasets/train/manifest.csv datasets/train/second_pass.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

KINDS = ("gov_vehicle", "uniform", "insignia", "flag_only", "document", "official_document", "person", "vehicle")
IMPLIES = {"gov_vehicle": "vehicle", "uniform": "person", "official_document": "document"}


def kinds_of(text: str) -> set[str]:
    k = {x.strip() for x in text.split(",") if x.strip()}
    return k | {IMPLIES[x] for x in k if x in IMPLIES}


def kappa(a: list[bool], b: list[bool]) -> float:
    n = len(a)
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("first", type=Path)
    ap.add_argument("second", type=Path)
    args = ap.parse_args(argv)
    first = {r["file"]: r for r in csv.DictReader(args.first.open(encoding="utf-8", newline=""))}
    second = {r["file"]: r for r in csv.DictReader(args.second.open(encoding="utf-8", newline=""))}
    both = sorted(set(first) & set(second))
    print(f"photos labelled twice: {len(both)}")
    print(f"{'kind':<18} {'kappa':>6} {'agree':>6} {'first+':>6} {'second+':>7}")
    for k in KINDS:
        a = [k in kinds_of(first[f]["kinds"]) for f in both]
        b = [k in kinds_of(second[f]["kinds"]) for f in both]
        agree = sum(x == y for x, y in zip(a, b, strict=True))
        print(f"{k:<18} {kappa(a, b):>6.3f} {agree:>6} {sum(a):>6} {sum(b):>7}")
    pa = [first[f]["pakistani"] for f in both]
    pb = [second[f]["pakistani"] for f in both]
    print(f"pakistani (y/n/unsure) exact agreement: {sum(x == y for x, y in zip(pa, pb, strict=True))}/{len(both)}")
    print("disagreements (file: first | second):")
    for f in both:
        ka, kb = kinds_of(first[f]["kinds"]), kinds_of(second[f]["kinds"])
        if ka != kb:
            print(f"  {f}: {','.join(sorted(ka))} | {','.join(sorted(kb))}  [{first[f]['note']}] [{second[f]['note']}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
