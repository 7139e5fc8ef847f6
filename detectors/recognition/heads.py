"""Per-kind heads: a standardised linear model on chosen feature blocks, then Platt calibration.

A head is data, not code: one JSON file (`weights/heads.json`) holds every head with the feature spec it was
fitted on, the recipe and data manifest that produced it, and its grouped-CV figures. Run time needs numpy only
(scikit-learn fits them; a logistic model is a dot product, so shipping scikit-learn or a pickle to serve it
would add weight and an unsafe format for nothing). A score is a calibrated probability; thresholds live in
the policy.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detectors.errors import ModelMissing
from detectors.recognition.features import BLOCKS, FeatureSpec

FORMAT = "assetscreen-heads/1"


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@dataclass(frozen=True)
class Head:
    kind: str
    blocks: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    calib_a: float = 1.0
    calib_b: float = 0.0
    report_floor: float = 0.1  # below this probability no evidence is emitted (noise, not a decision)
    params: Mapping[str, Any] = field(default_factory=dict)
    cv: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.coef.shape[0]
        if self.mean.shape[0] != n or self.scale.shape[0] != n:
            raise ValueError(f"head {self.kind}: mean/scale/coef lengths differ")
        unknown = set(self.blocks) - set(BLOCKS)
        if unknown:
            raise ValueError(f"head {self.kind}: unknown feature blocks {sorted(unknown)}")

    def vector(self, blocks: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(blocks[b], dtype=np.float64) for b in self.blocks])

    def decision(self, x: np.ndarray) -> float:
        return float(((x - self.mean) / self.scale) @ self.coef + self.intercept)

    def probability(self, blocks: Mapping[str, np.ndarray]) -> float:
        return self._calibrated(self.vector(blocks))

    def probability_range(self, blocks: Mapping[str, np.ndarray], free: np.ndarray) -> tuple[float, float]:
        """The lowest and highest probability this head can give when the features where `free` is True may take
        any value in [0, 1] (cue scores) and the others stay as they are: exact bounds, the head being linear."""
        x = self.vector(blocks)
        up = self.coef / self.scale > 0
        lo = np.where(free, np.where(up, 0.0, 1.0), x)
        hi = np.where(free, np.where(up, 1.0, 0.0), x)
        return self._calibrated(lo), self._calibrated(hi)

    def _calibrated(self, x: np.ndarray) -> float:
        return _sigmoid(self.calib_a * self.decision(x) + self.calib_b)

    def contributions(self, blocks: Mapping[str, np.ndarray], spec: FeatureSpec, top: int = 4) -> dict[str, Any]:
        """Per block, how much it pushed the score (log-odds before calibration), and the strongest cue terms."""
        x = self.vector(blocks)
        terms = (x - self.mean) / self.scale * self.coef
        sizes = spec.block_sizes()
        out: dict[str, Any] = {}
        start = 0
        for b in self.blocks:
            n = sizes[b]
            part = terms[start : start + n]
            out[b] = round(float(part.sum()), 3)
            if b == "cues" and n:
                order = np.argsort(-np.abs(part))[:top]
                out["cue_terms"] = {spec.cue_keys[i]: round(float(part[i]), 3) for i in order if abs(part[i]) > 0.05}
            start += n
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "blocks": list(self.blocks),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "coef": [float(v) for v in self.coef],
            "intercept": float(self.intercept),
            "calibration": {"a": float(self.calib_a), "b": float(self.calib_b)},
            "report_floor": self.report_floor,
            "params": dict(self.params),
            "cv": dict(self.cv),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Head:
        return cls(
            kind=str(d["kind"]),
            blocks=tuple(d["blocks"]),
            mean=np.asarray(d["mean"], dtype=np.float64),
            scale=np.asarray(d["scale"], dtype=np.float64),
            coef=np.asarray(d["coef"], dtype=np.float64),
            intercept=float(d["intercept"]),
            calib_a=float(d["calibration"]["a"]),
            calib_b=float(d["calibration"]["b"]),
            report_floor=float(d.get("report_floor", 0.1)),
            params=dict(d.get("params") or {}),
            cv=dict(d.get("cv") or {}),
        )


@dataclass(frozen=True)
class HeadSet:
    spec: FeatureSpec
    heads: Mapping[str, Head]
    recipe: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    version: str = ""

    def __post_init__(self) -> None:
        sizes = self.spec.block_sizes()
        for h in self.heads.values():
            n = sum(sizes[b] for b in h.blocks)
            if n != h.coef.shape[0]:
                raise ValueError(f"head {h.kind} has {h.coef.shape[0]} weights for {n} features")
        if not self.version:
            object.__setattr__(self, "version", "heads-" + hashlib.sha256(self._payload().encode()).hexdigest()[:10])

    def _payload(self) -> str:
        body = {
            "spec": self.spec.to_dict(),
            "heads": {k: h.to_dict() for k, h in sorted(self.heads.items())},
            "recipe": dict(self.recipe),
        }
        return json.dumps(body, sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "spec": self.spec.to_dict(),
            "recipe": dict(self.recipe),
            "data": dict(self.data),
            "heads": {k: h.to_dict() for k, h in sorted(self.heads.items())},
        }

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> HeadSet:
        """The heads in `path`; ModelMissing naming the file when it is absent, unreadable or malformed."""
        if not path.is_file():
            raise ModelMissing(f"heads file {path} is missing; train it with `assetscreen train heads` or reinstall")
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            if d.get("format") != FORMAT:
                raise ValueError(f"format is {d.get('format')!r}, expected {FORMAT!r}")
            return cls(
                spec=FeatureSpec.from_dict(d["spec"]),
                heads={k: Head.from_dict(v) for k, v in d["heads"].items()},
                recipe=d.get("recipe") or {},
                data=d.get("data") or {},
                version=str(d["version"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            why = f"{type(exc).__name__}: {exc}"
            raise ModelMissing(f"heads file {path} is corrupt or not a heads file: {why}") from None

    def free_mask(self, head: Head, cue_keys: frozenset[str]) -> np.ndarray:
        """A mask over `head`'s feature vector marking the given cue keys."""
        sizes = self.spec.block_sizes()
        parts = [
            np.asarray([k in cue_keys for k in self.spec.cue_keys]) if b == "cues" else np.zeros(sizes[b], bool)
            for b in head.blocks
        ]
        return np.concatenate(parts) if parts else np.zeros(0, bool)

    def unsettled(
        self, blocks: Mapping[str, np.ndarray], keys: frozenset[str], cuts: Mapping[str, Sequence[float]]
    ) -> list[str]:
        """The kinds whose probability could fall on either side of one of their `cuts` (the scores a policy
        compares them with) if the given cue keys took any value in [0, 1]. Empty means nothing those cues
        could say changes what the policy decides."""
        out = []
        for kind, h in sorted(self.heads.items()):
            lo, hi = h.probability_range(blocks, self.free_mask(h, keys))
            if any(lo < cut <= hi for cut in cuts.get(kind, ())):
                out.append(kind)
        return out

    def predict(self, blocks: Mapping[str, np.ndarray], kinds: Sequence[str] | None = None) -> dict[str, float]:
        return {k: h.probability(blocks) for k, h in self.heads.items() if kinds is None or k in kinds}


__all__ = ["FORMAT", "Head", "HeadSet"]
