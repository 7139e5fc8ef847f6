"""`assetscreen dataset export --out DIR`: reviewed results as a labelled folder for `assetscreen train heads`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def cmd_export(args: argparse.Namespace) -> int:
    from service.learning import export_dataset
    from service.settings import Settings
    from service.store import open_store

    s = Settings.load(args.config)
    summary = export_dataset(open_store(s.store.url, s.data_dir), args.out, heldout_share=args.heldout)
    print(json.dumps(summary.to_dict()))
    if summary.without_image:
        print(f"note: {summary.without_image} reviewed image(s) have no original kept (retention.originals is "
              "off): they are not in the export")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("dataset", help="datasets from review decisions")
    d = p.add_subparsers(dest="dataset_cmd", required=True)
    q = d.add_parser("export", help="reviewed results -> labels.csv (+ train.csv, heldout.csv), images, yolo/")
    q.add_argument("--out", type=Path, required=True)
    q.add_argument("--heldout", type=float, default=0.2, help="share of results held back (by result id hash)")
    q.add_argument("--config", type=Path)
    q.set_defaults(func=cmd_export)
