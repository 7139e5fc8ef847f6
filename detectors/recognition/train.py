"""Fitting the heads: grouped cross-validation chooses each head's feature blocks and regularisation.

Training only (needs scikit-learn, the `train` or `dev` extra); the result is a `HeadSet` that runs on numpy.

For every kind: the same grouped folds (StratifiedGroupKFold by source group, so photos of one repository
folder never sit on both sides), every candidate (block set x C) scored by the out-of-fold average precision;
the best one is refitted on all photos, its out-of-fold decision values fit a Platt calibration, and the
out-of-fold probabilities give the best-F1 threshold (the policy's min_score) and the table quoted in the notes.
Selection and threshold are read off the same out-of-fold scores, which flatters them a little; held-out photos
measure the truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detectors.recognition.features import FeatureSpec, RawFeatures
from detectors.recognition.heads import Head, HeadSet

# The official-asset kinds. Plain documents stay with the documents detector (F1 .97 on its own).
HEAD_KINDS: tuple[str, ...] = ("gov_vehicle", "uniform", "insignia", "official_document")
OFFICIAL = ("gov_vehicle", "uniform", "insignia", "official_document")
BLOCK_SETS: tuple[tuple[str, ...], ...] = (
    ("embedding", "imagenet", "objects", "cues"),
    ("embedding", "objects", "cues"),
    ("imagenet", "objects", "cues"),
)
# On 2,687 photos every head chose the smallest C of (0.02, 0.1, 0.5); below 0.002 nothing gained.
C_GRID: tuple[float, ...] = (0.002, 0.005, 0.01, 0.02)
MIN_CUE_PHOTOS = 3  # a cue seen on fewer photos is noise to a head, not a feature


@dataclass
class TrainResult:
    heads: HeadSet
    oof: dict[str, np.ndarray]  # calibrated out-of-fold probability per kind
    thresholds: dict[str, float]
    selection: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def cue_vocabulary(raws: Sequence[RawFeatures], min_photos: int = MIN_CUE_PHOTOS) -> tuple[str, ...]:
    counts: dict[str, int] = {}
    for r in raws:
        for k, v in r.cues.items():
            if v > 0:
                counts[k] = counts.get(k, 0) + 1
    return tuple(sorted(k for k, n in counts.items() if n >= min_photos))


def design(raws: Sequence[RawFeatures], spec: FeatureSpec) -> dict[str, np.ndarray]:
    per = [r.blocks(spec) for r in raws]
    return {b: np.stack([p[b] for p in per]).astype(np.float64) for b in per[0]}


def folds(y_post: np.ndarray, groups: Sequence[str], n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(set(groups))
    k = max(2, min(n_splits, n_groups))
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in cv.split(np.zeros(len(y_post)), y_post, groups)]


def _fit(x: np.ndarray, y: np.ndarray, c: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    z = (x - mean) / scale
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)
    model.fit(z, y)
    return mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0])


def _decision(x: np.ndarray, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, b: float) -> np.ndarray:
    return np.asarray(((x - mean) / scale) @ coef + b)


Splits = Sequence[tuple[np.ndarray, np.ndarray]]


def _oof(x: np.ndarray, y: np.ndarray, splits: Splits, c: float, seed: int) -> np.ndarray:
    out = np.zeros(len(y))
    for tr, te in splits:
        if y[tr].min() == y[tr].max():  # a fold with one class: no signal to learn, predict the prior
            out[te] = 0.0
            continue
        m, s, w, b = _fit(x[tr], y[tr], c, seed)
        out[te] = _decision(x[te], m, s, w, b)
    return out


def platt(dec: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    if y.min() == y.max():
        return 1.0, 0.0
    lr = LogisticRegression(C=1e4, max_iter=1000)
    lr.fit(dec.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def best_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The threshold with the best F1 on these scores (the higher one on ties)."""
    best = (-1.0, 0.5)
    for t in np.unique(np.round(p, 3)):
        pred = p >= t
        tp = int((pred & (y == 1)).sum())
        fp = int((pred & (y == 0)).sum())
        fn = int((~pred & (y == 1)).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 >= best[0]:
            best = (f1, float(t))
    return round(best[1], 3)


def fit_heads(
    raws: Sequence[RawFeatures],
    labels: Sequence[set[str]],
    groups: Sequence[str],
    *,
    kinds: Sequence[str] = HEAD_KINDS,
    seed: int = 0,
    n_splits: int = 5,
    block_sets: Sequence[tuple[str, ...]] = BLOCK_SETS,
    c_grid: Sequence[float] = C_GRID,
    recipe_extra: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    log: Any = None,
) -> TrainResult:
    if not (len(raws) == len(labels) == len(groups)) or not raws:
        raise ValueError("need as many labels and groups as feature rows, and at least one row")
    from sklearn.metrics import average_precision_score

    spec = FeatureSpec(cue_keys=cue_vocabulary(raws))
    mats = design(raws, spec)
    y_post = np.asarray([1 if set(lab) & set(OFFICIAL) else 0 for lab in labels])
    splits = folds(y_post, groups, n_splits, seed)
    heads: dict[str, Head] = {}
    oof: dict[str, np.ndarray] = {}
    thresholds: dict[str, float] = {}
    selection: dict[str, list[dict[str, Any]]] = {}
    for kind in kinds:
        y = np.asarray([1 if kind in lab else 0 for lab in labels])
        if y.sum() < 2 or y.sum() > len(y) - 2:
            raise ValueError(f"kind {kind}: needs at least two positive and two negative photos, has {int(y.sum())}")
        tried = []
        best: tuple[float, tuple[str, ...], float, np.ndarray] | None = None
        for blocks in block_sets:
            x = np.concatenate([mats[b] for b in blocks], axis=1)
            for c in c_grid:
                dec = _oof(x, y, splits, c, seed)
                ap = float(average_precision_score(y, dec))
                tried.append({"blocks": list(blocks), "C": c, "cv_ap": round(ap, 4)})
                if best is None or ap > best[0] + 1e-9:
                    best = (ap, blocks, c, dec)
        assert best is not None
        ap, blocks, c, dec = best
        a, b = platt(dec, y)
        p = 1.0 / (1.0 + np.exp(-(a * dec + b)))
        x = np.concatenate([mats[bl] for bl in blocks], axis=1)
        mean, scale, coef, intercept = _fit(x, y, c, seed)
        thr = best_threshold(p, y)
        heads[kind] = Head(
            kind=kind,
            blocks=tuple(blocks),
            mean=mean,
            scale=scale,
            coef=coef,
            intercept=intercept,
            calib_a=a,
            calib_b=b,
            report_floor=round(min(0.2, thr / 2), 3),
            params={"model": "logistic", "C": c, "class_weight": "balanced"},
            cv={"ap": round(ap, 4), "threshold": thr, "positives": int(y.sum()), "photos": len(y)},
        )
        oof[kind], thresholds[kind], selection[kind] = p, thr, tried
        if log:
            log(f"{kind}: blocks={'+'.join(blocks)} C={c} grouped-CV AP={ap:.3f} threshold={thr}")
    recipe = {
        "model": "standardised logistic regression (class_weight=balanced) + Platt calibration on out-of-fold scores",
        "selection": "grouped StratifiedGroupKFold by source, best out-of-fold average precision",
        "block_sets": [list(b) for b in block_sets],
        "C_grid": list(c_grid),
        "seed": seed,
        "folds": len(splits),
        **dict(recipe_extra or {}),
    }
    return TrainResult(HeadSet(spec, heads, recipe=recipe, data=dict(data or {})), oof, thresholds, selection)


__all__ = ["HEAD_KINDS", "TrainResult", "best_threshold", "cue_vocabulary", "fit_heads"]
