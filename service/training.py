"""Training the learned heads from labelled folders: features (cached), grouped CV, the heads file, the table.

`assetscreen train heads --data DIR --labels CSV [--data DIR2 --labels CSV2 ...]` reads each label file (the
`labels.csv` format; a `group` column, or a `SOURCES.tsv` beside it naming each file's repository and path,
gives the source group for cross-validation), screens every photo with the cue detectors, computes the shipped
models' features, caches them by file sha256 and pipeline version, fits the heads (`detectors.recognition.train`)
and prints the grouped-CV table in `assetscreen evaluate`'s layout. Seeded and deterministic.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detectors.base import ImageContext
from detectors.errors import AssetScreenError, BadInput
from detectors.evidence import OFFICIAL_ASSET_KINDS, DetectorStatus
from detectors.recognition.features import RawFeatures
from detectors.recognition.stage import FeatureExtractor
from detectors.recognition.train import OFFICIAL, TrainResult, fit_heads
from detectors.runtime.yolo import file_sha256
from service.evaluation import LABEL_KINDS, EvalReport
from service.media import read_file
from service.screener import Screener, build_detectors
from service.settings import WEIGHTS_DIR, Settings


@dataclass(frozen=True)
class Sample:
    path: Path
    name: str  # as written in the label file
    kinds: frozenset[str]
    group: str
    source: str  # which label file


def _groups_from_sources(labels_csv: Path) -> dict[str, str]:
    tsv = labels_csv.parent / "SOURCES.tsv"
    if not tsv.is_file():
        return {}
    out = {}
    with tsv.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row.get("file") and row.get("repo"):
                folder = str(Path(row.get("path_in_repo") or "").parent)
                out[row["file"]] = f"{row['repo']}:{folder}"
    return out


def read_samples(folder: Path, labels_csv: Path, exclude: set[str] = frozenset()) -> list[Sample]:  # type: ignore[assignment]
    """Labelled photos of one folder; `exclude` names files to leave out (e.g. the guard's near-copies)."""
    if not labels_csv.is_file():
        raise BadInput(f"label file not found: {labels_csv}")
    from_sources = _groups_from_sources(labels_csv)
    out = []
    with labels_csv.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "file" not in reader.fieldnames or "kinds" not in reader.fieldnames:
            raise BadInput(f"{labels_csv}: needs a header with columns 'file' and 'kinds'")
        for lineno, row in enumerate(reader, start=2):
            name = row["file"].strip()
            kinds = frozenset(k.strip() for k in (row["kinds"] or "").split(",") if k.strip())
            unknown = kinds - LABEL_KINDS
            if unknown:
                raise BadInput(f"{labels_csv}:{lineno}: unknown kinds {sorted(unknown)}")
            if name in exclude or Path(name).name in exclude:
                continue
            fallback = f"{labels_csv.parent.name}:{Path(name).parent}"
            group = (row.get("group") or "").strip() or from_sources.get(name) or fallback
            out.append(Sample(folder / name, name, kinds, group, str(labels_csv)))
    return out


class FeatureCache:
    """RawFeatures per file sha256, in a folder named by the pipeline's versions (a new model = a new folder)."""

    def __init__(self, root: Path, signature: str) -> None:
        self.folder = root / signature
        self.folder.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> RawFeatures | None:
        p = self.folder / f"{key}.npz"
        if not p.is_file():
            return None
        with np.load(p, allow_pickle=False) as z:
            return RawFeatures(z["embedding"], z["imagenet"], z["objects"], json.loads(str(z["cues"])))

    def put(self, key: str, raw: RawFeatures) -> None:
        tmp = self.folder / f"{key}.tmp.npz"
        np.savez(tmp, embedding=raw.embedding, imagenet=raw.imagenet, objects=raw.objects, cues=json.dumps(raw.cues))
        tmp.replace(self.folder / f"{key}.npz")


class FeaturePipeline:
    """The cue detectors plus the shipped models: one photo -> RawFeatures, exactly as screening computes them."""

    def __init__(self, settings: Settings) -> None:
        from detectors.runtime.mobilenet import shared_pretrained
        from detectors.runtime.yolo import shared_yolo_runner

        self.settings = settings
        self.screener = Screener(settings, detectors=build_detectors(settings), recognizer=None)
        models = shared_pretrained(WEIGHTS_DIR, settings.yolo.threads)
        self.extractor = FeatureExtractor(models, shared_yolo_runner(settings.yolo))

    @property
    def signature(self) -> str:
        """Versions of every model and detector plus a hash of the detectors' YAML (cue lists, colour profiles):
        any change to what computes a feature names a new cache folder."""
        versions = {**self.screener.model_versions, **self.extractor.versions, "config": _config_hash()}
        return "features-" + hashlib.sha256(json.dumps(versions, sort_keys=True).encode()).hexdigest()[:12]

    def features(self, path: Path) -> RawFeatures:
        media = read_file(path, self.settings.media)
        image = media.frames[0]
        ctx = ImageContext(rgb=image.rgb, index=0, name=image.name)
        statuses: list[DetectorStatus] = []
        evidence = self.screener.image_evidence(ctx, statuses, {})
        return self.extractor.raw(ctx, evidence)


def _config_hash() -> str:
    import detectors.data

    root = Path(detectors.data.__file__).parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in {".yaml", ".yml", ".png"}:
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


_worker: FeaturePipeline | None = None


def _init_worker(settings: Settings) -> None:
    """One model set per process, single-threaded: N workers on N cores, not N x (ONNX + OCR + OpenCV) threads."""
    global _worker
    import cv2

    cv2.setNumThreads(1)
    one = settings.model_copy(
        update={
            "yolo": settings.yolo.model_copy(update={"threads": 1}),
            "ocr": settings.ocr.model_copy(update={"threads": 1}),
        }
    )
    _worker = FeaturePipeline(one)


def _work(path: Path) -> tuple[RawFeatures | None, str]:
    assert _worker is not None
    try:
        return _worker.features(path), ""
    except (AssetScreenError, OSError) as exc:
        return None, str(exc)


def extract_all(
    pipeline: FeaturePipeline,
    samples: Sequence[Sample],
    cache: FeatureCache | None,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int = 1,
) -> tuple[list[Sample], list[RawFeatures], list[dict[str, str]]]:
    """Every sample's features: from the cache where present, else computed (in `workers` processes, each with
    its own models) and cached. Each file is hashed and looked up once."""
    found: dict[int, RawFeatures] = {}
    failed: dict[int, str] = {}
    todo: list[tuple[int, str]] = []
    for i, s in enumerate(samples):
        try:
            key = file_sha256(s.path)
        except OSError as exc:
            failed[i] = str(exc)
            continue
        raw = cache.get(key) if cache else None
        if raw is None:
            todo.append((i, key))
        else:
            found[i] = raw
    for n, (i, key, raw, err) in enumerate(_compute(pipeline, samples, todo, workers), start=1):
        if progress:
            progress(n, len(todo), samples[i].name)
        if raw is None:
            failed[i] = err
            continue
        found[i] = raw
        if cache:
            cache.put(key, raw)
    kept = [s for i, s in enumerate(samples) if i in found]
    raws = [found[i] for i in range(len(samples)) if i in found]
    errors = [{"file": samples[i].name, "error": failed[i]} for i in sorted(failed)]
    return kept, raws, errors


def _compute(
    pipeline: FeaturePipeline, samples: Sequence[Sample], todo: Sequence[tuple[int, str]], workers: int
) -> Iterator[tuple[int, str, RawFeatures | None, str]]:
    """(index, key, features or None, error) for each uncached sample, in order."""
    if workers <= 1 or len(todo) < 2:
        for i, key in todo:
            try:
                yield i, key, pipeline.features(samples[i].path), ""
            except (AssetScreenError, OSError) as exc:
                yield i, key, None, str(exc)
        return
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(pipeline.settings,)) as pool:
        results = pool.imap(_work, [samples[i].path for i, _ in todo], chunksize=1)
        for (i, key), (raw, err) in zip(todo, results, strict=True):
            yield i, key, raw, err


def cv_report(samples: Sequence[Sample], result: TrainResult) -> EvalReport:
    """The grouped-CV out-of-fold predictions at each head's threshold, in `assetscreen evaluate`'s layout."""
    report = EvalReport()
    report.n_images = len(samples)
    for i, s in enumerate(samples):
        pred = {k for k, p in result.oof.items() if p[i] >= result.thresholds[k]}
        for kind, counts in report.kinds.items():
            if kind in result.oof:
                counts.add(kind in s.kinds, kind in pred)
                if (kind in s.kinds) != (kind in pred):
                    report.misclassified.append(
                        {"file": s.name, "kind": kind, "expected": kind in s.kinds, "predicted": kind in pred}
                    )
        exp_post = bool(s.kinds & OFFICIAL_ASSET_KINDS)
        report.post.add(exp_post, bool(pred & set(OFFICIAL)))
    return report


def train_heads(
    settings: Settings,
    pairs: Sequence[tuple[Path, Path]],
    *,
    exclude: set[str],
    cache_root: Path | None,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int = 1,
) -> tuple[list[Sample], TrainResult, list[dict[str, str]]]:
    samples: list[Sample] = []
    data: dict[str, Any] = {"sources": []}
    for folder, labels in pairs:
        got = read_samples(folder, labels, exclude)
        samples.extend(got)
        data["sources"].append(
            {
                "labels": labels.name,
                "labels_sha256": file_sha256(labels),
                "photos": len(got),
                "groups": len({s.group for s in got}),
            }
        )
    if not samples:
        raise BadInput("no labelled photos to train on")
    pipeline = FeaturePipeline(settings)
    cache = FeatureCache(cache_root, pipeline.signature) if cache_root else None
    kept, raws, errors = extract_all(pipeline, samples, cache, progress, workers)
    data["excluded"] = sorted(exclude)
    data["errors"] = len(errors)
    result = fit_heads(
        raws,
        [set(s.kinds) for s in kept],
        [s.group for s in kept],
        seed=seed,
        data=data,
        recipe_extra={"features": pipeline.signature, "models": pipeline.extractor.versions},
        log=log,
    )
    return kept, result, errors


__all__ = ["FeatureCache", "FeaturePipeline", "Sample", "cv_report", "extract_all", "read_samples", "train_heads"]
