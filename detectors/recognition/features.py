"""Named feature blocks for one image: what the learned heads and the example bank see.

- `embedding`: the MobileNetV1 1024-d embedding (L2-normalised), the strongest block in grouped CV.
- `imagenet`: the 1001 MobileNetV2 class probabilities (police van, military uniform, menu, envelope ...).
- `objects`: statistics of the object detector's boxes (how many persons and vehicles, how large, how sure).
- `cues`: the hand-written cues as numbers: for each cue detector and evidence kind the best score, and for each
  named cue (green plate, light bar, POLICE text, flag star ...) the best score it fired with. The rules stay as
  features and explanations; the heads learn how much each is worth.

The cue vocabulary is data: the training run fixes which keys exist (keys seen on too few photos are dropped) and
stores them with the heads, so run time builds exactly the vector the heads were fitted on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from detectors.evidence import Evidence
from detectors.runtime.mobilenet import ImageFeatures
from detectors.runtime.yolo import Detection

BLOCKS = ("embedding", "imagenet", "objects", "cues")
VEHICLE_CLASSES = frozenset({"car", "bus", "truck", "motorcycle"})
# Object classes whose presence says something about the scene (offices, streets, ceremonies).
OBJECT_CLASSES = (
    "person", "car", "bus", "truck", "motorcycle", "bicycle", "chair", "dining table", "tv", "laptop", "book",
    "tie", "handbag", "backpack", "umbrella", "bench", "couch", "potted plant", "clock", "cell phone", "bottle",
    "cup", "traffic light", "horse",
)  # fmt: skip


def object_feature_names() -> list[str]:
    names = ["n_person_log", "n_vehicle_log", "person_area_sum", "vehicle_area_sum"]
    for c in OBJECT_CLASSES:
        names += [f"{c}:max_score", f"{c}:max_area"]
    return names


def object_features(dets: Sequence[Detection], width: int, height: int) -> np.ndarray:
    area = float(max(width * height, 1))
    persons = [d for d in dets if d.label == "person"]
    vehicles = [d for d in dets if d.label in VEHICLE_CLASSES]
    out = [
        math.log1p(len(persons)),
        math.log1p(len(vehicles)),
        min(1.0, sum(d.area for d in persons) / area),
        min(1.0, sum(d.area for d in vehicles) / area),
    ]
    for c in OBJECT_CLASSES:
        mine = [d for d in dets if d.label == c]
        out += [max((d.score for d in mine), default=0.0), max((d.area / area for d in mine), default=0.0)]
    return np.asarray(out, dtype=np.float32)


def cue_scores(evidence: Iterable[Evidence]) -> dict[str, float]:
    """Every cue key this evidence carries -> its best score: `det:kind` and `det:cue:NAME`."""
    out: dict[str, float] = {}

    def put(key: str, value: float) -> None:
        out[key] = max(out.get(key, 0.0), float(value))

    for e in evidence:
        put(f"{e.detector}:{e.kind}", e.score)
        cues = e.details.get("cues") if isinstance(e.details, Mapping) else None
        for c in cues or ():
            if isinstance(c, Mapping) and "cue" in c:
                put(f"{e.detector}:cue:{c['cue']}", float(c.get("score", e.score)))
    return out


@dataclass(frozen=True)
class FeatureSpec:
    """The layout of the vector the heads were fitted on."""

    cue_keys: tuple[str, ...]
    object_names: tuple[str, ...] = tuple(object_feature_names())
    embedding_dim: int = 1024
    imagenet_dim: int = 1001

    def block_sizes(self) -> dict[str, int]:
        return {
            "embedding": self.embedding_dim,
            "imagenet": self.imagenet_dim,
            "objects": len(self.object_names),
            "cues": len(self.cue_keys),
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "cue_keys": list(self.cue_keys),
            "object_names": list(self.object_names),
            "embedding_dim": self.embedding_dim,
            "imagenet_dim": self.imagenet_dim,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> FeatureSpec:
        return cls(
            cue_keys=tuple(str(k) for k in data["cue_keys"]),  # type: ignore[attr-defined]
            object_names=tuple(str(k) for k in data["object_names"]),  # type: ignore[attr-defined]
            embedding_dim=int(data["embedding_dim"]),  # type: ignore[call-overload]
            imagenet_dim=int(data["imagenet_dim"]),  # type: ignore[call-overload]
        )


@dataclass(frozen=True)
class RawFeatures:
    """One image's features before a vocabulary is applied (what the training cache stores)."""

    embedding: np.ndarray
    imagenet: np.ndarray
    objects: np.ndarray
    cues: Mapping[str, float]

    @classmethod
    def build(
        cls, feats: ImageFeatures, dets: Sequence[Detection], width: int, height: int, evidence: Iterable[Evidence]
    ) -> RawFeatures:
        return cls(feats.embedding, feats.imagenet, object_features(dets, width, height), cue_scores(evidence))

    def blocks(self, spec: FeatureSpec) -> dict[str, np.ndarray]:
        if self.embedding.shape[0] != spec.embedding_dim or self.imagenet.shape[0] != spec.imagenet_dim:
            raise ValueError("feature dimensions differ from the heads' feature spec")
        if self.objects.shape[0] != len(spec.object_names):
            raise ValueError("object features differ from the heads' feature spec")
        cues = np.asarray([self.cues.get(k, 0.0) for k in spec.cue_keys], dtype=np.float32)
        # sqrt spreads the many near-zero class probabilities (a linear head sees 0.01 vs 0.04, not 0 vs 0).
        imagenet = np.sqrt(np.clip(self.imagenet, 0.0, 1.0))
        return {"embedding": self.embedding, "imagenet": imagenet, "objects": self.objects, "cues": cues}


__all__ = ["BLOCKS", "FeatureSpec", "RawFeatures", "cue_scores", "object_feature_names", "object_features"]
