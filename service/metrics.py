"""Prometheus metrics for one app instance (its own registry, so tests and several apps do not collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from detectors.evidence import Verdict

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("assetscreen_requests", "HTTP requests", ["route", "status"], registry=r)
        self.request_seconds = Histogram(
            "assetscreen_request_seconds", "HTTP request latency", ["route"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.stage_seconds = Histogram(
            "assetscreen_stage_seconds", "Screening stage latency per post", ["stage"], buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.verdicts = Counter("assetscreen_verdicts", "Verdicts given", ["decision"], registry=r)
        self.queue_depth = Gauge("assetscreen_queue_depth", "Posts waiting for a worker", registry=r)
        self.in_flight = Gauge("assetscreen_in_flight", "Posts being screened", registry=r)
        self.rejected = Counter("assetscreen_rejected_busy", "Requests refused with 429 (queue full)", registry=r)

    def observe(self, verdict: Verdict, decode_ms: float) -> None:
        self.verdicts.labels(verdict.decision.value).inc()
        self.stage_seconds.labels("decode").observe(decode_ms / 1000)
        for stage, ms in verdict.timings_ms.items():
            self.stage_seconds.labels(stage).observe(ms / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)
