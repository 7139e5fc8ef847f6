"""The example bank: operator-confirmed examples that teach recognition without retraining.

`assetscreen examples add --kind uniform IMAGE...` embeds each image with the shipped embedder and stores the
vector with its kind; screening then votes over the nearest stored examples (cosine similarity on the
embedding), and a close enough match is evidence of its own ("looks like 3 confirmed examples of uniform:
ex-0007 0.93, ..."). `--kind negative` stores a confirmed non-asset that votes against.

Stored under the data folder as `examples/bank.json` (metadata) and `examples/bank.npy` (float32 vectors),
written atomically. No image bytes are kept: an example is its embedding, a note and the image's sha256.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detectors.errors import BadInput, ConfigError

NEGATIVE = "negative"
BANK_KINDS = frozenset({"gov_vehicle", "uniform", "insignia", "official_document", "document", NEGATIVE})


@dataclass(frozen=True)
class Example:
    id: str
    kind: str
    note: str
    sha256: str
    added: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "kind": self.kind, "note": self.note, "sha256": self.sha256, "added": self.added}


@dataclass(frozen=True)
class Vote:
    kind: str
    score: float
    neighbours: tuple[tuple[str, float], ...]  # (example id, cosine similarity) of this kind
    against: tuple[tuple[str, float], ...]  # close examples of other kinds or negatives


class ExampleBank:
    def __init__(self, folder: Path, *, min_similarity: float = 0.88, k: int = 5) -> None:
        self.folder = folder
        self.min_similarity = min_similarity
        self.k = k
        self._lock = threading.Lock()
        self._examples: list[Example] = []
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._load()

    @property
    def meta_path(self) -> Path:
        return self.folder / "bank.json"

    @property
    def vectors_path(self) -> Path:
        return self.folder / "bank.npy"

    def _load(self) -> None:
        if not self.meta_path.exists():
            return
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
            examples = [Example(**row) for row in meta["examples"]]
            vectors = np.load(self.vectors_path, allow_pickle=False).astype(np.float32)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"example bank {self.folder} is unreadable: {type(exc).__name__}: {exc}") from None
        if vectors.shape[0] != len(examples):
            raise ConfigError(f"example bank {self.folder}: {len(examples)} examples but {vectors.shape[0]} vectors")
        self._examples, self._vectors = examples, vectors

    def _save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp_v = self.folder / "bank.tmp.npy"
        np.save(tmp_v, self._vectors, allow_pickle=False)
        tmp_m = self.folder / "bank.json.tmp"
        tmp_m.write_text(json.dumps({"examples": [e.to_dict() for e in self._examples]}, indent=1), encoding="utf-8")
        tmp_v.replace(self.vectors_path)
        tmp_m.replace(self.meta_path)

    def __len__(self) -> int:
        return len(self._examples)

    def examples(self) -> list[Example]:
        return list(self._examples)

    def add(self, kind: str, vector: np.ndarray, *, note: str = "", sha256: str = "") -> Example:
        if kind not in BANK_KINDS:
            raise BadInput(f"unknown example kind {kind!r}; one of {', '.join(sorted(BANK_KINDS))}")
        v = np.asarray(vector, dtype=np.float32).ravel()
        v = v / max(float(np.linalg.norm(v)), 1e-6)
        with self._lock:
            if self._vectors.size and self._vectors.shape[1] != v.shape[0]:
                raise BadInput(f"vector has {v.shape[0]} dimensions, the bank holds {self._vectors.shape[1]}")
            n = max((int(e.id.split("-")[1]) for e in self._examples), default=0) + 1
            ex = Example(f"ex-{n:04d}", kind, note, sha256, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            # new objects, swapped in together: a concurrent `nearest` sees the old pair or the new, never a mix
            vectors = v[None] if not self._vectors.size else np.vstack([self._vectors, v[None]])
            self._examples, self._vectors = [*self._examples, ex], vectors
            self._save()
        return ex

    def remove(self, example_id: str) -> Example:
        with self._lock:
            idx = [i for i, e in enumerate(self._examples) if e.id == example_id]
            if not idx:
                raise BadInput(f"no example {example_id!r} in {self.folder}")
            ex = self._examples[idx[0]]
            self._examples, self._vectors = (
                [e for e in self._examples if e.id != example_id], np.delete(self._vectors, idx[0], axis=0)
            )
            self._save()
        return ex

    def nearest(self, vector: np.ndarray, k: int | None = None) -> list[tuple[Example, float]]:
        examples, vectors = self._examples, self._vectors  # one consistent snapshot
        if not examples:
            return []
        sims = vectors @ np.asarray(vector, dtype=np.float32).ravel()
        order = np.argsort(-sims, kind="stable")[: k or self.k]
        return [(examples[i], float(sims[i])) for i in order]

    def votes(self, vector: np.ndarray) -> list[Vote]:
        """One vote per kind with a close example: score = its share of the close neighbours' similarity."""
        return self.votes_among(self.nearest(vector))

    def votes_among(self, neighbours: list[tuple[Example, float]]) -> list[Vote]:
        """The votes of already-found nearest neighbours (those at or above the similarity floor count)."""
        close = [(e, s) for e, s in neighbours if s >= self.min_similarity]
        if not close:
            return []
        total = sum(s for _, s in close)
        out = []
        for kind in sorted({e.kind for e, _ in close} - {NEGATIVE}):
            mine = tuple((e.id, round(s, 3)) for e, s in close if e.kind == kind)
            against = tuple((e.id, round(s, 3)) for e, s in close if e.kind != kind)
            share = sum(s for _, s in mine) / total
            strength = (max(s for _, s in mine) - self.min_similarity) / max(1e-6, 1.0 - self.min_similarity)
            out.append(Vote(kind, float(min(1.0, share * (0.5 + 0.5 * strength))), mine, against))
        return out

    def describe(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for e in self._examples:
            counts[e.kind] = counts.get(e.kind, 0) + 1
        return {"folder": str(self.folder), "examples": len(self._examples), "by_kind": counts}


def bank_for(data_dir: Path, **kwargs: Any) -> ExampleBank:
    return ExampleBank(Path(data_dir) / "examples", **kwargs)


__all__ = ["BANK_KINDS", "NEGATIVE", "Example", "ExampleBank", "Vote", "bank_for"]
