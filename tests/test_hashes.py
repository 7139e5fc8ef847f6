"""Known-image hashing: robustness to re-compression, resizing and cropping on generated images, the store and
the CLI commands."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.base import ImageContext
from detectors.errors import BadInput, ConfigError
from detectors.hashes import HashOptions, HashStore, KnownImageDetector, build
from service.settings import Settings
from tests.contract import ImageDetectorContract


def scene(seed: int, h: int = 600, w: int = 800) -> np.ndarray:
    """A generated 'photo': smooth gradient, shapes and text, different per seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * rng.uniform(0.1, 0.3) + yy * rng.uniform(0.0, 0.2)) % 255] * 3, -1)
    img = np.ascontiguousarray(base.astype(np.uint8))
    for _ in range(12):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), int(rng.integers(20, 120)), c, -1)
        else:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(30, 250)), y + int(rng.integers(30, 200))), c, -1)
    for i in range(6):
        cv2.putText(img, f"NOTICE {seed}-{i}", (30, 80 + 80 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 0, 0), 3)
    return img


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def transforms(rgb: np.ndarray) -> dict[str, np.ndarray]:
    h, w = rgb.shape[:2]
    return {
        "jpeg_q40": jpeg(rgb, 40),
        "half": cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
        "crop_centre_10pct": rgb[int(0.05 * h) : int(0.95 * h), int(0.05 * w) : int(0.95 * w)],
        "crop_left_10pct": rgb[:, int(0.10 * w) :],
        "crop_corner_10pct": rgb[int(0.10 * h) :, int(0.10 * w) :],
        "half_jpeg_crop": jpeg(cv2.resize(rgb[: int(0.9 * h)], (w // 2, int(0.45 * h))), 60),
    }


@pytest.fixture()
def store(tmp_path: Path) -> HashStore:
    return HashStore(tmp_path / "known.json")


class TestKnownImageContract(ImageDetectorContract):
    def make_detector(self) -> KnownImageDetector:
        # A non-empty register, so the contract images really go through hashing.
        import tempfile

        st = HashStore(Path(tempfile.mkdtemp()) / "known.json")
        st.add("doc-1", scene(1))
        return KnownImageDetector(st.load())


@pytest.mark.parametrize(
    "name", ["jpeg_q40", "half", "crop_centre_10pct", "crop_left_10pct", "crop_corner_10pct", "half_jpeg_crop"]
)
def test_registered_image_found_after_transform(store: HashStore, name: str) -> None:
    for seed in (1, 2, 3):
        store.add(f"item-{seed}", scene(seed))
    det = KnownImageDetector(store.load())
    for seed in (1, 2, 3):
        ev = det.detect(ImageContext(rgb=transforms(scene(seed))[name]))
        assert [e.details["item_id"] for e in ev] == [f"item-{seed}"], name
        assert ev[0].kind == "known_image" and ev[0].score >= 0.5
        assert 0 <= ev[0].details["distance"] <= HashOptions().threshold


def test_unregistered_images_do_not_match(store: HashStore) -> None:
    for seed in range(1, 6):
        store.add(f"item-{seed}", scene(seed))
    det = KnownImageDetector(store.load())
    for seed in range(100, 120):
        assert det.detect(ImageContext(rgb=scene(seed))) == []


def test_store_round_trip_and_remove(store: HashStore) -> None:
    store.add("a", scene(1), "leaked memo")
    store.add("b", scene(2))
    items = store.load()
    assert [(i.item_id, i.note) for i in items] == [("a", "leaked memo"), ("b", "")]
    with pytest.raises(BadInput):
        store.add("a", scene(3))
    store.add("a", scene(3), replace=True)
    assert store.remove("a") is True
    assert store.remove("a") is False
    assert [i.item_id for i in store.load()] == ["b"]


def test_bad_store_file_is_named(tmp_path: Path) -> None:
    p = tmp_path / "known.json"
    p.write_text("{not json")
    with pytest.raises(ConfigError, match="known.json"):
        HashStore(p).load()


def test_factory_reads_store_from_data_dir_and_rejects_unknown_option(tmp_path: Path) -> None:
    HashStore(tmp_path / "known_hashes.json").add("x", scene(5))
    det = build(Settings(data_dir=tmp_path))
    assert [e.details["item_id"] for e in det.detect(ImageContext(rgb=jpeg(scene(5), 50)))] == ["x"]
    with pytest.raises(ConfigError, match="treshold"):
        build(Settings(data_dir=tmp_path, detector_options={"hashes": {"treshold": 3}}))


def test_cli_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from service.commands import hashes as cmd

    cfg = tmp_path / "settings.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\n")
    img = tmp_path / "leak.png"
    cv2.imwrite(str(img), scene(7)[:, :, ::-1])
    parser = argparse.ArgumentParser()
    cmd.register(parser.add_subparsers())

    def run(*argv: str) -> int:
        args = parser.parse_args(list(argv))
        return int(args.func(args))

    assert run("hashes", "add", str(img), "--id", "case-7", "--note", "memo", "--config", str(cfg)) == 0
    assert run("hashes", "list", "--config", str(cfg)) == 0
    assert "case-7" in capsys.readouterr().out
    assert run("hashes", "remove", "case-7", "--config", str(cfg)) == 0
    with pytest.raises(BadInput):
        run("hashes", "remove", "case-7", "--config", str(cfg))
