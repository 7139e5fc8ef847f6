"""The shared data model: what every detector emits and what the screener returns.

Detectors only produce `Evidence`; the policy turns evidence into `Finding`s; the screener wraps both in a
`Verdict`. Records are frozen and validated on construction so that a bad box or score fails where it is made,
not three layers later in a reviewer's UI.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


class Kind(StrEnum):
    """Evidence kinds the project knows. Detectors may emit others (lowercase identifiers)."""

    GOV_VEHICLE = "gov_vehicle"
    VEHICLE = "vehicle"
    UNIFORM = "uniform"
    PERSON = "person"
    INSIGNIA = "insignia"
    FLAG_ONLY = "flag_only"
    DOCUMENT = "document"
    OFFICIAL_DOCUMENT = "official_document"
    OFFICE_SETTING = "office_setting"
    KNOWN_IMAGE = "known_image"
    GLORIFICATION = "glorification"
    DISCLOSURE = "disclosure"
    POLITICAL = "political"
    DISPARAGING = "disparaging"


# The kinds that make a post "show an official asset" (the post-level truth of the evaluator).
OFFICIAL_ASSET_KINDS: frozenset[str] = frozenset(
    {Kind.GOV_VEHICLE, Kind.UNIFORM, Kind.INSIGNIA, Kind.OFFICIAL_DOCUMENT}
)

_KIND_RE = re.compile(r"^[a-z][a-z0-9_]*$")

Box = tuple[float, float, float, float]


class DecisionLevel(StrEnum):
    CLEAR = "clear"
    REVIEW = "review"
    VIOLATION = "violation"
    # A detector that should have run did not (missing model, error): no clear can be given. Never a rule's
    # outcome; the screener sets it. HTTP 503, exit code 3.
    INCOMPLETE = "incomplete"

    @property
    def rank(self) -> int:
        return {"clear": 0, "review": 1, "violation": 2, "incomplete": 3}[self.value]


def _check_unit(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a finite number in [0, 1], got {value!r}")


@dataclass(frozen=True)
class Evidence:
    """One observation by one detector.

    `box` is xyxy in pixels of the (decoded, EXIF-rotated) image `image_index` of the post, or None for
    whole-image and text evidence. `details` carries what a reviewer needs to check the call quickly:
    OCR words, plate colour, matched emblem, polygon, matched caption words. It must be JSON-serialisable.
    """

    kind: str
    label: str
    score: float
    detector: str
    detector_version: str
    explanation: str
    box: Box | None = None
    image_index: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _KIND_RE.match(self.kind):
            raise ValueError(f"evidence kind must be a lowercase identifier, got {self.kind!r}")
        if not self.label:
            raise ValueError("evidence label must not be empty")
        if not self.detector or not self.detector_version:
            raise ValueError("evidence must name its detector and version")
        if not self.explanation:
            raise ValueError("evidence must explain what fired")
        _check_unit("score", self.score)
        object.__setattr__(self, "score", float(self.score))
        if self.box is not None:
            if len(self.box) != 4:
                raise ValueError(f"box must be xyxy, got {self.box!r}")
            x1, y1, x2, y2 = (float(v) for v in self.box)
            if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
                raise ValueError(f"box must be finite, got {self.box!r}")
            if x1 < 0 or y1 < 0 or x2 <= x1 or y2 <= y1:
                raise ValueError(f"box must satisfy 0 <= x1 < x2 and 0 <= y1 < y2, got {self.box!r}")
            object.__setattr__(self, "box", (x1, y1, x2, y2))
        if self.image_index is not None and self.image_index < 0:
            raise ValueError("image_index must be >= 0")

    def with_image(self, image_index: int) -> Evidence:
        """The same evidence attributed to image `image_index` of a post."""
        return Evidence(**{**self.__dict__, "image_index": image_index})

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "score": round(self.score, 4),
            "box": None if self.box is None else [round(v, 1) for v in self.box],
            "image_index": self.image_index,
            "detector": self.detector,
            "detector_version": self.detector_version,
            "explanation": self.explanation,
            "details": _jsonable(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evidence:
        box = data.get("box")
        return cls(
            kind=data["kind"],
            label=data["label"],
            score=float(data["score"]),
            detector=data["detector"],
            detector_version=data["detector_version"],
            explanation=data["explanation"],
            box=None if box is None else (box[0], box[1], box[2], box[3]),
            image_index=data.get("image_index"),
            details=dict(data.get("details") or {}),
        )


def clip_box(box: Sequence[float], width: int, height: int) -> Box | None:
    """Clip an xyxy box to the image; None when nothing of it is left."""
    x1 = min(max(float(box[0]), 0.0), float(width))
    y1 = min(max(float(box[1]), 0.0), float(height))
    x2 = min(max(float(box[2]), 0.0), float(width))
    y2 = min(max(float(box[3]), 0.0), float(height))
    if x2 - x1 < 1.0 or y2 - y1 < 1.0:
        return None
    return (x1, y1, x2, y2)


@dataclass(frozen=True)
class Author:
    """Who posted: the account id is what exemptions are registered by.

    `verified` says whether the account id comes from someone trusted to assert it (an integration key, the
    operator at the command line). An unverified claim is recorded but never earns an exemption.
    """

    account_id: str = ""
    display_name: str = ""
    group_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # For posts in a group: the group's admins, who share liability for violations (OM of 02.09.2024 para 6).
    group_admins: tuple[str, ...] = ()
    verified: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "group_admins", tuple(self.group_admins))


@dataclass(frozen=True)
class PostImage:
    """One decoded image or video frame: RGB uint8, HxWx3. A video frame has its index and time (seconds)."""

    name: str
    rgb: np.ndarray
    frame_index: int | None = None
    time_s: float | None = None

    def __post_init__(self) -> None:
        a = self.rgb
        if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"image {self.name!r} must be an HxWx3 uint8 RGB array")
        if a.shape[0] < 1 or a.shape[1] < 1:
            raise ValueError(f"image {self.name!r} is empty")

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


@dataclass(frozen=True)
class Post:
    images: tuple[PostImage, ...] = ()
    caption: str = ""
    author: Author = field(default_factory=Author)
    post_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", tuple(self.images))


@dataclass(frozen=True)
class Finding:
    """A rule that fired, with its citation and the evidence behind it (indices into Verdict.evidence)."""

    rule_id: str
    decision: DecisionLevel
    severity: str
    citation: str
    reason: str
    evidence: tuple[int, ...] = ()
    exempted_by: str | None = None
    also_liable: tuple[str, ...] = ()  # group admins liable with the author (group posts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "decision": self.decision.value,
            "severity": self.severity,
            "citation": self.citation,
            "reason": self.reason,
            "evidence": list(self.evidence),
            "exempted_by": self.exempted_by,
            "also_liable": list(self.also_liable),
        }


# Statuses a verdict carries for information, not as failures: a default detector switched off in the settings,
# learned heads missing some cue inputs, an image's text left unread because it could not change the verdict.
INFORMATIONAL_STATUSES = frozenset({"off", "partial", "skipped"})


@dataclass(frozen=True)
class DetectorStatus:
    """A detector that did not run (or failed) for this post, said out loud rather than skipped."""

    detector: str
    status: str  # failures: "unavailable" | "error" | "not_ready"; said for information: INFORMATIONAL_STATUSES
    message: str
    image_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "status": self.status,
            "message": self.message,
            "image_index": self.image_index,
        }


@dataclass(frozen=True)
class Verdict:
    decision: DecisionLevel
    score: float
    findings: tuple[Finding, ...]
    evidence: tuple[Evidence, ...]
    timings_ms: Mapping[str, float]
    model_versions: Mapping[str, str]
    detector_status: tuple[DetectorStatus, ...] = ()
    post_id: str = ""
    policy_version: str = ""

    def __post_init__(self) -> None:
        _check_unit("verdict score", self.score)
        n = len(self.evidence)
        for f in self.findings:
            if any(i < 0 or i >= n for i in f.evidence):
                raise ValueError(f"finding {f.rule_id} refers to evidence outside the verdict")

    def kinds(self) -> set[str]:
        return {e.kind for e in self.evidence}

    def to_dict(self) -> dict[str, Any]:
        return {
            "post_id": self.post_id,
            "decision": self.decision.value,
            "score": round(self.score, 4),
            "findings": [f.to_dict() for f in self.findings],
            "evidence": [e.to_dict() for e in self.evidence],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "model_versions": dict(self.model_versions),
            "detector_status": [s.to_dict() for s in self.detector_status],
            "policy_version": self.policy_version,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float):
        return round(value, 4)
    return value
