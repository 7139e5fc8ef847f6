"""`assetscreen captions evaluate`: measure the caption detector, as configured, on labelled caption CSVs.

    assetscreen captions evaluate datasets/captions/batches/b02_dc_office.csv [MORE.csv ...] [--json]
    assetscreen captions evaluate datasets/captions/captions.csv --split heldout

Each file has the columns id, lang, labels, text (others are ignored); labels is a `;`-separated subset of
glorification, disclosure, political, disparaging, empty for none. `--split NAME` keeps the rows whose `split`
column equals NAME in files that have one. The caption detector is built from the settings (`--config`), so
`detector_options.caption` (min_score, lexicons, group list, model) applies; a signal counts as predicted when
the detector emits evidence for it. The table gives tp fp fn precision recall f1 support per signal, "post (any)"
(any signal), and any-signal per caption language; `--json` prints one object shaped like
`assetscreen evaluate --json` ("kinds" = the four signals, "post" = any signal, plus "languages").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from detectors.caption import CaptionReport, CaptionRow, measure, read_caption_dataset
from detectors.errors import BadInput


def _detector(config: Path | None) -> Any:
    from detectors.base import DetectorRegistry
    from service.settings import Settings

    return DetectorRegistry.factory("caption")(Settings.load(config))


def evaluate_files(files: list[Path], *, split: str | None = None, config: Path | None = None) -> CaptionReport:
    rows: list[CaptionRow] = []
    for path in files:
        if not path.is_file():
            raise BadInput(f"caption file not found: {path}")
        rows += read_caption_dataset(path, split)
    if not rows:
        raise BadInput("no captions to evaluate" + (f" (no rows with split {split!r})" if split else ""))
    detector = _detector(config)
    return measure(lambda text: {e.kind for e in detector.detect_text(text)}, rows)


def cmd_evaluate(args: argparse.Namespace) -> int:
    report = evaluate_files(args.files, split=args.split, config=args.config)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
        return 0
    print(report.table())
    if args.errors:
        print("misclassified:")
        for m in report.misclassified:
            print(f"  {m['file']}: {m['kind']} expected={m['expected']} predicted={m['predicted']}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("captions", help="caption signals: measure the caption detector on labelled CSVs")
    sub = p.add_subparsers(dest="captions_command", required=True)
    q = sub.add_parser("evaluate", help="per-signal, any-signal and per-language precision/recall")
    q.add_argument("files", nargs="+", type=Path, help="CSV files with id,lang,labels,text")
    q.add_argument("--split", help="only rows whose split column equals this (files with a split column)")
    q.add_argument("--json", action="store_true", help="print exactly one JSON object")
    q.add_argument("--errors", action="store_true", help="list misclassified caption ids (never their text)")
    q.add_argument("--config", type=Path, help="settings YAML (default: built-in defaults)")
    q.set_defaults(func=cmd_evaluate)
