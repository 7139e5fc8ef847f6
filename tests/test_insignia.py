"""Insignia detector on generated scenes: gallery emblems pasted scaled/rotated/tilted/occluded, a drawn
Pakistan flag on a desk versus against the sky, a rendered designation plate; the gallery CLI; config errors."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from datasets.make_gallery import EMBLEMS, draw_variant, paste_warped, textured_scene
from detectors.base import ImageContext
from detectors.errors import ConfigError
from detectors.evidence import Evidence
from detectors.insignia import (
    BUILTIN_GALLERY,
    EmblemGallery,
    InsigniaDetector,
    InsigniaOptions,
    Vocabulary,
    build,
)
from detectors.runtime.ocr import OcrWord, ocr_words, text_quads
from detectors.runtime.yolo import Detection
from service.settings import Settings
from tests.contract import ImageDetectorContract

PK_GREEN = (1, 65, 28)


def make_detector(tmp: Path | None = None, **options: Any) -> InsigniaDetector:
    det = build(Settings(data_dir=tmp or Path("/nonexistent-data-dir"), detector_options={"insignia": options}))
    assert isinstance(det, InsigniaDetector)
    return det


def kinds(ev: list[Evidence]) -> set[str]:
    return {e.kind for e in ev}


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


class TestInsigniaContract(ImageDetectorContract):
    def make_detector(self) -> InsigniaDetector:
        return make_detector()


# ------------------------------------------------------------------------------------------------ emblems

EMBLEM_VIEWS: dict[str, dict[str, Any]] = {
    "large_upright": dict(size=300, angle_deg=0, tilt=0.0, occlude=0.0),
    "small": dict(size=130, angle_deg=0, tilt=0.0, occlude=0.0),
    "rotated_40": dict(size=220, angle_deg=40, tilt=0.0, occlude=0.0),
    "perspective": dict(size=260, angle_deg=-10, tilt=0.3, occlude=0.0),
    "occluded_35pct": dict(size=260, angle_deg=15, tilt=0.1, occlude=0.35),
}


@pytest.fixture(scope="module")
def detector() -> InsigniaDetector:
    return make_detector()


@pytest.mark.parametrize("view", sorted(EMBLEM_VIEWS))
@pytest.mark.parametrize("name", sorted(EMBLEMS))
def test_gallery_emblem_found_in_scene(detector: InsigniaDetector, name: str, view: str) -> None:
    emblem = EMBLEMS[name][0]()
    scene, quad = paste_warped(textured_scene(11), emblem, (420, 380), seed=3, **EMBLEM_VIEWS[view])
    ev = [e for e in detector.detect(ImageContext(rgb=scene)) if e.details.get("cue") == "emblem"]
    assert [e.details["emblem"] for e in ev] == [name]
    assert ev[0].kind == "insignia" and ev[0].details["inliers"] >= 12
    truth = (quad[:, 0].min(), quad[:, 1].min(), quad[:, 0].max(), quad[:, 1].max())
    assert ev[0].box is not None and iou(ev[0].box, truth) > 0.6


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_scene_without_emblem_has_no_emblem(detector: InsigniaDetector, seed: int) -> None:
    scene = textured_scene(seed)
    # A distractor that is emblem-like but not in the gallery.
    scene, _ = paste_warped(scene, draw_variant(seed), (480, 360), 260)
    assert [e for e in detector.detect(ImageContext(rgb=scene)) if e.details.get("cue") == "emblem"] == []


def test_fifty_emblem_gallery_finds_the_right_one(tmp_path: Path) -> None:
    import yaml

    from datasets.make_gallery import write_gallery

    entries = write_gallery(tmp_path)
    for k in range(46):
        cv2.imwrite(str(tmp_path / f"v{k}.png"), cv2.cvtColor(draw_variant(2000 + k), cv2.COLOR_RGB2BGR))
        entries.append({"name": f"v{k}", "file": f"v{k}.png", "body": f"variant {k}"})
    (tmp_path / "gallery.yaml").write_text(yaml.safe_dump({"emblems": entries}))
    gallery = EmblemGallery.load([tmp_path])
    assert len(gallery.emblems) == 50 and gallery.index_kind == "lsh"
    opts = InsigniaOptions()
    cases = [(n, v) for n in sorted(EMBLEMS) for v in ("perspective", "occluded_35pct")] + [("v3", "rotated_40")]
    for i, (name, view) in enumerate(cases):
        emblem = EMBLEMS[name][0]() if name in EMBLEMS else draw_variant(2000 + int(name[1:]))
        scene, _ = paste_warped(textured_scene(40 + i), emblem, (500, 350), **EMBLEM_VIEWS[view])
        found = gallery.match(cv2.cvtColor(scene, cv2.COLOR_RGB2GRAY), opts)
        assert [m.emblem.name for m in found][:1] == [name]
    assert gallery.match(cv2.cvtColor(textured_scene(99), cv2.COLOR_RGB2GRAY), opts) == []


# ------------------------------------------------------------------------------------------------ flags


def draw_pakistan_flag(
    width: int, field: tuple[int, int, int] = PK_GREEN, star_points: int = 5, crescent: bool = True
) -> np.ndarray:
    """The flag at 3:2: white hoist quarter, green field, white crescent and five-point star."""
    h = int(width * 2 / 3)
    flag = np.full((h, width, 3), field, np.uint8)
    flag[:, : width // 4] = 255
    cx, cy = int(width * 0.625), h // 2
    r = int(h * 0.3)
    if crescent:
        cv2.circle(flag, (cx, cy), r, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(flag, (cx + int(r * 0.3), cy - int(r * 0.25)), int(r * 0.85), field, -1, cv2.LINE_AA)
    sx, sy, sr = cx + int(r * 0.55), cy - int(r * 0.45), r * 0.28
    pts = [
        (
            sx + (sr if k % 2 == 0 else sr * 0.4) * math.cos(-math.pi / 2 + k * math.pi / star_points + 0.4),
            sy + (sr if k % 2 == 0 else sr * 0.4) * math.sin(-math.pi / 2 + k * math.pi / star_points + 0.4),
        )
        for k in range(2 * star_points)
    ]
    cv2.fillPoly(flag, [np.round(np.array(pts)).astype(np.int32)], (255, 255, 255), cv2.LINE_AA)
    return flag


def desk_scene(with_flag: bool, flags: int = 1) -> np.ndarray:
    """An office: beige wall, wooden desk, a seated dark figure, desk flags on small poles."""
    img = np.full((600, 900, 3), (215, 200, 170), np.uint8)
    img[380:] = (110, 70, 40)  # desk
    cv2.rectangle(img, (380, 170), (520, 380), (30, 30, 45), -1)  # person's body
    cv2.circle(img, (450, 130), 45, (170, 130, 100), -1)  # head
    cv2.rectangle(img, (300, 300), (420, 330), (240, 240, 235), -1)  # papers
    if with_flag:
        for k in range(flags):
            flag = draw_pakistan_flag(120)
            x0 = 620 + k * 150
            cv2.line(img, (x0, 250), (x0, 400), (200, 180, 60), 4)
            img[255 : 255 + flag.shape[0], x0 + 2 : x0 + 2 + flag.shape[1]] = flag
    return img


def sky_scene() -> np.ndarray:
    """A flag on a pole against a clear blue sky."""
    yy = np.linspace(0, 1, 600)[:, None]
    sky = np.stack([np.full((600, 900), 0), np.full((600, 900), 0), np.full((600, 900), 0)], -1).astype(np.float32)
    sky[..., 0] = 70 + 50 * yy
    sky[..., 1] = 130 + 50 * yy
    sky[..., 2] = 225 - 10 * yy
    img = sky.astype(np.uint8)
    flag = draw_pakistan_flag(300)
    cv2.line(img, (295, 100), (295, 600), (180, 180, 180), 6)
    img[120 : 120 + flag.shape[0], 300:600] = flag
    return img


def test_flag_on_desk_is_insignia(detector: InsigniaDetector) -> None:
    ev = detector.detect(ImageContext(rgb=desk_scene(True)))
    flags = [e for e in ev if e.details.get("cue") == "flag"]
    assert [e.kind for e in flags] == ["insignia"]
    assert flags[0].box is not None and 600 <= flags[0].box[0] and flags[0].box[2] <= 760
    assert "office_setting" in kinds(ev)


def test_row_of_desk_flags_is_insignia(detector: InsigniaDetector) -> None:
    ev = detector.detect(ImageContext(rgb=desk_scene(True, flags=2)))
    assert [e.kind for e in ev if e.details.get("cue") == "flag"] == ["insignia", "insignia"]


def test_desk_without_flag_has_nothing(detector: InsigniaDetector) -> None:
    assert detector.detect(ImageContext(rgb=desk_scene(False))) == []


def test_flag_against_sky_is_flag_only(detector: InsigniaDetector) -> None:
    ev = detector.detect(ImageContext(rgb=sky_scene()))
    assert kinds(ev) == {"flag_only"}


def test_flag_filling_the_picture_is_flag_only(detector: InsigniaDetector) -> None:
    ev = detector.detect(ImageContext(rgb=draw_pakistan_flag(600)))
    assert kinds(ev) == {"flag_only"}


def test_party_colours_beside_green_is_flag_only(detector: InsigniaDetector) -> None:
    img = desk_scene(False)
    flag = draw_pakistan_flag(160)
    flag[:, :40] = (200, 20, 30)  # red where the white hoist would be: a party flag
    img[150 : 150 + flag.shape[0], 650:810] = flag
    img[150 + flag.shape[0] : 150 + flag.shape[0] + 30, 650:810] = (200, 20, 30)
    ev = detector.detect(ImageContext(rgb=img))
    assert "insignia" not in kinds(ev) and "flag_only" in kinds(ev)


def test_plain_green_without_crescent_is_not_a_flag(detector: InsigniaDetector) -> None:
    img = desk_scene(False)
    img[200:330, 640:820] = PK_GREEN  # a green board
    cv2.putText(img, "EXIT 12", (650, 280), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 3)
    assert detector.detect(ImageContext(rgb=img)) == []


# ------------------------------------------------------------------------------------------------ text


class FakeOcr:
    name = "fake-ocr"
    version = "1"

    def __init__(self, lines: list[tuple[str, tuple[float, float, float, float]]]) -> None:
        self.lines = lines
        self.calls = 0

    def _words(self) -> list[OcrWord]:
        return [OcrWord(t, 0.9, ((b[0], b[1]), (b[2], b[1]), (b[2], b[3]), (b[0], b[3]))) for t, b in self.lines]

    def detect_text(self, rgb: np.ndarray) -> list[tuple[tuple[float, float], ...]]:
        return [w.quad for w in self._words()]

    def read(self, rgb: np.ndarray) -> list[OcrWord]:
        self.calls += 1
        return self._words()


def test_reuses_ocr_another_detector_ran(detector: InsigniaDetector) -> None:
    ctx = ImageContext(rgb=desk_scene(False))
    engine = FakeOcr([("Deputy Commissioner", (300.0, 390.0, 520.0, 420.0)), ("Karachi East", (320, 425, 500, 450))])
    ocr_words(ctx, engine)  # as another detector would
    ev = make_detector(ocr="reuse").detect(ctx)
    plates = [e for e in ev if e.details.get("cue") == "designation"]
    assert [e.details["phrase"] for e in plates] == ["Deputy Commissioner"]
    assert plates[0].kind == "insignia" and plates[0].box == (300.0, 390.0, 520.0, 420.0)
    assert engine.calls == 1


def test_text_rules_short_lines_acronyms_and_urdu(detector: InsigniaDetector) -> None:
    ctx = ImageContext(rgb=desk_scene(False))
    ocr_words(
        ctx,
        FakeOcr(
            [
                ("The director of the company signed this agreement on behalf of all parties", (0, 0, 800, 20)),
                ("we will show the results", (0, 30, 300, 50)),
                ("SSP Malir", (10, 60, 120, 80)),
                ("ڈپٹی کمشنر", (10, 90, 120, 110)),
                ("Government of Sindh", (10, 120, 220, 140)),
            ]
        ),
    )
    ev = make_detector(ocr="reuse").detect(ctx)
    assert sorted(e.details["phrase"] for e in ev) == ["Government of Sindh", "SSP", "ڈپٹی کمشنر"]


def test_ocr_gate_runs_only_on_page_like_images(tmp_path: Path) -> None:
    det = make_detector(tmp_path, ocr="gated")
    engine = FakeOcr([("Office of the Deputy Commissioner", (100.0, 100.0, 500.0, 130.0))])
    det.ocr_engine = engine
    photo = ImageContext(rgb=desk_scene(False))
    assert det.detect(photo) == [] and engine.calls == 0
    page = np.full((800, 600, 3), 245, np.uint8)
    ev = det.detect(ImageContext(rgb=page))
    assert engine.calls == 1
    assert {e.details["phrase"] for e in ev} == {"Office of the", "Deputy Commissioner"}
    reuse = make_detector(tmp_path, ocr="reuse")
    assert reuse.ocr_engine is None and reuse.detect(ImageContext(rgb=page)) == []


def render_plate() -> np.ndarray:
    img = desk_scene(False)
    cv2.rectangle(img, (250, 400), (650, 470), (25, 25, 25), -1)
    cv2.rectangle(img, (250, 400), (650, 470), (200, 170, 60), 3)
    cv2.putText(img, "DEPUTY COMMISSIONER", (268, 448), cv2.FONT_HERSHEY_DUPLEX, 1.05, (235, 205, 120), 2, cv2.LINE_AA)
    return img


def test_rendered_name_plate_read_by_real_ocr(tmp_path: Path) -> None:
    pytest.importorskip("rapidocr")
    det = make_detector(tmp_path, ocr="always")
    ev = det.detect(ImageContext(rgb=render_plate()))
    plates = [e for e in ev if e.details.get("cue") == "designation"]
    assert plates and plates[0].details["phrase"] == "Deputy Commissioner" and plates[0].kind == "insignia"


# ------------------------------------------------------------------------------------------------ config, CLI


def test_unknown_option_and_vocabulary_key_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="min_inlier"):
        make_detector(tmp_path, min_inlier=5)
    bad = tmp_path / "vocab.yaml"
    bad.write_text("designations: [Secretary]\ndesignation: [typo]\n")
    with pytest.raises(ConfigError, match="designation"):
        make_detector(tmp_path, vocabulary=str(bad))
    assert Vocabulary(designations=["x"]).designations == ["x"]


def test_builtin_gallery_ships_stand_ins() -> None:
    gallery = EmblemGallery.load([BUILTIN_GALLERY])
    assert {e.name for e in gallery.emblems} == set(EMBLEMS)
    assert all("stand-in" in e.body for e in gallery.emblems)


def gallery_cli(tmp_path: Path) -> tuple[Any, Path]:
    """`assetscreen gallery` bound to a settings file whose data_dir is under tmp_path: (run, data_dir)."""
    from service.commands import gallery as cmd

    cfg = tmp_path / "settings.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\n")
    parser = argparse.ArgumentParser()
    cmd.register(parser.add_subparsers())

    def run(*argv: str) -> int:
        args = parser.parse_args([*argv, "--config", str(cfg)])
        return int(args.func(args))

    return run, tmp_path / "data"


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def test_gallery_cli_add_then_detect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run, data_dir = gallery_cli(tmp_path)
    img = write_rgb(tmp_path / "crest.png", draw_variant(77))
    assert run("gallery", "add", "district_crest", str(img), "--body", "District Council") == 0
    assert run("gallery", "list") == 0
    out = capsys.readouterr().out
    assert "district_crest" in out and "gop_crescent_seal" in out
    det = make_detector(data_dir)
    scene, _ = paste_warped(textured_scene(21), draw_variant(77), (400, 300), 240, 20, 0.15)
    ev = [e for e in det.detect(ImageContext(rgb=scene)) if e.details.get("cue") == "emblem"]
    assert [(e.details["emblem"], e.details["body"]) for e in ev] == [("district_crest", "District Council")]


def test_gallery_office_fixture_is_supporting_evidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A fixture registered with --kind office_setting (say the portrait behind officials' desks) is reported
    as office_setting, not insignia, and does not turn a flag against the sky into an official one."""
    run, data_dir = gallery_cli(tmp_path)
    img = write_rgb(tmp_path / "portrait.png", draw_variant(91))
    assert run("gallery", "add", "portrait", str(img), "--kind", "office_setting", "--body", "Portrait") == 0
    assert run("gallery", "list") == 0
    assert "portrait\toffice_setting" in capsys.readouterr().out
    det = make_detector(data_dir, ocr="never")
    scene, _ = paste_warped(textured_scene(22), draw_variant(91), (400, 300), 240, 10, 0.1)
    ev = [e for e in det.detect(ImageContext(rgb=scene)) if e.details.get("cue") == "emblem"]
    assert [(e.kind, e.details["emblem"]) for e in ev] == [("office_setting", "portrait")]
    assert ev[0].label == "office fixture: Portrait"
    sky, _ = paste_warped(sky_scene(), draw_variant(91), (750, 460), 200)
    found = {(e.kind, e.details["cue"]) for e in det.detect(ImageContext(rgb=sky))}
    assert {k for k in found if k[1] in ("emblem", "flag")} == {("office_setting", "emblem"), ("flag_only", "flag")}


def test_reuses_lines_read_line_by_line() -> None:
    """Lines a detector recognised one by one (read_quads' per-image cache) count too."""
    ctx = ImageContext(rgb=desk_scene(False))
    cache: dict[tuple[int, ...], OcrWord | None] = ctx.memo(("rec_lines", 12345), dict)
    cache[(0, 0, 1, 1)] = OcrWord("SHO Saddar", 0.9, ((10, 10), (90, 10), (90, 30), (10, 30)))
    cache[(2, 2, 3, 3)] = None  # a line that could not be read
    ev = make_detector(ocr="reuse").detect(ctx)
    assert [(e.details["cue"], e.details["phrase"]) for e in ev] == [("designation", "SHO")]


def test_large_green_surface_with_white_fleck_is_not_a_flag(detector: InsigniaDetector) -> None:
    # A snooker table or lawn: a big green field whose only white is a small crescent-like fleck.
    img = desk_scene(False)
    img[400:600, 100:640] = PK_GREEN  # a fifth of the picture
    cx, cy, r = 370, 500, 55
    cv2.circle(img, (cx, cy), r, (255, 255, 255), -1, cv2.LINE_AA)
    cv2.circle(img, (cx + int(r * 0.3), cy - int(r * 0.25)), int(r * 0.85), PK_GREEN, -1, cv2.LINE_AA)
    assert "insignia" not in kinds(detector.detect(ImageContext(rgb=img)))


def test_large_flag_indoors_is_still_insignia(detector: InsigniaDetector) -> None:
    # A big flag behind the desk: its crescent and star are seen at their true share of the field.
    img = desk_scene(False)
    flag = draw_pakistan_flag(330)
    img[40 : 40 + flag.shape[0], 540:870] = flag
    assert "insignia" in kinds(detector.detect(ImageContext(rgb=img)))


DARK_TEAL = (3, 38, 55)  # the flag's green under studio light: outside the green test's hues, still the flag


def flag_behind_desk(flag: np.ndarray) -> np.ndarray:
    img = desk_scene(False)
    img[40 : 40 + flag.shape[0], 560 : 560 + flag.shape[1]] = flag
    return img


@pytest.mark.parametrize("crescent", [True, False], ids=["whole", "crescent_hidden"])
def test_dark_teal_flag_is_found_by_its_star(detector: InsigniaDetector, crescent: bool) -> None:
    ev = detector.detect(ImageContext(rgb=flag_behind_desk(draw_pakistan_flag(300, DARK_TEAL, crescent=crescent))))
    flags = [e for e in ev if e.details.get("cue") == "flag"]
    assert [(e.kind, e.details["shape"]) for e in flags] == [("insignia", "star")]
    # The box is the flag's field around the star, not the star alone.
    assert flags[0].box is not None and flags[0].box[2] - flags[0].box[0] > 150


@pytest.mark.parametrize(
    "field, points",
    [((20, 30, 110), 5), (DARK_TEAL, 6), (DARK_TEAL, 4)],
    ids=["star_on_navy", "six_points_on_teal", "four_points_on_teal"],
)
def test_other_stars_or_fields_are_not_the_flag(detector: InsigniaDetector, field: Any, points: int) -> None:
    flag = draw_pakistan_flag(300, field, star_points=points, crescent=False)
    ev = detector.detect(ImageContext(rgb=flag_behind_desk(flag)))
    assert not [e for e in ev if e.details.get("cue") == "flag"]


def test_dark_teal_flag_against_the_sky_is_flag_only(detector: InsigniaDetector) -> None:
    img = sky_scene()
    img[120:320, 300:600] = draw_pakistan_flag(300, DARK_TEAL)
    assert [e.kind for e in detector.detect(ImageContext(rgb=img)) if e.details.get("cue") == "flag"] == ["flag_only"]


def test_star_cue_can_be_switched_off() -> None:
    det = make_detector(ocr="never", flags={"stars": False})
    ev = det.detect(ImageContext(rgb=flag_behind_desk(draw_pakistan_flag(300, DARK_TEAL))))
    assert not [e for e in ev if e.details.get("cue") == "flag"]


def test_form_title_heading_counts_but_not_inside_a_sentence(detector: InsigniaDetector, tmp_path: Path) -> None:
    import yaml

    from detectors.insignia import VOCABULARY_FILE

    shipped = yaml.safe_load(VOCABULARY_FILE.read_text(encoding="utf-8"))
    assert shipped["form_titles"] == []  # an FIR heading is a document marker, not insignia, by default
    vocab = tmp_path / "vocab.yaml"
    vocab.write_text(yaml.safe_dump({**shipped, "form_titles": ["First Information Report"]}), encoding="utf-8")

    def form_evidence(lines: list[tuple[str, tuple[float, float, float, float]]]) -> list[Evidence]:
        ctx = ImageContext(rgb=desk_scene(False))
        ocr_words(ctx, FakeOcr(lines))
        det = make_detector(ocr="reuse", vocabulary=str(vocab))
        return [e for e in det.detect(ctx) if e.details.get("cue") == "form_title"]

    heading = form_evidence(
        [("FIRST INFORMATION REPORT", (200, 20, 600, 50)), ("(Under Section 154)", (250, 55, 550, 75))]
    )
    assert [(e.kind, e.details["phrase"]) for e in heading] == [("insignia", "First Information Report")]
    assert heading[0].box == (200.0, 20.0, 600.0, 50.0)
    sentence = "the complainant said a first information report was not lodged by the station on that day at all"
    assert form_evidence([(sentence, (0, 0, 800, 20))]) == []
    assert form_evidence([("Monthly Progress Report", (200, 20, 600, 50))]) == []


def text_evidence(
    lines: list[tuple[str, tuple[float, float, float, float]]],
    vehicles: Sequence[tuple[float, float, float, float]] = (),
) -> list[tuple[str, str]]:
    """(cue, phrase) of the text evidence for OCR lines on an office scene, with vehicles already detected."""
    ctx = ImageContext(rgb=desk_scene(False))
    ocr_words(ctx, FakeOcr(lines))
    ctx.memo(("yolo", 1), lambda: [Detection(2, "car", 0.9, v) for v in vehicles])
    ev = make_detector(ocr="reuse").detect(ctx)
    return [(e.details["cue"], e.details["phrase"]) for e in ev if "phrase" in e.details]


def test_office_named_on_a_sign_counts_but_not_inside_a_sentence() -> None:
    assert text_evidence([("OFFICE OF THE DEPUTY COMMISSIONER", (100, 20, 700, 60))]) == [
        ("designation", "Deputy Commissioner"),
        ("office_text", "Office of the"),
    ]
    sentence = "application forms will be available from the office of the principal of the college on working days"
    assert text_evidence([(sentence, (0, 0, 890, 20))]) == []


def test_lettering_on_a_vehicle_is_left_to_the_vehicles_detector() -> None:
    sign = [("TRAFFIC POLICE", (300, 400, 500, 440))]
    assert text_evidence(sign) == [("office_text", "Traffic Police")]
    assert text_evidence(sign, vehicles=[(250, 300, 650, 560)]) == []  # painted on the car's door
    assert text_evidence(sign, vehicles=[(250, 430, 650, 590)]) == [("office_text", "Traffic Police")]  # behind it


# ------------------------------------------------------------------------------------------------ letterhead crests


def draw_page(mark: str) -> tuple[np.ndarray, list[tuple[str, tuple[float, float, float, float]]]]:
    """A white page with a heading and body text lines; at its head a crest, a lopsided scribble, or nothing."""
    page = np.full((1000, 760, 3), 250, np.uint8)
    lines: list[tuple[str, tuple[float, float, float, float]]] = []
    rng = np.random.default_rng(5)
    for k in range(14):
        y = 230 + k * 50
        x2 = 700 if k % 4 else 520
        cv2.putText(
            page, "Lorem ipsum dolor sit amet consectetur", (60, y), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (30, 30, 30), 2
        )
        lines.append((f"line {k}", (55.0, y - 28.0, float(x2), y + 10.0)))
    cv2.putText(page, "NOTIFICATION", (260, 190), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (30, 30, 30), 2)
    lines.append(("NOTIFICATION", (255.0, 160.0, 500.0, 200.0)))
    cx, cy = 380, 85
    if mark == "crest":  # a round seal: rings, a star, and a wreath mirrored on both sides
        cv2.circle(page, (cx, cy), 60, (20, 80, 30), 3)
        cv2.circle(page, (cx, cy), 50, (20, 80, 30), 2)
        star = [
            (
                cx + (26 if k % 2 == 0 else 11) * math.sin(k * math.pi / 5),
                cy - (26 if k % 2 == 0 else 11) * math.cos(k * math.pi / 5),
            )
            for k in range(10)
        ]
        cv2.fillPoly(page, [np.round(np.array(star)).astype(np.int32)], (20, 80, 30))
        for side in (-1, 1):
            for k in range(5):
                cv2.ellipse(page, (cx + side * 36, cy + 28 - k * 13), (8, 4), side * 40, 0, 360, (20, 80, 30), -1)
    elif mark == "scribble":  # a handwritten flourish: as much ink, not symmetric
        pts = np.cumsum(rng.integers(-14, 15, size=(40, 2)), axis=0) + (cx - 40, cy)
        cv2.polylines(page, [pts.astype(np.int32)], False, (30, 30, 90), 3)
    return page, lines


@pytest.mark.parametrize("mark", ["crest", "scribble", "none"])
def test_letterhead_crest_found_only_where_drawn(mark: str) -> None:
    page, lines = draw_page(mark)
    ctx = ImageContext(rgb=page)
    text_quads(ctx, FakeOcr(lines))  # text lines found as the documents detector or the OCR gate would
    crests = [e for e in make_detector(ocr="reuse").detect(ctx) if e.details.get("cue") == "letterhead_crest"]
    if mark == "crest":
        assert [e.kind for e in crests] == ["insignia"]
        assert crests[0].box is not None and iou(crests[0].box, (320, 25, 440, 145)) > 0.5
    else:
        assert crests == []


def test_letterhead_crest_needs_a_page() -> None:
    page, lines = draw_page("crest")
    ctx = ImageContext(rgb=page)
    text_quads(ctx, FakeOcr(lines[:3]))  # three lines: not a page
    assert not [e for e in make_detector(ocr="reuse").detect(ctx) if e.details.get("cue") == "letterhead_crest"]


# ------------------------------------------------------------------------------------------------ rows of flags


def banded_flag(width: int, height: int, field: tuple[int, int, int], band: tuple[int, int, int]) -> np.ndarray:
    """A two-colour national flag hanging from its pole: a colour field with a band of another colour below it."""
    flag = np.empty((height, width, 3), np.uint8)
    flag[:] = field
    flag[int(height * 0.7) :] = band
    return flag


ROW_FLAGS = [
    ((20, 90, 40), (255, 255, 255)),  # green field, white band
    ((20, 60, 190), (250, 210, 20)),  # blue field, yellow band
    ((200, 20, 35), (255, 255, 255)),  # red field, white band
]


def flag_row_scene(designs: list[tuple[tuple[int, int, int], tuple[int, int, int]]]) -> np.ndarray:
    """Flags of different countries on poles side by side behind a seated figure, in an office."""
    img = desk_scene(False)
    for k, (field, band) in enumerate(designs):
        x0 = 80 + k * 140
        cv2.line(img, (x0, 40), (x0, 470), (170, 150, 90), 5)
        img[50:270, x0 + 3 : x0 + 103] = banded_flag(100, 220, field, band)
    return img


def test_row_of_flags_of_other_countries_is_insignia(detector: InsigniaDetector) -> None:
    ev = detector.detect(ImageContext(rgb=flag_row_scene(ROW_FLAGS)))
    rows = [e for e in ev if e.details.get("cue") == "flag_row"]
    assert [e.kind for e in rows] == ["insignia"]
    assert rows[0].details["flags"] == 3
    assert rows[0].box is not None and rows[0].box[0] < 100 and rows[0].box[2] > 340


def test_single_flag_in_a_room_is_not_a_row(detector: InsigniaDetector) -> None:
    ev = detector.detect(ImageContext(rgb=flag_row_scene(ROW_FLAGS[1:2])))
    assert "insignia" not in kinds(ev)


def test_single_foreign_flag_on_sky_is_not_insignia(detector: InsigniaDetector) -> None:
    img = sky_scene()
    img[120:320, 300:600] = banded_flag(300, 200, (200, 20, 35), (255, 255, 255))  # replaces the drawn flag
    assert "insignia" not in kinds(detector.detect(ImageContext(rgb=img)))


def test_row_of_flags_against_the_sky_is_not_an_office_setting(detector: InsigniaDetector) -> None:
    img = sky_scene()
    img[:] = img[0, 0]
    for k, (field, band) in enumerate(ROW_FLAGS):
        img[200:420, 100 + k * 150 : 200 + k * 150] = banded_flag(100, 220, field, band)
    assert "insignia" not in kinds(detector.detect(ImageContext(rgb=img)))


def test_row_of_plain_shop_signs_is_not_insignia(detector: InsigniaDetector) -> None:
    # A shop front: wide single-colour signboards side by side, and square single-colour shutters below them.
    img = np.full((600, 900, 3), (150, 140, 130), np.uint8)
    for k, colour in enumerate([(200, 30, 30), (30, 60, 190), (30, 140, 60), (230, 190, 20)]):
        x0 = 20 + k * 220
        img[60:150, x0 : x0 + 200] = colour  # signboard (wide)
        img[250:450, x0 + 20 : x0 + 180] = colour  # shutter (one colour, nothing beside it)
    assert "insignia" not in kinds(detector.detect(ImageContext(rgb=img)))


def test_flag_rows_can_be_switched_off() -> None:
    det = make_detector(flag_rows={"enabled": False})
    assert "insignia" not in kinds(det.detect(ImageContext(rgb=flag_row_scene(ROW_FLAGS))))


# ------------------------------------------------------------------------------------------------ round seals


def arched_text(
    img: np.ndarray, text: str, circle: tuple[float, float, float], start: float, turns: float, font: tuple[float, int]
) -> None:
    """White letters set along a circle (cx, cy, radius) from angle `start` over `turns` half-turns."""
    cx, cy, rad = circle
    size = int(12 * font[0])
    for i, ch in enumerate(text):
        a = start + turns * math.pi * i / len(text)
        x, y = cx + rad * math.cos(a), cy + rad * math.sin(a)
        cv2.putText(
            img, ch, (int(x) - size, int(y) + size), cv2.FONT_HERSHEY_SIMPLEX, font[0], (245, 245, 245), font[1]
        )


def white_star(img: np.ndarray, centre: tuple[int, int], r: int) -> None:
    points = [
        (
            centre[0] + r * math.cos(-math.pi / 2 + k * 4 * math.pi / 5),
            centre[1] + r * math.sin(-math.pi / 2 + k * 4 * math.pi / 5),
        )
        for k in range(5)
    ]
    cv2.fillPoly(img, [np.int32(points)], (245, 245, 245))


def draw_round_mark(mark: str, seed: int = 0) -> np.ndarray:
    """A 640x480 office wall with a round mark: a lettered seal, a clock face, or a plain ring (a mirror)."""
    rng = np.random.default_rng(seed)
    img = np.full((480, 640, 3), (214, 206, 190), np.uint8)
    img += rng.integers(0, 8, img.shape, dtype=np.uint8)
    cx, cy, r = 330, 230, 150
    if mark == "seal":
        cv2.circle(img, (cx, cy), r, (20, 90, 60), -1)
        cv2.circle(img, (cx, cy), r, (240, 240, 240), 4)
        cv2.circle(img, (cx, cy), int(0.66 * r), (240, 240, 240), 3)
        # the body's name arched along the rim
        arched_text(img, "GOVERNMENT OF THE PROVINCE * DEPARTMENT", (cx, cy, 0.8 * r), 0.75 * math.pi, 1.5, (0.6, 2))
        white_star(img, (cx, cy - 30), 40)
        for side in (-1, 1):  # a wreath mirrored on both sides
            for k in range(5):
                cv2.ellipse(
                    img, (cx + side * (40 + 6 * k), cy + 10 + 14 * k), (14, 6), side * 40, 0, 360, (245, 245, 245), -1
                )
        cv2.rectangle(img, (cx - 20, cy + 20), (cx + 20, cy + 60), (245, 245, 245), 3)
    elif mark == "bold_seal":  # bold lettering that touches the seal's inner and outer border lines
        cv2.circle(img, (cx, cy), r, (40, 40, 170), -1)
        for rad in (r - 3, int(0.7 * r)):
            cv2.circle(img, (cx, cy), rad, (245, 245, 245), 4)
        arched_text(img, "PROVINCIAL POLICE * PROUD TO SERVE *", (cx, cy, 0.85 * r), 0.0, 2.0, (1.0, 5))
        white_star(img, (cx, cy - 20), 45)
        cv2.rectangle(img, (cx - 40, cy + 30), (cx + 40, cy + 50), (245, 245, 245), -1)
    elif mark == "clock":
        cv2.circle(img, (cx, cy), r, (245, 245, 245), -1)
        cv2.circle(img, (cx, cy), r, (30, 30, 30), 5)
        for h in range(1, 13):
            a = math.pi * 2 * h / 12 - math.pi / 2
            x, y = cx + 0.82 * r * math.cos(a), cy + 0.82 * r * math.sin(a)
            cv2.putText(img, str(h), (int(x) - 10, int(y) + 8), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 20), 2)
        cv2.line(img, (cx, cy), (cx + 70, cy + 40), (20, 20, 20), 6)  # hands at twenty-five past four
        cv2.line(img, (cx, cy), (cx - 30, cy + 100), (20, 20, 20), 3)
    else:  # a plain round mirror: a ring, nothing lettered
        cv2.circle(img, (cx, cy), r, (180, 190, 200), -1)
        cv2.circle(img, (cx, cy), r, (90, 70, 40), 8)
    return img


@pytest.mark.parametrize("mark", ["seal", "bold_seal", "clock", "mirror"])
def test_round_seal_found_only_where_drawn(mark: str) -> None:
    ev = [
        e
        for e in make_detector(ocr="never").detect(ImageContext(rgb=draw_round_mark(mark)))
        if e.details.get("cue") == "round_seal"
    ]
    if mark.endswith("seal"):
        assert [e.kind for e in ev] == ["insignia"]
        assert ev[0].box is not None and iou(ev[0].box, (180, 80, 480, 380)) > 0.6
    else:
        assert ev == []


def test_round_seals_can_be_switched_off() -> None:
    ctx = ImageContext(rgb=draw_round_mark("seal"))
    assert not [e for e in make_detector(ocr="never", seals=False).detect(ctx) if e.details.get("cue") == "round_seal"]


# ------------------------------------------------------------------------------------------------ seating


def seating_evidence(objects: list[tuple[str, tuple[float, float, float, float]]], **options: Any) -> list[Evidence]:
    ctx = ImageContext(rgb=desk_scene(False))
    ctx.memo(("yolo", 1), lambda: [Detection(0, label, 0.8, box) for label, box in objects])
    return [e for e in make_detector(ocr="never", **options).detect(ctx) if e.details.get("cue") == "seating"]


def test_row_of_chairs_is_an_office_setting() -> None:
    row = [("chair", (60.0 + 110 * k, 300.0, 150.0 + 110 * k, 420.0)) for k in range(5)]
    ev = seating_evidence(row)
    assert [(e.kind, e.details["arrangement"], e.details["chairs"]) for e in ev] == [("office_setting", "row", 5)]
    assert ev[0].box == (60.0, 300.0, 590.0, 420.0)
    assert seating_evidence(row[:3]) == []  # three chairs are not a row
    scattered = [("chair", (60.0 + 110 * k, 60.0 + 100 * k, 150.0 + 110 * k, 180.0 + 100 * k)) for k in range(5)]
    assert seating_evidence(scattered) == []  # not at one level
    assert seating_evidence(row, seating={"enabled": False}) == []


def test_people_at_a_table_make_a_meeting_table() -> None:
    table = ("dining table", (200.0, 380.0, 700.0, 520.0))
    sitters = [("person", (180.0 + 150 * k, 250.0, 280.0 + 150 * k, 450.0)) for k in range(3)]
    ev = seating_evidence([table, *sitters])
    assert [(e.kind, e.details["arrangement"], e.details["chairs"]) for e in ev] == [("office_setting", "table", 3)]
    standing_far = [("person", (180.0 + 150 * k, 20.0, 280.0 + 150 * k, 300.0)) for k in range(3)]
    assert seating_evidence([table, *standing_far]) == []  # they do not reach the table
    assert seating_evidence([table, *sitters[:2]]) == []


def test_seating_needs_the_object_detector_to_have_run() -> None:
    ev = make_detector(ocr="never").detect(ImageContext(rgb=desk_scene(False)))
    assert not [e for e in ev if e.details.get("cue") == "seating"]
