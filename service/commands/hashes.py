"""`assetscreen hashes add|list|remove`: the operator's register of known images (leaked documents, posts
already actioned). The store lives in the data directory (see detectors.hashes); the running service reads it
when its detectors are built, so restart it after changes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from detectors.errors import BadInput
from detectors.hashes import HashStore, store_path


def _store(args: argparse.Namespace) -> HashStore:
    from service.settings import Settings

    settings = Settings.load(getattr(args, "config", None))
    return HashStore(store_path(settings))


def cmd_add(args: argparse.Namespace) -> int:
    from service.media import read_file

    store = _store(args)
    media = read_file(args.file)
    if len(media.frames) != 1:
        raise BadInput(f"{args.file}: register a still image (this file has {len(media.frames)} frames)")
    item = store.add(args.id, media.frames[0].rgb, args.note or "", replace=args.replace)
    print(f"registered {item.item_id} ({len(item.hashes)} hashes) in {store.path}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    items = store.load()
    if args.json:
        rows: list[dict[str, Any]] = [{"id": i.item_id, "note": i.note, "added": i.added} for i in items]
        print(json.dumps({"store": str(store.path), "items": rows}, indent=1))
        return 0
    print(f"{len(items)} known image(s) in {store.path}")
    for i in items:
        print(f"  {i.item_id}\t{i.added}\t{i.note}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    store = _store(args)
    if not store.remove(args.id):
        raise BadInput(f"no known image with id {args.id!r} in {store.path}")
    print(f"removed {args.id} from {store.path}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("hashes", help="register images to recognise again (perceptual hashes)")
    sub = p.add_subparsers(dest="hashes_command", required=True)

    a = sub.add_parser("add", help="hash an image and register it under an id")
    a.add_argument("file", type=Path)
    a.add_argument("--id", required=True, help="the item's id (e.g. a case or post number)")
    a.add_argument("--note", help="free text shown with a match")
    a.add_argument("--replace", action="store_true", help="replace an item with the same id")
    a.add_argument("--config", type=Path, help="settings YAML (for data_dir)")
    a.set_defaults(func=cmd_add)

    ls = sub.add_parser("list", help="list registered items")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--config", type=Path)
    ls.set_defaults(func=cmd_list)

    r = sub.add_parser("remove", help="remove a registered item")
    r.add_argument("id")
    r.add_argument("--config", type=Path)
    r.set_defaults(func=cmd_remove)
