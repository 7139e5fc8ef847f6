"""`assetscreen models list|fetch`: which models the project knows, which are here and intact, and getting them.

The redistributable models ship in `weights/` (and the wheel); the AGPL Ultralytics detectors are optional and
never shipped. Nothing downloads at run time (the service runs offline). `weights/manifest.toml` lists every
known model with its source and, where known, its sha256;
`list` shows present/missing and checks the hash; `fetch` downloads the Ultralytics `.pt` and exports it to ONNX
(needs the `train` extra and network access). Where either is missing it says so and how to provide the file
by hand, rather than failing obscurely later in a detector.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from detectors.errors import BadInput, ModelMissing
from detectors.runtime.manifest import MANIFEST_NAME, ModelEntry, load_manifest, model_status
from detectors.runtime.yolo import ENV_MODEL, file_sha256
from service.settings import WEIGHTS_DIR

MANIFEST = WEIGHTS_DIR / MANIFEST_NAME


def configured_model(args: argparse.Namespace) -> dict[str, Any]:
    from service.settings import Settings

    settings = Settings.load(getattr(args, "config", None))
    path = Path(settings.yolo.model)
    row: dict[str, Any] = {"file": str(path), "present": path.is_file()}
    if path.is_file():
        row["sha256"] = file_sha256(path)
    return row


def cmd_list(args: argparse.Namespace) -> int:
    """Every known model with its check; exit 3 when a shipped file is missing or fails its sha256."""
    entries = load_manifest(Path(args.manifest))
    weights_dir = Path(args.manifest).parent
    rows = [model_status(e, weights_dir) for e in entries.values()]
    current = configured_model(args)
    bad = [r for r in rows if not r["ok"]]
    if args.json:
        print(json.dumps({"models": rows, "configured": current, "ok": not bad}, indent=1))
    else:
        for e, row in zip(entries.values(), rows, strict=True):
            tag = "shipped" if e.shipped else "optional"
            print(f"{e.name:22s} {row['check']:34s} {tag:8s} {e.licence:24s} {row['file']}")
            if not row["present"]:
                print(f"{'':22s} get it: {row['how']}")
        state = "present" if current["present"] else "MISSING"
        print(f"\nconfigured yolo.model: {current['file']} ({state}; override with {ENV_MODEL}=/path/to/model.onnx)")
    if bad:
        names = ", ".join(f"{r['file']} ({r['check']})" for r in bad)
        raise ModelMissing(f"shipped model files missing or corrupt: {names}")
    return 0


def export_onnx(entry: ModelEntry, dest: Path) -> Path:
    """Download `entry.weights` through Ultralytics and export it to ONNX at `dest`."""
    try:
        from ultralytics import YOLO
    except ImportError:
        raise ModelMissing(
            f"fetching {entry.name} needs Ultralytics: pip install -e .[train]. Without it, export "
            f"{entry.weights} to ONNX elsewhere (yolo export model={entry.weights} format=onnx imgsz={entry.imgsz}) "
            f"and copy it to {dest}, or set {ENV_MODEL}"
        ) from None
    with tempfile.TemporaryDirectory() as tmp:
        pt = Path(tmp) / entry.weights
        try:
            model = YOLO(entry.weights if not pt.exists() else str(pt))  # Ultralytics downloads known names
            exported = Path(str(model.export(format="onnx", imgsz=entry.imgsz, dynamic=False, simplify=True)))
        except Exception as exc:  # network errors surface as many types inside Ultralytics
            raise ModelMissing(
                f"could not download or export {entry.name} from {entry.source}: {type(exc).__name__}: {exc}. "
                f"Where there is no network, copy an ONNX export of {entry.weights} to {dest}, or set {ENV_MODEL}"
            ) from None
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(exported), dest)
    return dest


def cmd_fetch(args: argparse.Namespace) -> int:
    entries = load_manifest(Path(args.manifest))
    if args.name not in entries or not entries[args.name].weights:
        fetchable = sorted(n for n, e in entries.items() if e.weights)
        raise BadInput(f"model {args.name!r} cannot be fetched; fetchable: {', '.join(fetchable)}")
    entry = entries[args.name]
    dest = Path(args.manifest).parent / entry.file
    if dest.is_file() and not args.force:
        row = model_status(entry, dest.parent)
        print(f"{entry.name}: {dest} already present ({row['check']}); use --force to fetch again")
        return 0
    export_onnx(entry, dest)
    row = model_status(entry, dest.parent)
    print(f"{entry.name}: exported to {dest} ({row['check']}), sha256 {row.get('sha256', '?')}")
    if not entry.sha256:
        print("record this sha256 in weights/manifest.toml to have `models list` check it")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    """Promote candidate heads into weights/ if they do not regress on the held-back labelled folder."""
    from service.evaluation import read_labels
    from service.learning import compare_heads, promote_heads, regressions
    from service.settings import WEIGHTS_DIR, Settings
    from service.store import open_store

    weights = Path(args.weights or WEIGHTS_DIR)
    loaded = Settings.load(args.config)
    # the heads to beat are the ones installed in the target weights folder
    settings = loaded.model_copy(update={"recognition": loaded.recognition.model_copy(
        update={"heads": weights / "heads.json"})})
    labels = read_labels(args.labels or args.data / "labels.csv")
    detectors = [d.strip() for d in args.detectors.split(",")] if args.detectors else None
    current, candidate = compare_heads(settings, args.data, labels, args.heads, detectors=detectors)
    worse = regressions(current, candidate, args.tolerance)
    cur, cand = current.to_dict()["post"], candidate.to_dict()["post"]
    print(f"held-back {args.data} ({current.n_images} photos): post F1 {cur['f1']:.3f} -> {cand['f1']:.3f}, "
          f"recall {cur['recall']:.3f} -> {cand['recall']:.3f}, precision {cur['precision']:.3f} -> "
          f"{cand['precision']:.3f}")
    if worse:
        print("not promoted: " + "; ".join(worse), file=sys.stderr)
        return 1
    store = open_store(settings.store.url, settings.data_dir)
    import getpass

    done = promote_heads(args.heads, weights, store, f"cli:{getpass.getuser()}",
                         {"heldout": str(args.data), "current_post": cur, "candidate_post": cand})
    print(f"promoted heads {done['version']} (sha256 {done['sha256'][:12]}...) replacing {done['previous']}; "
          "pinned in manifest.toml, recorded in the audit log")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("models", help="list, check and fetch object-detection models")
    sub = p.add_subparsers(dest="models_command", required=True)

    q = sub.add_parser("list", help="known models: present or missing, sha256 check")
    q.add_argument("--manifest", default=str(MANIFEST))
    q.add_argument("--config", type=Path)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_list)

    q = sub.add_parser("promote", help="install candidate heads if they do not regress on a held-back folder")
    q.add_argument("heads", type=Path, help="the candidate heads file (assetscreen train heads --out)")
    q.add_argument("--data", type=Path, required=True, help="held-back labelled folder")
    q.add_argument("--labels", type=Path, help="its labels.csv (default: DATA/labels.csv)")
    q.add_argument("--tolerance", type=float, default=0.01)
    q.add_argument("--detectors", help="comma-separated detectors for both runs (default: configured)")
    q.add_argument("--weights", type=Path, help="weights folder (default: the installed one)")
    q.add_argument("--config", type=Path)
    q.set_defaults(func=cmd_promote)

    q = sub.add_parser("fetch", help="download an Ultralytics model and export it to ONNX (needs the train extra)")
    q.add_argument("name")
    q.add_argument("--manifest", default=str(MANIFEST))
    q.add_argument("--force", action="store_true")
    q.set_defaults(func=cmd_fetch)
