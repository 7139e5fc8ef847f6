"""Uniform cues on drawn people (each cue found when drawn, absent otherwise) and the detector's contract.

Cue functions take a person crop directly, so these tests do not depend on YOLO recognising a drawing; the
detector-level tests use a fake runner that returns the person box.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.base import ImageContext
from detectors.errors import ConfigError
from detectors.runtime.ocr import OcrWord
from detectors.runtime.yolo import Detection
from detectors.uniforms import (
    DEFAULT_CONFIG,
    UniformDetector,
    body_regions,
    camouflage_cue,
    headgear_cue,
    insignia_cue,
    load_config,
    person_cues,
    profile_cues,
    text_cue,
)
from tests.contract import FakeYoloRunner, ImageDetectorContract

CFG = load_config()
SKIN = (200, 150, 120)
BLACK = (22, 22, 24)
KHAKI = (195, 176, 145)
DENIM = (50, 70, 120)
OLIVE = (85, 95, 40)
SHADED_KHAKI = (85, 60, 35)  # khaki trousers in shade or in a small compressed photo read as brown


def person(shirt: tuple[int, int, int], trousers: tuple[int, int, int], w: int = 100, h: int = 300) -> np.ndarray:
    """A standing figure filling its box: head, shirt with arms, trousers, shoes, on a light background."""
    img = np.full((h, w, 3), 215, np.uint8)
    cv2.circle(img, (w // 2, int(h * 0.08)), int(h * 0.06), SKIN, -1)
    cv2.rectangle(img, (int(w * 0.1), int(h * 0.15)), (int(w * 0.9), int(h * 0.53)), shirt, -1)
    cv2.rectangle(img, (int(w * 0.2), int(h * 0.53)), (int(w * 0.8), int(h * 0.95)), trousers, -1)
    cv2.rectangle(img, (int(w * 0.2), int(h * 0.95)), (int(w * 0.8), h - 1), (15, 15, 15), -1)
    return img


def found(cues: list) -> list[str]:
    return [c.details.get("profile", c.cue) for c in cues if c.found]


# ------------------------------------------------------------------------------------------------ colour profiles


def test_black_shirt_over_khaki_trousers_is_the_police_profile() -> None:
    cues = profile_cues(body_regions(person(BLACK, KHAKI), CFG.body), CFG)
    assert found(cues) == ["police black shirt and khaki trousers"]
    assert cues[0].score >= CFG.min_uniform_score


def test_khaki_uniform_profile() -> None:
    assert found(profile_cues(body_regions(person(KHAKI, KHAKI), CFG.body), CFG)) == ["khaki uniform"]


def test_olive_uniform_profile() -> None:
    assert found(profile_cues(body_regions(person(OLIVE, OLIVE), CFG.body), CFG)) == ["olive uniform"]


def test_black_shirt_over_jeans_is_at_most_a_weak_cue() -> None:
    cues = profile_cues(body_regions(person(BLACK, DENIM), CFG.body), CFG)
    assert all(c.score < CFG.min_uniform_score for c in cues)


@pytest.mark.parametrize(
    ("shirt", "trousers"),
    [
        ((20, 160, 70), (245, 245, 245)),
        ((250, 210, 0), (20, 120, 60)),
        ((240, 240, 240), DENIM),
        ((200, 30, 40), DENIM),
    ],
    ids=["green-sports-kit", "yellow-cricket-kit", "white-shirt-jeans", "red-shirt-jeans"],
)
def test_sports_kits_and_ordinary_clothes_match_no_profile(
    shirt: tuple[int, int, int], trousers: tuple[int, int, int]
) -> None:
    assert found(profile_cues(body_regions(person(shirt, trousers), CFG.body), CFG)) == []


def test_dark_jacket_over_a_white_shirt_is_not_a_dark_uniform() -> None:
    suit = person(BLACK, BLACK)
    cv2.fillPoly(suit, [np.array([[38, 60], [62, 60], [50, 140]], np.int32)], (245, 245, 245))
    plain = person(BLACK, BLACK)
    assert "black uniform" in found(profile_cues(body_regions(plain, CFG.body), CFG))
    assert found(profile_cues(body_regions(suit, CFG.body), CFG)) == []


def test_black_shirt_over_shaded_khaki_is_a_weak_profile() -> None:
    cues = profile_cues(body_regions(person(BLACK, SHADED_KHAKI), CFG.body), CFG)
    assert found(cues) == ["black shirt over khaki trousers in shade"]
    assert cues[0].score < CFG.min_uniform_score  # brown trousers under a black shirt are ordinary clothes too


def test_wide_stance_box_still_checks_the_trousers() -> None:
    figure = person(BLACK, KHAKI, w=180, h=290)  # aspect 1.6: judged as a portrait for the shirt
    assert "legs" not in body_regions(figure, CFG.body)
    cues = [c for c in person_cues(figure, CFG) if c.cue == "colour_profile"]
    assert found(cues) == ["police black shirt and khaki trousers"]


def test_portrait_box_uses_head_and_chest_only() -> None:
    regions = body_regions(np.zeros((120, 110, 3), np.uint8), CFG.body)
    assert set(regions) == {"head", "torso"}


# ------------------------------------------------------------------------------------------------ camouflage


def camouflage(w: int = 120, h: int = 140, seed: int = 3) -> np.ndarray:
    img = np.full((h, w, 3), OLIVE, np.uint8)
    rng = np.random.default_rng(seed)
    for _ in range(70):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        colour = [(40, 70, 40), (110, 70, 40), (20, 20, 20), KHAKI][int(rng.integers(0, 4))]
        cv2.ellipse(img, (x, y), (9, 5), float(rng.integers(0, 180)), 0, 360, colour, -1)
    return img


def test_woodland_camouflage_is_found() -> None:
    c = camouflage_cue(camouflage(), CFG.camouflage, CFG.colours)
    assert c.found and c.details["green"] and c.score == CFG.camouflage.score, c.reason


@pytest.mark.parametrize(
    "colour", [BLACK, KHAKI, (120, 120, 120), (20, 160, 70)], ids=["black", "khaki", "grey", "kit"]
)
def test_plain_cloth_is_not_camouflage(colour: tuple[int, int, int]) -> None:
    assert not camouflage_cue(np.full((140, 120, 3), colour, np.uint8), CFG.camouflage, CFG.colours).found


# ------------------------------------------------------------------------------------------------ headgear


def head(badge: bool) -> np.ndarray:
    img = np.full((40, 60, 3), 215, np.uint8)
    cv2.ellipse(img, (30, 14), (24, 12), 0, 0, 360, BLACK, -1)  # cap crown / beret
    cv2.rectangle(img, (18, 24), (42, 39), SKIN, -1)  # face
    if badge:
        cv2.circle(img, (30, 12), 3, (225, 185, 40), -1)  # gold cap badge
    return img


def test_dark_cap_with_badge_is_headgear() -> None:
    c = headgear_cue(head(badge=True), CFG.headgear)
    assert c.found, c.reason


def test_dark_hair_without_badge_is_not_headgear() -> None:
    assert not headgear_cue(head(badge=False), CFG.headgear).found
    assert not headgear_cue(np.full((40, 60, 3), SKIN, np.uint8), CFG.headgear).found


# ------------------------------------------------------------------------------------------------ insignia


def test_badges_and_name_tag_on_a_black_shirt() -> None:
    torso = np.full((120, 100, 3), BLACK, np.uint8)
    cv2.rectangle(torso, (12, 30), (22, 35), (240, 240, 240), -1)  # name tag (right chest)
    cv2.rectangle(torso, (76, 28), (84, 36), (230, 190, 40), -1)  # badge (left chest)
    cv2.rectangle(torso, (80, 4), (90, 9), (230, 190, 40), -1)  # shoulder rank
    c = insignia_cue(torso, CFG.insignia, CFG.colours)
    assert c.found and c.details["shirt"] == "black", c.reason


def test_suit_shirt_front_is_not_insignia() -> None:
    torso = np.full((120, 100, 3), BLACK, np.uint8)
    pts = np.array([[35, 0], [65, 0], [50, 70]], np.int32)
    cv2.fillPoly(torso, [pts], (245, 245, 245))  # white shirt and tie area, central and large
    cv2.line(torso, (50, 5), (50, 60), (120, 20, 30), 4)
    assert not insignia_cue(torso, CFG.insignia, CFG.colours).found


def test_printed_kit_logos_and_numbers_are_not_insignia() -> None:
    torso = np.full((120, 100, 3), BLACK, np.uint8)
    for i, (x, y) in enumerate([(8, 8), (80, 8), (8, 40), (80, 40), (30, 70), (60, 70), (8, 100), (80, 100)]):
        cv2.rectangle(torso, (x, y), (x + 8 + i % 2, y + 6), (240, 240, 240), -1)
    assert insignia_cue(torso, CFG.insignia, CFG.colours).found  # eight patches: still badges and tags
    cv2.rectangle(torso, (45, 30), (53, 36), (240, 240, 240), -1)
    assert not insignia_cue(torso, CFG.insignia, CFG.colours).found  # nine: a printed kit


def test_printed_pattern_is_not_insignia() -> None:
    torso = np.full((120, 100, 3), BLACK, np.uint8)
    for y in range(5, 120, 12):
        for x in range(5, 100, 12):
            cv2.circle(torso, (x, y), 2, (240, 240, 240), -1)
    assert not insignia_cue(torso, CFG.insignia, CFG.colours).found


# ------------------------------------------------------------------------------------------------ text


def words(*texts: str) -> list[OcrWord]:
    return [OcrWord(t, 0.9, ((0.0, 0.0), (10.0, 0.0), (10.0, 5.0), (0.0, 5.0))) for t in texts]


@pytest.mark.parametrize("text", ["POLICE", "Sindh Police", "پولیس", "TRAFFIC WARDEN"])
def test_service_text_on_clothing(text: str) -> None:
    assert text_cue(words(text), CFG.text).found


@pytest.mark.parametrize("text", ["#Fixit", "ADIDAS", "PAKISTAN", "POLICY"])
def test_ordinary_text_is_not_service_text(text: str) -> None:
    assert not text_cue(words(text), CFG.text).found


# ------------------------------------------------------------------------------------------------ detector


class FakeRunner:
    name = "fake"
    version = "fake-1"
    names = {0: "person", 2: "car"}

    def __init__(self, dets: list[Detection]) -> None:
        self.dets = dets

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        return list(self.dets)

    def detect_batch(self, images: list[np.ndarray]) -> list[list[Detection]]:
        return [self.detect(i) for i in images]


def run(figure: np.ndarray) -> list:
    img = np.full((480, 640, 3), 215, np.uint8)
    img[100:400, 200:300] = figure
    det = Detection(0, "person", 0.9, (200.0, 100.0, 300.0, 400.0))
    return UniformDetector(FakeRunner([det]), ocr_engine=None).detect(ImageContext(rgb=img))


def test_police_profile_person_is_uniform_evidence() -> None:
    ev = run(person(BLACK, KHAKI))
    assert [e.kind for e in ev] == ["person", "uniform"]
    assert ev[1].box == (200.0, 100.0, 300.0, 400.0)
    assert "black shirt" in ev[1].explanation


def test_shaded_khaki_profile_with_badges_is_uniform_evidence() -> None:
    figure = person(BLACK, SHADED_KHAKI)
    cv2.rectangle(figure, (30, 70), (40, 75), (240, 240, 240), -1)  # name tag
    cv2.rectangle(figure, (62, 68), (70, 76), (230, 190, 40), -1)  # badge
    ev = run(figure)
    assert [e.kind for e in ev] == ["person", "uniform"]
    assert "in shade" in ev[1].explanation and "patches" in ev[1].explanation


@pytest.mark.parametrize(
    ("shirt", "trousers"),
    [((20, 160, 70), (245, 245, 245)), (BLACK, DENIM), ((240, 240, 240), DENIM), (BLACK, SHADED_KHAKI)],
    ids=["sports-kit", "black-tshirt-jeans", "white-shirt-jeans", "black-shirt-brown-trousers"],
)
def test_hard_negatives_are_only_persons(shirt: tuple[int, int, int], trousers: tuple[int, int, int]) -> None:
    assert [e.kind for e in run(person(shirt, trousers))] == ["person"]


def test_unknown_config_key_is_named(tmp_path: Path) -> None:
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace("min_uniform_score:", "min_uniform_scor:")
    bad = tmp_path / "uniforms.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="min_uniform_scor"):
        load_config(bad)


def test_undefined_profile_colour_is_an_error(tmp_path: Path) -> None:
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace("torso: {olive: 0.45}", "torso: {olvie: 0.45}")
    bad = tmp_path / "uniforms.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="olvie"):
        load_config(bad)


class TestUniformDetectorContract(ImageDetectorContract):
    """On the fake runner: no model file, no ../shared; the real models run the same contract in
    tests/integration/test_detector_contracts.py."""

    def make_detector(self) -> UniformDetector:
        return UniformDetector(FakeYoloRunner(("person", "car", "truck")), ocr_engine=None)
