"""`assetscreen fuzz decode|api`: fuzz the image decoder or the HTTP API for a time budget (see service/fuzz.py).

    assetscreen fuzz decode --seconds 120 [--seed 1] [--out fuzz-failures] [--json]
    assetscreen fuzz api --seconds 120 [--seed 1] [--detectors caption] [--config settings.yaml] [--json]

Prints the inputs run, the outcomes, and each distinct failure (an exception that is not the project's own, a 5xx
other than a documented 503, an error body without the {"error", "detail"} shape, or an input slower than 5 s)
with where its input was saved. Exit 0 when nothing failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from detectors.errors import BadInput


def _progress(args: argparse.Namespace) -> Any:
    if args.json or args.quiet:
        return None
    return lambda r: print(f"  {r.seconds:.0f} s: {r.inputs} inputs, {r.failure_count} failures", flush=True)


@contextmanager
def _native_stderr_silenced(keep: bool) -> Iterator[None]:
    """libtiff and libjpeg print a line to the process's stderr for every malformed file: thousands in a run. The
    outcome of each input is what counts, so file descriptor 2 goes to /dev/null while fuzzing (--native-stderr
    keeps it)."""
    if keep:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _finish(args: argparse.Namespace, report: Any) -> int:
    print(json.dumps(report.to_dict(), ensure_ascii=False) if args.json else report.summary())
    return 1 if report.failure_count else 0


def cmd_decode(args: argparse.Namespace) -> int:
    from service.fuzz import fuzz_decode

    if args.seconds <= 0:
        raise BadInput("--seconds must be positive")
    with _native_stderr_silenced(args.native_stderr):
        report = fuzz_decode(args.seconds, args.seed, args.out, progress=_progress(args))
    return _finish(args, report)


def cmd_api(args: argparse.Namespace) -> int:
    from service.fuzz import fuzz_api
    from service.settings import Settings

    if args.seconds <= 0:
        raise BadInput("--seconds must be positive")
    overrides: dict[str, Any] = {}
    if args.detectors:
        overrides["detectors"] = [d.strip() for d in args.detectors.split(",") if d.strip()]
    settings = Settings.load(args.config, **overrides)
    with _native_stderr_silenced(args.native_stderr):
        report = fuzz_api(args.seconds, args.seed, args.out, settings, progress=_progress(args))
    return _finish(args, report)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("fuzz", help="fuzz the image decoder or the HTTP API for a time budget")
    sub = p.add_subparsers(dest="fuzz_command", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--seconds", type=float, default=60.0, help="time budget (default 60)")
        q.add_argument("--seed", type=int, default=0, help="random seed: the same seed tries the same inputs")
        q.add_argument("--out", type=Path, default=Path("fuzz-failures"),
                       help="folder for failing inputs and their tracebacks (default ./fuzz-failures)")
        q.add_argument("--json", action="store_true", help="print one JSON object")
        q.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
        q.add_argument("--native-stderr", action="store_true", help="keep libtiff's and libjpeg's stderr lines")

    q = sub.add_parser("decode", help="mutated images of every format through service.media.decode_image")
    common(q)
    q.set_defaults(func=cmd_decode)

    q = sub.add_parser("api", help="schemathesis against the app's OpenAPI in process, plus mutated uploads")
    common(q)
    q.add_argument("--config", type=Path, help="settings YAML (default: built-in defaults)")
    q.add_argument("--detectors", help="comma-separated detectors to run (default: all configured)")
    q.set_defaults(func=cmd_api)
