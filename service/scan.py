"""Bulk scanning of folders: one JSON line per image, resumable, never stopped by one bad file.

Each line is written and flushed as soon as its image is screened, so an interrupted scan loses at most the
image in flight; running the same command again skips the files already in the output (unless `restart`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detectors.errors import AssetScreenError
from detectors.evidence import Author, Post, Verdict
from service.media import read_file
from service.screener import Screener

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".mp4", ".mov", ".webm", ".avi"}


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


@dataclass
class ScanSummary:
    screened: int = 0
    skipped: int = 0
    errors: int = 0
    decisions: dict[str, int] | None = None
    seconds: float = 0.0


def _done_files(out: Path) -> set[str]:
    """Files already recorded in `out`. A line cut off by an interruption is dropped so it is screened again."""
    done: set[str] = set()
    if not out.exists():
        return done
    kept: list[str] = []
    damaged = False
    with out.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                damaged = True
                continue
            if not line.endswith("\n") or not isinstance(rec, dict) or "file" not in rec:
                damaged = True
                continue
            done.add(rec["file"])
            kept.append(line)
    if damaged:
        tmp = out.with_suffix(out.suffix + ".repair")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, out)
    return done


def scan_folder(
    screener: Screener,
    folder: Path,
    out: Path,
    *,
    restart: bool = False,
    recursive: bool = True,
    progress: Callable[[str, dict[str, Any]], None] | None = None,
) -> ScanSummary:
    if not folder.is_dir():
        raise AssetScreenError(f"not a folder: {folder}")
    if restart and out.exists():
        out.unlink()
    done = _done_files(out)
    summary = ScanSummary(decisions={})
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as fh:
        for path in iter_media(folder, recursive):
            rel = str(path.relative_to(folder))
            if rel in done:
                summary.skipped += 1
                continue
            rec: dict[str, Any] = {"file": rel}
            try:
                rec["verdict"] = screen_file(screener, path).to_dict()
                summary.screened += 1
                d = rec["verdict"]["decision"]
                assert summary.decisions is not None
                summary.decisions[d] = summary.decisions.get(d, 0) + 1
            except AssetScreenError as exc:
                rec["error"] = str(exc)
                rec["error_type"] = type(exc).__name__
                summary.errors += 1
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            if progress:
                progress(rel, rec)
    summary.seconds = time.perf_counter() - t0
    return summary
