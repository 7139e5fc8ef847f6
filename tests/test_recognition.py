"""The learned stage: heads fitted on generated features, save/load, determinism, bank, fail-closed loading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detectors.errors import ModelMissing
from detectors.evidence import Evidence
from detectors.recognition.bank import ExampleBank
from detectors.recognition.features import FeatureSpec, RawFeatures, cue_scores, object_feature_names
from detectors.recognition.heads import HeadSet
from detectors.recognition.train import best_threshold, cue_vocabulary, fit_heads

KINDS = ("gov_vehicle", "uniform")


def generated(n: int = 120, seed: int = 1) -> tuple[list[RawFeatures], list[set[str]], list[str]]:
    """Rows where gov_vehicle shows in the embedding and a cue, uniform in the ImageNet block; 12 source groups."""
    rng = np.random.default_rng(seed)
    raws, labels, groups = [], [], []
    n_obj = len(object_feature_names())
    for i in range(n):
        kinds = set()
        emb = rng.normal(0, 1, 1024).astype(np.float32)
        imagenet = rng.uniform(0, 0.01, 1001).astype(np.float32)
        cues: dict[str, float] = {}
        if i % 3 == 0:
            kinds.add("gov_vehicle")
            emb[:16] += 2.5
            if i % 2 == 0:
                cues["vehicles:cue:green_plate"] = 0.8
        if i % 4 == 1:
            kinds.add("uniform")
            imagenet[650:660] = 0.08  # a family of classes ("military uniform", "bulletproof vest" ...)
        if i % 5 == 0:
            cues["vehicles:cue:light_bar"] = 0.7  # a cue that fires on anything: noise
        emb /= np.linalg.norm(emb)
        raws.append(RawFeatures(emb, imagenet, rng.uniform(0, 1, n_obj).astype(np.float32), cues))
        labels.append(kinds)
        groups.append(f"repo{i // 10}:folder")  # 12 groups of 10 consecutive rows, every group mixed
    return raws, labels, groups


@pytest.fixture(scope="module")
def trained():
    raws, labels, groups = generated()
    res = fit_heads(raws, labels, groups, kinds=KINDS, seed=0, n_splits=4, c_grid=(0.02, 0.1))
    return raws, labels, groups, res


def test_heads_learn_the_signal_under_grouped_cv(trained):
    raws, labels, _, res = trained
    for kind in KINDS:
        y = np.array([kind in lab for lab in labels])
        p = res.oof[kind]
        assert p[y].mean() > p[~y].mean() + 0.4, kind
        assert res.heads.heads[kind].cv["ap"] > 0.9
    assert "vehicles:cue:green_plate" in res.heads.spec.cue_keys


def test_heads_round_trip_through_the_file(trained, tmp_path: Path):
    raws, _, _, res = trained
    path = res.heads.save(tmp_path / "heads.json")
    loaded = HeadSet.load(path)
    assert loaded.version == res.heads.version
    for r in raws[:10]:
        a = res.heads.predict(r.blocks(res.heads.spec))
        b = loaded.predict(r.blocks(loaded.spec))
        assert a == pytest.approx(b, abs=1e-9)
    assert all(0.0 <= v <= 1.0 for v in a.values())


def test_training_is_deterministic(trained):
    raws, labels, groups, res = trained
    again = fit_heads(raws, labels, groups, kinds=KINDS, seed=0, n_splits=4, c_grid=(0.02, 0.1))
    assert again.heads.version == res.heads.version
    assert json.dumps(again.heads.to_dict()) == json.dumps(res.heads.to_dict())


def test_no_group_is_on_both_sides_of_a_fold():
    from detectors.recognition.train import folds

    _, labels, groups = generated(60)
    y = np.array([1 if lab else 0 for lab in labels])
    for tr, te in folds(y, groups, 4, 0):
        assert not {groups[i] for i in tr} & {groups[i] for i in te}


def test_corrupt_or_missing_heads_file_names_the_file(tmp_path: Path):
    with pytest.raises(ModelMissing, match="heads.json is missing"):
        HeadSet.load(tmp_path / "heads.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "assetscreen-heads/1", "heads": {', encoding="utf-8")
    with pytest.raises(ModelMissing, match="bad.json is corrupt"):
        HeadSet.load(bad)


def test_contributions_name_the_cues(trained):
    raws, labels, _, res = trained
    head = res.heads.heads["gov_vehicle"]
    i = next(k for k, lab in enumerate(labels) if "gov_vehicle" in lab and raws[k].cues.get("vehicles:cue:green_plate"))
    c = head.contributions(raws[i].blocks(res.heads.spec), res.heads.spec)
    assert set(head.blocks) <= set(c)


def test_cue_scores_and_vocabulary():
    ev = [
        Evidence(
            "gov_vehicle", "car", 0.7, "vehicles", "1", "plate",
            details={"cues": [{"cue": "green_plate", "score": 0.8}]},
        ),
        Evidence("vehicle", "car", 0.9, "vehicles", "1", "car"),
    ]
    s = cue_scores(ev)
    assert s == {"vehicles:gov_vehicle": 0.7, "vehicles:cue:green_plate": 0.8, "vehicles:vehicle": 0.9}
    raws = [RawFeatures(np.zeros(1024), np.zeros(1001), np.zeros(len(object_feature_names())), s)] * 3
    assert cue_vocabulary(raws) == ("vehicles:cue:green_plate", "vehicles:gov_vehicle", "vehicles:vehicle")
    assert cue_vocabulary(raws[:2]) == ()


def test_feature_spec_mismatch_is_an_error():
    spec = FeatureSpec(cue_keys=())
    raw = RawFeatures(np.zeros(512), np.zeros(1001), np.zeros(len(spec.object_names)), {})
    with pytest.raises(ValueError):
        raw.blocks(spec)


def test_best_threshold_maximises_f1():
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    assert best_threshold(p, np.array([1, 1, 0, 1, 0, 0])) == 0.6
    assert best_threshold(p, np.array([1, 1, 0, 0, 0, 0])) == 0.8


def test_example_bank_votes_and_persists(tmp_path: Path):
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 64)
    bank = ExampleBank(tmp_path / "ex", min_similarity=0.9)
    a = bank.add("uniform", base, note="sindh police")
    bank.add("uniform", base + rng.normal(0, 0.05, 64))
    bank.add("gov_vehicle", rng.normal(0, 1, 64))
    (vote,) = bank.votes(base / np.linalg.norm(base))
    assert vote.kind == "uniform" and len(vote.neighbours) == 2 and vote.score > 0.5
    far = rng.normal(0, 1, 64)
    assert bank.votes(far / np.linalg.norm(far)) == []  # nothing within the similarity floor
    reopened = ExampleBank(tmp_path / "ex", min_similarity=0.9)
    assert [e.id for e in reopened.examples()] == ["ex-0001", "ex-0002", "ex-0003"]
    reopened.remove(a.id)
    assert [e.id for e in ExampleBank(tmp_path / "ex").examples()] == ["ex-0002", "ex-0003"]


def test_negative_examples_vote_against(tmp_path: Path):
    v = np.ones(8)
    bank = ExampleBank(tmp_path / "ex", min_similarity=0.9)
    bank.add("uniform", v)
    alone = bank.votes(v / np.linalg.norm(v))[0].score
    bank.add("negative", v)
    bank.add("negative", v)
    assert bank.votes(v / np.linalg.norm(v))[0].score < alone
