"""Fake detectors for pipeline tests: deterministic, cheap, and registered under names of their own."""

from __future__ import annotations

from typing import Any

import numpy as np

from detectors.base import ImageContext, register_detector
from detectors.errors import DetectorUnavailable
from detectors.evidence import OFFICIAL_ASSET_KINDS, Evidence, Post


class RedPatchDetector:
    """Reports a `uniform` wherever the image has a pure red patch: lets tests drive the pipeline by drawing."""

    name = "fake_red"
    version = "1"
    produces = frozenset({"uniform"})

    def detect(self, ctx: ImageContext) -> list[Evidence]:
        mask = (ctx.rgb[:, :, 0] > 200) & (ctx.rgb[:, :, 1] < 50) & (ctx.rgb[:, :, 2] < 50)
        if mask.sum() < 16:
            return []
        ys, xs = np.nonzero(mask)
        box = (float(xs.min()), float(ys.min()), float(xs.max()) + 1, float(ys.max()) + 1)
        return [Evidence("uniform", "red patch", 0.9, self.name, self.version, "red pixels", box=box)]


class CaptionWordDetector:
    name = "fake_caption"
    version = "1"
    produces = frozenset({"glorification"})

    def detect_post(self, post: Post) -> list[Evidence]:
        if "proud" in post.caption.lower():
            return [Evidence("glorification", "proud", 0.8, self.name, self.version, "word 'proud'")]
        return []


class CrashingDetector:
    name = "fake_crash"
    version = "1"
    produces = frozenset({"insignia"})

    def detect(self, ctx: ImageContext) -> list[Evidence]:
        raise RuntimeError("boom")


@register_detector("fake_red")
def _red(settings: Any) -> RedPatchDetector:
    return RedPatchDetector()


@register_detector("fake_caption")
def _caption(settings: Any) -> CaptionWordDetector:
    return CaptionWordDetector()


@register_detector("fake_crash")
def _crash(settings: Any) -> CrashingDetector:
    return CrashingDetector()


@register_detector("fake_missing_model")
def _missing(settings: Any) -> RedPatchDetector:
    raise DetectorUnavailable("fake_missing_model", "model file weights/nothing.onnx is missing; copy it there",
                              missing_file="weights/nothing.onnx")


class EchoRecognizer:
    """Stands in for the learned stage: every cue evidence of an official kind comes back as "recognition"
    evidence with the same score, so pipeline tests drive the policy by drawing, without model files."""

    name = "recognition"
    version = "echo"
    versions = {"recognition": "echo"}
    produces = OFFICIAL_ASSET_KINDS
    cue_detectors: frozenset[str] = frozenset()
    cue_keys: frozenset[str] = frozenset()

    def recognise(self, ctx: ImageContext, evidence: Any) -> list[Evidence]:
        return [
            Evidence(e.kind, e.label, e.score, self.name, self.version, f"echo of {e.detector}", box=e.box)
            for e in evidence
            if e.kind in OFFICIAL_ASSET_KINDS
        ]

    def unsettled(self, ctx: ImageContext, evidence: Any, keys: frozenset[str], cuts: Any) -> list[str]:
        """Any text could matter: the screener always reads it for pipeline tests that use this stage."""
        return sorted(self.produces)

    def embedding(self, ctx: ImageContext) -> np.ndarray | None:
        """A tiny colour signature (mean RGB of a 4x4 grid), so tests can store and match embeddings."""
        import cv2

        small = cv2.resize(ctx.rgb, (4, 4), interpolation=cv2.INTER_AREA)  # any size, even 1x1
        cells = [small[i, j].astype(np.float32) for i in range(4) for j in range(4)]
        v = np.concatenate(cells).astype(np.float32) - 128.0
        return v / max(float(np.linalg.norm(v)), 1e-6)
