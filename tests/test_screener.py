import numpy as np

import tests.fakes  # noqa: F401  (registers the fake detectors)
from detectors.evidence import DecisionLevel, Post, PostImage
from service.screener import Screener
from service.settings import Settings


def screener(*names: str) -> Screener:
    return Screener(Settings(detectors=list(names)))


def img(red: bool) -> PostImage:
    a = np.full((120, 160, 3), 230, np.uint8)
    if red:
        a[20:60, 30:90] = (255, 0, 0)
    return PostImage("t.png", a)


def test_evidence_flows_to_policy_and_is_attributed_to_its_image():
    v = screener("fake_red").screen(Post(images=(img(False), img(True))))
    assert v.decision != DecisionLevel.CLEAR
    (e,) = v.evidence
    assert e.image_index == 1 and e.box == (30.0, 20.0, 90.0, 60.0)
    assert v.findings and all(f.citation for f in v.findings)
    assert v.findings[0].evidence == (0,)


def test_clean_image_is_clear():
    v = screener("fake_red").screen(Post(images=(img(False),)))
    assert v.decision == DecisionLevel.CLEAR and not v.findings and not v.evidence


def test_every_stage_is_timed_and_versions_reported():
    v = screener("fake_red", "fake_caption").screen(Post(images=(img(True),), caption="proud"))
    assert {"fake_red", "fake_caption", "policy", "total"} <= set(v.timings_ms)
    assert v.model_versions == {"fake_red": "1", "fake_caption": "1"}


def test_missing_model_is_reported_not_fatal():
    v = screener("fake_missing_model", "fake_red").screen(Post(images=(img(True),)))
    (status,) = v.detector_status
    assert status.detector == "fake_missing_model" and status.status == "unavailable"
    assert "weights/nothing.onnx" in status.message
    assert v.evidence  # the other detector still ran


def test_unknown_detector_is_reported():
    v = screener("no_such_detector").screen(Post(images=(img(True),)))
    assert v.detector_status[0].status == "unavailable" and "unknown detector" in v.detector_status[0].message


def test_crashing_detector_is_reported_and_others_kept():
    v = screener("fake_crash", "fake_red").screen(Post(images=(img(True),)))
    assert [s.status for s in v.detector_status] == ["error"]
    assert "boom" in v.detector_status[0].message
    assert v.evidence


def test_verdict_serialises():
    import json

    v = screener("fake_red").screen(Post(images=(img(True),), post_id="p1"))
    d = json.loads(json.dumps(v.to_dict()))
    assert d["post_id"] == "p1" and d["decision"] in {"review", "violation"}
    assert d["evidence"][0]["box"] == [30.0, 20.0, 90.0, 60.0]
