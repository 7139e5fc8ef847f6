"""Rebuild the training photo folder from fetched repository snapshots, byte for byte.

    python -m datasets.train.rebuild --out /data/train [--mirrors /work/.mirror] [--manifest manifest.csv]

Each manifest row names a repository, a commit and a path; the script reads that blob from the repository's git
directory (a `fetch` snapshot at MIRRORS/OWNER+NAME/repo, or any bare clone there) and writes it to OUT/file,
then checks its sha256. Photos never live in the project: the manifest and this script are what is kept. Rows
whose repository is not present are listed with the command that brings it (the search tool's `fetch
github:OWNER/NAME`, or `git clone --bare`). Also writes OUT/labels.csv (file,kinds,pakistani,note,group) for
`assetscreen train heads`. Exit 1 when any file is missing or differs.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def git_dir(mirrors: Path, repo: str) -> Path | None:
    base = mirrors / repo.replace("/", "+")
    for cand in (base / "repo", base, mirrors / (repo.split("/")[1] + ".git")):
        if (cand / "HEAD").is_file() and (cand / "objects").is_dir():
            return cand
    return None


def read_blob(gd: Path, commit: str, path: str) -> bytes:
    out = subprocess.run(
        ["git", f"--git-dir={gd}", "cat-file", "blob", f"{commit}:{path}"], capture_output=True, check=False
    )
    if out.returncode != 0:
        raise FileNotFoundError(out.stderr.decode(errors="replace").strip() or f"{commit}:{path} not found")
    return out.stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    ap.add_argument("--manifest", type=Path, default=HERE / "manifest.csv")
    args = ap.parse_args(argv)
    rows = list(csv.DictReader(args.manifest.open(encoding="utf-8", newline="")))
    args.out.mkdir(parents=True, exist_ok=True)
    ok, bad, absent_repos = 0, [], set()
    for row in rows:
        gd = git_dir(args.mirrors, row["repo"])
        if gd is None:
            absent_repos.add(row["repo"])
            bad.append((row["file"], "repository not fetched"))
            continue
        dest = args.out / row["file"]
        try:
            data = read_blob(gd, row["commit"], row["path"])
        except FileNotFoundError as exc:
            bad.append((row["file"], str(exc)))
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest != row["sha256"]:
            bad.append((row["file"], f"sha256 {digest[:12]} differs from the manifest's {row['sha256'][:12]}"))
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.is_file() or dest.read_bytes() != data:
            dest.write_bytes(data)
        ok += 1
    with (args.out / "labels.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "kinds", "pakistani", "note", "group"])
        for row in rows:
            w.writerow([row["file"], row["kinds"], row["pakistani"], row["note"], row["group"]])
    print(f"rebuilt {ok}/{len(rows)} files into {args.out} (sha256 checked); labels in {args.out / 'labels.csv'}")
    for repo in sorted(absent_repos):
        print(f"  missing repository {repo}: fetch github:{repo} (or git clone --bare) into {args.mirrors}")
    for f, why in bad[:20]:
        print(f"  {f}: {why}", file=sys.stderr)
    return 0 if not bad else 1


if __name__ == "__main__":
    raise SystemExit(main())
