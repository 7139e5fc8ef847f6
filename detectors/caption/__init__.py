"""Caption signals: glorification of official duty, disclosure, political opinion and disparaging remarks.

The conduct rules are as much about what staff write as about what they photograph (Sindh CM Secretariat
notice of 15.02.2025: "glorifying their official duties"; Establishment Division OM of 02.09.2024 para 4(ii),
(iii), (v)). Captions come in English, Urdu (Arabic script) and Roman Urdu, often mixed in one post, so every
lexicon runs on every caption.

Two parts, one score per signal:

- `lexicon`: hand-written cues (detectors/data/caption/*.yaml), explainable, with negation, quotation and
  reported speech handled; the words that fired are the evidence a reviewer reads.
- `model`: a learned word and character n-gram model (detectors/data/caption/model.json, numpy at run time)
  that catches what the cues miss (stories with no keyword, slogans, new phrasings), fused with the lexicon
  by a small calibrated regression fitted on out-of-fold predictions (`detector`).

`python -m detectors.caption --eval FILE.csv` prints the per-signal table; `assetscreen captions evaluate` is the
command-line form with the any-signal and per-language tables. The model is rebuilt by
datasets/captions/train_model.py.
"""

from detectors.caption.dataset import (
    CaptionReport,
    CaptionRow,
    Counts,
    SignalScore,
    evaluate_captions,
    format_table,
    main,
    measure,
    read_caption_dataset,
)
from detectors.caption.detector import (
    NAME,
    SIGNAL_LABELS,
    VERSION,
    CaptionDetector,
    CaptionOptions,
    SignalAssessment,
    build,
    fusion_features,
)
from detectors.caption.lexicon import (
    GROUPS_FILE,
    LANGUAGES,
    LEXICON_DIR,
    SIGNALS,
    CompiledLexicon,
    Cue,
    CueMatch,
    GroupList,
    Lexicon,
    find_cues,
    load_lexicons,
    normalise,
    normalise_arabic,
    score_signal,
)
from detectors.caption.model import MODEL_FILE, CaptionModel, ModelScore

__all__ = [
    "GROUPS_FILE",
    "LANGUAGES",
    "LEXICON_DIR",
    "MODEL_FILE",
    "NAME",
    "SIGNALS",
    "SIGNAL_LABELS",
    "VERSION",
    "CaptionDetector",
    "CaptionModel",
    "CaptionOptions",
    "CaptionReport",
    "CaptionRow",
    "CompiledLexicon",
    "Counts",
    "Cue",
    "CueMatch",
    "GroupList",
    "Lexicon",
    "ModelScore",
    "SignalAssessment",
    "SignalScore",
    "build",
    "evaluate_captions",
    "find_cues",
    "format_table",
    "fusion_features",
    "load_lexicons",
    "main",
    "measure",
    "normalise",
    "normalise_arabic",
    "read_caption_dataset",
    "score_signal",
]
