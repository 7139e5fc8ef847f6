"""The OCR gate: text is read only where it could change the verdict, and the bound it uses is exact."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tests.fakes  # noqa: F401  (registers the fake detectors)
from detectors.base import ImageContext
from detectors.cues import region_words
from detectors.evidence import Evidence, Post, PostImage
from detectors.recognition.features import FeatureSpec
from detectors.recognition.heads import Head, HeadSet
from detectors.runtime.ocr import OcrWord, ocr_words, read_quads, text_quads
from service.policy import Policy
from service.screener import BuiltDetectors, Screener
from service.settings import Settings
from tests.fakes import CaptionWordDetector, EchoRecognizer

QUAD = ((1.0, 1.0), (30.0, 1.0), (30.0, 9.0), (1.0, 9.0))


class CountingEngine:
    """An OCR engine that finds one line reading POLICE and counts every call."""

    name = "counting"
    version = "1"

    def __init__(self) -> None:
        self.calls = 0

    def detect_text(self, rgb: np.ndarray, max_side: int | None = None) -> list[Any]:
        self.calls += 1
        return [QUAD]

    def recognize(self, rgb: np.ndarray, quads: Any) -> list[OcrWord | None]:
        self.calls += 1
        return [OcrWord("POLICE", 0.9, q) for q in quads]

    def read(self, rgb: np.ndarray) -> list[OcrWord]:
        self.calls += 1
        return [OcrWord("POLICE", 0.9, QUAD)]


class TextCueDetector:
    """Reports `gov_vehicle` when the image's text says POLICE, else a plain `vehicle`."""

    name = "texty"
    version = "1"
    produces = frozenset({"vehicle", "gov_vehicle"})

    def __init__(self, engine: CountingEngine) -> None:
        self.engine = engine
        self.runs = 0

    def detect(self, ctx: ImageContext) -> list[Evidence]:
        self.runs += 1
        words = ocr_words(ctx, self.engine)
        if any(w.text == "POLICE" for w in words):
            return [Evidence("gov_vehicle", "police car", 0.9, self.name, "1", "POLICE lettering")]
        return [Evidence("vehicle", "car", 0.8, self.name, "1", "a car")]


class PixelDetector:
    """Never asks for text."""

    name = "pixels"
    version = "1"
    produces = frozenset({"vehicle"})

    def __init__(self) -> None:
        self.runs = 0

    def detect(self, ctx: ImageContext) -> list[Evidence]:
        self.runs += 1
        return []


class GateRecognizer(EchoRecognizer):
    """Echo recognition whose gate answer is fixed by the test, recording what it was asked."""

    cue_detectors = frozenset({"texty"})
    cue_keys = frozenset({"texty:gov_vehicle", "texty:vehicle"})

    def __init__(self, unsettled: list[str]) -> None:
        self.answer = unsettled
        self.asked: list[frozenset[str]] = []

    def unsettled(self, ctx: ImageContext, evidence: Any, keys: frozenset[str], cuts: Any) -> list[str]:
        self.asked.append(keys)
        assert cuts["gov_vehicle"], "the policy's cuts for the kind are passed"
        return self.answer


def image() -> PostImage:
    return PostImage("t.png", np.full((40, 60, 3), 200, np.uint8))


def build(unsettled: list[str], gate: str = "learned") -> tuple[Screener, CountingEngine, TextCueDetector, Any]:
    engine = CountingEngine()
    det = TextCueDetector(engine)
    rec = GateRecognizer(unsettled)
    settings = Settings(detectors=["fake_caption"])
    settings = settings.model_copy(update={"ocr": settings.ocr.model_copy(update={"gate": gate})})
    built = BuiltDetectors(image=(PixelDetector(), det), text=(CaptionWordDetector(),), unavailable=())
    return Screener(settings, detectors=built, recognizer=rec), engine, det, rec


def test_text_is_left_unread_when_it_cannot_change_the_verdict_and_the_verdict_says_so():
    s, engine, det, rec = build(unsettled=[])
    v = s.screen(Post(images=(image(),)))
    assert engine.calls == 0 and det.runs == 1
    assert rec.asked == [frozenset({"texty:gov_vehicle", "texty:vehicle"})]
    skipped = [st for st in v.detector_status if st.status == "skipped"]
    assert len(skipped) == 1 and "texty" in skipped[0].message and skipped[0].image_index == 0
    assert v.decision.value == "clear"  # skipped is said, not a failure


def test_text_is_read_where_it_could_change_the_verdict_and_only_the_asking_detectors_rerun():
    s, engine, det, _ = build(unsettled=["gov_vehicle"])
    pixels = s.detectors.image[0]
    v = s.screen(Post(images=(image(),)))
    assert engine.calls == 2 and det.runs == 2 and pixels.runs == 1  # detection + recognition, once each
    assert [e.kind for e in v.evidence if e.detector == "texty"] == ["gov_vehicle"]  # the second run's evidence
    assert not [st for st in v.detector_status if st.status == "skipped"]
    assert v.decision.value != "clear"


def test_gate_always_reads_text_in_a_single_pass():
    s, engine, det, rec = build(unsettled=[], gate="always")
    s.screen(Post(images=(image(),)))
    assert det.runs == 1 and engine.calls == 2 and rec.asked == []


def test_a_caption_signal_makes_rules_that_read_cue_detectors_directly_count():
    policy = Policy.load()
    caption_kinds = frozenset({"glorification", "disclosure", "political", "disparaging"})
    insignia = frozenset({"insignia", "office_setting"})
    # office_setting feeds a rule directly, but that rule also needs a glorifying caption
    assert not policy.uses_directly("insignia", insignia, caption_kinds=caption_kinds, caption_present=frozenset())
    assert policy.uses_directly("insignia", insignia, caption_kinds=caption_kinds,
                                caption_present=frozenset({"glorification"}))
    # asset rules read only the learned stage: the vehicles detector's own evidence never decides
    assert not policy.uses_directly("vehicles", frozenset({"vehicle", "gov_vehicle"}), caption_kinds=caption_kinds,
                                    caption_present=caption_kinds)
    cuts = policy.score_cuts("recognition")
    assert 0.36 in cuts["gov_vehicle"] and 0.3 in cuts["gov_vehicle"] and 0.5 in cuts["official_document"]


def test_held_back_ocr_returns_no_text_counts_the_request_and_caches_nothing():
    engine = CountingEngine()
    ctx = ImageContext(rgb=np.full((40, 60, 3), 200, np.uint8))
    ctx.ocr = False
    assert text_quads(ctx, engine) == [] and ocr_words(ctx, engine) == []
    assert read_quads(ctx, engine, [QUAD]) == [None]
    assert region_words(ctx, engine, (0, 0, 30, 20)) == []
    assert ctx.ocr_requests == 4 and engine.calls == 0
    ctx.ocr = True
    assert [w.text for w in ocr_words(ctx, engine)] == ["POLICE"]
    assert engine.calls == 2 and ctx.ocr_requests == 4


def small_heads() -> HeadSet:
    spec = FeatureSpec(cue_keys=("texty:gov_vehicle", "texty:vehicle", "pixels:vehicle"), object_names=(),
                       embedding_dim=2, imagenet_dim=1)
    head = Head(
        kind="gov_vehicle", blocks=("embedding", "cues"), mean=np.zeros(5), scale=np.ones(5),
        coef=np.array([0.5, 0.0, 3.0, -1.0, 1.0]), intercept=-2.0, calib_a=1.0, calib_b=0.0, report_floor=0.1,
    )
    return HeadSet(spec=spec, heads={"gov_vehicle": head})


def blocks(cues: list[float]) -> dict[str, np.ndarray]:
    return {"embedding": np.array([1.0, 0.0]), "imagenet": np.zeros(1), "objects": np.zeros(0),
            "cues": np.array(cues)}


def test_probability_range_is_exact_for_a_linear_head():
    heads = small_heads()
    head = heads.heads["gov_vehicle"]
    free = heads.free_mask(head, frozenset({"texty:gov_vehicle", "texty:vehicle"}))
    assert free.tolist() == [False, False, True, True, False]
    lo, hi = head.probability_range(blocks([0.0, 0.0, 0.5]), free)
    rng = np.random.default_rng(0)
    seen = [head.probability(blocks([a, b, 0.5])) for a, b in rng.uniform(0, 1, (200, 2))]
    assert lo <= min(seen) and max(seen) <= hi
    assert lo == pytest.approx(head.probability(blocks([0.0, 1.0, 0.5])))  # attained at the corners
    assert hi == pytest.approx(head.probability(blocks([1.0, 0.0, 0.5])))


def test_unsettled_names_only_kinds_whose_range_straddles_a_cut():
    heads = small_heads()
    keys = frozenset({"texty:gov_vehicle"})
    b = blocks([0.0, 0.0, 0.0])  # logit from -1.5 (p .18) to +1.5 (p .82) as the free cue goes 0 -> 1
    assert heads.unsettled(b, keys, {"gov_vehicle": [0.5]}) == ["gov_vehicle"]
    assert heads.unsettled(b, keys, {"gov_vehicle": [0.9]}) == []
    assert heads.unsettled(b, keys, {"gov_vehicle": [0.1]}) == []
    assert heads.unsettled(b, frozenset(), {"gov_vehicle": [0.5]}) == []  # nothing free: settled


class PageDetector(TextCueDetector):
    """A costly reader (a page of lines) whose keys no head weighs here."""

    name = "pagey"
    text_cost = 3


class KeyRecognizer(GateRecognizer):
    """Unsettled exactly while texty's key is still free."""

    cue_detectors = frozenset({"texty", "pagey"})
    cue_keys = frozenset({"texty:gov_vehicle", "pagey:gov_vehicle"})

    def unsettled(self, ctx: ImageContext, evidence: Any, keys: frozenset[str], cuts: Any) -> list[str]:
        self.asked.append(keys)
        return ["gov_vehicle"] if "texty:gov_vehicle" in keys else []


def test_readers_run_cheapest_first_and_stop_once_the_rest_cannot_matter():
    engine = CountingEngine()
    texty, pagey = TextCueDetector(engine), PageDetector(engine)
    rec = KeyRecognizer([])
    built = BuiltDetectors(image=(pagey, texty), text=(), unavailable=())
    s = Screener(Settings(detectors=["fake_caption"]), detectors=built, recognizer=rec)
    v = s.screen(Post(images=(image(),)))
    assert texty.runs == 2 and pagey.runs == 1
    assert rec.asked == [frozenset({"texty:gov_vehicle", "pagey:gov_vehicle"}), frozenset({"pagey:gov_vehicle"})]
    skipped = [st for st in v.detector_status if st.status == "skipped"]
    assert len(skipped) == 1 and "pagey" in skipped[0].message and "texty" not in skipped[0].message
