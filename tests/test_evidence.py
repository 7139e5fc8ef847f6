import math

import pytest

from detectors.evidence import DecisionLevel, Evidence, Finding, Verdict, clip_box


def ev(**kw):
    base = dict(kind="uniform", label="khaki", score=0.7, detector="d", detector_version="1", explanation="x")
    base.update(kw)
    return Evidence(**base)


def test_valid_evidence_roundtrips_through_dict():
    e = ev(box=(1, 2, 30, 40), image_index=0, details={"words": ["POLICE"]})
    assert Evidence.from_dict(e.to_dict()) == e
    assert e.box == (1.0, 2.0, 30.0, 40.0)


@pytest.mark.parametrize(
    "bad",
    [
        {"score": 1.5},
        {"score": -0.1},
        {"score": math.nan},
        {"kind": "Gov Vehicle"},
        {"label": ""},
        {"explanation": ""},
        {"detector": ""},
        {"box": (10, 10, 5, 20)},
        {"box": (-1, 0, 5, 5)},
        {"box": (0, 0, math.inf, 5)},
        {"box": (0, 0, 5)},
        {"image_index": -1},
    ],
)
def test_invalid_evidence_is_rejected(bad):
    with pytest.raises(ValueError):
        ev(**bad)


def test_evidence_is_frozen():
    e = ev()
    with pytest.raises(AttributeError):
        e.score = 0.1  # type: ignore[misc]


def test_clip_box():
    assert clip_box((-5, -5, 50, 50), 20, 10) == (0.0, 0.0, 20.0, 10.0)
    assert clip_box((30, 30, 40, 40), 20, 10) is None


def test_verdict_rejects_dangling_finding_reference():
    f = Finding("r", DecisionLevel.REVIEW, "low", "c", "because", evidence=(3,))
    with pytest.raises(ValueError):
        Verdict(DecisionLevel.REVIEW, 0.5, (f,), (ev(),), {}, {})


def test_decision_rank_orders_levels():
    assert DecisionLevel.CLEAR.rank < DecisionLevel.REVIEW.rank < DecisionLevel.VIOLATION.rank
