"""Caption signals: the held-back table, normalisation, negation, quotation, explanations and config errors;
the learned model (numpy only), its fusion with the lexicon, and `assetscreen captions evaluate`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from detectors.base import DetectorRegistry, TextDetector
from detectors.caption import (
    LEXICON_DIR,
    MODEL_FILE,
    SIGNALS,
    CaptionDetector,
    CaptionModel,
    CaptionOptions,
    main,
    normalise,
    read_caption_dataset,
)
from detectors.caption.model import FORMAT, FUSION_FEATURES, char_ngrams, word_ngrams
from detectors.errors import ConfigError, ModelMissing
from detectors.evidence import Author, Post
from service.settings import Settings

DATASET = Path(__file__).resolve().parent.parent / "datasets" / "captions" / "captions.csv"


@pytest.fixture(scope="module")
def detector() -> CaptionDetector:
    return CaptionDetector.from_options(CaptionOptions())


def kinds(detector: CaptionDetector, text: str) -> set[str]:
    return {e.kind for e in detector.detect_text(text)}


# --- the dataset and the held-back table ---------------------------------------------------------------------


def test_dataset_covers_signals_languages_and_a_heldout_split() -> None:
    rows = read_caption_dataset(DATASET)
    assert len(rows) >= 150
    assert {r.lang for r in rows} == {"en", "ur", "roman_ur"}
    assert {r.split for r in rows} == {"dev", "heldout"}
    assert len({r.id for r in rows}) == len(rows)
    heldout = [r for r in rows if r.split == "heldout"]
    per = Counter((r.lang, label) for r in heldout for label in (r.labels or {"neutral"}))
    for lang in ("en", "ur", "roman_ur"):
        for label in (*SIGNALS, "neutral"):
            assert per[(lang, str(label))] >= 3, f"held-back split has too few {lang} {label} captions"


HELD_BACK = [DATASET.parent / "batches" / f"{name}.csv" for name in (
    "b02_dc_office", "b06_citizen", "b08_party_supporter", "b15_secretariat", "b16_traffic_motorway",
)]


def test_held_back_batches_stay_above_their_floors(capsys: pytest.CaptureFixture[str]) -> None:
    """A regression guard on the held-back writers (750 captions) plus the round-1 held-back rows (88): floors a
    few points under what the shipped model measured (datasets/captions/README.md), so a worse lexicon or model
    fails CI. Any signal measured P 0.924 / R 0.911; per signal P >= 0.830, R >= 0.789; per language R >= 0.871."""
    from service.commands.captions import evaluate_files

    report = evaluate_files([*HELD_BACK, DATASET], split="heldout")
    with capsys.disabled():
        print(f"\ncaption signals on the held-back batches ({report.n_captions} captions):\n{report.table()}")
    assert report.n_captions == 838
    post = report.post
    assert post.precision >= 0.89 and post.recall >= 0.88, f"any signal P {post.precision:.3f} R {post.recall:.3f}"
    for kind, c in report.kinds.items():
        assert c.precision >= 0.80, f"{kind} precision {c.precision:.3f} ({c.fp} false positives)"
        assert c.recall >= 0.76, f"{kind} recall {c.recall:.3f} ({c.fn} missed)"
    for lang, c in report.languages.items():
        assert c.recall >= 0.84, f"any-signal recall in {lang} {c.recall:.3f}"


def test_eval_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--eval", str(DATASET), "--split", "heldout"]) == 0
    out = capsys.readouterr().out
    for s in SIGNALS:
        assert str(s) in out
    assert "precision" in out and "recall" in out


# --- detector behaviour --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Proud to serve the nation, on duty tonight", "glorification"),
        ("Aaj naka duty pe hain, Allah ka shukar", "glorification"),
        ("آج ڈیوٹی پر ہوں، وطن کی خدمت میرا فخر ہے", "glorification"),
        ("Notification attached, not yet public", "disclosure"),
        ("Andar ki khabar: tabadla list bhej raha hoon", "disclosure"),
        ("خفیہ رپورٹ کی کاپی شیئر کر رہا ہوں", "disclosure"),
        ("PTI destroyed the economy", "political"),
        ("Ye hukumat nakaam hai", "political"),
        ("یہ حکومت نااہل ہے", "political"),
        ("Our new director is a brainless idiot", "disparaging"),
        ("Ye Qadiani log kafir hain", "disparaging"),
        ("یہ پٹھان لوگ جاہل ہوتے ہیں", "disparaging"),
    ],
)
def test_each_signal_in_each_language(detector: CaptionDetector, text: str, kind: str) -> None:
    assert kind in kinds(detector, text)


def test_evidence_is_text_evidence_with_the_words_that_fired(detector: CaptionDetector) -> None:
    (ev,) = detector.detect_text("Proud to serve #SindhPolice")
    assert ev.kind == "glorification" and ev.box is None and ev.image_index is None
    assert ev.detector == "caption" and ev.kind in detector.produces
    assert 0.5 <= ev.score <= 1.0
    assert "proud to serve" in ev.details["words"]
    assert "proud to serve" in ev.explanation
    assert ev.details["matches"][0]["lexicon"] == "en"


def test_target_alone_does_not_fire_but_target_with_stance_does() -> None:
    """The lexicon's rule. (Fused with the n-gram model, "Watching the PTI jalsa on TV" does fire political, at
    0.89: a known false positive of the model, which learned party names from slogan captions.)"""
    detector = CaptionDetector.from_options(CaptionOptions(use_model=False))
    assert "political" not in kinds(detector, "Watching the PTI jalsa on TV")
    assert "political" not in kinds(detector, "My exam was a disaster, shame on me")
    assert "political" in kinds(detector, "PTI is a disaster, shame on them")
    assert "disparaging" not in kinds(detector, "Eid Mubarak to my Christian and Hindu friends")


@pytest.mark.parametrize(
    "text",
    [
        "I am not on duty today, at the beach with the kids",
        "Main aaj duty pe nahi hoon, chutti hai",
        "Main aaj duty pe nahin hoon",  # spelling variant of nahi
        "میں آج ڈیوٹی پر نہیں ہوں",
        "Mujhe protocol pasand nahi",  # English cue, Roman Urdu negation after it
    ],
)
def test_negation_suppresses_and_is_reported(detector: CaptionDetector, text: str) -> None:
    assert "glorification" not in kinds(detector, text)
    _, matches = detector.scores(text)["glorification"]
    assert matches and all(m.ignored and m.ignored.startswith("negated") for m in matches)


def test_negation_does_not_cross_a_clause(detector: CaptionDetector) -> None:
    assert "glorification" in kinds(detector, "Duty pe hain, chutti nahi mili")


def test_negated_cue_is_listed_as_ignored_next_to_one_that_counts(detector: CaptionDetector) -> None:
    (ev,) = detector.detect_text("Not on duty today. Proud to serve tomorrow")
    assert [m["words"] for m in ev.details["ignored"]] == ["on duty"]
    assert "proud to serve" in ev.details["words"]


def test_quoted_and_reported_speech_is_ignored(detector: CaptionDetector) -> None:
    assert "glorification" in kinds(detector, "Proud to serve the people of Karachi")
    assert "glorification" not in kinds(detector, 'The minister said "proud to serve the people of Karachi"')
    assert "glorification" not in kinds(detector, "“Proud to serve the people”, he told reporters")
    assert "political" not in kinds(detector, "According to Dawn, PTI destroyed the economy")
    _, matches = detector.scores('He said "PTI destroyed the economy"')["political"]
    assert matches and all(m.ignored for m in matches)


def test_urdu_letter_variants_and_diacritics_normalise() -> None:
    # Arabic yeh/kaf/heh and diacritics fold to the Urdu letters
    assert normalise("ميں ڈيوٹي پر ہوں") == normalise("میں ڈیوٹی پر ہوں")
    assert normalise("كافر") == normalise("کافر")
    assert normalise("ڈِیُوٹی") == normalise("ڈیوٹی")
    assert normalise("PROUDDDD   to\tserve") == "proud to serve"


def test_urdu_variant_spelling_is_detected(detector: CaptionDetector) -> None:
    assert "glorification" in kinds(detector, "ميں آج ڈيوٹي پر ہوں")  # Arabic yeh throughout
    assert "disparaging" in kinds(detector, "يہ پٹھان لوگ جاہل ہوتے ہيں")


def test_roman_urdu_spelling_variants(detector: CaptionDetector) -> None:
    # "protokol" folds to the lexicon's "protocol", and the finding names it. (The bare "SHO sahab ke sath
    # protokol" scores under the threshold since the dev batches grew: "with SHO sahab" is often a citizen's or
    # a relative's post there.)
    found = [e for e in detector.detect_text("Mera protokol dekho aaj, SHO sahab khud sath the")
             if e.kind == "glorification"]
    assert found and "protocol" in found[0].details["words"]
    assert "political" in kinds(detector, "Ye hukoomat nakam hai")


def test_neutral_and_empty_captions_give_nothing(detector: CaptionDetector) -> None:
    assert detector.detect_text("") == []
    assert detector.detect_text("   ") == []
    assert detector.detect_text("Thank you Sindh Police for finding my stolen bike! #SindhPolice") == []
    assert detector.detect_post(Post(caption="Happy birthday to my daughter", author=Author("a1"))) == []


def test_min_score_option_raises_the_bar() -> None:
    # lexicon alone: the cue strength of a target+stance pair is below 0.95
    strict = CaptionDetector.from_options(CaptionOptions(min_score=0.95, use_model=False))
    text = "PTI destroyed the economy"
    assert "political" not in {e.kind for e in strict.detect_text(text)}
    # fused: the same bar just above the caption's fused score silences it, just below keeps it
    score = CaptionDetector.from_options(CaptionOptions()).assess(text)["political"].score
    assert 0.5 <= score < 1.0
    above = CaptionDetector.from_options(CaptionOptions(min_score=min(1.0, score + 1e-3)))
    below = CaptionDetector.from_options(CaptionOptions(min_score=score - 1e-3))
    assert "political" not in {e.kind for e in above.detect_text(text)}
    assert "political" in {e.kind for e in below.detect_text(text)}


def test_registered_and_built_from_settings() -> None:
    det = DetectorRegistry.factory("caption")(Settings())
    assert isinstance(det, TextDetector)
    assert det.produces == frozenset(str(s) for s in SIGNALS)


def test_bad_option_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="min_scor"):
        DetectorRegistry.factory("caption")(Settings(detector_options={"caption": {"min_scor": 0.4}}))


def _copy_lexicons(tmp_path: Path) -> Path:
    for f in LEXICON_DIR.glob("*.yaml"):
        (tmp_path / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


def test_malformed_lexicon_names_the_bad_key(tmp_path: Path) -> None:
    d = _copy_lexicons(tmp_path)
    p = d / "en.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("negation_window:", "negation_windw:"), encoding="utf-8")
    with pytest.raises(ConfigError, match="negation_windw"):
        CaptionDetector.from_options(CaptionOptions(lexicon_dir=d))


def test_bad_regex_and_missing_lexicon_are_config_errors(tmp_path: Path) -> None:
    d = _copy_lexicons(tmp_path)
    (d / "ur.yaml").write_text(
        "language: ur\nsignals:\n  political:\n    cues:\n      - {id: bad, pattern: '(unclosed'}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="signals.political.cues.0.pattern"):
        CaptionDetector.from_options(CaptionOptions(lexicon_dir=d))
    (d / "ur.yaml").unlink()
    with pytest.raises(ConfigError, match="ur.yaml"):
        CaptionDetector.from_options(CaptionOptions(lexicon_dir=d))


def test_unknown_dataset_label_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_text("id,split,lang,labels,text\nx1,dev,en,glorifcation,hello\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="glorifcation"):
        read_caption_dataset(p)


# --- groups, context ------------------------------------------------------------------------------------------


def test_group_terms_come_from_the_configurable_list() -> None:
    text = "Ye Kalashi log sab jahil hote hain"
    plain = CaptionDetector.from_options(CaptionOptions(use_model=False))
    assert not any(m.cue.startswith("group_") for m in plain.assess(text)["disparaging"].matches)
    extended = CaptionDetector.from_options(CaptionOptions(use_model=False, extra_groups={"ethnic": ["kalashis?"]}))
    a = extended.assess(text)["disparaging"]
    assert any(m.cue == "group_ethnic" and m.lexicon == "groups" and m.text == "kalashi" for m in a.counted)
    assert a.lexicon_score >= 0.5
    assert "kalashi" in extended.detect_text(text)[0].details["words"]


def test_bad_extra_group_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="extra_groups"):
        CaptionDetector.from_options(CaptionOptions(use_model=False, extra_groups={"sect": ["(unclosed"]}))
    with pytest.raises(ConfigError, match="extra_groupz"):
        DetectorRegistry.factory("caption")(Settings(detector_options={"caption": {"extra_groupz": {}}}))


def test_groups_file_option_replaces_the_list(tmp_path: Path) -> None:
    f = tmp_path / "groups.yaml"
    f.write_text("categories:\n  tribe: ['zorgons?']\n", encoding="utf-8")
    det = CaptionDetector.from_options(CaptionOptions(use_model=False, groups_file=f))
    cues = {m.cue for m in det.assess("Zorgons are all liars and cheats")["disparaging"].matches}
    assert "group_tribe" in cues and "group_ethnic" not in cues
    with pytest.raises(ConfigError, match="nope.yaml"):
        CaptionDetector.from_options(CaptionOptions(use_model=False, groups_file=tmp_path / "nope.yaml"))


@pytest.mark.parametrize(
    "text",
    [
        "Bhai ki shadi pe dulhe ki gari ke aage 6 bikes ka protocol 😂 full VIP feel",
        "Wedding motorcade with an escort and hooters, the groom felt like a VIP 😎",
        "Proud of our police, thank you to the officer who helped my father today 💪",
    ],
)
def test_context_cancels_wedding_protocol_and_citizen_pride(detector: CaptionDetector, text: str) -> None:
    assert "glorification" not in kinds(detector, text)
    lexicon_only = CaptionDetector.from_options(CaptionOptions(use_model=False))
    a = lexicon_only.assess(text)["glorification"]
    assert a.lexicon_score == 0.0
    assert any(m.ignored and m.ignored.startswith("context") for m in a.matches)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("As Deputy Commissioner I personally led the anti-encroachment drive today 💪", "glorification"),
        ("For information of all concerned: transfer list attached, not yet issued", "disclosure"),
        ("Teer pe mohar 🏹 Jeay Bhutto", "political"),
        ("Our generals are glorified property dealers. Rotten institution", "disparaging"),
    ],
)
def test_issue_cases_fire(detector: CaptionDetector, text: str, kind: str) -> None:
    assert kind in kinds(detector, text)


# --- the learned model and the fusion ------------------------------------------------------------------------


def test_model_file_is_data_with_recipe_cv_and_thresholds() -> None:
    assert MODEL_FILE.is_file() and MODEL_FILE.stat().st_size < 5_000_000
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert data["format"] == FORMAT
    assert {b["analyzer"] for b in data["features"]["blocks"]} == {"word", "char"}
    assert set(data["signals"]) == {str(s) for s in SIGNALS}
    for s in data["signals"].values():
        assert set(s["fusion"]["coef"]) == set(FUSION_FEATURES)
        assert 0.0 < s["fusion"]["threshold"] < 1.0
        assert s["C"] in data["recipe"]["C_grid"]
    assert data["recipe"]["script"] == "datasets/captions/train_model.py"
    assert "heldout" not in json.dumps(data["recipe"]["data"])
    fused = data["cv"]["fused"]
    assert set(fused["kinds"]) == {str(s) for s in SIGNALS} and "post" in fused and "groups" in fused


def test_model_scores_with_numpy_only() -> None:
    code = (
        "import sys\n"
        "for m in ('sklearn', 'scipy', 'joblib'): sys.modules[m] = None\n"
        "from detectors.caption import CaptionDetector, CaptionOptions\n"
        "d = CaptionDetector.from_options(CaptionOptions())\n"
        "a = d.assess('Proud to serve as SHO Saddar, on duty tonight')['glorification']\n"
        "assert a.model is not None and a.probability is not None and a.score >= 0.5, a\n"
        "print('ok', round(a.score, 3))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


def _tiny_model(tmp_path: Path) -> Path:
    signals = {
        str(s): {
            "coef": [1.0, 2.0, 0.5],
            "intercept": -1.0,
            "fusion": {
                "coef": {"model_logit": 1.0, "lexicon_score": 0.0, "lexicon_fired": 0.0, "ignored": 0.0,
                         "context": 0.0},
                "intercept": 0.0,
                "threshold": 0.25,
            },
        }
        for s in SIGNALS
    }
    data = {
        "format": FORMAT,
        "version": "tiny-1",
        "features": {
            "blocks": [
                {"analyzer": "word", "terms": ["duty", "proud"], "idf": [1.0, 2.0]},
                {"analyzer": "char", "terms": [" du"], "idf": [1.0]},
            ]
        },
        "signals": signals,
    }
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_numpy_scorer_computes_tfidf_logistic_and_the_operating_point_shift(tmp_path: Path) -> None:
    model = CaptionModel.load(_tiny_model(tmp_path))
    text = "proud proud duty"
    # word block: tf = 1 + ln(count); duty: 1 * idf 1, proud: (1 + ln 2) * idf 2; l2-normalised
    duty, proud = 1.0, (1 + math.log(2)) * 2.0
    norm = math.hypot(duty, proud)
    expected = duty / norm * 1.0 + proud / norm * 2.0 + 1.0 * 0.5 - 1.0  # char block: ' du' alone, norm 1
    got = model.score(text)["glorification"]
    assert got.logit == pytest.approx(expected, abs=1e-9)
    assert got.top_ngrams[0][0] == "word:proud"
    det = CaptionDetector.from_options(CaptionOptions(model_file=_tiny_model(tmp_path), use_model=True))
    a = det.assess(text)["glorification"]
    p = 1 / (1 + math.exp(-expected))
    assert a.probability == pytest.approx(p)
    # the fused probability is shifted in log-odds so that the threshold (0.25) maps to 0.5
    assert a.score == pytest.approx(1 / (1 + math.exp(-(math.log(p / (1 - p)) - math.log(0.25 / 0.75)))))
    assert word_ngrams("a b!") == ["a", "b", "!", "a b", "b !"]
    assert char_ngrams("ab") == [" a", "ab", "b ", " ab", "ab ", " ab "]


def test_missing_or_malformed_model_says_which_file(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="nope.json"):
        CaptionDetector.from_options(CaptionOptions(model_file=tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": FORMAT, "version": "x", "features": {"blocks": []}}), encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.json"):
        CaptionDetector.from_options(CaptionOptions(model_file=bad))
    bad.write_text(json.dumps({"format": "other"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="not a caption model"):
        CaptionDetector.from_options(CaptionOptions(model_file=bad))


def test_fusion_keeps_the_words_and_adds_the_model_score(detector: CaptionDetector) -> None:
    (ev,) = detector.detect_text("Proud to serve #SindhPolice")
    assert ev.detector_version.startswith("caption-fused-1+")
    d = ev.details
    assert "proud to serve" in d["words"] and "proud to serve" in ev.explanation
    assert 0.0 <= d["model_score"] <= 1.0 and 0.0 <= d["probability"] <= 1.0
    assert "model " in ev.explanation
    assert d["ngrams"] and all(g["weight"] > 0 for g in d["ngrams"])
    assert d["lexicon_score"] >= 0.5
    json.dumps(ev.to_dict())  # JSON-serialisable


def test_model_alone_still_explains_with_its_words(detector: CaptionDetector) -> None:
    for a in detector.assess("Long night. We took the door down at 3am, two men in the back room.").values():
        if a.score >= 0.5 and not a.counted:
            ev = detector.evidence(a)
            assert ev.details["words"] and ev.details["ngrams"]
    # a negated cue still shows as ignored when the model decides
    a = detector.assess("I am not on duty today, at the beach with the kids")["glorification"]
    assert a.score < 0.5 and a.ignored


def test_lexicon_only_option_keeps_the_old_behaviour() -> None:
    det = CaptionDetector.from_options(CaptionOptions(use_model=False))
    assert det.model is None and det.version.endswith("lexicon-only")
    (ev,) = det.detect_text("Proud to serve #SindhPolice")
    assert "model_score" not in ev.details
    assert ev.score == pytest.approx(det.assess("Proud to serve #SindhPolice")["glorification"].lexicon_score, abs=1e-4)


# --- assetscreen captions evaluate ---------------------------------------------------------------------------

SMALL_CSV = [
    ("t1", "en", "glorification", "Proud to serve the nation, on duty tonight"),
    ("t2", "en", "", "Happy birthday to my daughter"),
    ("t3", "en", "political", "PTI destroyed the economy"),
    ("t4", "roman_ur", "", "Notification attached, abhi jari nahi hua, not yet public"),
    ("t5", "roman_ur", "disparaging", "Ye Qadiani log kafir hain"),
    ("t6", "ur", "glorification", "عید مبارک"),
]


def _write_csv(path: Path, rows: list[tuple[str, ...]], header: str = "id,lang,labels,text,persona") -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header.split(","))
        for r in rows:
            w.writerow([*r, "someone"][: len(header.split(","))])
    return path


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc, out, _ = _cli_err(argv, capsys)
    return rc, out


def _cli_err(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from service.cli import main as cli_main

    rc = cli_main(argv)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_captions_evaluate_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _write_csv(tmp_path / "small.csv", SMALL_CSV)
    rc, out = _cli(["captions", "evaluate", str(f), "--json"], capsys)
    assert rc == 0
    d = json.loads(out)
    k = d["kinds"]
    assert (k["glorification"]["tp"], k["glorification"]["fp"], k["glorification"]["fn"]) == (1, 0, 1)
    assert (k["disclosure"]["tp"], k["disclosure"]["fp"], k["disclosure"]["fn"]) == (0, 1, 0)
    assert (k["political"]["tp"], k["political"]["fp"], k["political"]["fn"]) == (1, 0, 0)
    assert (k["disparaging"]["tp"], k["disparaging"]["fp"], k["disparaging"]["fn"]) == (1, 0, 0)
    assert (d["post"]["tp"], d["post"]["fp"], d["post"]["fn"], d["post"]["support"]) == (3, 1, 1, 4)
    assert d["post"]["precision"] == 0.75 and d["post"]["recall"] == 0.75
    assert d["languages"]["en"]["tp"] == 2 and d["languages"]["roman_ur"]["fp"] == 1
    assert d["languages"]["ur"]["fn"] == 1
    assert d["n_captions"] == d["n_images"] == 6
    assert {"file": "t6", "kind": "glorification", "expected": True, "predicted": False} in d["misclassified"]


def test_captions_evaluate_json_has_the_evaluate_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from service.evaluation import Counts as EvalCounts
    from service.evaluation import EvalReport

    f = _write_csv(tmp_path / "small.csv", SMALL_CSV)
    _, out = _cli(["captions", "evaluate", str(f), "--json"], capsys)
    d = json.loads(out)
    assert set(EvalReport().to_dict()) <= set(d)
    assert set(d["kinds"]) == {str(s) for s in SIGNALS}
    counts_keys = set(EvalCounts().to_dict())
    for c in [*d["kinds"].values(), d["post"], *d["languages"].values()]:
        assert set(c) == counts_keys
    assert out.count("\n") == 1  # exactly one JSON object on one line


def test_captions_evaluate_table_and_several_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _write_csv(tmp_path / "a.csv", SMALL_CSV[:3])
    b = _write_csv(tmp_path / "b.csv", SMALL_CSV[3:])
    rc, out = _cli(["captions", "evaluate", str(a), str(b)], capsys)
    assert rc == 0
    for word in ("tp", "fp", "fn", "precision", "recall", "f1", "support", "post (any)", "roman_ur", "captions: 6"):
        assert word in out
    for s in SIGNALS:
        assert str(s) in out


def test_captions_evaluate_split_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [(r[0], "heldout" if i % 2 else "dev", *r[1:]) for i, r in enumerate(SMALL_CSV)]
    f = _write_csv(tmp_path / "s.csv", rows, header="id,split,lang,labels,text")
    _, out = _cli(["captions", "evaluate", str(f), "--split", "heldout", "--json"], capsys)
    assert json.loads(out)["n_captions"] == 3
    no_split = _write_csv(tmp_path / "n.csv", SMALL_CSV)
    _, out = _cli(["captions", "evaluate", str(no_split), "--split", "heldout", "--json"], capsys)
    assert json.loads(out)["n_captions"] == 6  # no split column: every row


def test_captions_evaluate_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _ = _cli(["captions", "evaluate", str(tmp_path / "missing.csv")], capsys)
    assert rc == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text\nx,hello\n", encoding="utf-8")
    rc, _, err = _cli_err(["captions", "evaluate", str(bad)], capsys)
    assert rc == 2
    assert "labels" in err


def test_screen_a_caption_without_an_image(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _cli(["screen", "--caption", "Notification attached, not yet public. Share widely", "--json"], capsys)
    assert rc == 0
    verdict = json.loads(out)
    assert any(e["kind"] == "disclosure" and e["detector"] == "caption" for e in verdict["evidence"])
    assert verdict["decision"] != "clear"


def test_scores_are_finite_and_in_range(detector: CaptionDetector) -> None:
    for text in ("", "🏹🏹🏹", "ا", "x" * 5000, "Proud to serve. " * 200):
        for a in detector.assess(text).values():
            assert 0.0 <= a.score <= 1.0 and np.isfinite(a.score)
