"""Caption signals: the held-back table, normalisation, negation, quotation, explanations and config errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from detectors.base import DetectorRegistry, TextDetector
from detectors.caption import (
    LEXICON_DIR,
    SIGNALS,
    CaptionDetector,
    CaptionOptions,
    evaluate_captions,
    format_table,
    main,
    normalise,
    read_caption_dataset,
)
from detectors.errors import ConfigError
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


def test_heldout_precision_and_recall_targets(detector: CaptionDetector, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [r for r in read_caption_dataset(DATASET) if r.split == "heldout"]
    scores, errors = evaluate_captions(lambda t: {e.kind for e in detector.detect_text(t)}, rows)
    with capsys.disabled():
        print(f"\ncaption signals on the held-back split ({len(rows)} captions):\n{format_table(scores)}")
    for s in scores:
        assert s.tp + s.fn >= 10, f"{s.signal}: too few positives to measure"
        assert s.precision >= 0.85, f"{s.signal} precision {s.precision:.3f}: {errors}"
        assert s.recall >= 0.80, f"{s.signal} recall {s.recall:.3f}: {errors}"


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


def test_target_alone_does_not_fire_but_target_with_stance_does(detector: CaptionDetector) -> None:
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
    assert "glorification" in kinds(detector, "SHO sahab ke sath protokol")
    assert "political" in kinds(detector, "Ye hukoomat nakam hai")


def test_neutral_and_empty_captions_give_nothing(detector: CaptionDetector) -> None:
    assert detector.detect_text("") == []
    assert detector.detect_text("   ") == []
    assert detector.detect_text("Thank you Sindh Police for finding my stolen bike! #SindhPolice") == []
    assert detector.detect_post(Post(caption="Happy birthday to my daughter", author=Author("a1"))) == []


def test_min_score_option_raises_the_bar() -> None:
    strict = CaptionDetector.from_options(CaptionOptions(min_score=0.95))
    text = "PTI destroyed the economy"
    assert "political" not in {e.kind for e in strict.detect_text(text)}


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
