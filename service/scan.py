"""Bulk scans of an archive: every image, video and exported post under the inputs, one JSON line each.

The JSONL output is the ledger (`service.scan_ledger`): each line is fsynced before its file counts as done, so a
crash or `kill -9` loses at most the files in flight; the same command resumes, and files already in the ledger are
not screened again, except verdicts made while a detector could not run (`incomplete`), which are redone once the
pipeline is complete.

Nothing about one file stops a scan: an unreadable, corrupt, hostile or oddly named file, a worker process that
dies on it, a link out of the scanned root, a FIFO: each becomes a line of its own (`error` or `skipped`) and the
scan goes on. Only a failure to write an output (a full disk, an unwritable path, the store) stops it, with
`ScanOutputError` (exit 74) saying what was kept.

The parts: `service.scan_inputs` (what is read: folders, lists, exported posts, URIs), `service.scan_post` (the
per-post function every backend runs, so verdicts are the same everywhere), `service.scan_workers` (this process,
or worker processes), `service.scan_ray` (Ray actors), `service.report` (CSV and HTML). This module runs a scan:
`run_scan(inputs, options, engine)`, with the progress bar and the final summary.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from detectors.evidence import Author, Post, Verdict
from service.media import read_file
from service.scan_inputs import MEDIA_SUFFIXES, Inputs, collect, display_name, terminal_safe
from service.scan_ledger import Ledger, ScanOutputError
from service.scan_post import (
    DEFAULT_FACTORY,
    NO_STORE,
    Keep,
    PipelineSpec,
    build_screener,
    cores,
    pipeline_spec,
    screen_item,
    sized_settings,
)
from service.scan_workers import Engine, InProcessEngine, ProcessEngine
from service.screener import Screener
from service.settings import Settings

__all__ = [
    "Engine", "InProcessEngine", "Keep", "NO_STORE", "PipelineSpec", "ProcessEngine", "Progress", "ScanOptions",
    "ScanOutputError", "ScanSummary", "build_screener", "check_outputs", "cores", "iter_media", "local_engine",
    "pipeline_spec", "run_scan", "screen_file", "screen_item", "sized_settings", "store_keep", "write_reports",
]

IMAGE_SUFFIXES = set(MEDIA_SUFFIXES)


def iter_media(folder: Path, recursive: bool = True) -> Iterator[Path]:
    """Media files under `folder` by suffix, in a stable (sorted) order."""
    pattern = "**/*" if recursive else "*"
    for p in sorted(folder.glob(pattern)):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            yield p


def screen_file(screener: Screener, path: Path, caption: str = "", author: Author | None = None) -> Verdict:
    """Decode one file (all its frames) and screen it as one post."""
    media = read_file(path, screener.settings.media)
    post = Post(images=media.frames, caption=caption, author=author or Author(), post_id=path.name)
    return screener.screen(post)


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """A one-line progress bar (count, percentage, rate, ETA) redrawn on a terminal, with the flagged and failed
    files printed above it (names escaped). Says nothing when the stream is not a terminal."""

    def __init__(self, stream: IO[str] | None = None, *, enabled: bool | None = None, width: int = 24) -> None:
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty()) if enabled is None else enabled
        self.width = width
        self.total = self.done = self.flagged = self.errors = 0
        self.t0 = time.monotonic()
        self._last = 0.0

    def start(self, total: int) -> None:
        self.total, self.t0 = total, time.monotonic()
        self._draw(force=True)

    def update(self, rec: dict[str, Any]) -> None:
        self.done += 1
        if "verdict" in rec:
            v = rec["verdict"]
            if v["decision"] != "clear":
                self.flagged += 1
                self.note(f"{v['decision'].upper():<10} {rec['file']}")
        elif "error" in rec:
            self.errors += 1
            self.note(f"{'ERROR':<10} {rec['file']}: {rec['error']}")
        elif "skipped" in rec:
            self.note(f"{'SKIPPED':<10} {rec['file']}: {rec['skipped']}")
        self._draw()

    def note(self, line: str) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K" + terminal_safe(line) + "\n")
            self._draw(force=True)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.t0, 1e-6)
        rate = self.done / elapsed
        frac = self.done / self.total if self.total else 1.0
        fill = int(round(frac * self.width))
        eta = _duration((self.total - self.done) / rate) if rate > 0 and self.done else "?"
        return (f"[{'#' * fill}{'.' * (self.width - fill)}] {self.done}/{self.total} {frac:4.0%}  "
                f"{rate:.2f} files/s  ETA {eta}  flagged {self.flagged}  errors {self.errors}")

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.2 and self.done < self.total:
            return
        self._last = now
        self.stream.write("\r\x1b[K" + self.line())
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()


@dataclass
class ScanSummary:
    screened: int = 0  # this run
    errors: int = 0
    skipped: int = 0
    already: int = 0  # in the output from an earlier run, not redone
    redone: int = 0  # incomplete verdicts screened again
    decisions: dict[str, int] = field(default_factory=dict)  # this run
    totals: dict[str, int] = field(default_factory=dict)  # the whole output: clear/review/... error, skipped
    incomplete: list[str] = field(default_factory=list)  # files whose verdict in the output is incomplete
    missing: list[dict[str, Any]] = field(default_factory=list)  # detectors that could not run here
    seconds: float = 0.0
    workers: int = 1
    outputs: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        n = self.screened + self.errors
        return n / self.seconds if self.seconds > 0 else 0.0

    def text(self) -> str:
        order = ("clear", "review", "violation", "incomplete")
        this = ", ".join(f"{k} {self.decisions.get(k, 0)}" for k in order)
        lines = [
            f"screened {self.screened} in {_duration(self.seconds)} ({self.rate:.2f} files/s, {self.workers} "
            f"worker{'s' if self.workers != 1 else ''}): {this}; errors {self.errors}, skipped {self.skipped}"
            + (f"; {self.already} already done" if self.already else "")
            + (f"; {self.redone} incomplete verdicts redone" if self.redone else ""),
            "output holds: " + ", ".join(f"{k} {v}" for k, v in self.totals.items()),
        ]
        if self.incomplete:
            missing = "; ".join(f"{s['detector']} {s['status']}: {s['message']}" for s in self.missing)
            lines.append(
                f"INCOMPLETE: {len(self.incomplete)} verdict(s) could not be completed (a detector could not run"
                + (f": {missing}" if missing else "; see detector_status in the output")
                + "). They are not clear; fix the cause and run the same command: they will be redone."
            )
        if self.outputs:
            lines.append("wrote " + ", ".join(self.outputs))
        return "\n".join(terminal_safe(line) for line in lines)


@dataclass
class ScanOptions:
    out: Path
    restart: bool = False
    csv: Path | None = None
    html: Path | None = None
    follow_links: bool = False
    store: Any = None  # a service.store.Store: verdicts saved there too (source "scan")
    progress: Progress | None = None
    title: str = ""


def _check_writable(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if path.exists() and not path.is_file():
        raise ScanOutputError(f"{display_name(str(path))} is not a regular file; choose another path")
    if not parent.is_dir():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ScanOutputError(f"cannot create {display_name(str(parent))}: {exc.strerror}") from None
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ScanOutputError(f"cannot write {display_name(str(path))}: permission denied")


def check_outputs(options: ScanOptions) -> None:
    """Fail before any screening when an output path cannot be written (ScanOutputError)."""
    for path in (options.out, options.csv, options.html):
        if path is not None:
            _check_writable(Path(path))


def _store_id(ledger: Path, rec: dict[str, Any]) -> str:
    """The same result twice (screened again after a crash between the store and the ledger) gets the same id."""
    v = {k: val for k, val in rec["verdict"].items() if k != "timings_ms"}
    body = json.dumps([str(ledger.resolve()), rec["file"], v], sort_keys=True, ensure_ascii=True)
    return "scan-" + hashlib.sha256(body.encode()).hexdigest()[:24]


def _save_to_store(store: Any, ledger: Path, rec: dict[str, Any], extra: dict[str, Any]) -> None:
    from service.pipeline import EMBEDDING_TYPE
    from service.store import ResultRecord, stamp

    rid = _store_id(ledger, rec)
    try:
        if store.get_result(rid) is not None:
            return
        v = rec["verdict"]
        author = rec.get("author") or {}
        store.save_result(ResultRecord(
            id=rid, created_at=stamp(), decision=v["decision"], score=float(v["score"]), verdict=v,
            post_id=rec.get("post_id") or rec["file"], policy_version=v.get("policy_version", ""), source="scan",
            submitted_by="scan", caption=rec.get("caption", ""), account_claim=author.get("account_id", ""),
            account_verified="author" in rec, image_sha256=tuple(extra.get("sha256", ())),
        ))
        for idx, png in extra.get("evidence", {}).items():
            store.save_image(rid, int(idx), "evidence", png, "image/png")
        for idx, vec in extra.get("embeddings", {}).items():
            store.save_image(rid, int(idx), "embedding", vec, EMBEDDING_TYPE)
    except Exception as exc:
        raise ScanOutputError(
            f"cannot save to the store: {type(exc).__name__}: {exc}; the scan stopped. Results written so far are "
            "kept: fix the store and run the same command to resume"
        ) from None


def _tally(records: Iterable[dict[str, Any]]) -> tuple[dict[str, int], list[str]]:
    totals: dict[str, int] = {"files": 0}
    incomplete: list[str] = []
    for rec in records:
        totals["files"] += 1
        if "verdict" in rec:
            d = rec["verdict"]["decision"]
            totals[d] = totals.get(d, 0) + 1
            if d == "incomplete":
                incomplete.append(rec["file"])
        elif "error" in rec:
            totals["errors"] = totals.get("errors", 0) + 1
        elif "skipped" in rec:
            totals["skipped"] = totals.get("skipped", 0) + 1
    return totals, incomplete


def run_scan(
    inputs: Inputs | Sequence[str | os.PathLike[str]],
    options: ScanOptions,
    engine: Engine | Callable[[int], Engine],
) -> ScanSummary:
    """Screen every item of `inputs` not yet in the output; write the ledger, then the CSV and HTML reports of the
    whole ledger. `engine` is an engine, or a factory given the number of posts to screen, called only when there
    is something to screen (and then closed here). Raises ScanOutputError when an output cannot be written."""
    t0 = time.perf_counter()
    out = Path(options.out)
    check_outputs(options)
    ledger = Ledger(out)
    if options.restart:
        try:
            out.unlink(missing_ok=True)
        except OSError as exc:
            raise ScanOutputError(f"cannot remove {display_name(str(out))}: {exc.strerror}") from None
    done = ledger.load()
    ledger.open()
    found = inputs if isinstance(inputs, Inputs) else collect(inputs, follow_links=options.follow_links)
    keys = {i.key for i in found.items}
    was_incomplete = {k for k, r in done.items() if k in keys and r.get("verdict", {}).get("decision") == "incomplete"}
    todo = sum(1 for i in found.items if i.key not in done) + len(was_incomplete)
    owned = not hasattr(engine, "run")
    built: Engine | None = None
    try:
        if todo:
            built = engine(todo) if owned else engine  # type: ignore[operator,assignment]
        summary = ScanSummary(workers=built.workers if built else 0, missing=list(built.unavailable) if built else [])
        if built is not None and built.complete and was_incomplete:
            ledger.rewrite(r for k, r in done.items() if k not in was_incomplete)
            for k in was_incomplete:
                done.pop(k)
            summary.redone = len(was_incomplete)
        pending = [i for i in found.items if i.key not in done]
        lines = [line for line in found.lines if line["file"] not in done]
        summary.already = len(found.items) + len(found.lines) - len(pending) - len(lines)
        progress = options.progress or Progress(enabled=False)
        progress.start(len(pending) + len(lines))

        def record(rec: dict[str, Any]) -> None:
            extra = rec.pop("_store", None)
            if options.store is not None and "verdict" in rec:
                _save_to_store(options.store, out, rec, extra or {})
            ledger.append(rec)
            done[rec["file"]] = rec
            if "verdict" in rec:
                summary.screened += 1
                d = rec["verdict"]["decision"]
                summary.decisions[d] = summary.decisions.get(d, 0) + 1
            elif "error" in rec:
                summary.errors += 1
            else:
                summary.skipped += 1
            progress.update(rec)

        try:
            for line in lines:
                record(dict(line))
            if pending:
                assert built is not None
                for rec in built.run(pending):
                    record(rec)
        finally:
            progress.finish()
    finally:
        ledger.close()
        if owned and built is not None:
            built.close()
    rank = {k: i for i, k in enumerate(found.order)}
    ordered = sorted(done, key=lambda k: rank.get(k, -1))  # earlier runs' files no longer listed first
    if ordered != list(done):  # workers finish out of order: the finished output follows the inputs' order
        ledger.rewrite(done[k] for k in ordered)
        done = {k: done[k] for k in ordered}
    summary.seconds = time.perf_counter() - t0
    records = list(done.values())
    summary.totals, summary.incomplete = _tally(records)
    write_reports(records, options, summary)
    return summary


def write_reports(records: Sequence[dict[str, Any]], options: ScanOptions, summary: ScanSummary | None = None) -> None:
    """The CSV and HTML reports of the whole output (each written to a temporary file, then renamed)."""
    from service.report import write_csv, write_html

    jobs: list[tuple[Path, Callable[[], None]]] = []
    if options.csv is not None:
        csv_path = Path(options.csv)
        jobs.append((csv_path, lambda: write_csv(records, csv_path)))
    if options.html is not None:
        html_path = Path(options.html)
        title = options.title or f"Scan {Path(options.out).name}"
        jobs.append((html_path, lambda: write_html(records, html_path, title=title)))
    for path, job in jobs:
        try:
            job()
        except OSError as exc:
            raise ScanOutputError(
                f"cannot write {display_name(str(path))}: {exc.strerror or exc}; the scan's results are complete "
                f"in {display_name(str(options.out))}: run the same command again to write the report"
            ) from None
        if summary is not None:
            summary.outputs.append(str(path))


def local_engine(
    settings: Settings,
    workers: int,
    *,
    screener: Screener | None = None,
    factory: str = DEFAULT_FACTORY,
    keep: Keep = NO_STORE,
    warn: Callable[[str], None] | None = None,
) -> Engine:
    """The process pool for `workers` > 1 when the pipeline can be rebuilt in a worker, else this process."""
    if workers > 1:
        spec = pipeline_spec(settings, factory)
        if spec is not None:
            return ProcessEngine(spec, workers, keep)
        if warn:
            warn("this pipeline holds parts made in this process only (a test double?): scanning in this process")
    if screener is None:
        spec = pipeline_spec(settings, factory)
        screener = spec.build() if spec is not None else build_screener(settings)
    return InProcessEngine(screener, keep)


def store_keep(settings: Settings) -> Keep:
    return Keep(evidence_images=settings.retention.evidence_images, embeddings=True)
