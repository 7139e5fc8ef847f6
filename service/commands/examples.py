"""`assetscreen examples add|list|remove`: teach recognition the operator's own uniforms, vehicles and emblems.

    assetscreen examples add --kind uniform sindh_police_1.jpg sindh_police_2.jpg --note "Sindh Police, black"
    assetscreen examples list [--json]
    assetscreen examples remove ex-0003

Each image is embedded with the shipped embedder and stored (the vector, the kind, a note, the image's sha256;
never the image) in the data folder's example bank. The next screening votes over it: no retraining. The
running service loads the bank when it starts, so restart it after changes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from detectors.errors import BadInput
from detectors.recognition.bank import BANK_KINDS, ExampleBank
from detectors.runtime.yolo import file_sha256


def _bank(args: argparse.Namespace) -> tuple[ExampleBank, Any]:
    from service.screener import example_bank
    from service.settings import Settings

    settings = Settings.load(getattr(args, "config", None))
    return example_bank(settings), settings


def cmd_add(args: argparse.Namespace) -> int:
    from detectors.runtime.mobilenet import shared_pretrained
    from service.media import read_file
    from service.settings import WEIGHTS_DIR

    bank, settings = _bank(args)
    models = shared_pretrained(WEIGHTS_DIR, settings.yolo.threads)
    for path in args.images:
        media = read_file(path, settings.media)
        if len(media.frames) != 1:
            raise BadInput(f"{path}: add a still image (this file has {len(media.frames)} frames)")
        vector = models.features(media.frames[0].rgb).embedding
        digest = file_sha256(path)
        ex = bank.add(args.kind, vector, note=args.note or Path(path).name, sha256=digest)
        print(f"added {ex.id} ({ex.kind}) from {path}")
    print(f"bank: {bank.describe()['examples']} example(s) in {bank.folder}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    bank, _ = _bank(args)
    rows = [e.to_dict() for e in bank.examples()]
    if args.json:
        print(json.dumps({**bank.describe(), "items": rows}, indent=1))
        return 0
    for r in rows:
        print(f"{r['id']}  {r['kind']:<18} {r['added']}  {r['note']}")
    d = bank.describe()
    print(f"{d['examples']} example(s) in {d['folder']}: {d['by_kind']}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    bank, _ = _bank(args)
    for ex_id in args.ids:
        ex = bank.remove(ex_id)
        print(f"removed {ex.id} ({ex.kind})")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("examples", help="the example bank: confirmed examples that recognition votes over")
    sub = p.add_subparsers(dest="examples_command", required=True)
    q = sub.add_parser("add", help="embed and store labelled example images")
    q.add_argument("--kind", required=True, choices=sorted(BANK_KINDS))
    q.add_argument("images", nargs="+", type=Path)
    q.add_argument("--note", default="")
    q.add_argument("--config", type=Path)
    q.set_defaults(func=cmd_add)
    q = sub.add_parser("list", help="list stored examples")
    q.add_argument("--json", action="store_true")
    q.add_argument("--config", type=Path)
    q.set_defaults(func=cmd_list)
    q = sub.add_parser("remove", help="remove examples by id")
    q.add_argument("ids", nargs="+")
    q.add_argument("--config", type=Path)
    q.set_defaults(func=cmd_remove)
