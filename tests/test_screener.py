import numpy as np
import pytest

import tests.fakes  # noqa: F401  (registers the fake detectors)
from detectors.errors import ConfigError, ModelMissing
from detectors.evidence import DecisionLevel, Post, PostImage
from service.screener import Screener
from service.settings import DEFAULT_DETECTORS, Settings
from tests.fakes import EchoRecognizer


def screener(*names: str) -> Screener:
    return Screener(Settings(detectors=list(names)), recognizer=EchoRecognizer())


def img(red: bool) -> PostImage:
    a = np.full((120, 160, 3), 230, np.uint8)
    if red:
        a[20:60, 30:90] = (255, 0, 0)
    return PostImage("t.png", a)


def test_evidence_flows_to_policy_and_is_attributed_to_its_image():
    v = screener("fake_red").screen(Post(images=(img(False), img(True))))
    assert v.decision != DecisionLevel.CLEAR
    cue, learned = v.evidence
    assert cue.detector == "fake_red" and learned.detector == "recognition"
    assert cue.image_index == learned.image_index == 1 and cue.box == (30.0, 20.0, 90.0, 60.0)
    assert v.findings and all(f.citation for f in v.findings)
    assert v.findings[0].evidence == (1,)  # the policy decides on the learned score, not the cue


def test_clean_image_is_clear():
    v = screener("fake_red").screen(Post(images=(img(False),)))
    assert v.decision == DecisionLevel.CLEAR and not v.findings and not v.evidence


def test_every_stage_is_timed_and_versions_reported():
    v = screener("fake_red", "fake_caption").screen(Post(images=(img(True),), caption="proud"))
    assert {"fake_red", "fake_caption", "policy", "total"} <= set(v.timings_ms)
    assert v.model_versions == {"fake_red": "1", "fake_caption": "1", "recognition": "echo"}


def test_cue_evidence_alone_does_not_decide():
    v = Screener(Settings(detectors=["fake_red"]), recognizer=None).screen(Post(images=(img(True),)))
    assert v.evidence and v.decision == DecisionLevel.CLEAR


def test_missing_model_fails_closed_naming_the_file():
    with pytest.raises(ModelMissing, match="weights/nothing.onnx") as err:
        screener("fake_missing_model", "fake_red")
    assert err.value.exit_code == 3


def test_unknown_detector_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown detector 'no_such_detector'"):
        screener("no_such_detector")


def test_crashing_detector_is_reported_and_others_kept():
    v = screener("fake_crash", "fake_red").screen(Post(images=(img(True),)))
    failed = [s for s in v.detector_status if s.status != "off"]
    assert [s.status for s in failed] == ["error"]
    assert "boom" in failed[0].message
    assert v.evidence
    # a detector that could not look at the post makes the verdict incomplete, whatever the others found
    assert v.decision == DecisionLevel.INCOMPLETE
    assert screener("fake_crash").screen(Post(images=(img(False),))).decision == DecisionLevel.INCOMPLETE


def test_detectors_left_out_of_the_settings_are_listed_as_off():
    v = screener("fake_red").screen(Post(images=(img(False),)))
    off = {s.detector for s in v.detector_status if s.status == "off"}
    assert off == set(DEFAULT_DETECTORS)
    assert v.decision == DecisionLevel.CLEAR


def test_verdict_serialises():
    import json

    v = screener("fake_red").screen(Post(images=(img(True),), post_id="p1"))
    d = json.loads(json.dumps(v.to_dict()))
    assert d["post_id"] == "p1" and d["decision"] in {"review", "violation"}
    assert d["evidence"][0]["box"] == [30.0, 20.0, 90.0, 60.0]
