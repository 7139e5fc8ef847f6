"""Benchmark of emblem gallery matching: median and p95 milliseconds per image with a 50-emblem gallery.

The gallery is the shipped stand-ins plus generated variants (datasets/make_gallery.py), indexed once; the
timed part is `EmblemGallery.match` on each image (ORB on the query plus one Hamming match against all emblems
and the homography checks), i.e. what the insignia detector pays per image for emblems.

    python -m datasets.bench_gallery                      # 60 generated 960x720 scenes, half with an emblem
    python -m datasets.bench_gallery --folder ../shared/eval --limit 100
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

from datasets.make_gallery import EMBLEMS, draw_variant, paste_warped, textured_scene, write_gallery
from detectors.insignia import EmblemGallery, InsigniaOptions


def build_gallery(n: int, directory: Path) -> EmblemGallery:
    entries = write_gallery(directory)
    for k in range(n - len(entries)):
        file = f"variant_{k:03d}.png"
        cv2.imwrite(str(directory / file), cv2.cvtColor(draw_variant(1000 + k), cv2.COLOR_RGB2BGR))
        entries.append({"name": f"variant_{k:03d}", "file": file, "body": f"variant {k}"})
    (directory / "gallery.yaml").write_text(yaml.safe_dump({"emblems": entries}), encoding="utf-8")
    return EmblemGallery.load([directory])


def generated_images(count: int) -> list[tuple[np.ndarray, str | None]]:
    """Scenes and the emblem pasted into each (None for the scenes left without one)."""
    rng = np.random.default_rng(7)
    names = list(EMBLEMS)
    out: list[tuple[np.ndarray, str | None]] = []
    for i in range(count):
        scene = textured_scene(500 + i)
        name = None
        if i % 2 == 0:
            name = names[i % len(names)]
            emblem = EMBLEMS[name][0]()
            scene, _ = paste_warped(
                scene,
                emblem,
                (480, 360),
                float(rng.uniform(120, 320)),
                float(rng.uniform(-40, 40)),
                float(rng.uniform(0, 0.3)),
            )
        out.append((scene, name))
    return out


def folder_images(folder: Path, limit: int) -> list[tuple[np.ndarray, str | None]]:
    from service.media import read_file

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    return [(read_file(p).frames[0].rgb, None) for p in files[:limit]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emblems", type=int, default=50)
    ap.add_argument("--folder", type=Path, help="time on these photos instead of generated scenes")
    ap.add_argument("--limit", type=int, default=60)
    args = ap.parse_args()
    cv2.setNumThreads(min(2, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        gallery = build_gallery(args.emblems, Path(tmp))
        index_s = time.perf_counter() - t0
    images = folder_images(args.folder, args.limit) if args.folder else generated_images(args.limit)
    opts = InsigniaOptions()
    right = wrong = missed = 0
    times = []
    for rgb, expected in images:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        t = time.perf_counter()
        names = [m.emblem.name for m in gallery.match(gray, opts)]
        times.append((time.perf_counter() - t) * 1000)
        right += expected is not None and names[:1] == [expected]
        missed += expected is not None and expected not in names
        wrong += len([n for n in names if n != expected])
    load = os.getloadavg()[0]
    print(f"gallery: {len(gallery.emblems)} emblems, indexed in {index_s:.2f} s (incl. drawing them)")
    print(
        f"images: {len(images)} ({'folder ' + str(args.folder) if args.folder else 'generated scenes'}), "
        f"pasted emblems found: {right}, missed: {missed}, wrong matches: {wrong}"
    )
    print(
        f"match ms/image: median {np.median(times):.1f}  p95 {np.percentile(times, 95):.1f}  "
        f"max {max(times):.1f}  (1-min load average {load:.2f})"
    )


if __name__ == "__main__":
    main()
