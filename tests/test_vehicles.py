"""Vehicle cues on drawn scenes (each cue found when drawn, absent otherwise) and the detector's contract.

Cue functions take a vehicle crop directly, so these tests do not depend on YOLO recognising a drawing; the
detector-level tests use a fake runner that returns the vehicle box.
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
from detectors.vehicles import (
    DEFAULT_CONFIG,
    VehicleDetector,
    army_cue,
    flag_staff_cue,
    light_bar_cue,
    livery_cue,
    load_config,
    markings_cue,
    plate_cue,
)
from tests.contract import FakeYoloRunner, ImageDetectorContract

CFG = load_config()
GREY = (128, 128, 128)
WHITE = (235, 235, 235)


def car_crop(body: tuple[int, int, int] = GREY, w: int = 400, h: int = 220) -> np.ndarray:
    """A side-on 'vehicle' box: sky-free neutral background, body, dark windows, wheels."""
    img = np.full((h, w, 3), 90, np.uint8)
    cv2.rectangle(img, (10, int(h * 0.35)), (w - 10, int(h * 0.85)), body, -1)
    cv2.rectangle(img, (90, int(h * 0.15)), (w - 90, int(h * 0.35)), body, -1)
    cv2.rectangle(img, (110, int(h * 0.18)), (w - 110, int(h * 0.33)), (40, 40, 50), -1)
    for cx in (80, w - 80):
        cv2.circle(img, (cx, int(h * 0.85)), 28, (20, 20, 20), -1)
    return img


def draw_plate(img: np.ndarray, bg: tuple[int, int, int], fg: tuple[int, int, int], text: str = "GP 1234") -> None:
    h, w = img.shape[:2]
    x1, y1 = w // 2 - 60, int(h * 0.62)
    cv2.rectangle(img, (x1, y1), (x1 + 120, y1 + 34), bg, -1)
    cv2.putText(img, text, (x1 + 6, y1 + 26), cv2.FONT_HERSHEY_SIMPLEX, 0.75, fg, 2, cv2.LINE_AA)


# ------------------------------------------------------------------------------------------------ plate


def test_green_plate_with_white_characters_is_found() -> None:
    img = car_crop()
    draw_plate(img, (0, 120, 60), (255, 255, 255))
    c = plate_cue(img, CFG.plate)
    assert c.found and c.details["colour"] == "green", c.reason
    x1, y1, x2, y2 = c.box or (0, 0, 0, 0)
    assert 130 <= x1 < x2 <= 270 and y1 >= 120


def test_plate_text_is_read_from_ocr_words_inside_it() -> None:
    img = car_crop()
    draw_plate(img, (0, 120, 60), (255, 255, 255))
    word = OcrWord("GP 1234", 0.9, ((150.0, 140.0), (250.0, 140.0), (250.0, 165.0), (150.0, 165.0)))
    far = OcrWord("TOYOTA", 0.9, ((10.0, 10.0), (60.0, 10.0), (60.0, 20.0), (10.0, 20.0)))
    c = plate_cue(img, CFG.plate, [word, far], (0, 0))
    assert c.found and c.details["text"] == ["GP 1234"]


@pytest.mark.parametrize(
    ("bg", "fg"),
    [((240, 200, 0), (0, 0, 0)), ((245, 245, 245), (0, 0, 0)), ((0, 120, 60), (0, 120, 60))],
    ids=["yellow-private", "white-private", "green-without-characters"],
)
def test_other_plates_are_not_government(bg: tuple[int, int, int], fg: tuple[int, int, int]) -> None:
    img = car_crop()
    draw_plate(img, bg, fg)
    assert not plate_cue(img, CFG.plate).found


def test_green_car_body_is_not_a_plate() -> None:
    img = car_crop(body=(20, 150, 70))
    draw_plate(img, (240, 200, 0), (0, 0, 0))
    assert not plate_cue(img, CFG.plate).found


# ------------------------------------------------------------------------------------------------ light bar


def with_light_bar(img: np.ndarray, red: bool = True, blue: bool = True) -> np.ndarray:
    img = img.copy()
    cv2.rectangle(img, (140, 12), (260, 30), (60, 60, 60), -1)  # the bar
    if red:
        cv2.rectangle(img, (146, 15), (190, 27), (230, 20, 20), -1)
    if blue:
        cv2.rectangle(img, (210, 15), (254, 27), (20, 40, 230), -1)
    return img


def test_red_and_blue_light_bar_is_found() -> None:
    c = light_bar_cue(with_light_bar(car_crop(WHITE)), CFG.light_bar)
    assert c.found, c.reason
    assert c.box is not None and c.box[1] < 40


@pytest.mark.parametrize(("red", "blue"), [(False, False), (True, False), (False, True)])
def test_no_light_bar_without_both_lamps(red: bool, blue: bool) -> None:
    assert not light_bar_cue(with_light_bar(car_crop(WHITE), red, blue), CFG.light_bar).found


def test_red_car_under_blue_sky_is_not_a_light_bar() -> None:
    img = car_crop((200, 20, 25))
    img[:40] = (40, 90, 220)  # saturated sky above the roof
    assert not light_bar_cue(img, CFG.light_bar).found


def test_lamps_amid_painted_decoration_are_not_a_light_bar() -> None:
    img = with_light_bar(car_crop(GREY))
    rng = np.random.default_rng(0)
    for _ in range(60):  # truck-art style flowers in yellow, green and orange around the lamps
        x, y = int(rng.integers(120, 280)), int(rng.integers(0, 60))
        colour = [(240, 200, 0), (20, 170, 60), (250, 120, 0)][int(rng.integers(0, 3))]
        cv2.circle(img, (x, y), 5, colour, -1)
    img = with_light_bar(img)
    assert not light_bar_cue(img, CFG.light_bar).found


# ------------------------------------------------------------------------------------------------ livery


def test_checkered_band_is_livery() -> None:
    img = car_crop(WHITE)
    for i, x in enumerate(range(10, 390, 20)):
        for j, y in enumerate((110, 130)):
            colour = (20, 40, 200) if (i + j) % 2 else (250, 210, 0)
            cv2.rectangle(img, (x, y), (x + 19, y + 19), colour, -1)
    c = livery_cue(img, CFG.livery)
    assert c.found and c.details["pattern"] == "checkered", c.reason


def test_blue_stripe_on_white_is_livery() -> None:
    img = car_crop(WHITE)
    cv2.rectangle(img, (10, 120), (390, 140), (20, 40, 200), -1)
    assert livery_cue(img, CFG.livery).found


@pytest.mark.parametrize("body", [WHITE, GREY, (20, 40, 200), (20, 20, 20)], ids=["white", "grey", "blue", "black"])
def test_plain_bodies_have_no_livery(body: tuple[int, int, int]) -> None:
    assert not livery_cue(car_crop(body), CFG.livery).found


# ------------------------------------------------------------------------------------------------ flag, army


def with_flag(img: np.ndarray) -> np.ndarray:
    img = img.copy()
    cv2.line(img, (60, 80), (60, 40), (200, 200, 200), 2)  # the staff
    cv2.rectangle(img, (60, 20), (69, 43), (255, 255, 255), -1)  # white hoist
    cv2.rectangle(img, (70, 20), (96, 43), (1, 90, 40), -1)  # green field
    cv2.circle(img, (84, 31), 6, (255, 255, 255), 1)  # crescent outline
    return img


def test_flag_staff_on_the_bonnet_is_found() -> None:
    c = flag_staff_cue(with_flag(car_crop()), CFG.flag_staff)
    assert c.found, c.reason


def test_no_flag_no_flag_staff() -> None:
    assert not flag_staff_cue(car_crop(), CFG.flag_staff).found
    assert not flag_staff_cue(car_crop(WHITE), CFG.flag_staff).found


def test_olive_drab_body_is_army() -> None:
    c = army_cue(car_crop((85, 95, 40)), CFG.army)
    assert c.found and c.details["pattern"] == "olive drab"


def test_camouflage_body_is_army() -> None:
    img = car_crop((85, 95, 40))
    rng = np.random.default_rng(1)
    for _ in range(120):
        x, y = int(rng.integers(10, 390)), int(rng.integers(60, 200))
        colour = [(40, 70, 40), (110, 70, 40), (20, 20, 20)][int(rng.integers(0, 3))]
        cv2.ellipse(img, (x, y), (14, 8), float(rng.integers(0, 180)), 0, 360, colour, -1)
    assert army_cue(img, CFG.army).found


@pytest.mark.parametrize("body", [GREY, WHITE, (20, 150, 70), (200, 20, 25)], ids=["grey", "white", "green", "red"])
def test_ordinary_bodies_are_not_army(body: tuple[int, int, int]) -> None:
    assert not army_cue(car_crop(body), CFG.army).found


# ------------------------------------------------------------------------------------------------ markings


def words(*texts: str) -> list[OcrWord]:
    return [OcrWord(t, 0.9, ((0.0, 0.0), (10.0, 0.0), (10.0, 5.0), (0.0, 5.0))) for t in texts]


@pytest.mark.parametrize("text", ["SINDH POLICE", "Police", "POLICF", "پولیس", "GOVT OF SINDH", "Rescue 1122"])
def test_official_markings_are_found(text: str) -> None:
    c = markings_cue(words(text), CFG.markings)
    assert c.found, c.reason


@pytest.mark.parametrize("text", ["TOYOTA", "COROLLA ALTIS", "POLICY", "PATROL", "METROPOLIS"])
def test_ordinary_text_is_not_a_marking(text: str) -> None:
    assert not markings_cue(words(text), CFG.markings).found


def test_low_confidence_words_are_ignored() -> None:
    weak = [OcrWord("POLICE", 0.3, ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)))]
    assert not markings_cue(weak, CFG.markings, min_word_score=0.6).found


# ------------------------------------------------------------------------------------------------ detector


class FakeRunner:
    name = "fake"
    version = "fake-1"
    names = {0: "person", 2: "car", 7: "truck"}

    def __init__(self, dets: list[Detection]) -> None:
        self.dets = dets

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        return list(self.dets)

    def detect_batch(self, images: list[np.ndarray]) -> list[list[Detection]]:
        return [self.detect(i) for i in images]


class FakeOcr:
    name = "fake-ocr"
    version = "1"

    def __init__(self, text: str | None) -> None:
        self.text = text
        self.calls = 0

    def detect_text(self, rgb: np.ndarray) -> list[tuple[tuple[float, float], ...]]:
        return []

    def read(self, rgb: np.ndarray) -> list[OcrWord]:
        self.calls += 1
        if not self.text:
            return []
        h, w = rgb.shape[:2]
        return [
            OcrWord(self.text, 0.95, ((w * 0.3, h * 0.5), (w * 0.7, h * 0.5), (w * 0.7, h * 0.6), (w * 0.3, h * 0.6)))
        ]


def scene(vehicle: np.ndarray) -> tuple[np.ndarray, Detection]:
    img = np.full((480, 640, 3), 150, np.uint8)
    img[200:420, 100:500] = vehicle
    return img, Detection(2, "car", 0.88, (100.0, 200.0, 500.0, 420.0))


def run(vehicle: np.ndarray, ocr_text: str | None = None) -> list:
    img, det = scene(vehicle)
    detector = VehicleDetector(FakeRunner([det]), ocr_engine=FakeOcr(ocr_text))
    return detector.detect(ImageContext(rgb=img))


def test_plain_car_is_only_a_vehicle() -> None:
    ev = run(car_crop(GREY))
    assert [e.kind for e in ev] == ["vehicle"]
    assert ev[0].box == (100.0, 200.0, 500.0, 420.0) and ev[0].label == "car"


def test_car_with_light_bar_is_a_government_vehicle() -> None:
    img = car_crop(WHITE)
    img = with_light_bar(img)
    ev = run(img)
    assert [e.kind for e in ev] == ["vehicle", "gov_vehicle"]
    gov = ev[1]
    assert [c["cue"] for c in gov.details["cues"]] == ["light_bar"]
    assert "lamps" in gov.explanation and gov.score >= CFG.min_gov_score


def test_police_marking_read_by_ocr_makes_a_government_vehicle() -> None:
    ev = run(car_crop(GREY), ocr_text="POLICE")
    gov = [e for e in ev if e.kind == "gov_vehicle"]
    assert gov and gov[0].details["cues"][0]["markers"] == ["POLICE"]
    assert not [e for e in run(car_crop(GREY), ocr_text="HONDA CIVIC") if e.kind == "gov_vehicle"]


def test_ocr_is_bounded_to_the_largest_vehicles() -> None:
    img = np.full((480, 640, 3), 150, np.uint8)
    dets = [Detection(2, "car", 0.8, (float(x), 100.0, float(x + 100), 200.0)) for x in (0, 150, 300, 450)]
    ocr = FakeOcr(None)
    VehicleDetector(FakeRunner(dets), ocr_engine=ocr).detect(ImageContext(rgb=img))
    assert ocr.calls == CFG.ocr.max_regions


def test_overlapping_car_and_truck_boxes_are_one_vehicle() -> None:
    img = np.full((480, 640, 3), 150, np.uint8)
    dets = [Detection(2, "car", 0.6, (100.0, 100.0, 400.0, 300.0)), Detection(7, "truck", 0.4, (105, 100, 400, 305))]
    ev = VehicleDetector(FakeRunner(dets), ocr_engine=None).detect(ImageContext(rgb=img))
    assert [e.label for e in ev] == ["car"]


def test_unknown_config_key_is_named(tmp_path: Path) -> None:
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace("min_gov_score:", "min_gov_scroe:")
    bad = tmp_path / "vehicles.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="min_gov_scroe"):
        load_config(bad)


def test_unknown_detector_option_is_named() -> None:
    from detectors.vehicles import build
    from service.settings import Settings

    settings = Settings.load(detector_options={"vehicles": {"ocr_enabled": False}})
    with pytest.raises(ConfigError, match="ocr_enabled"):
        build(settings)


class TextureOcr(FakeOcr):
    """Reads its word wherever there is something to read: never on a flat crop (a blank image has no text)."""

    def read(self, rgb: np.ndarray) -> list[OcrWord]:
        return super().read(rgb) if rgb.size and float(rgb.std()) > 8 else []


class TestVehicleDetectorContract(ImageDetectorContract):
    """On the fake runner: no model file, no ../shared; the real models run the same contract in
    tests/integration/test_detector_contracts.py."""

    def make_detector(self) -> VehicleDetector:
        return VehicleDetector(FakeYoloRunner(("person", "car", "truck")), ocr_engine=TextureOcr("POLICE"))
