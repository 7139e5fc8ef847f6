"""Speed benchmark: images/s, per-stage latency percentiles and memory, on real files.

Speed is measured here, never in unit tests. Decoding is done before timing so the numbers are the screener's
cost; the first image is a warm-up (model sessions allocate on first use) and is not counted.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detectors.errors import AssetScreenError
from detectors.evidence import Post
from service.media import read_file
from service.screener import Screener


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def _summary(values: Sequence[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "p95": round(_pct(values, 0.95), 1)}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_bench(screener: Screener, files: Sequence[Path], *, warmup: int = 1) -> dict[str, Any]:
    posts = []
    for f in files:
        try:
            media = read_file(f, screener.settings.media)
        except AssetScreenError:
            continue
        posts.append(Post(images=media.frames, post_id=f.name))
    if not posts:
        raise AssetScreenError("no decodable images to benchmark")
    for p in posts[:warmup]:
        screener.screen(p)
    stages: dict[str, list[float]] = {}
    totals: list[float] = []
    t0 = time.perf_counter()
    for p in posts:
        v = screener.screen(p)
        totals.append(v.timings_ms["total"])
        for k, ms in v.timings_ms.items():
            stages.setdefault(k, []).append(ms)
    wall = time.perf_counter() - t0
    n = len(posts)
    return {
        "images": n,
        "images_per_s": round(n / wall, 3) if wall else 0.0,
        "latency_ms": {"median": round(statistics.median(totals), 1), "p95": round(_pct(totals, 0.95), 1),
                       "max": round(max(totals), 1)},
        # Per stage over all images (a stage absent for an image counts as 0 ms there).
        "stages_ms": {k: _summary(v + [0.0] * (n - len(v))) for k, v in sorted(stages.items())},
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "detectors": screener.model_versions,
    }


def format_bench(result: dict[str, Any]) -> str:
    lines = [
        f"images: {result['images']}  images/s: {result['images_per_s']}  peak RSS: {result['peak_rss_mb']} MB",
        f"latency per image (ms): median {result['latency_ms']['median']}  p95 {result['latency_ms']['p95']}  "
        f"max {result['latency_ms']['max']}",
        f"{'stage':<28} {'median ms':>10} {'p95 ms':>10}",
    ]
    for k, v in result["stages_ms"].items():
        lines.append(f"{k:<28} {v['median']:>10} {v['p95']:>10}")
    return "\n".join(lines)
