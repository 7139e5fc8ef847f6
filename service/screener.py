"""The screening pipeline: `Screener.screen(post) -> Verdict`, the one core call every adapter uses.

Detectors are built once per process from the registry. A detector that cannot be built (missing model file,
missing package) or that fails on an image is reported in the verdict's `detector_status`, never silently
skipped and never fatal for the other detectors. Every stage is timed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from detectors.base import DetectorRegistry, ImageContext, ImageDetector, TextDetector
from detectors.errors import AssetScreenError, DetectorUnavailable
from detectors.evidence import DecisionLevel, DetectorStatus, Evidence, Post, Verdict
from service.policy import Policy
from service.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuiltDetectors:
    image: tuple[ImageDetector, ...]
    text: tuple[TextDetector, ...]
    unavailable: tuple[DetectorStatus, ...]


def build_detectors(settings: Settings, names: Sequence[str] | None = None) -> BuiltDetectors:
    image: list[ImageDetector] = []
    text: list[TextDetector] = []
    unavailable: list[DetectorStatus] = []
    for name in names if names is not None else settings.detectors:
        try:
            factory = DetectorRegistry.factory(name)
        except KeyError as exc:
            unavailable.append(DetectorStatus(name, "unavailable", str(exc.args[0])))
            continue
        try:
            det = factory(settings)
        except DetectorUnavailable as exc:
            unavailable.append(DetectorStatus(name, "unavailable", str(exc)))
            continue
        if isinstance(det, ImageDetector):
            image.append(det)
        elif isinstance(det, TextDetector):
            text.append(det)
        else:  # pragma: no cover - a programming error in a factory
            raise TypeError(f"detector {name} implements neither detect() nor detect_post()")
    return BuiltDetectors(tuple(image), tuple(text), tuple(unavailable))


class Screener:
    """Holds the built detectors and the policy; safe to share across requests (no per-request state)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        detectors: BuiltDetectors | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.settings = settings or Settings.load()
        self.detectors = detectors if detectors is not None else build_detectors(self.settings)
        self.policy = policy if policy is not None else Policy.load(self.settings.policy)
        self._lock = threading.Lock()  # detectors hold ONNX sessions; one post at a time per process is fastest

    @property
    def model_versions(self) -> dict[str, str]:
        dets: list[ImageDetector | TextDetector] = [*self.detectors.image, *self.detectors.text]
        return {d.name: d.version for d in dets}

    def screen(self, post: Post, *, policy: Policy | None = None) -> Verdict:
        policy = policy or self.policy
        timings: dict[str, float] = {}
        statuses: list[DetectorStatus] = list(self.detectors.unavailable)
        evidence: list[Evidence] = []
        t_start = time.perf_counter()
        with self._lock:
            for idx, image in enumerate(post.images):
                ctx = ImageContext(rgb=image.rgb, index=idx, name=image.name)
                for det in self.detectors.image:
                    t0 = time.perf_counter()
                    try:
                        found = det.detect(ctx)
                    except DetectorUnavailable as exc:
                        statuses.append(DetectorStatus(det.name, "unavailable", str(exc), idx))
                        found = []
                    except AssetScreenError as exc:
                        statuses.append(DetectorStatus(det.name, "error", str(exc), idx))
                        found = []
                    except Exception as exc:  # a detector bug must not lose the other detectors' evidence
                        log.exception("detector %s failed on image %d", det.name, idx)
                        statuses.append(DetectorStatus(det.name, "error", f"{type(exc).__name__}: {exc}", idx))
                        found = []
                    _add(timings, det.name, (time.perf_counter() - t0) * 1000)
                    evidence.extend(e.with_image(idx) for e in found)
                for stage, ms in ctx.timings_ms.items():
                    _add(timings, f"shared.{stage}", ms)
            for tdet in self.detectors.text:
                t0 = time.perf_counter()
                try:
                    evidence.extend(tdet.detect_post(post))
                except Exception as exc:
                    log.exception("detector %s failed", tdet.name)
                    statuses.append(DetectorStatus(tdet.name, "error", f"{type(exc).__name__}: {exc}"))
                _add(timings, tdet.name, (time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        decision, score, findings = policy.evaluate(evidence, post=post)
        timings["policy"] = (time.perf_counter() - t0) * 1000
        timings["total"] = (time.perf_counter() - t_start) * 1000
        return Verdict(
            decision=decision,
            score=score,
            findings=tuple(findings),
            evidence=tuple(evidence),
            timings_ms=timings,
            model_versions=self.model_versions,
            detector_status=tuple(statuses),
            post_id=post.post_id,
            policy_version=policy.version,
        )


def _add(timings: dict[str, float], key: str, ms: float) -> None:
    timings[key] = timings.get(key, 0.0) + ms


__all__ = ["BuiltDetectors", "DecisionLevel", "Screener", "build_detectors"]
