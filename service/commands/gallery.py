"""`assetscreen gallery add|list`: the emblem gallery the insignia detector matches against.

`add` checks the image can be described (enough keypoints), stores it as PNG in <data_dir>/gallery/ and
records it in that folder's gallery.yaml, as an emblem (insignia) or, with `--kind office_setting`, as an
office fixture such as the Quaid-e-Azam portrait (supporting evidence only). The shipped stand-in drawings
stay in detectors/data/gallery/. The detector indexes all galleries once when it is built, so restart a
running service after adding emblems.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import cv2
import yaml

from detectors.config import validate_model
from detectors.errors import BadInput, ConfigError
from detectors.insignia import (
    GALLERY_INDEX,
    GalleryFile,
    GalleryItem,
    InsigniaOptions,
    describe_emblem,
    gallery_dirs,
    read_gallery_file,
)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _settings_and_options(args: argparse.Namespace) -> tuple[Any, InsigniaOptions]:
    from service.settings import Settings

    settings = Settings.load(getattr(args, "config", None))
    opts = validate_model(InsigniaOptions, settings.options_for("insignia"), "detector_options.insignia")
    return settings, opts


def cmd_add(args: argparse.Namespace) -> int:
    from service.media import read_file

    if not _NAME_RE.match(args.name):
        raise BadInput(f"emblem name {args.name!r}: use letters, digits, '_', '-' or '.', at most 64 characters")
    settings, opts = _settings_and_options(args)
    target = Path(args.dir) if args.dir else Path(settings.data_dir) / "gallery"
    names = {item.name for d in gallery_dirs(settings, opts) for item in read_gallery_file(d)}
    if args.name in names and not args.replace:
        raise BadInput(f"an emblem named {args.name!r} is already in the gallery (use --replace)")
    rgb = read_file(args.image).frames[0].rgb
    try:
        _, points, _ = describe_emblem(rgb)
    except ConfigError as exc:
        raise BadInput(f"{args.image}: {exc}") from None
    target.mkdir(parents=True, exist_ok=True)
    file = f"{args.name}.png"
    if not cv2.imwrite(str(target / file), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise BadInput(f"cannot write {target / file}")
    items = [i for i in read_gallery_file(target) if i.name != args.name]
    items.append(GalleryItem(name=args.name, file=file, body=args.body or args.name, kind=args.kind))
    doc = GalleryFile(emblems=items).model_dump()
    (target / GALLERY_INDEX).write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    print(f"added {args.name} ({args.kind}, {len(points)} keypoints) to {target / GALLERY_INDEX}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    settings, opts = _settings_and_options(args)
    total = 0
    for d in gallery_dirs(settings, opts):
        items = read_gallery_file(d)
        print(f"{d} ({len(items)} emblem(s){'' if (d / GALLERY_INDEX).is_file() else ', no gallery.yaml'})")
        for item in items:
            print(f"  {item.name}\t{item.kind}\t{item.file}\t{item.body}")
        total += len(items)
    print(f"{total} emblem(s) in all")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("gallery", help="the emblem gallery the insignia detector matches against")
    sub = p.add_subparsers(dest="gallery_command", required=True)

    a = sub.add_parser("add", help="add an emblem image under a name")
    a.add_argument("name", help="short id, e.g. sindh_police")
    a.add_argument("image", type=Path)
    a.add_argument("--body", help="the body it belongs to, shown in evidence (e.g. 'Sindh Police')")
    a.add_argument(
        "--kind",
        choices=["insignia", "office_setting"],
        default="insignia",
        help="insignia: an emblem, seal or logo (default); office_setting: an office fixture reported as "
        "supporting evidence only, e.g. the Quaid-e-Azam portrait",
    )
    a.add_argument("--dir", type=Path, help="gallery folder (default: <data_dir>/gallery)")
    a.add_argument("--replace", action="store_true")
    a.add_argument("--config", type=Path, help="settings YAML (for data_dir and insignia options)")
    a.set_defaults(func=cmd_add)

    ls = sub.add_parser("list", help="list gallery emblems")
    ls.add_argument("--config", type=Path)
    ls.set_defaults(func=cmd_list)
