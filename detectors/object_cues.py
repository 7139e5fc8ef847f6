"""The shared skeleton of the vehicles and uniforms detectors: object boxes, cues per box, two evidence kinds.

Both take the object model's boxes of some classes (vehicles; persons), run a family of cues on the largest ones
(OCR only on the few largest enough to read), report every box as plain evidence (`vehicle`, `person`) and,
where the cues combine (noisy-OR) to at least the configured floor, official evidence (`gov_vehicle`,
`uniform`) that lists every cue that fired and why the others did not. What differs is which boxes count, how a
box is judged large enough, the cues themselves and the wording: subclasses supply those.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from detectors.base import ImageContext
from detectors.cues import CueResult, combine_scores, cue_details
from detectors.evidence import Box, Evidence, clip_box
from detectors.runtime.yolo import Detection, YoloRunner, check_classes, objects

Cues = list[CueResult]


class ObjectCueDetector:
    """Object boxes -> plain evidence for each, official evidence where its cues add up."""

    name: str
    role: str  # what the configured classes are, for error messages: "vehicle", "person"
    plain_kind: str
    official_kind: str

    def __init__(self, runner: YoloRunner, *, classes: Sequence[str], config: Any, ocr_engine: Any | None) -> None:
        self.runner = runner
        self.config = config
        self.classes = check_classes(runner, classes, self.role, self.name)
        self.ocr_engine = ocr_engine if config.ocr.enabled else None
        self.version = f"{config.version}+{runner.version}"

    # --- what subclasses decide ------------------------------------------------------------------------------

    def boxes(self, ctx: ImageContext) -> list[Detection]:
        floor = self.config.min_box_score
        return [d for d in objects(ctx, self.runner) if d.label in self.classes and d.score >= floor]

    def large_enough(self, det: Detection) -> bool:
        raise NotImplementedError

    def readable(self, det: Detection) -> bool:
        raise NotImplementedError

    def cues(self, ctx: ImageContext, det: Detection, read_text: bool) -> list[CueResult]:
        raise NotImplementedError

    @property
    def official_floor(self) -> float:
        raise NotImplementedError

    def plain(self, det: Detection, box: Box, found: Cues, results: Cues) -> Evidence:
        raise NotImplementedError

    def official(self, det: Detection, box: Box, score: float, found: Cues, results: Cues) -> Evidence:
        raise NotImplementedError

    # --- the shared loop -------------------------------------------------------------------------------------

    def detect(self, ctx: ImageContext) -> list[Evidence]:
        cfg = self.config
        dets = self.boxes(ctx)
        by_area = sorted(range(len(dets)), key=lambda i: (-dets[i].area, i))
        analysed = {i for i in by_area[: cfg.max_analysed] if self.large_enough(dets[i])}
        readable = [i for i in by_area if i in analysed and self.readable(dets[i])]
        read = set(readable[: cfg.ocr.max_regions])
        out: list[Evidence] = []
        for i, det in enumerate(dets):
            box = clip_box(det.box, ctx.width, ctx.height)
            if box is None:
                continue
            results = self.cues(ctx, det, i in read) if i in analysed else []
            found = [c for c in results if c.found]
            out.append(self.plain(det, box, found, results))
            score = combine_scores(c.score for c in found)
            if found and score >= self.official_floor:
                out.append(self.official(det, box, score, found, results))
        return out

    def evidence(self, kind: str, label: str, score: float, why: str, box: Box, details: dict[str, Any]) -> Evidence:
        return Evidence(kind, label, score, self.name, self.version, why, box=box, details=details)

    @staticmethod
    def official_details(results: list[CueResult], **extra: Any) -> dict[str, Any]:
        return {**extra, **cue_details(results)}


__all__ = ["Cues", "ObjectCueDetector"]
