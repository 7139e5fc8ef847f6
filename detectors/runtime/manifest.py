"""`weights/manifest.toml`: every model the project knows, with its file, licence, source and sha256.

Runners read their entry here to check the file they load against the recorded hash, so a truncated or swapped
file is an error naming it (`ModelMissing`, exit 3), never a model that quietly says something else.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detectors.errors import ConfigError, ModelMissing
from detectors.runtime.yolo import file_sha256

MANIFEST_NAME = "manifest.toml"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    file: str
    task: str
    licence: str = ""
    source: str = ""
    sha256: str = ""
    shipped: bool = False
    role: str = ""
    classes: str = ""
    imgsz: int = 0
    input: str = ""
    licence_file: str = ""
    weights: str = ""  # fetchable models: the Ultralytics weights name
    source_sha256: str = ""
    notes: str = ""
    metrics: str = ""  # trained heads: where the grouped-CV figures that chose them are


def load_manifest(path: Path) -> dict[str, ModelEntry]:
    if not path.is_file():
        raise ConfigError(f"model manifest not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    known = set(ModelEntry.__dataclass_fields__) - {"name"}
    out = {}
    for name, raw in (data.get("models") or {}).items():
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(f"{path}: models.{name}: unknown key(s) {sorted(unknown)}")
        try:
            out[name] = ModelEntry(name=name, **raw)
        except TypeError as exc:
            raise ConfigError(f"{path}: models.{name}: {exc}") from None
    return out


def manifest_entry(weights_dir: Path, name: str) -> ModelEntry:
    entries = load_manifest(weights_dir / MANIFEST_NAME)
    if name not in entries:
        raise ModelMissing(f"{weights_dir / MANIFEST_NAME} has no entry for model {name!r}")
    return entries[name]


def pinned_sha256(path: Path) -> str | None:
    """The sha256 that the `manifest.toml` beside `path` records for it, if any."""
    manifest = path.parent / MANIFEST_NAME
    if not manifest.is_file():
        return None
    return next((e.sha256 for e in load_manifest(manifest).values() if e.file == path.name and e.sha256), None)


def verified_file(path: Path, sha256: str | None) -> Path:
    """`path` if present and (when a hash is given) intact; ModelMissing naming the file otherwise."""
    if not path.is_file():
        raise ModelMissing(
            f"model file {path} is missing; it ships with AssetScreen (weights/): reinstall the package, or set "
            f"ASSETSCREEN_WEIGHTS to a folder holding it"
        )
    if sha256:
        digest = file_sha256(path)
        if digest != sha256:
            raise ModelMissing(
                f"model file {path} is corrupt: sha256 {digest[:16]}... differs from the manifest's {sha256[:16]}...; "
                "reinstall the package or restore the file"
            )
    return path


def verify_pinned(path: Path) -> Path:
    """`path` checked against the hash its manifest pins (files no manifest pins pass as they are)."""
    return verified_file(path, pinned_sha256(path))


def model_status(entry: ModelEntry, weights_dir: Path) -> dict[str, Any]:
    """Present or missing, and whether its sha256 matches the manifest (when one is recorded)."""
    path = weights_dir / entry.file
    row: dict[str, Any] = {
        "name": entry.name,
        "file": str(path),
        "present": path.is_file(),
        "shipped": entry.shipped,
        "licence": entry.licence,
    }
    if not path.is_file():
        row["check"] = "MISSING" if entry.shipped else "not installed (optional)"
        row["ok"] = not entry.shipped
        if entry.weights:
            row["how"] = f"assetscreen models fetch {entry.name}  (or copy an ONNX export to {path})"
        else:
            row["how"] = "reinstall the package: this file ships with it"
        return row
    digest = file_sha256(path)
    row["sha256"] = digest
    if not entry.sha256:
        row["check"] = "present (no sha256 recorded)"
        row["ok"] = True
    elif digest == entry.sha256:
        row["check"] = "ok (sha256 verified)"
        row["ok"] = True
    else:
        row["check"] = f"SHA256 MISMATCH (manifest {entry.sha256[:12]}..., file {digest[:12]}...)"
        row["ok"] = False
    return row


__all__ = [
    "MANIFEST_NAME",
    "ModelEntry",
    "load_manifest",
    "manifest_entry",
    "model_status",
    "pinned_sha256",
    "verified_file",
    "verify_pinned",
]
