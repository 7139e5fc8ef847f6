"""`assetscreen train heads`: fit the learned heads on labelled folders and print the grouped-CV table.

    assetscreen train heads --data ../shared/eval --labels ../shared/eval/labels.csv \
        --data /data/train --labels datasets/train/labels.csv --exclude datasets/eval_guard_flagged.txt \
        --out weights/heads.json

Needs the `train` (or `dev`) extra for scikit-learn. Features are cached under the data folder (`features/`),
keyed by file sha256 and the versions of every model and detector, so a rerun after adding photos only
computes the new ones.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from detectors.errors import BadInput


def _exclusions(paths: list[Path] | None) -> set[str]:
    out: set[str] = set()
    for p in paths or []:
        if not p.is_file():
            raise BadInput(f"exclusion list not found: {p}")
        out |= {line.split("#")[0].strip() for line in p.read_text(encoding="utf-8").splitlines()} - {""}
    return out


def cmd_heads(args: argparse.Namespace) -> int:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise BadInput("training needs scikit-learn: pip install -e '.[train]'") from None
    from service.settings import Settings
    from service.training import cv_report, train_heads

    if len(args.data) != len(args.labels):
        raise BadInput("give one --labels per --data folder")
    settings = Settings.load(args.config)
    pairs = [(Path(d), Path(lab)) for d, lab in zip(args.data, args.labels, strict=True)]
    quiet = args.json or not sys.stderr.isatty()

    def progress(i: int, n: int, name: str) -> None:
        if not quiet or i % 100 == 0 or i == n:
            print(f"\rfeatures {i}/{n} {name[:60]:<60}", end="" if not quiet else "\n", file=sys.stderr, flush=True)

    cache = None if args.no_cache else Path(settings.data_dir) / "features"
    samples, result, errors = train_heads(
        settings,
        pairs,
        exclude=_exclusions(args.exclude),
        cache_root=cache,
        seed=args.seed,
        log=None if args.json else (lambda m: print(m, file=sys.stderr)),
        progress=progress,
        workers=args.workers,
    )
    print(file=sys.stderr)
    out = Path(args.out)
    result.heads.save(out)
    report = cv_report(samples, result)
    report.errors = errors
    if args.oof:
        with open(args.oof, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "group", "labels", *result.oof])
            for i, s in enumerate(samples):
                probs = [f"{result.oof[k][i]:.4f}" for k in result.oof]
                writer.writerow([s.name, s.group, ",".join(sorted(s.kinds)), *probs])
    if args.json:
        d: dict[str, Any] = report.to_dict()
        d.pop("misclassified")
        d["thresholds"] = result.thresholds
        d["heads"] = {k: {**h.cv, **h.params, "blocks": list(h.blocks)} for k, h in result.heads.heads.items()}
        d["version"] = result.heads.version
        d["out"] = str(out)
        print(json.dumps(d, indent=1))
    else:
        d = report.to_dict()
        print(f"grouped cross-validation ({result.heads.recipe['folds']} folds by source, "
              f"{len({s.group for s in samples})} groups), out-of-fold, at each head's threshold:")
        lines = report.table().split("\nmisclassified:")[0].splitlines()[:-1]
        # Only kinds with a head were predicted here (plain documents stay with the documents detector).
        print("\n".join(ln for ln in lines if ln.split(" ")[0] in {"kind", "POST", *result.oof}))
        print(f"photos: {len(samples)}  errors: {len(errors)}")
        for k, h in result.heads.heads.items():
            print(f"  {k:<18} blocks={'+'.join(h.blocks):<34} C={h.params['C']:<6} AP={h.cv['ap']:.3f} "
                  f"threshold={h.cv['threshold']}")
        print(f"wrote {out} ({result.heads.version})")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("train", help="fit learned parts on labelled photos")
    sub = p.add_subparsers(dest="train_command", required=True)
    q = sub.add_parser("heads", help="fit the per-kind heads; prints the grouped-CV table")
    q.add_argument("--data", action="append", required=True, help="folder of photos (repeatable)")
    q.add_argument("--labels", action="append", required=True, help="its labels.csv (one per --data)")
    q.add_argument("--exclude", action="append", type=Path, help="file listing photo names to leave out")
    q.add_argument("--out", default="weights/heads.json")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--config", type=Path)
    q.add_argument("--oof", help="write the out-of-fold probabilities to this CSV")
    q.add_argument("--no-cache", action="store_true", help="recompute every feature")
    q.add_argument("--workers", type=int, default=1, help="processes computing features (each loads the models)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_heads)
