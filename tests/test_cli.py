"""The CLI end to end on generated files, with fake detectors (real detectors have their own tests)."""

import json

import pytest
from PIL import Image

import tests.fakes  # noqa: F401
from service.cli import main
from tests.imagegen import encode, gradient, png_header_only, red_patch_jpeg


@pytest.fixture(autouse=True)
def echo_recognition(monkeypatch):
    """The CLI builds its screener itself: give it the fake learned stage, so fake detectors drive verdicts."""
    from tests.fakes import EchoRecognizer

    monkeypatch.setattr("service.screener.build_recognizer", lambda settings: EchoRecognizer())


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    (d / "a_red.png").write_bytes(red_patch_jpeg())
    (d / "b_plain.jpg").write_bytes(encode(Image.fromarray(gradient(200, 150)), "JPEG"))
    (d / "sub" / "c_red.png").write_bytes(red_patch_jpeg())
    good = encode(Image.fromarray(gradient(300, 300)), "JPEG")
    (d / "d_truncated.jpg").write_bytes(good[: len(good) // 2])
    (d / "e_zero.jpg").write_bytes(b"")
    (d / "f_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    (d / "g_huge.png").write_bytes(png_header_only(20000, 20000))
    (d / "notes.txt").write_text("not media")
    (d / "labels.csv").write_text(
        "file,kinds\na_red.png,uniform\nb_plain.jpg,\nsub/c_red.png,\nd_truncated.jpg,document\n"
    )
    return d


def read_jsonl(p):
    return [json.loads(line) for line in p.read_text().splitlines()]


def test_scan_writes_one_line_per_file_with_per_file_errors(folder, tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert main(["scan", str(folder), "--out", str(out), "--detectors", "fake_red", "-q"]) == 0
    recs = {r["file"]: r for r in read_jsonl(out)}
    assert set(recs) == {"a_red.png", "b_plain.jpg", "sub/c_red.png", "d_truncated.jpg", "e_zero.jpg",
                         "f_corrupt.png", "g_huge.png"}
    assert recs["a_red.png"]["verdict"]["decision"] != "clear"
    assert recs["b_plain.jpg"]["verdict"]["decision"] == "clear"
    assert "total" in recs["a_red.png"]["verdict"]["timings_ms"]
    assert "truncated" in recs["d_truncated.jpg"]["error"]
    assert "empty" in recs["e_zero.jpg"]["error"]
    assert recs["f_corrupt.png"]["error_type"] in {"BadInput", "UnsupportedMedia"}
    assert recs["g_huge.png"]["error_type"] == "MediaTooLarge" and "20000x20000" in recs["g_huge.png"]["error"]


def test_scan_resumes_without_redoing_files(folder, tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    lines = []
    main(["scan", str(folder), "--out", str(out), "--detectors", "fake_red", "-q"])
    lines = out.read_text().splitlines()
    # Simulate an interruption: keep two complete lines and half of the third.
    out.write_text("\n".join(lines[:2]) + "\n" + lines[2][:15])
    main(["scan", str(folder), "--out", str(out), "--detectors", "fake_red", "-q"])
    files = [r["file"] for r in (json.loads(x) for x in out.read_text().splitlines()[:2])]
    recs = []
    for line in out.read_text().splitlines():
        try:
            recs.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    done = [r["file"] for r in recs]
    assert sorted(set(done)) == sorted(done)  # nothing screened twice
    assert len(done) == 7 and files == done[:2]
    assert "skipped" in capsys.readouterr().out


def test_screen_json(folder, capsys):
    assert main(["screen", str(folder / "a_red.png"), "--json", "--detectors", "fake_red"]) == 0
    v = json.loads(capsys.readouterr().out)
    assert v["decision"] in {"review", "violation"} and v["evidence"][0]["kind"] == "uniform"


def test_screen_text_output_cites_rules(folder, capsys):
    assert main(["screen", str(folder / "a_red.png"), "--detectors", "fake_red"]) == 0
    out = capsys.readouterr().out
    assert "citation:" in out and "uniform" in out


def test_screen_bad_file_exit_code(folder, capsys):
    assert main(["screen", str(folder / "e_zero.jpg"), "--detectors", "fake_red"]) == 2
    assert "empty" in capsys.readouterr().err


def test_evaluate_json_contract(folder, capsys):
    assert main(["evaluate", str(folder), "--labels", str(folder / "labels.csv"), "--json",
                 "--detectors", "fake_red"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"n_images", "kinds", "post", "seconds_per_image", "errors", "misclassified"}
    assert set(report["kinds"]) == {"gov_vehicle", "uniform", "insignia", "document", "official_document"}
    u = report["kinds"]["uniform"]
    assert (u["tp"], u["fp"], u["fn"], u["support"]) == (1, 1, 0, 1)
    assert u["precision"] == 0.5 and u["recall"] == 1.0
    assert report["kinds"]["gov_vehicle"]["precision"] == 0.0  # nothing predicted
    assert report["n_images"] == 4 and [e["file"] for e in report["errors"]] == ["d_truncated.jpg"]
    assert {"file": "sub/c_red.png", "kind": "uniform", "expected": False, "predicted": True} in report["misclassified"]
    assert report["post"]["tp"] == 1 and report["post"]["fp"] == 1


def test_evaluate_table(folder, capsys):
    assert main(["evaluate", str(folder), "--detectors", "fake_red", "-q"]) == 0
    out = capsys.readouterr().out
    assert "uniform" in out and "POST" in out and "misclassified" in out


def test_bad_labels_file(folder, tmp_path, capsys):
    bad = tmp_path / "l.csv"
    bad.write_text("file,kinds\na_red.png,tank\n")
    assert main(["evaluate", str(folder), "--labels", str(bad), "--detectors", "fake_red"]) == 2
    assert "unknown kinds" in capsys.readouterr().err


def test_bad_config_names_key(tmp_path, folder, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("detectorz: [fake_red]\n")
    assert main(["screen", str(folder / "a_red.png"), "--config", str(cfg)]) == 2
    assert "detectorz" in capsys.readouterr().err


def test_missing_config_file_is_an_error(tmp_path, folder, capsys):
    assert main(["screen", str(folder / "a_red.png"), "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_bench_json_has_the_documented_shape(folder, capsys):
    assert main(["bench", str(folder), "--workers", "1", "--json", "--detectors", "fake_red"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["images"] == 3  # the three decodable images; broken files are not benchmarked
    assert {"images_per_second", "p50_ms", "p95_ms", "peak_rss_mb", "stages", "workers"} <= set(out)
    assert {"fake_red", "total", "policy"} <= set(out["stages"])
    assert out["p50_ms"] <= out["p95_ms"] and out["images_per_second"] > 0


def test_bench_profile_writes_where_the_time_went(folder, tmp_path, capsys):
    pytest.importorskip("pyinstrument")  # a dev extra: `--profile` says so when it is missing
    report = tmp_path / "profile.txt"
    assert main(["bench", str(folder), "--detectors", "fake_red", "--profile", str(report)]) == 0
    text = report.read_text(encoding="utf-8")
    assert "Samples:" in text and "Duration:" in text  # pyinstrument's report (fake detectors: few samples)
    assert f"profile written to {report}" in capsys.readouterr().out
