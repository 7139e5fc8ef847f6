"""Fit the learned caption model and its fusion with the lexicon; write detectors/data/caption/model.json.

    python datasets/captions/train_model.py            # fit on the dev data, nested CV, write model.json
    python datasets/captions/train_model.py --no-nested  # skip the nested CV table (faster, for experiments)
    python datasets/captions/train_model.py --single-criterion  # nested CV for the chosen criterion only

Data: the DEV caption batches only (b01, b03-b05, b07, b09-b14, b17-b20) plus the `dev` rows of captions.csv. The
held-back batches (b02, b06, b08, b15, b16) and the `heldout` rows of captions.csv are never opened here: they are
measured once, with `assetscreen captions evaluate`, after everything below is fixed.

Recipe (deterministic: no random state is involved anywhere):

1. Text: `detectors.caption.model.model_text` (the detector's normalisation). Features: word 1-2 grams and
   character `char_wb` 2-5 grams (the analyzers in detectors/caption/model.py), TF-IDF with sublinear tf, smooth
   idf and l2 norm per block, min_df 2.
2. One logistic regression per signal (liblinear, class_weight balanced). C per signal from a grid by
   leave-one-batch-out CV over the dev groups (the five dev batches and the old captions.csv dev rows as a
   sixth group), scored by pooled out-of-fold average precision.
3. Fusion per signal: a logistic regression (not balanced, so it is calibrated) on the out-of-fold model
   log-odds and the lexicon's cue strength, fired flag, ignored flag (a cue negated, quoted or reported) and
   context flag (a context cue: wedding, airport, public website; FUSION_FEATURES). Adding the
   lexicon's half-evidence (a target with no stance) scored lower in nested CV (any-signal F1 0.949 against
   0.955) and let a bare party name fire, so it is not an input.
4. Operating point per signal: on the out-of-fold fused probabilities, the threshold with the best F1. Nested
   CV compares it with "highest recall at precision >= 0.9" (`cv.criteria`; any-signal F1 0.958 against
   0.953, better F1 for three signals of four on the first six dev groups); `--criterion auto` (the default)
   takes the criterion with the higher nested any-signal F1. The detector shifts the fused log-odds so this
   threshold maps to 0.5, the policy's threshold.
5. The dev CV table in the file comes from nested leave-one-batch-out: for each dev group, steps 2-4 run on
   the other groups only, and the group is then predicted. The lexicons were written looking at dev text, so
   the lexicon inputs are in-sample there: expect held-back figures below the dev CV table.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from detectors.caption.detector import CaptionDetector, CaptionOptions, fusion_features  # noqa: E402
from detectors.caption.lexicon import SIGNALS  # noqa: E402
from detectors.caption.model import (  # noqa: E402
    ANALYZERS,
    FORMAT,
    FUSION_FEATURES,
    MODEL_FILE,
    CaptionModel,
    model_text,
)

DATA = ROOT / "datasets" / "captions"
DEV_BATCHES = (
    "b01_police_officer.csv",
    "b03_army_officer.csv",
    "b04_teacher.csv",
    "b05_clerk.csv",
    "b07_journalist.csv",
    "b09_station_house_officer.csv",
    "b10_customs_revenue.csv",
    "b11_health_department.csv",
    "b12_revenue_patwari.csv",
    "b13_young_officer.csv",
    "b14_union_leader.csv",
    "b17_rangers_fc.csv",
    "b18_college_lecturer.csv",
    "b19_utility_staff.csv",
    "b20_mixed_public.csv",
)
HELD_BACK = (  # never read here
    "b02_dc_office.csv", "b06_citizen.csv", "b08_party_supporter.csv",
    "b15_secretariat.csv", "b16_traffic_motorway.csv",
)
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
MIN_DF = 2
FUSION_C = 1.0
VERSION = "caption-ngram-1"


@dataclass(frozen=True)
class Row:
    id: str
    group: str
    lang: str
    labels: frozenset[str]
    text: str


def load_dev() -> tuple[list[Row], list[dict[str, Any]]]:
    rows: list[Row] = []
    manifest = []
    for name in DEV_BATCHES:
        assert name not in HELD_BACK
        path = DATA / "batches" / name
        with path.open(encoding="utf-8", newline="") as f:
            got = [
                Row(
                    r["id"], name.split("_")[0], r["lang"], frozenset(x for x in r["labels"].split(";") if x), r["text"]
                )
                for r in csv.DictReader(f)
            ]
        rows += got
        manifest.append({"file": f"batches/{name}", "rows": len(got), "sha256": _sha256(path)})
    path = DATA / "captions.csv"
    with path.open(encoding="utf-8", newline="") as f:
        got = [
            Row(r["id"], "captions-dev", r["lang"], frozenset(x for x in r["labels"].split(";") if x), r["text"])
            for r in csv.DictReader(f)
            if r["split"] == "dev"
        ]
    rows += got
    manifest.append({"file": "captions.csv", "split": "dev", "rows": len(got), "sha256": _sha256(path)})
    return rows, manifest


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- features ------------------------------------------------------------------------------------------------


class Features:
    """Analyzer outputs cached per caption, so every fold's vectorizer fit is cheap."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.analysed = {name: [fn(model_text(t)) for t in texts] for name, fn in ANALYZERS.items()}

    def vectorizers(self, idx: np.ndarray) -> tuple[Any, Any]:
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfVectorizer

        fitted = {}
        mats = []
        for name, docs in self.analysed.items():
            vec = TfidfVectorizer(analyzer=lambda d: d, min_df=MIN_DF, sublinear_tf=True, lowercase=False)
            mats.append(vec.fit_transform([docs[i] for i in idx]))
            fitted[name] = vec

        def transform(rows: np.ndarray) -> Any:
            return sparse.hstack(
                [fitted[n].transform([self.analysed[n][i] for i in rows]) for n in self.analysed]
            ).tocsr()

        return sparse.hstack(mats).tocsr(), (fitted, transform)


def _fit_lr(x: Any, y: np.ndarray, c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=5000).fit(x, y)


def oof_logits(feats: Features, y: dict[str, np.ndarray], groups: np.ndarray, idx: np.ndarray) -> dict:
    """Leave-one-group-out decision values over `idx`, for every C and signal: {C: {signal: array}}."""
    out: dict[float, dict[str, np.ndarray]] = {c: {s: np.zeros(len(idx)) for s in y} for c in C_GRID}
    g = groups[idx]
    for held in sorted(set(g)):
        tr, te = idx[g != held], idx[g == held]
        x_tr, (_, transform) = feats.vectorizers(tr)
        x_te = transform(te)
        for c in C_GRID:
            for s in y:
                clf = _fit_lr(x_tr, y[s][tr], c)
                out[c][s][g == held] = clf.decision_function(x_te)
    return out


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, score))


def choose_threshold(y: np.ndarray, p: np.ndarray, criterion: str) -> float:
    """The decision threshold on probabilities `p`: best F1, or highest recall at precision >= 0.9."""
    best_t, best = 0.5, (-1.0, -1.0)
    for t in np.unique(np.round(p, 4)):
        pred = p >= t
        tp = int((pred & y).sum())
        fp = int((pred & ~y).sum())
        fn = int((~pred & y).sum())
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        key = (rec, prec) if criterion == "recall_at_p90" and prec >= 0.9 else (f1, rec)
        if criterion == "recall_at_p90" and prec < 0.9:
            key = (-1.0 + f1 / 10, 0.0)
        if key > best:
            best, best_t = key, float(t)
    # midway to the next lower probability, so a caption scoring exactly like the last one kept is kept
    lower = p[p < best_t]
    return float((best_t + lower.max()) / 2) if lower.size else best_t


def lexicon_inputs(texts: Sequence[str]) -> list[dict[str, tuple[float, list]]]:
    det = CaptionDetector.from_options(CaptionOptions(use_model=False))
    return [{s: (a.lexicon_score, a.matches) for s, a in det.assess(t).items()} for t in texts]


def fusion_matrix(lex: Sequence[dict[str, tuple[float, list]]], logits: np.ndarray, s: str, idx: np.ndarray) -> Any:
    return np.array([fusion_features(lex[i][s][0], lex[i][s][1], float(z)) for i, z in zip(idx, logits, strict=True)])


@dataclass
class Fitted:
    c: dict[str, float]
    ap: dict[str, dict[float, float]]
    fusion: dict[str, Any]
    threshold: dict[str, float]


def fit_stage(
    feats: Features, y: dict[str, np.ndarray], groups: np.ndarray, idx: np.ndarray, lex: list, criterion: str
) -> Fitted:
    """Steps 2-4 on the rows `idx` (C by inner LOBO, fusion on OOF, threshold on fused OOF)."""
    from sklearn.linear_model import LogisticRegression

    oof = oof_logits(feats, y, groups, idx)
    chosen, aps, fusions, thresholds = {}, {}, {}, {}
    for s in y:
        aps[s] = {c: round(average_precision(y[s][idx], oof[c][s]), 4) for c in C_GRID}
        chosen[s] = max(C_GRID, key=lambda c, s=s: (aps[s][c], -c))
        xf = fusion_matrix(lex, oof[chosen[s]][s], s, idx)
        fus = LogisticRegression(C=FUSION_C, solver="lbfgs", max_iter=5000).fit(xf, y[s][idx])
        fusions[s] = fus
        thresholds[s] = choose_threshold(y[s][idx], fus.predict_proba(xf)[:, 1], criterion)
    return Fitted(chosen, aps, fusions, thresholds)


def predict_stage(
    feats: Features, y: dict[str, np.ndarray], fitted: Fitted, train: np.ndarray, test: np.ndarray, lex: list
) -> dict[str, np.ndarray]:
    """Fit the model on `train` with the chosen C, fuse, and say which `test` rows pass the threshold."""
    x_tr, (_, transform) = feats.vectorizers(train)
    x_te = transform(test)
    out = {}
    for s in y:
        clf = _fit_lr(x_tr, y[s][train], fitted.c[s])
        z = clf.decision_function(x_te)
        p = fitted.fusion[s].predict_proba(fusion_matrix(lex, z, s, test))[:, 1]
        out[s] = p >= fitted.threshold[s]
    return out


def counts(exp: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    tp, fp, fn = int((exp & pred).sum()), int((~exp & pred).sum()), int((exp & ~pred).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f1, 4),
        "support": tp + fn,
    }


def table(rows: list[Row], y: dict[str, np.ndarray], pred: dict[str, np.ndarray]) -> dict[str, Any]:
    any_exp = np.array([bool(r.labels) for r in rows])
    any_pred = np.zeros(len(rows), dtype=bool)
    for s in pred:
        any_pred |= pred[s]
    langs = np.array([r.lang for r in rows])
    groups = np.array([r.group for r in rows])
    return {
        "kinds": {s: counts(y[s], pred[s]) for s in y},
        "post": counts(any_exp, any_pred),
        "languages": {g: counts(any_exp[langs == g], any_pred[langs == g]) for g in sorted(set(langs))},
        "groups": {g: counts(any_exp[groups == g], any_pred[groups == g]) for g in sorted(set(groups))},
    }


def nested_cv(feats: Features, rows: list[Row], y: dict, groups: np.ndarray, lex: list, criterion: str) -> dict:
    pred = {s: np.zeros(len(rows), dtype=bool) for s in y}
    chosen = {}
    for held in sorted(set(groups)):
        inner = np.where(groups != held)[0]
        outer = np.where(groups == held)[0]
        fitted = fit_stage(feats, y, groups, inner, lex, criterion)
        got = predict_stage(feats, y, fitted, inner, outer, lex)
        for s in y:
            pred[s][outer] = got[s]
        chosen[held] = {"C": fitted.c, "threshold": {s: round(t, 4) for s, t in fitted.threshold.items()}}
        print(f"  outer fold {held}: C {fitted.c}", file=sys.stderr)
    return {**table(rows, y, pred), "per_fold": chosen}


def lexicon_only_table(rows: list[Row], y: dict, lex: list) -> dict:
    pred = {s: np.array([lex[i][s][0] >= 0.5 for i in range(len(rows))]) for s in y}
    return table(rows, y, pred)


def _round(a: np.ndarray, digits: int = 5) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in a]


def write_model(
    feats: Features,
    rows: list[Row],
    y: dict,
    groups: np.ndarray,
    lex: list,
    criterion: str,
    cv: dict,
    manifest: list,
    path: Path,
) -> dict:
    idx = np.arange(len(rows))
    fitted = fit_stage(feats, y, groups, idx, lex, criterion)
    x, (vecs, _) = feats.vectorizers(idx)
    blocks = []
    for name in ANALYZERS:
        vec = vecs[name]
        terms = vec.get_feature_names_out().tolist()
        blocks.append({"analyzer": name, "terms": terms, "idf": _round(vec.idf_, 7)})
    signals = {}
    for s in y:
        clf = _fit_lr(x, y[s], fitted.c[s])
        fus = fitted.fusion[s]
        signals[s] = {
            "C": fitted.c[s],
            "coef": _round(clf.coef_[0], 5),
            "intercept": float(f"{clf.intercept_[0]:.6g}"),
            "fusion": {
                "coef": {k: round(float(v), 5) for k, v in zip(FUSION_FEATURES, fus.coef_[0], strict=True)},
                "intercept": round(float(fus.intercept_[0]), 5),
                "threshold": round(fitted.threshold[s], 5),
            },
            "cv_average_precision_by_C": {str(c): v for c, v in fitted.ap[s].items()},
        }
    data = {
        "format": FORMAT,
        # The name plus a digest of the dev data and the operating point: a model fitted on other captions is
        # another version in every verdict (the fit itself is deterministic).
        "version": f"{VERSION}-" + hashlib.sha256(
            json.dumps([manifest, criterion], sort_keys=True).encode()
        ).hexdigest()[:8],
        "features": {"blocks": blocks},
        "signals": signals,
        "recipe": {
            "script": "datasets/captions/train_model.py",
            "text": "detectors.caption.model.model_text (detector normalisation, no spelling variants)",
            "features": {
                "word": "1-2 grams, tokens \\w+ or one non-space symbol",
                "char": "char_wb 2-5",
                "tfidf": "sublinear tf, smooth idf, l2 per block",
                "min_df": MIN_DF,
            },
            "model": "LogisticRegression(liblinear, class_weight=balanced) per signal",
            "C_grid": list(C_GRID),
            "C_selection": "leave-one-batch-out over the dev groups, pooled out-of-fold average precision",
            "fusion": {
                "features": list(FUSION_FEATURES),
                "model": f"LogisticRegression(lbfgs, C={FUSION_C})",
                "fitted_on": "out-of-fold model log-odds (leave-one-batch-out)",
            },
            "operating_point": {
                "criterion": criterion,
                "mapping": "score = sigmoid(logit(p) - logit(threshold)), so threshold -> 0.5",
            },
            "data": manifest,
            "groups": sorted(set(groups.tolist())),
            "held_back_never_read": list(HELD_BACK) + ["captions.csv split=heldout"],
        },
        "cv": cv,
    }
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return data


def check_runtime(path: Path, feats: Features, rows: list[Row], y: dict, groups: np.ndarray) -> float:
    """The numpy scorer must reproduce scikit-learn's decision values on every dev caption."""
    model = CaptionModel.load(path)
    idx = np.arange(len(rows))
    x, _ = feats.vectorizers(idx)
    worst = 0.0
    for s in y:
        clf = _fit_lr(x, y[s], float(json.loads(path.read_text())["signals"][s]["C"]))
        ref = clf.decision_function(x)
        got = np.array([model.score(r.text)[s].logit for r in rows])
        worst = max(worst, float(np.abs(ref - got).max()))
    return worst


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    parser.add_argument("--no-nested", action="store_true", help="skip the nested CV table")
    parser.add_argument("--criterion", choices=("auto", "best_f1", "recall_at_p90"), default="auto",
                        help="operating point; auto: the one with the higher nested-CV any-signal F1")
    parser.add_argument("--single-criterion", action="store_true", help="nested CV for --criterion only")
    args = parser.parse_args(argv)
    t0 = time.time()
    rows, manifest = load_dev()
    groups = np.array([r.group for r in rows])
    y = {str(s): np.array([str(s) in r.labels for r in rows]) for s in SIGNALS}
    feats = Features([r.text for r in rows])
    lex = lexicon_inputs([r.text for r in rows])
    print(f"{len(rows)} dev captions in {len(set(groups))} groups", file=sys.stderr)
    cv: dict[str, Any] = {
        "scheme": "nested leave-one-batch-out over the dev groups",
        "n": len(rows),
        "lexicon_only": lexicon_only_table(rows, y, lex),
    }
    if args.criterion == "auto" and (args.single_criterion or args.no_nested):
        parser.error("--criterion auto needs the nested CV of both criteria: name one with these options")
    criteria = (args.criterion,) if args.single_criterion else ("best_f1", "recall_at_p90")
    criterion = args.criterion
    if not args.no_nested:
        cv["criteria"] = {}
        for crit in criteria:
            print(f"nested CV, criterion {crit}", file=sys.stderr)
            cv["criteria"][crit] = nested_cv(feats, rows, y, groups, lex, crit)
        if criterion == "auto":
            criterion = max(criteria, key=lambda c: (cv["criteria"][c]["post"]["f1"], c == "best_f1"))
            print(f"criterion {criterion}: the higher nested any-signal F1", file=sys.stderr)
        cv["fused"] = cv["criteria"][criterion]
    data = write_model(feats, rows, y, groups, lex, criterion, cv, manifest, args.out)
    worst = check_runtime(args.out, feats, rows, y, groups)
    if worst > 1e-3:
        raise SystemExit(f"numpy scorer disagrees with scikit-learn by {worst:.2g}")
    size = args.out.stat().st_size
    print(
        f"wrote {args.out} ({size / 1e6:.2f} MB, {sum(len(b['terms']) for b in data['features']['blocks'])} "
        f"features, runtime check max |diff| {worst:.1e}) in {time.time() - t0:.0f} s",
        file=sys.stderr,
    )
    if "fused" in cv:
        for name, c in [*cv["fused"]["kinds"].items(), ("post", cv["fused"]["post"])]:
            print(f"  {name:<14} P {c['precision']:.3f} R {c['recall']:.3f} F1 {c['f1']:.3f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
