"""The recognition stage: after the cue detectors, score each image with the learned heads and the example bank.

For every kind with a head it emits one graded `Evidence` (detector "recognition", score = calibrated
probability) that explains itself: the cue evidence that fed it, how much each feature block pushed the score,
the top ImageNet classes, and the nearest confirmed examples. The bank's votes are evidence of their own
(detector "examples"), so what an operator confirms counts at the next screening. Which scores lead to a
finding is the policy's business, not this stage's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from detectors.base import ImageContext
from detectors.evidence import Box, Evidence, Kind
from detectors.recognition.bank import Example, ExampleBank
from detectors.recognition.features import VEHICLE_CLASSES, RawFeatures
from detectors.recognition.heads import HeadSet
from detectors.runtime.mobilenet import PretrainedModels, image_features
from detectors.runtime.yolo import Detection, YoloRunner, objects

_NONE: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
# Which cue evidence and which object boxes give a learned finding its box.
_SUPPORT: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    Kind.GOV_VEHICLE.value: (frozenset({"gov_vehicle"}), VEHICLE_CLASSES),
    Kind.UNIFORM.value: (frozenset({"uniform"}), frozenset({"person"})),
    Kind.INSIGNIA.value: (frozenset({"insignia", "office_setting"}), frozenset()),
    Kind.OFFICIAL_DOCUMENT.value: (frozenset({"official_document", "document"}), frozenset()),
}


@runtime_checkable
class RecognitionStage(Protocol):
    """What the screener needs of the learned stage (tests pass a fake)."""

    name: str

    @property
    def version(self) -> str: ...

    @property
    def produces(self) -> frozenset[str]: ...

    @property
    def cue_keys(self) -> frozenset[str]:
        """The cue keys its features read (`detector:kind`, `detector:cue:NAME`)."""
        ...

    @property
    def cue_detectors(self) -> frozenset[str]:
        """The cue detectors whose evidence its features read."""
        ...

    @property
    def versions(self) -> dict[str, str]: ...

    def recognise(self, ctx: ImageContext, evidence: Sequence[Evidence]) -> list[Evidence]: ...

    def unsettled(
        self, ctx: ImageContext, evidence: Sequence[Evidence], keys: frozenset[str],
        cuts: Mapping[str, Sequence[float]],
    ) -> list[str]:
        """The kinds whose score could land on either side of one of their `cuts` if the given cue keys
        (`detector:kind`, `detector:cue:NAME`) took any value (say, once the image's text is read): empty means
        that text cannot change what the policy decides, so it need not be read."""
        ...

    def embedding(self, ctx: ImageContext) -> np.ndarray | None:
        """The image's embedding in the example bank's metric (memoised: no second model run), if any."""
        ...


@dataclass(frozen=True)
class FeatureExtractor:
    """The shipped models that turn an image (plus its cue evidence) into `RawFeatures`."""

    models: PretrainedModels
    runner: YoloRunner | None

    @property
    def versions(self) -> dict[str, str]:
        out = dict(self.models.versions)
        if self.runner is not None:
            out["objects"] = self.runner.version
        return out

    def detections(self, ctx: ImageContext) -> list[Detection]:
        return objects(ctx, self.runner) if self.runner is not None else []

    def raw(self, ctx: ImageContext, evidence: Sequence[Evidence]) -> RawFeatures:
        return RawFeatures.build(
            image_features(ctx, self.models), self.detections(ctx), ctx.width, ctx.height, evidence
        )


class Recognizer:
    name = "recognition"

    def __init__(self, extractor: FeatureExtractor, heads: HeadSet, bank: ExampleBank | None = None) -> None:
        self.extractor = extractor
        self.heads = heads
        self.bank = bank

    @property
    def version(self) -> str:
        return self.heads.version

    @property
    def versions(self) -> dict[str, str]:
        return {"recognition": self.heads.version, **self.extractor.versions}

    @property
    def produces(self) -> frozenset[str]:
        return frozenset(self.heads.heads)

    @property
    def cue_keys(self) -> frozenset[str]:
        return frozenset(self.heads.spec.cue_keys)

    @property
    def cue_detectors(self) -> frozenset[str]:
        return frozenset(key.split(":", 1)[0] for key in self.heads.spec.cue_keys)

    def embedding(self, ctx: ImageContext) -> np.ndarray | None:
        return np.asarray(image_features(ctx, self.extractor.models).embedding, dtype=np.float32)

    def unsettled(
        self, ctx: ImageContext, evidence: Sequence[Evidence], keys: frozenset[str],
        cuts: Mapping[str, Sequence[float]],
    ) -> list[str]:
        t0 = time.perf_counter()
        blocks = self.extractor.raw(ctx, evidence).blocks(self.heads.spec)
        kinds = self.heads.unsettled(blocks, keys, cuts)
        ctx.timings_ms["recognition"] = ctx.timings_ms.get("recognition", 0.0) + (time.perf_counter() - t0) * 1000
        return kinds

    def recognise(self, ctx: ImageContext, evidence: Sequence[Evidence]) -> list[Evidence]:
        t0 = time.perf_counter()
        raw = self.extractor.raw(ctx, evidence)
        blocks = raw.blocks(self.heads.spec)
        labels = self.extractor.models.classifier.labels
        top = image_features(ctx, self.extractor.models).top_classes(labels, 5)
        near = self.bank.nearest(raw.embedding) if self.bank is not None and len(self.bank) else []
        nearest = [{"id": e.id, "kind": e.kind, "similarity": round(sim, 3)} for e, sim in near[:3]]
        out: list[Evidence] = []
        for kind, head in sorted(self.heads.heads.items()):
            p = head.probability(blocks)
            if p < head.report_floor:
                continue
            support = [e for e in evidence if e.kind in _SUPPORT.get(kind, _NONE)[0]]
            contrib = head.contributions(blocks, self.heads.spec)
            cues = "; ".join(f"{e.detector}: {e.explanation}" for e in support[:3]) or "no hand-written cue fired"
            looks = ", ".join(f"{n} {s:.2f}" for n, s in top[:3])
            out.append(
                Evidence(
                    kind=kind,
                    label=f"{kind.replace('_', ' ')} (learned)",
                    score=min(1.0, max(0.0, p)),
                    detector=self.name,
                    detector_version=self.heads.version,
                    explanation=f"learned head p={p:.2f}; cues: {cues}; pretrained classes: {looks}",
                    box=self._box(kind, support, ctx),
                    details={
                        "probability": round(p, 4),
                        "contributions": contrib,
                        "cue_evidence": [
                            {"detector": e.detector, "kind": e.kind, "score": round(e.score, 3), "why": e.explanation}
                            for e in support[:5]
                        ],
                        "top_classes": [{"class": n, "p": s} for n, s in top],
                        "nearest_examples": nearest,
                    },
                )
            )
        out.extend(self._bank_evidence(near))
        ctx.timings_ms["recognition"] = ctx.timings_ms.get("recognition", 0.0) + (time.perf_counter() - t0) * 1000
        return out

    def _bank_evidence(self, near: list[tuple[Example, float]]) -> list[Evidence]:
        if self.bank is None or not near:
            return []
        out = []
        for v in self.bank.votes_among(near):
            names = ", ".join(f"{i} ({s:.2f})" for i, s in v.neighbours)
            out.append(
                Evidence(
                    kind=v.kind,
                    label=f"{v.kind.replace('_', ' ')} (confirmed examples)",
                    score=v.score,
                    detector="examples",
                    detector_version=f"bank-{len(self.bank)}",
                    explanation=f"looks like {len(v.neighbours)} confirmed example(s) of {v.kind}: {names}",
                    details={
                        "neighbours": [{"id": i, "similarity": s} for i, s in v.neighbours],
                        "against": [{"id": i, "similarity": s} for i, s in v.against],
                    },
                )
            )
        return out

    def _box(self, kind: str, support: Sequence[Evidence], ctx: ImageContext) -> Box | None:
        boxed = [e for e in support if e.box is not None]
        if boxed:
            return max(boxed, key=lambda e: e.score).box
        classes = _SUPPORT.get(kind, _NONE)[1]
        dets = [d for d in self.extractor.detections(ctx) if d.label in classes]
        if dets:
            return max(dets, key=lambda d: d.area).box
        return None


__all__ = ["FeatureExtractor", "RecognitionStage", "Recognizer"]
