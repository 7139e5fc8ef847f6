"""Shared fixtures: paths into ../shared (tests that need them skip with a reason when it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ASSETSCREEN_SHARED", ROOT.parent / "shared"))
COCO_MODEL = SHARED / "models" / "coco_yolov8n_int8.onnx"
EVAL_DIR = SHARED / "eval"


@pytest.fixture(scope="session")
def coco_model() -> Path:
    if not COCO_MODEL.is_file():
        pytest.skip(f"test model {COCO_MODEL} not present (../shared is absent)")
    return COCO_MODEL


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    if not (EVAL_DIR / "labels.csv").is_file():
        pytest.skip(f"evaluation photos {EVAL_DIR} not present (../shared is absent)")
    return EVAL_DIR


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own data folder (store, example bank, hashes), never the user's."""
    monkeypatch.setenv("ASSETSCREEN_DATA", str(tmp_path_factory.mktemp("data")))


@pytest.fixture
def chromium_path() -> str:
    """Chromium from Debian, driven by pip's playwright. Where CI sets ASSETSCREEN_REQUIRE_BROWSER=1 (it installs
    both), a missing browser fails; elsewhere the browser tests skip with the reason."""
    import shutil

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import playwright  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        if os.environ.get("ASSETSCREEN_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium and pip's playwright are required here (apt-get install chromium)")
        pytest.skip("Chromium or playwright not installed (apt-get install chromium; pip install playwright)")
    return path
