"""`assetscreen load`: N screening requests from C concurrent clients against a running server, with /healthz
probed throughout, so an operator sees throughput, latency, liveness under load and the server's peak memory.

Loopback only (it is a load generator: pointing it at someone else's server is not its job), bounded (a fixed
number of requests), standard library only.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import json
import socket
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from detectors.errors import BadInput


def _check_loopback(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise BadInput("the load test speaks plain http to a local server: http://127.0.0.1:PORT")
    try:
        addrs = {str(ai[4][0]) for ai in socket.getaddrinfo(parts.hostname, parts.port or 80)}
    except OSError as exc:
        raise BadInput(f"cannot resolve {parts.hostname}: {exc}") from None
    if not addrs or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs):
        raise BadInput(f"{parts.hostname} is not a loopback address: the load test only runs against this machine")
    return parts.hostname, parts.port or 80


def generated_images(n: int = 4, size: tuple[int, int] = (1280, 960)) -> list[tuple[str, bytes]]:
    """Photo-sized JPEGs with shapes and text-like stripes (no real photo ships with the project)."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        base = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize(size, Image.Resampling.BICUBIC)
        d = ImageDraw.Draw(img)
        for _ in range(12):
            x, y = int(rng.integers(0, size[0] - 200)), int(rng.integers(0, size[1] - 120))
            d.rectangle((x, y, x + int(rng.integers(40, 200)), y + int(rng.integers(20, 120))),
                        fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        d.rectangle((100, 100, 700, 500), fill=(250, 250, 245))
        for row in range(12):
            d.rectangle((130, 130 + row * 28, 130 + int(rng.integers(200, 540)), 142 + row * 28), fill=(20, 20, 20))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=88)
        out.append((f"load{i}.jpg", buf.getvalue()))
    return out


def _multipart(name: str, data: bytes, caption: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n",
        f'--{boundary}\r\nContent-Disposition: form-data; name="caption"\r\n\r\n{caption}\r\n'.encode(),
        f"--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _peak_rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(round(q * (len(s) - 1))))], 1)


def run_load(
    url: str, key: str, *, images: list[Path] | None = None, requests: int = 500, clients: int = 20,
    server_pid: int | None = None, timeout_s: float = 300.0, probe_interval_s: float = 0.05,
) -> dict[str, Any]:
    if not 1 <= requests <= 100_000 or not 1 <= clients <= 256:
        raise BadInput("requests must be 1-100000 and clients 1-256")
    host, port = _check_loopback(url)
    media = [(p.name, p.read_bytes()) for p in images] if images else generated_images()
    bodies = [_multipart(n, d, "load test post") for n, d in media]
    lock = threading.Lock()
    next_i = [0]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    health: list[float] = []
    health_fail = [0]
    done = threading.Event()

    def client() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        while True:
            with lock:
                if next_i[0] >= requests:
                    break
                i = next_i[0]
                next_i[0] += 1
            body, ctype = bodies[i % len(bodies)]
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/v1/screen", body=body,
                             headers={"Authorization": f"Bearer {key}", "Content-Type": ctype})
                resp = conn.getresponse()
                payload = resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
                status, payload = 0, f"{type(exc).__name__}: {exc}".encode()
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if status == 200:
                    latencies.append(ms)
                elif len(errors) < 5:
                    errors.append(f"{status}: {payload[:200].decode('utf-8', 'replace')}")
        conn.close()

    def prober() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        while not done.is_set():
            t0 = time.perf_counter()
            try:
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    health.append((time.perf_counter() - t0) * 1000)
                else:
                    health_fail[0] += 1
            except (OSError, http.client.HTTPException):
                health_fail[0] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
            done.wait(probe_interval_s)
        conn.close()

    probe = threading.Thread(target=prober, daemon=True)
    probe.start()
    t_start = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t_start
    done.set()
    probe.join(15)
    ok = statuses.get("200", 0)
    return {
        "requests": requests,
        "clients": clients,
        "images": [n for n, _ in media],
        "ok": ok,
        "errors": requests - ok,
        "statuses": statuses,
        "first_errors": errors,
        "wall_s": round(wall, 1),
        "requests_per_second": round(requests / wall, 2) if wall else None,
        "p50_ms": _pct(latencies, 0.5),
        "p95_ms": _pct(latencies, 0.95),
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "healthz_probes": len(health),
        "healthz_failures": health_fail[0],
        "healthz_p50_ms": _pct(health, 0.5),
        "healthz_p95_ms": _pct(health, 0.95),
        "healthz_max_ms": round(max(health), 1) if health else None,
        "server_peak_rss_mb": _peak_rss_mb(server_pid),
    }


def format_report(r: dict[str, Any]) -> str:
    lines = [
        f"{r['requests']} requests from {r['clients']} clients in {r['wall_s']} s "
        f"({r['requests_per_second']} req/s): {r['ok']} ok, {r['errors']} errors {json.dumps(r['statuses'])}",
        f"latency p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms",
        f"/healthz during the load: {r['healthz_probes']} probes, {r['healthz_failures']} failed, "
        f"p50 {r['healthz_p50_ms']} ms, p95 {r['healthz_p95_ms']} ms, max {r['healthz_max_ms']} ms",
        f"server peak RSS: {r['server_peak_rss_mb']} MB" if r["server_peak_rss_mb"] else "server peak RSS: "
        "(pass --server-pid)",
    ]
    lines += [f"  error: {e}" for e in r["first_errors"]]
    return "\n".join(lines)
