"""Fuzzing with a time budget: the image decoder (seeded mutation of generated images of every format) and the
HTTP API, in process: schemathesis cases from the app's own OpenAPI (valid and invalid), the decoder's mutated
images through /v1/screen and /v1/hook, signed and mutated Mastodon webhook events (their media from a fetcher
that serves mutated images), and review decisions, drawings and reads of the results those produced.

The target is zero exceptions other than the project's own: every hostile input must end as a result or as an
`AssetScreenError` (a 4xx with the {"error", "detail"} shape on HTTP), never a traceback or a 500. Failing inputs
are saved with their traceback so they can become regression tests. The runs are reproducible from `--seed` in
what they try, though not in how many inputs fit the time budget.

`assetscreen fuzz decode` needs nothing beyond the service's own dependencies; `assetscreen fuzz api` needs
schemathesis (the dev extra).
"""

from __future__ import annotations

import hashlib
import io
import logging
import random
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from detectors.errors import AssetScreenError, BadInput
from service.media import decode_image
from service.settings import MediaLimits, Settings

# Small caps so a mutated header that declares a large image is refused at once and the seeds (64x48) still take
# the reduce and JPEG draft paths (work_side below half their size).
FUZZ_LIMITS = MediaLimits(max_pixels=4_000_000, max_side=8_000, max_frames=4, work_side=24,
                          max_decode_bytes=64 * 1024 * 1024)
SLOW_S = 5.0  # an input that takes longer than this is reported too
MAX_SAVED = 25  # distinct failures saved per run
INTERESTING_INTS = (0, 1, 2, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
                    30_000, 65_535, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


# ------------------------------------------------------------------------------------------------ seeds


def _encode(im: Image.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def seed_corpus(width: int = 64, height: int = 48) -> dict[str, bytes]:
    """Valid images of every supported format and the modes each carries, generated in code."""
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None].repeat(width, 1)
    rgb = Image.fromarray(np.dstack([x, y, np.full((height, width), 90, np.uint8)]))
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray(x))
    grey = rgb.convert("L")
    pal = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    i16 = Image.fromarray((np.asarray(grey, np.uint16) * 257).astype(np.uint16))
    flt = Image.fromarray(np.asarray(grey, np.float32) / 7.0 - 3.0)
    frames = [Image.fromarray(np.full((height, width, 3), (v, 255 - v, 40), np.uint8)) for v in (0, 80, 160, 240)]
    exif = Image.Exif()
    exif[0x0112] = 6
    seeds = {
        "jpeg_rgb": _encode(rgb, "JPEG", quality=85),
        "jpeg_progressive": _encode(rgb, "JPEG", progressive=True, quality=70),
        "jpeg_exif_rotated": _encode(rgb, "JPEG", exif=exif),
        "jpeg_grey": _encode(grey, "JPEG"),
        "jpeg_cmyk": _encode(rgb.convert("CMYK"), "JPEG"),
        "mpo": _encode(rgb, "MPO", save_all=True, append_images=[grey.convert("RGB")]),
        "png_rgb": _encode(rgb, "PNG"),
        "png_rgba": _encode(rgba, "PNG"),
        "png_palette_trns": _encode(pal, "PNG", transparency=0),
        "png_grey": _encode(grey, "PNG"),
        "png_1bit": _encode(grey.convert("1"), "PNG"),
        "png_la": _encode(rgba.convert("LA"), "PNG"),
        "png_16bit": _encode(i16, "PNG"),
        "png_exif": _encode(rgb, "PNG", exif=exif),
        "apng": _encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=50),
        "webp_lossy": _encode(rgb, "WEBP", quality=60),
        "webp_lossless_alpha": _encode(rgba, "WEBP", lossless=True),
        "webp_animated": _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=50),
        "gif_still": _encode(pal, "GIF", transparency=0),
        "gif_animated": _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50,
                                disposal=2, loop=0),
        "bmp_rgb": _encode(rgb, "BMP"),
        "bmp_palette": _encode(pal, "BMP"),
        "bmp_1bit": _encode(grey.convert("1"), "BMP"),
        "tiff_rgb": _encode(rgb, "TIFF"),
        "tiff_lzw": _encode(rgb, "TIFF", compression="tiff_lzw"),
        "tiff_deflate_rgba": _encode(rgba, "TIFF", compression="tiff_adobe_deflate"),
        "tiff_jpeg": _encode(rgb, "TIFF", compression="jpeg"),
        "tiff_packbits_grey": _encode(grey, "TIFF", compression="packbits"),
        "tiff_16bit": _encode(i16, "TIFF"),
        "tiff_float": _encode(flt, "TIFF"),
        "tiff_cmyk": _encode(rgb.convert("CMYK"), "TIFF"),
        "tiff_palette": _encode(pal, "TIFF"),
        "tiff_multipage": _encode(rgb, "TIFF", save_all=True, append_images=[grey]),
        "tiff_exif": _encode(rgb, "TIFF", exif=exif),
    }
    return seeds


# ------------------------------------------------------------------------------------------------ mutation


def _put_int(buf: bytearray, pos: int, value: int, size: int, order: str) -> None:
    if pos + size <= len(buf):
        buf[pos:pos + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, order)  # type: ignore[arg-type]


def _offset(rng: random.Random, n: int) -> int:
    """Mostly the header (the first 512 bytes), where a flip changes what the decoder believes."""
    if n <= 1:
        return 0
    return rng.randrange(min(n, 512)) if rng.random() < 0.6 else rng.randrange(n)


def mutate(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    """One to four stacked mutations: bit flips, interesting integers (8/16/32-bit, both byte orders), random
    bytes, truncation, deletion, duplication, insertion, and splicing with another seed."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        n = len(buf)
        op = rng.randrange(9)
        if n == 0:
            buf = bytearray(rng.randbytes(rng.randint(1, 64)))
        elif op == 0:
            for _ in range(rng.randint(1, 8)):
                pos = _offset(rng, n)
                buf[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            size = rng.choice((1, 2, 4))
            _put_int(buf, _offset(rng, n), rng.choice(INTERESTING_INTS), size, rng.choice(("little", "big")))
        elif op == 2:
            pos = _offset(rng, n)
            buf[pos:pos + 4] = rng.randbytes(min(4, n - pos))
        elif op == 3:
            del buf[rng.randrange(n):]
        elif op == 4:
            a = rng.randrange(n)
            del buf[a:a + rng.randint(1, 256)]
        elif op == 5:
            a = rng.randrange(n)
            chunk = buf[a:a + rng.randint(1, 256)]
            b = rng.randrange(n)
            buf[b:b] = chunk * rng.randint(1, 4)
        elif op == 6:
            b = _offset(rng, n)
            buf[b:b] = rng.randbytes(rng.randint(1, 32))
        elif op == 7 and others:
            other = rng.choice(others)
            cut = rng.randrange(n)
            buf = buf[:cut] + other[rng.randrange(len(other)):]
        else:
            for _ in range(rng.randint(1, 4)):
                buf[_offset(rng, n)] = rng.choice((0x00, 0xFF, 0x7F, 0x80, 0x01))
    return bytes(buf)


# ------------------------------------------------------------------------------------------------ reports


@dataclass
class Failure:
    """An input that ended in something other than a result or one of the project's own errors."""

    what: str  # "TypeError: ..." or "slow: 7.2 s" or "500 POST /v1/screen"
    where: str  # the innermost traceback frame, or the request
    seed: str
    saved: str | None = None
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "where": self.where, "seed": self.seed, "saved": self.saved, "count": self.count}


@dataclass
class FuzzReport:
    target: str
    seconds: float = 0.0
    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: dict[str, Failure] = field(default_factory=dict)
    slowest_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def failure_count(self) -> int:
        return sum(f.count for f in self.failures.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "seconds": round(self.seconds, 1),
            "inputs": self.inputs,
            "failures": self.failure_count,
            "distinct_failures": len(self.failures),
            "outcomes": dict(self.outcomes.most_common()),
            "slowest_s": round(self.slowest_s, 3),
            "first_failures": [f.to_dict() for f in list(self.failures.values())[:10]],
            "notes": self.notes,
        }

    def summary(self) -> str:
        lines = [
            f"fuzz {self.target}: {self.inputs} inputs in {self.seconds:.0f} s, {self.failure_count} failures "
            f"({len(self.failures)} distinct), slowest input {self.slowest_s:.2f} s",
            "outcomes: " + ", ".join(f"{k} {v}" for k, v in self.outcomes.most_common()),
        ]
        for f in list(self.failures.values())[:10]:
            lines.append(f"  FAIL x{f.count} {f.what}\n       at {f.where}\n       seed {f.seed}, input {f.saved}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def record(self, key: str, failure: Failure, data: bytes | None, out_dir: Path | None, detail: str) -> None:
        if key in self.failures:
            self.failures[key].count += 1
            return
        if out_dir is not None and data is not None and len(self.failures) < MAX_SAVED:
            out_dir.mkdir(parents=True, exist_ok=True)
            stem = f"{self.target}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
            (out_dir / f"{stem}.bin").write_bytes(data)
            (out_dir / f"{stem}.txt").write_text(f"{failure.what}\nseed: {failure.seed}\n\n{detail}\n",
                                                 encoding="utf-8")
            failure.saved = str(out_dir / f"{stem}.bin")
        self.failures[key] = failure


def _innermost(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    if not tb:
        return "?"
    frame = tb[-1]
    return f"{frame.filename.rsplit('site-packages/', 1)[-1]}:{frame.lineno} in {frame.name}"


# ------------------------------------------------------------------------------------------------ decoder


def check_decode(data: bytes, limits: MediaLimits = FUZZ_LIMITS, name: str = "fuzz") -> str:
    """Decode one input: the outcome's name ("ok" or the project's error class); anything else propagates."""
    try:
        media = decode_image(data, limits, name)
    except AssetScreenError as exc:
        return type(exc).__name__
    if not media.frames:
        raise AssertionError("decode_image returned no frames and no error")
    for frame in media.frames:
        h, w = frame.rgb.shape[:2]
        if max(h, w) > max(limits.work_side, 1):
            raise AssertionError(f"a frame of {w}x{h} is over work_side {limits.work_side}")
    return "ok"


def fuzz_decode(seconds: float, seed: int = 0, out_dir: Path | None = None,
                limits: MediaLimits = FUZZ_LIMITS, progress: Callable[[FuzzReport], None] | None = None) -> FuzzReport:
    """Mutate the seed corpus for `seconds`; every input must decode or raise the project's own error."""
    rng = random.Random(seed)
    seeds = seed_corpus()
    names = sorted(seeds)
    pool = [seeds[n] for n in names]
    report = FuzzReport("decode")
    for n in names:  # the seeds themselves must decode
        try:
            if check_decode(seeds[n], limits, n) != "ok":
                report.notes.append(f"seed {n} does not decode")
        except Exception as exc:  # reported like any other failure
            where = _innermost(exc)
            report.record(f"{type(exc).__name__}@{where}", Failure(f"{type(exc).__name__}: {str(exc)[:200]}", where,
                                                                   f"seed {n}"), seeds[n], out_dir,
                          traceback.format_exc())
    kept: list[tuple[str, bytes]] = []  # mutants that still decode: mutated again later
    t0 = time.perf_counter()
    deadline = t0 + seconds
    next_progress = t0 + 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns on corrupt EXIF and the like; the outcome is what counts
        while time.perf_counter() < deadline:
            if kept and rng.random() < 0.25:
                label, base = rng.choice(kept)
            else:
                label = rng.choice(names)
                base = seeds[label]
            data = mutate(base, rng, pool)
            report.inputs += 1
            case = f"{label} mutant #{report.inputs} (seed {seed})"
            t = time.perf_counter()
            try:
                outcome = check_decode(data, limits, f"fuzz-{report.inputs}")
            except Exception as exc:  # the point of fuzzing: anything not ours is a failure to report
                outcome = "FAILURE"
                where = _innermost(exc)
                report.record(f"{type(exc).__name__}@{where}",
                              Failure(f"{type(exc).__name__}: {str(exc)[:200]}", where, case), data, out_dir,
                              traceback.format_exc())
            took = time.perf_counter() - t
            report.slowest_s = max(report.slowest_s, took)
            if took > SLOW_S:
                report.record(f"slow@{label}", Failure(f"slow: {took:.1f} s ({outcome})", label, case), data,
                              out_dir, "")
            report.outcomes[outcome] += 1
            if outcome == "ok" and len(kept) < 500:
                kept.append((label, data))
            if progress is not None and time.perf_counter() >= next_progress:
                report.seconds = time.perf_counter() - t0
                progress(report)
                next_progress += 10
    report.seconds = time.perf_counter() - t0
    return report


# ------------------------------------------------------------------------------------------------ HTTP API


def _error_shape_problem(status: int, body: bytes, content_type: str) -> str | None:
    """Why a response breaks the API's promises (None when it keeps them)."""
    import json

    text = body.decode("utf-8", "replace")
    if "Traceback (most recent call last)" in text or 'File "/' in text:
        return "a traceback in the body"
    if status < 400:
        return None
    if "json" not in content_type:
        return f"error response is {content_type or 'untyped'}, not JSON"
    try:
        payload = json.loads(text)
    except ValueError:
        return "error response is not valid JSON"
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), str) or \
            not isinstance(payload.get("detail"), str):
        return 'error response lacks the {"error", "detail"} shape'
    return None


def _server_error(status: int, body: bytes, path: str) -> str | None:
    """A 5xx that is not one of the documented 503s (an incomplete verdict, or /readyz not ready)."""
    import json

    if status < 500:
        return None
    if status == 503:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        if isinstance(payload, dict) and (payload.get("error") == "IncompleteVerdict" or
                                          (path == "/readyz" and payload.get("status") == "not_ready")):
            return None
    return f"server error {status}"


MASTODON_SECRET = "fuzz-mastodon-secret"
JSON_ODDITIES: tuple[Any, ...] = (None, 0, -1, 2**63, 1e308, float("inf"), True, "", "x" * 20_000, [], {}, "\u0000",
                                  "\ud7ff\u202e<script>alert(1)</script>", [[[[[[[[[[[]]]]]]]]]]], {"a": {"b": {}}},
                                  "https://media.example/../../etc/passwd", "../../x.png", "ü" * 300)


class MutatedMediaFetcher:
    """Stands in for MediaFetcher on inbound webhooks: each URL gets a (mutated) seed image, never the network."""

    def __init__(self, seed: int) -> None:
        self.seeds = list(seed_corpus().values())
        self.seed = seed

    def fetch(self, url: str) -> bytes:
        rng = random.Random(f"{self.seed}:{url}")
        data = rng.choice(self.seeds)
        return mutate(data, rng, self.seeds) if rng.random() < 0.7 else data


def mastodon_event(rng: random.Random) -> bytes:
    """A Mastodon status.created or report.created body, with values swapped for odd ones, keys dropped or added,
    and now and then its bytes mutated."""
    import copy
    import json

    status = {"id": str(rng.randrange(10**6)), "content": "<p>proud to serve <b>the DC office</b></p>",
              "spoiler_text": "", "account": {"id": "7", "acct": "officer@example.org"},
              "media_attachments": [{"type": "image", "url": f"https://media.example/{rng.randrange(99)}.png"}]}
    event: dict[str, Any] = {"event": "status.created", "created_at": "2025-02-15T10:00:00Z", "object": status}
    if rng.random() < 0.3:
        event = {"event": "report.created", "object": {"id": "r1", "statuses": [status, copy.deepcopy(status)]}}
    for _ in range(rng.randint(0, 3)):
        node: Any = event
        path: list[Any] = []
        while isinstance(node, (dict, list)) and node and rng.random() < 0.7:
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            path.append(key)
            node = node[key]
        if not path:
            continue
        parent = event
        for key in path[:-1]:
            parent = parent[key]
        action = rng.random()
        # A fresh copy of the odd value: the shared constants must never be mutated (a later mutation could put
        # a list inside itself, and the next run would not try the same inputs).
        if action < 0.6:
            parent[path[-1]] = copy.deepcopy(rng.choice(JSON_ODDITIES))
        elif action < 0.8 and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[f"extra_{rng.randrange(9)}"] = copy.deepcopy(rng.choice(JSON_ODDITIES))
    body = json.dumps(event, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    return mutate(body, rng, []) if rng.random() < 0.2 else body


def review_decision(rng: random.Random) -> bytes:
    """A reviewer's decision body, boxes and kinds now and then odd: inverted, NaN, huge, on a missing image."""
    import json

    odd_box = rng.choice([[10, 10, 50, 50], [50, 50, 10, 10], [float("nan")] * 4, [0, 0, 1e300, 1e300],
                          [-5, -5, 0, 0], [0, 0, 0, 0], [1, 2, 3]])
    body: dict[str, Any] = {
        "decision": rng.choice(["confirm", "dismiss", "correct", "correct", "maybe"]),
        "kinds": rng.choice([[], ["uniform"], ["gov_vehicle", "uniform"], ["not_a_kind"], ["uniform"] * 9]),
        "boxes": rng.choice([[], [{"image": rng.choice([0, 1, 7, 100]), "kind": rng.choice(["uniform", "x"]),
                                   "box": odd_box}]]),
        "note": rng.choice(["", "looks like police", "\u202e" * 50, "n" * 3000]),
    }
    if rng.random() < 0.15:
        body[rng.choice(list(body))] = rng.choice(JSON_ODDITIES)
    return json.dumps(body, allow_nan=True).encode()


class _LoggedExceptions(logging.Handler):
    """Exceptions the app logs instead of raising: the 500 handler's and a background task's."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.name == "asyncio":
            self.records.append(record)


def build_fuzz_app(settings: Settings, seed: int = 0) -> tuple[Any, str]:
    """The app on a throwaway in-memory store with an admin key, so every endpoint can be reached; inbound Mastodon
    webhooks on with a known secret, their media from MutatedMediaFetcher."""
    from service.api import create_app
    from service.store import MemoryStore

    if not settings.inbound.mastodon_secret:
        settings = settings.model_copy(
            update={"inbound": settings.inbound.model_copy(update={"mastodon_secret": MASTODON_SECRET})})
    store = MemoryStore()
    app = create_app(settings, store=store, fetcher=MutatedMediaFetcher(seed))
    _, token = store.add_key("fuzz-admin", "admin")
    return app, token


def fuzz_api(seconds: float, seed: int = 0, out_dir: Path | None = None, settings: Settings | None = None,
             progress: Callable[[FuzzReport], None] | None = None) -> FuzzReport:
    """Round robin over every operation: schemathesis cases valid and invalid per the OpenAPI, then mutated images
    through /v1/screen (multipart) and /v1/hook (base64), and signed, mutated Mastodon events. Every response must
    keep the API's promises (no 5xx but the documented 503s, errors shaped {"error", "detail"}, no traceback), no
    exception may escape the app, and none may be logged by it (its 500 handler, a background task)."""
    try:
        import schemathesis
        from hypothesis import HealthCheck, Phase, given
        from hypothesis import seed as hseed
        from hypothesis import settings as hsettings
        from hypothesis.errors import Unsatisfiable
        from schemathesis import GenerationMode
        from schemathesis.core.result import Ok
    except ImportError as exc:
        raise BadInput("fuzz api needs schemathesis: pip install schemathesis (the dev extra)") from exc
    import base64
    import hmac

    from fastapi.testclient import TestClient

    settings = settings or Settings.load()
    app, token = build_fuzz_app(settings, seed)
    secret = settings.inbound.mastodon_secret or MASTODON_SECRET
    auth = {"Authorization": f"Bearer {token}"}
    report = FuzzReport("api")
    rng = random.Random(seed)
    seeds = seed_corpus()
    seed_names = sorted(seeds)
    pool = list(seeds.values())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Ok):
            operations.append(result.ok())
        else:  # a part of the schema schemathesis cannot use: said, not fatal
            report.notes.append(f"schemathesis cannot use an operation: {result.err()}")
    logged = _LoggedExceptions()
    logging.getLogger().addHandler(logged)
    t0 = time.perf_counter()
    deadline = t0 + seconds
    next_progress = t0 + 10

    def judge(status: int, body: bytes, content_type: str, label: str, data: bytes | None, case: str) -> str:
        problem = _server_error(status, body, label.split(" ", 1)[-1]) or _error_shape_problem(status, body,
                                                                                                content_type)
        if problem:
            report.record(f"{problem}@{label}", Failure(f"{problem}: {body[:200]!r}", label, case), data, out_dir,
                          f"{case}\nstatus {status}\n{body[:2000]!r}")
            return "FAILURE"
        return str(status)

    def escaped(exc: Exception, label: str, case: str, data: bytes) -> None:
        where = _innermost(exc)
        report.record(f"{type(exc).__name__}@{where}",
                      Failure(f"{type(exc).__name__}: {str(exc)[:200]}", f"{label} -> {where}", case), data, out_dir,
                      traceback.format_exc())
        report.outcomes[f"{label} FAILURE"] += 1

    def check_logs(label: str, case: str, data: bytes) -> None:
        while logged.records:
            rec = logged.records.pop(0)
            where = f"{rec.pathname.rsplit('site-packages/', 1)[-1]}:{rec.lineno}"
            text = logging.Formatter().format(rec)
            report.record(f"logged@{where}@{rec.getMessage()[:60]}",
                          Failure(f"logged: {rec.getMessage()[:200]}", f"{label} -> {where}", case), data, out_dir,
                          text)
            report.outcomes[f"{label} FAILURE (logged)"] += 1

    def call(case: Any) -> None:
        if time.perf_counter() >= deadline:
            return
        label = f"{case.method.upper()} {case.operation.path}"
        report.inputs += 1
        t = time.perf_counter()
        try:
            response = case.call(headers=auth)
        except Exception as exc:  # an exception escaped the app: the one thing this fuzzer exists to find
            escaped(exc, label, repr(case)[:300], repr(case).encode())
            return
        report.slowest_s = max(report.slowest_s, time.perf_counter() - t)
        ctype = response.headers.get("content-type") or ""  # schemathesis keeps each header as a list
        ctype = ctype[0] if isinstance(ctype, list) and ctype else ctype
        outcome = judge(response.status_code, response.content, str(ctype), label, repr(case).encode(),
                        repr(case)[:300])
        report.outcomes[f"{label} {outcome}"] += 1
        check_logs(label, repr(case)[:300], repr(case).encode())

    def post(client: TestClient, kind: str) -> None:
        name = rng.choice(seed_names)
        data = mutate(seeds[name], rng, pool) if rng.random() < 0.8 else seeds[name]
        case = f"{kind}: {name} mutant (seed {seed}, input {report.inputs + 1})"
        kw: dict[str, Any]
        if kind == "POST /v1/screen (mutated image)":
            path, kw = "/v1/screen", {"files": {"files": (f"{name}.bin", data, "image/jpeg")}, "headers": auth,
                                      "data": {"caption": rng.choice(["", "proud to serve", "\u202e" * 3])}}
        elif kind == "POST /v1/hook (mutated image)":
            path, kw = "/v1/hook", {"json": {"images_b64": [base64.b64encode(data).decode()]}, "headers": auth}
        elif kind == "results of real screenings" and results:
            rid = rng.choice(results)
            what = rng.randrange(4)
            data = review_decision(rng) if what == 2 else rid.encode()
            case = f"{kind}: result {rid} (seed {seed}, input {report.inputs + 1})"
            report.inputs += 1
            try:
                if what == 0:
                    r = client.get(f"/v1/results/{rid}", headers=auth)
                elif what == 1:
                    image = rng.choice(["0", "1", "-1", "99", str(2**40), "x", ""])
                    r = client.get(f"/v1/results/{rid}/evidence.png", params={"image": image}, headers=auth)
                elif what == 2:
                    r = client.post(f"/v1/results/{rid}/decisions", content=data,
                                    headers={**auth, "Content-Type": "application/json"})
                else:
                    r = client.get(f"/v1/results/{rid}/decisions", headers=auth)
            except Exception as exc:  # an exception escaped the app
                escaped(exc, kind, case, data)
                return
            outcome = judge(r.status_code, r.content, r.headers.get("content-type", ""), kind, data, case)
            report.outcomes[f"{kind} {outcome}"] += 1
            check_logs(kind, case, data)
            return
        else:
            data = mastodon_event(rng)
            sig = "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
            path, kw = "/v1/inbound/mastodon", {"content": data, "headers": {"X-Hub-Signature": sig,
                                                                               "Content-Type": "application/json"}}
        report.inputs += 1
        t = time.perf_counter()
        try:
            r = client.post(path, **kw)
        except Exception as exc:  # an exception escaped the app
            escaped(exc, kind, case, data)
            return
        report.slowest_s = max(report.slowest_s, time.perf_counter() - t)
        outcome = judge(r.status_code, r.content, r.headers.get("content-type", ""), kind, data, case)
        report.outcomes[f"{kind} {outcome}"] += 1
        check_logs(kind, case, data)
        if r.status_code in (200, 503) and len(results) < 200:
            try:
                stored: Any = r.json().get("result_id")
            except ValueError:
                stored = None
            if isinstance(stored, str):
                results.append(stored)

    results: list[str] = []  # ids of stored results: reviewed, drawn and fetched by the follow-ups
    client = TestClient(app, raise_server_exceptions=True)
    batch = 0
    exhausted: set[tuple[str, str]] = set()  # (operation, mode) with nothing left to generate
    kinds = ["POST /v1/screen (mutated image)"] * 2 + ["POST /v1/hook (mutated image)", "POST /v1/inbound/mastodon"
                                                        " (signed, mutated event)"] + ["results of real screenings"] * 2
    try:
        with client, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            while time.perf_counter() < deadline and operations:
                for op in list(operations):
                    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                        if time.perf_counter() >= deadline or (op.label, mode.value) in exhausted:
                            continue
                        batch += 1
                        strategy = op.as_strategy(generation_mode=mode)

                        @hsettings(max_examples=10, deadline=None, database=None, phases=[Phase.generate],
                                   suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
                        @hseed(seed * 100_003 + batch)
                        @given(case=strategy)
                        def run_batch(case: Any) -> None:
                            call(case)

                        try:
                            run_batch()
                        except Unsatisfiable:  # e.g. no invalid request exists for an operation without inputs
                            exhausted.add((op.label, mode.value))
                        except Exception as exc:  # schemathesis could not generate for this operation
                            exhausted.add((op.label, mode.value))
                            report.notes.append(f"{op.label} ({mode.value}): generation stopped: {exc!r}"[:300])
                    for _ in range(6):  # the decoder fuzzer's hostile images, mutated events, follow-ups
                        if time.perf_counter() < deadline:
                            post(client, rng.choice(kinds))
                    if progress is not None and time.perf_counter() >= next_progress:
                        report.seconds = time.perf_counter() - t0
                        progress(report)
                        next_progress += 10
            time.sleep(0.5)  # let background screening of the last inbound events finish
            check_logs("background", "inbound webhook screening", b"")
    finally:
        logging.getLogger().removeHandler(logged)
    report.seconds = time.perf_counter() - t0
    return report
