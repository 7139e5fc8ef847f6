"""Sample posts for a fresh machine: `python -m datasets.samples OUT` writes a few generated photos to scan.

Real photos cannot ship (their licences do not allow it), so the README's main command screens these: official
letters photographed on a desk and as a flat scan, a company letter, a plain scene and a signboard, all drawn
by `datasets.synthetic_documents` (deterministic, seed 7). They exercise every detector and the learned stage;
they are not a measure of accuracy (that is `assetscreen evaluate` on real photos).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from datasets.synthetic_documents import photograph, plain_photo, render_page, scan, signboard_photo


def write_samples(out: Path, seed: int = 7) -> list[Path]:
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    official, _ = render_page(rng, True)
    company, _ = render_page(rng, False)
    images = {
        "official_letter_photo.jpg": photograph(official, rng)[0],
        "official_letter_scan.png": scan(official, rng),
        "company_letter_photo.jpg": photograph(company, rng)[0],
        "plain_scene.jpg": plain_photo(rng),
        "signboard.jpg": signboard_photo(rng),
    }
    paths = []
    for name, rgb in images.items():
        p = out / name
        Image.fromarray(np.ascontiguousarray(rgb)).save(p, quality=90)
        paths.append(p)
    return paths


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "samples")
    for p in write_samples(out):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
