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


# --- several worker processes -------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(settings: Any) -> None:
    _WORKER["screener"] = Screener(settings)


def _screen_one(path: str) -> dict[str, float] | None:
    screener: Screener = _WORKER["screener"]
    try:
        media = read_file(path, screener.settings.media)
    except AssetScreenError:
        return None
    return dict(screener.screen(Post(images=media.frames, post_id=Path(path).name)).timings_ms)


def run_bench_workers(settings: Any, files: Sequence[Path], workers: int) -> dict[str, Any]:
    """The full pipeline in `workers` processes (models loaded once per worker, ONNX Runtime threads split
    between them): throughput is images / wall time including decoding; latency is per image."""
    import multiprocessing as mp
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    per = max(1, cores // workers)
    settings = settings.model_copy(update={
        "yolo": settings.yolo.model_copy(update={"threads": per}),
        "ocr": settings.ocr.model_copy(update={"threads": per}),
    })
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(settings,)) as pool:
        pool.map(_screen_one, [str(f) for f in files[:workers]])  # warm-up: one image per worker
        t0 = time.perf_counter()
        timings = [t for t in pool.imap(_screen_one, [str(f) for f in files]) if t is not None]
        wall = time.perf_counter() - t0
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    totals = [t["total"] for t in timings]
    stages: dict[str, list[float]] = {}
    for t in timings:
        for k, ms in t.items():
            stages.setdefault(k, []).append(ms)
    n = len(timings)
    return {
        "images": n,
        "workers": workers,
        "images_per_s": round(n / wall, 3) if wall else 0.0,
        "latency_ms": {"median": round(statistics.median(totals), 1), "p95": round(_pct(totals, 0.95), 1),
                       "max": round(max(totals), 1)},
        "stages_ms": {k: _summary(v + [0.0] * (n - len(v))) for k, v in sorted(stages.items())},
        "peak_rss_mb": round(child_rss, 1),  # the largest worker's
    }


# --- the obvious script, for comparison ----------------------------------------------------------------------


def run_naive(settings: Any, files: Sequence[Path]) -> dict[str, Any]:
    """What users compare with: the same object detector and an OCR engine on every image, sequentially, at the
    libraries' default settings (RapidOCR as it comes). Decoding included, like a script would."""
    from rapidocr import RapidOCR

    from detectors.runtime.yolo import load_runner

    runner = load_runner(settings.yolo.model, imgsz=settings.yolo.imgsz, conf=settings.yolo.conf,
                         iou=settings.yolo.iou, threads=settings.yolo.threads)
    ocr = RapidOCR(params={"Global.log_level": "error"})
    paths = [f for f in files]
    if paths:  # warm-up
        rgb = read_file(paths[0], settings.media).frames[0].rgb
        runner.detect(rgb)
        ocr(rgb[:, :, ::-1])
    lat = []
    t0 = time.perf_counter()
    for f in paths:
        t1 = time.perf_counter()
        try:
            frames = read_file(f, settings.media).frames
        except AssetScreenError:
            continue
        for fr in frames:
            runner.detect(fr.rgb)
            ocr(fr.rgb[:, :, ::-1])
        lat.append((time.perf_counter() - t1) * 1000)
    wall = time.perf_counter() - t0
    return {"images": len(lat), "images_per_s": round(len(lat) / wall, 3) if wall else 0.0,
            "latency_ms": {"median": round(statistics.median(lat), 1), "p95": round(_pct(lat, 0.95), 1)}}


def bench_json(result: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, Any]:
    """The one-object `--json` shape."""
    out: dict[str, Any] = {
        "images": result["images"],
        "workers": result.get("workers", 1),
        "images_per_second": result["images_per_s"],
        "p50_ms": result["latency_ms"]["median"],
        "p95_ms": result["latency_ms"]["p95"],
        "peak_rss_mb": result["peak_rss_mb"],
        "stages": {k: {"p50_ms": v["median"], "p95_ms": v["p95"]} for k, v in result["stages_ms"].items()},
    }
    if baseline is not None:
        out["baseline_images_per_second"] = baseline["images_per_s"]
        out["baseline_p50_ms"] = baseline["latency_ms"]["median"]
        out["baseline_p95_ms"] = baseline["latency_ms"]["p95"]
        out["ratio"] = round(result["images_per_s"] / baseline["images_per_s"], 2) if baseline["images_per_s"] else None
    return out


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
