"""The `assetscreen` command line: a thin adapter over `Screener.screen` and the core functions.

Exit codes: 0 ok, 1 internal error, 2 bad input or config, 3 a required model is missing or the verdict is
incomplete (a detector could not run). `assetscreen hook` adds one code per verdict (see its help).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from detectors.errors import AssetScreenError, BadInput
from detectors.evidence import Author, DecisionLevel, Post, PostImage

# Command groups in their own modules (each defines register(subparsers)); a module not present is skipped.
COMMAND_MODULES: tuple[str, ...] = (
    "service.commands.models",
    "service.commands.gallery",
    "service.commands.hashes",
    "service.commands.policy",
    "service.commands.train",
    "service.commands.examples",
    "service.commands.captions",
    "service.commands.service",
    "service.commands.dataset",
    "service.commands.fuzz",
)


def _screener_settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from service.settings import Settings

    overrides: dict[str, object] = {}
    if getattr(args, "detectors", None):
        overrides["detectors"] = [d.strip() for d in args.detectors.split(",") if d.strip()]
    if getattr(args, "policy", None):
        overrides["policy"] = args.policy
    return Settings.load(getattr(args, "config", None), **overrides)


def _screener(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from service.policy import Policy
    from service.screener import Screener

    settings = _screener_settings(args)
    return Screener(settings, policy=Policy.load(settings.policy))


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="settings YAML (default: built-in defaults)")
    p.add_argument("--policy", type=Path, help="policy YAML (default: the packaged policy.yaml)")
    p.add_argument("--detectors", help="comma-separated detectors to run (default: all configured)")


def cmd_screen(args: argparse.Namespace) -> int:
    from service.media import read_file

    if not args.images and not (args.caption or "").strip():
        raise BadInput("give at least one image or a --caption")
    screener = _screener(args)
    images: list[PostImage] = []
    for path in args.images:
        images.extend(read_file(path, screener.settings.media).frames)
    post = Post(
        images=tuple(images),
        caption=args.caption or "",
        author=Author(
            account_id=args.account or "",
            verified=True,  # the operator at the command line is trusted to say who posted
            group_id=args.group_id,
            group_admins=tuple(a.strip() for a in (args.group_admins or "").split(",") if a.strip()),
        ),
        post_id=args.post_id or ",".join(p.name for p in args.images),
    )
    verdict = screener.screen(post)
    # An incomplete verdict (a detector could not run) is not an answer: exit 3, as for a missing model.
    code = 3 if verdict.decision == DecisionLevel.INCOMPLETE else 0
    if args.json:
        print(json.dumps(verdict.to_dict(), ensure_ascii=False, indent=2))
        return code
    print(f"{verdict.decision.value.upper()}  score {verdict.score:.2f}  (policy {verdict.policy_version})")
    for f in verdict.findings:
        exempt = f" (exempt: {f.exempted_by})" if f.exempted_by else ""
        print(f"  rule {f.rule_id} [{f.severity}] -> {f.decision.value}{exempt}")
        print(f"    reason:   {f.reason}")
        print(f"    citation: {f.citation}")
    if verdict.evidence:
        print("evidence:")
        for i, e in enumerate(verdict.evidence):
            where = f" image {e.image_index + 1}" if e.image_index is not None else ""
            box = f" box {[round(v) for v in e.box]}" if e.box else ""
            print(f"  [{i}] {e.kind}: {e.label} {e.score:.2f}{where}{box} - {e.explanation}")
            print(f"       by {e.detector} {e.detector_version}")
    for s in verdict.detector_status:
        print(f"  ! {s.detector} {s.status}: {s.message}")
    print("timings (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in verdict.timings_ms.items()))
    return code


def cmd_scan(args: argparse.Namespace) -> int:
    """Bulk scan (service/scan.py). Exit 0; 3 when the output holds incomplete verdicts; 74 when an output cannot
    be written (what was written is kept and the same command resumes)."""
    from service.scan import (
        Engine,
        Keep,
        Progress,
        ScanOptions,
        check_outputs,
        cores,
        local_engine,
        run_scan,
        store_keep,
    )
    from service.scan_inputs import collect

    settings = _screener_settings(args)
    if args.max_frames:
        settings = settings.model_copy(
            update={"media": settings.media.model_copy(update={"max_frames": args.max_frames})}
        )
    if args.workers is not None and args.workers < 1:
        raise BadInput("--workers must be at least 1")
    options = ScanOptions(out=args.out, restart=args.restart, csv=args.csv, html=args.html,
                          follow_links=args.follow_links, progress=Progress(enabled=False if args.quiet else None))
    check_outputs(options)
    found = collect(args.inputs, follow_links=args.follow_links)
    use_store = args.store or settings.store.url is not None
    keep = store_keep(settings) if use_store else Keep()

    def note(message: str) -> None:
        print(f"note: {message}", file=sys.stderr)

    def engine(todo: int) -> Engine:
        workers = min(args.workers or cores(), todo)
        built: Engine
        if args.backend == "ray":
            from service.scan_ray import RayEngine

            built = RayEngine.create(settings, args.workers or None, address=args.ray_address, keep=keep)
        else:
            built = local_engine(settings, workers, keep=keep, warn=note)
        for s in built.unavailable:
            print(f"warning: {s['detector']} {s['status']}: {s['message']}", file=sys.stderr)
        return built

    store = None
    if use_store:
        from service.store import open_store

        store = options.store = open_store(settings.store.url, settings.data_dir)
    try:
        summary = run_scan(found, options, engine)
    finally:
        if store is not None:
            store.close()
    print(summary.text())
    return 3 if summary.incomplete else 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from service.evaluation import evaluate, read_labels

    labels = read_labels(args.labels or args.folder / "labels.csv")
    files = sorted(labels)[: args.limit] if args.limit else None
    progress = None if args.json or args.quiet else (lambda n: print(f"  {n}", file=sys.stderr))
    if args.heads:
        return _compare(args, {f: labels[f] for f in files} if files else labels, progress)
    screener = _screener(args)
    report = evaluate(screener, args.folder, labels, progress=progress, files=files)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        for s in screener.detectors.unavailable:
            print(f"note: detector {s.detector} {s.status}: {s.message}")
        print(report.table())
    return 0


def _compare(args: argparse.Namespace, labels: dict[str, set[str]], progress: object) -> int:
    """`evaluate --heads NEW`: the current and the candidate heads on the same labelled folder."""
    from service.learning import compare_heads, regressions

    settings = _screener_settings(args)
    current, candidate = compare_heads(settings, args.folder, labels, args.heads, progress=progress)  # type: ignore[arg-type]
    worse = regressions(current, candidate, args.tolerance)
    if args.json:
        print(json.dumps({"current": current.to_dict(), "candidate": candidate.to_dict(), "regressions": worse}))
        return 0
    print("current heads:\n" + current.table() + "\n\ncandidate heads:\n" + candidate.table())
    cur, cand = current.to_dict()["post"], candidate.to_dict()["post"]
    print("\npost-level change: " + ", ".join(f"{m} {cand[m] - cur[m]:+.3f}" for m in ("precision", "recall", "f1")))
    print("regressions: " + ("; ".join(worse) if worse else f"none beyond the tolerance {args.tolerance}"))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from service.bench import bench_json, format_bench, run_bench, run_bench_workers, run_naive
    from service.scan import iter_media

    files = list(iter_media(args.folder))[: args.limit]
    if args.profile is not None:
        return _bench_profile(args, files)
    if args.workers is None:
        args.workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if args.workers > 1:
        result = run_bench_workers(_screener_settings(args), files, args.workers)
    else:
        result = run_bench(_screener(args), files)
    baseline = run_naive(_screener_settings(args), files) if args.baseline == "naive" else None
    if args.json:
        print(json.dumps(bench_json(result, baseline)))
        return 0
    print(format_bench(result))
    if baseline is not None:
        ratio = result["images_per_s"] / baseline["images_per_s"] if baseline["images_per_s"] else float("nan")
        print(f"naive script (YOLO + default RapidOCR on every image, sequential): {baseline['images_per_s']} "
              f"images/s, p50 {baseline['latency_ms']['median']} ms, p95 {baseline['latency_ms']['p95']} ms; "
              f"AssetScreen is {ratio:.2f}x")
    return 0


def _bench_profile(args: argparse.Namespace, files: list[Path]) -> int:
    """The benchmark in this process under pyinstrument: where the time goes, as HTML (FILE.html) or text."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("error: --profile needs pyinstrument (pip install -e '.[dev]')", file=sys.stderr)
        return 2
    from service.bench import format_bench, run_bench

    screener = _screener(args)
    profiler = Profiler(interval=0.005)
    profiler.start()
    result = run_bench(screener, files)
    profiler.stop()
    out = Path(args.profile)
    out.write_text(profiler.output_html() if out.suffix == ".html" else profiler.output_text(show_all=False),
                   encoding="utf-8")
    print(format_bench(result))
    print(f"profile written to {out}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.api import create_app
    from service.settings import Settings

    overrides = {"policy": args.policy} if args.policy else {}
    app = create_app(Settings.load(args.config, **overrides))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def cmd_detectors(args: argparse.Namespace) -> int:
    screener = _screener(args)
    for d in (*screener.detectors.image, *screener.detectors.text):
        print(f"{d.name:<12} ready        {d.version}  produces {', '.join(sorted(d.produces))}")
    for s in screener.detectors.unavailable:
        print(f"{s.detector:<12} {s.status:<12} {s.message}")
    rec = screener.recognizer
    if rec is not None:
        kinds = ", ".join(sorted(rec.produces))
        print(f"{rec.name:<12} ready        {rec.version}  produces {kinds} (learned, calibrated)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assetscreen", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("screen", help="screen one post made of one or more images")
    p.add_argument("images", nargs="*", type=Path, help="images or videos (none: a caption-only post)")
    p.add_argument("--caption", help="the post's caption text")
    p.add_argument("--account", help="the author's account id (for exemptions)")
    p.add_argument("--group-id", help="the group the post was made in")
    p.add_argument("--group-admins", help="comma-separated admin account ids of that group (OM para 6)")
    p.add_argument("--post-id")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    _add_common(p)
    p.set_defaults(func=cmd_screen)

    p = sub.add_parser(
        "scan", help="screen an archive (folders, list files, exported posts, s3:// URIs) into JSONL (resumable)",
        description="Screen every image and video under the inputs, and every post of an exported JSONL, into one "
        "JSON line each; rerunning resumes. Inputs: folders, media files, list files (one path a line), .jsonl "
        "files of exported posts (post_id, caption, author, media_paths), s3:// URIs.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="folder, file, list file, posts .jsonl or URI")
    p.add_argument("--out", type=Path, default=Path("results.jsonl"), help="the JSONL output, also the resume ledger")
    p.add_argument("--csv", type=Path, help="also write a CSV, one row per file")
    p.add_argument("--html", type=Path, help="also write a self-contained HTML report of the flagged posts")
    p.add_argument("--restart", action="store_true", help="start over instead of skipping files already done")
    p.add_argument("--workers", type=int, help="posts screened at once, one process each (default: the cores)")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local processes, or a Ray cluster (pip install 'ray[data]'; see --ray-address)")
    p.add_argument("--ray-address", help="Ray cluster to join (ray://HEAD:10001 or auto; default: RAY_ADDRESS, "
                   "else a local Ray instance)")
    p.add_argument("--follow-links", action="store_true",
                   help="follow symbolic links that lead outside the scanned folder (refused by default)")
    p.add_argument("--store", action="store_true",
                   help="also save every verdict in the store (implied when settings name store.url)")
    p.add_argument("--max-frames", type=int, help="frames sampled per video (default: media.max_frames, 8)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_common(p)
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("evaluate", help="precision/recall per kind on a labelled folder")
    p.add_argument("folder", type=Path)
    p.add_argument("--labels", type=Path, help="labels.csv (default: FOLDER/labels.csv)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.add_argument("--limit", type=int, help="only the first N labelled files")
    p.add_argument("--heads", type=Path, help="candidate heads: compare them with the current ones on this folder")
    p.add_argument("--tolerance", type=float, default=0.01, help="post-level drop counted as a regression")
    p.add_argument("-q", "--quiet", action="store_true")
    _add_common(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("bench", help="speed: images/s, per-stage latency, memory")
    p.add_argument("folder", type=Path)
    p.add_argument("--limit", type=int, default=60)
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes, models loaded once per each (default: one per core; 1 = this process)")
    p.add_argument("--baseline", choices=["naive"], help="also time the obvious script in the same run")
    p.add_argument("--profile", type=Path, metavar="FILE",
                   help="profile the pipeline in this process with pyinstrument; FILE.html for the HTML view")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--config", type=Path)
    p.add_argument("--policy", type=Path)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("detectors", help="list detectors and whether they can run here")
    _add_common(p)
    p.set_defaults(func=cmd_detectors)

    for mod in COMMAND_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    try:
        return int(args.func(args) or 0)
    except AssetScreenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
