"""One post of a bulk scan: read, decode, screen, and its ledger line; the function every backend runs.

`decode_item` reads and decodes an item's media (any failure becomes the item's error line); `screen_decoded`
screens the decoded post and makes its ledger line (the verdict, each frame's size and time, thumbnails of what
the findings cite); `screen_item` is both. `prefetched` decodes one item ahead in a thread, so decoding overlaps
screening. A worker process or a Ray actor builds its own screener from a `PipelineSpec` (settings, a factory
named by module and function, the modules where its detectors register), its ONNX Runtime threads sized so the
workers share the cores (`sized_settings`).
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors.errors import AssetScreenError
from detectors.evidence import Author, DecisionLevel, Post, PostImage, Verdict
from service.media import decode_image
from service.scan_inputs import ScanItem, display_name, error_line, read_media
from service.screener import Screener
from service.settings import Settings

log = logging.getLogger(__name__)

THUMB_SIDE = 320
THUMBS_PER_POST = 4
DEFAULT_FACTORY = "service.scan_post:build_screener"


def build_screener(settings: Settings) -> Screener:
    """The default pipeline: the configured detectors, the learned stage and the policy."""
    from service.policy import Policy

    return Screener(settings, policy=Policy.load(settings.policy))


def cores() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def threads_per_worker(workers: int, total_cores: int | None = None) -> int:
    return max(1, (total_cores or cores()) // max(1, workers))


def sized_settings(settings: Settings, threads: int) -> Settings:
    """A copy whose ONNX Runtime sessions (object model, MobileNets, OCR) use `threads` threads each."""
    return settings.model_copy(
        update={
            "yolo": settings.yolo.model_copy(update={"threads": threads}),
            "ocr": settings.ocr.model_copy(update={"threads": threads}),
        }
    )


def _importable(obj: Any) -> bool:
    """Whether `obj` is found again by its module and name (so another process builds the same thing)."""
    mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if not mod or not qual or "<" in qual:
        return False
    try:
        target: Any = importlib.import_module(mod)
        for part in qual.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError):
        return False
    return target is obj


@dataclass(frozen=True)
class PipelineSpec:
    """How a worker process (or Ray actor) builds its own screener: the settings, a factory named
    "module:function" (Settings -> Screener), and modules to import first (where detectors register)."""

    settings: Settings
    factory: str = DEFAULT_FACTORY
    modules: tuple[str, ...] = ()

    def build(self) -> Screener:
        for mod in self.modules:
            importlib.import_module(mod)
        module, _, name = self.factory.partition(":")
        fn: Callable[[Settings], Screener] = getattr(importlib.import_module(module), name)
        return fn(self.settings)


def pipeline_spec(settings: Settings, factory: str = DEFAULT_FACTORY) -> PipelineSpec | None:
    """A spec that rebuilds this process's pipeline elsewhere, or None when a part of it exists only here (a
    detector factory or learned stage made in a function, as tests do): such a pipeline is screened in-process."""
    from detectors.base import DetectorRegistry
    from detectors.errors import ConfigError

    modules: list[str] = []
    for name in settings.detectors:
        try:
            fn = DetectorRegistry.factory(name)
        except KeyError as exc:
            raise ConfigError(str(exc.args[0])) from None
        if not _importable(fn):
            return None
        if fn.__module__ not in modules:
            modules.append(fn.__module__)
    if factory == DEFAULT_FACTORY:
        import service.screener

        if not _importable(service.screener.build_recognizer):
            return None
    return PipelineSpec(settings=settings, factory=factory, modules=tuple(modules))


@dataclass(frozen=True)
class Keep:
    """What a worker returns beside the ledger line, for the store: evidence renderings and embeddings."""

    evidence_images: str = "none"  # none | flagged | all
    embeddings: bool = False


NO_STORE = Keep()


@dataclass
class Decoded:
    item: ScanItem
    frames: list[PostImage] = field(default_factory=list)
    error: dict[str, Any] | None = None
    decode_ms: float = 0.0
    sha256: list[str] = field(default_factory=list)


def decode_item(item: ScanItem, settings: Settings) -> Decoded:
    """Read and decode every medium of an item. Any failure (of any type: a decoder bug must not stop a scan)
    becomes the item's error line."""
    t0 = time.perf_counter()
    d = Decoded(item)
    try:
        for ref in item.media:
            data = read_media(ref, settings.media.max_bytes)
            d.sha256.append(hashlib.sha256(data).hexdigest())
            name = display_name(os.path.basename(ref.split("?", 1)[0]) or ref)
            d.frames.extend(decode_image(data, settings.media, name).frames)
    except AssetScreenError as exc:
        d.error = error_line(item.key, str(exc), type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - one file's decoder crash is that file's error line
        log.debug("decoding %s failed", item.key, exc_info=True)
        d.error = error_line(item.key, f"cannot decode: {type(exc).__name__}: {exc}", type(exc).__name__)
    d.decode_ms = (time.perf_counter() - t0) * 1000
    return d


def _flagged(verdict: dict[str, Any]) -> bool:
    return verdict["decision"] in ("review", "violation") or bool(verdict["findings"])


def _thumbnails(verdict: Verdict, frames: Sequence[PostImage]) -> list[dict[str, Any]]:
    """Small JPEG renderings (boxes drawn, documents pixelated) of the images the findings cite."""
    import cv2
    import numpy as np

    from service.evidence_image import render

    cited = sorted({i for f in verdict.findings for i in f.evidence})
    images: list[int] = []
    for i in cited:
        idx = verdict.evidence[i].image_index
        if idx is not None and idx not in images and idx < len(frames):
            images.append(idx)
    out = []
    for idx in images[:THUMBS_PER_POST]:
        shown = [verdict.evidence[i] for i in cited if verdict.evidence[i].image_index == idx]
        png = render(frames[idx].rgb, shown, max_side=THUMB_SIDE)
        bgr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        ok, jpg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            out.append({"image": idx, "time_s": frames[idx].time_s,
                        "src": "data:image/jpeg;base64," + base64.b64encode(jpg.tobytes()).decode("ascii")})
    return out


def screen_decoded(screener: Screener, d: Decoded, keep: Keep = NO_STORE) -> dict[str, Any]:
    """The ledger line for one decoded item (its error line when decoding failed). Never raises for one post."""
    item = d.item
    rec: dict[str, Any] = {"file": item.key}
    if item.post_id or item.author is not None:
        rec["post_id"] = item.post_id
        rec["caption"] = item.caption
        rec["media"] = [display_name(m) for m in item.media]
        if item.author is not None:
            rec["author"] = item.author
    if d.error is not None:
        return {**rec, **d.error}
    a = item.author or {}
    author = Author(account_id=a.get("account_id", ""), display_name=a.get("display_name", ""),
                    group_id=a.get("group_id"), group_admins=tuple(a.get("group_admins") or ()),
                    verified=item.author is not None)  # the operator's own export: trusted, like `screen --account`
    post = Post(images=tuple(d.frames), caption=item.caption, author=author, post_id=item.post_id or item.key)
    embeddings: dict[int, Any] | None = {} if keep.embeddings else None
    try:
        verdict = screener.screen(post, embeddings=embeddings)
        v = verdict.to_dict()
        v["timings_ms"] = {"decode": round(d.decode_ms, 2), **v["timings_ms"]}
        v["images"] = [{"name": f.name, "width": f.width, "height": f.height, "frame_index": f.frame_index,
                        "time_s": f.time_s} for f in d.frames]
        for e in v["evidence"]:
            idx = e.get("image_index")
            if idx is not None and idx < len(d.frames) and d.frames[idx].time_s is not None:
                e["time_s"] = d.frames[idx].time_s
        rec["verdict"] = v
        if _flagged(v):
            rec["thumbnails"] = _thumbnails(verdict, d.frames)
        if keep.evidence_images != "none" or keep.embeddings:
            rec["_store"] = _for_store(verdict, d, keep, embeddings)
    except Exception as exc:  # noqa: BLE001 - a pipeline bug on one post is that post's error line
        log.exception("screening %s failed", item.key)
        rec.update(error_line(item.key, f"screening failed: {type(exc).__name__}: {exc}", type(exc).__name__))
        rec.pop("verdict", None)
        rec.pop("thumbnails", None)
    return rec


def _for_store(verdict: Verdict, d: Decoded, keep: Keep, embeddings: dict[int, Any] | None) -> dict[str, Any]:
    import numpy as np

    from service.evidence_image import render

    flagged = verdict.decision != DecisionLevel.CLEAR
    images: dict[int, bytes] = {}
    if keep.evidence_images == "all" or (keep.evidence_images == "flagged" and flagged):
        for idx, frame in enumerate(d.frames):
            images[idx] = render(frame.rgb, [e for e in verdict.evidence if e.image_index == idx])
    vectors = {idx: np.asarray(v, np.float32).tobytes() for idx, v in (embeddings or {}).items()}
    return {"evidence": images, "embeddings": vectors, "sha256": list(d.sha256)}


def screen_item(screener: Screener, item: ScanItem, keep: Keep = NO_STORE) -> dict[str, Any]:
    """Decode and screen one item: the per-post function every backend runs."""
    return screen_decoded(screener, decode_item(item, screener.settings), keep)


def prefetched(items: Iterable[ScanItem], settings: Settings, depth: int = 1) -> Iterator[Decoded]:
    """Decode items in a background thread, `depth` ahead of the consumer (decoding overlaps screening)."""
    q: queue.Queue[Decoded | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(decode_item(item, settings))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)
        q.put(None)

    t = threading.Thread(target=run, name="scan-decode", daemon=True)
    t.start()
    try:
        while True:
            got = q.get()
            if got is None:
                return
            if isinstance(got, BaseException):
                raise got
            yield got
    finally:
        stop.set()
        while t.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(0.05)
