"""The whole pipeline, every configured detector, on real labelled photos from ../shared/eval."""

import json
import shutil

import pytest

from service.cli import main
from service.evaluation import read_labels

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def eval_json(eval_dir, tmp_path_factory, monkeypatch_module):
    # The shipped models and heads, as a fresh install runs them: no environment variable names a model.
    monkeypatch_module.delenv("ASSETSCREEN_YOLO_MODEL", raising=False)
    monkeypatch_module.setenv("ASSETSCREEN_DATA", str(tmp_path_factory.mktemp("data")))
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["evaluate", str(eval_dir), "--labels", str(eval_dir / "labels.csv"), "--json",
                     "--limit", "24"]) == 0
    return json.loads(buf.getvalue())


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_evaluate_contract_on_real_photos(eval_json):
    assert eval_json["n_images"] == 24 and eval_json["errors"] == []
    assert eval_json["seconds_per_image"] > 0
    for m in [*eval_json["kinds"].values(), eval_json["post"]]:
        assert m["support"] == m["tp"] + m["fn"]
        assert 0.0 <= m["precision"] <= 1.0 and 0.0 <= m["recall"] <= 1.0


def test_scan_real_photos_one_verdict_each(eval_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("ASSETSCREEN_YOLO_MODEL", raising=False)
    monkeypatch.setenv("ASSETSCREEN_DATA", str(tmp_path / "data"))
    names = sorted(read_labels(eval_dir / "labels.csv"))[:6]
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in names:
        shutil.copy(eval_dir / n, folder / n)
    out = tmp_path / "r.jsonl"
    assert main(["scan", str(folder), "--out", str(out), "-q"]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["file"] for r in recs] == names
    for r in recs:
        v = r["verdict"]
        assert v["timings_ms"]["total"] > 0
        assert v["decision"] in {"clear", "review", "violation"}
        for f in v["findings"]:
            assert f["citation"] and f["evidence"]
        learned = [e for e in v["evidence"] if e["detector"] == "recognition"]
        for e in learned:  # a learned finding explains itself
            assert {"probability", "contributions", "top_classes", "cue_evidence"} <= set(e["details"])
