"""Caption datasets (CSV with id, lang, labels, text) and their measurement: per-signal, any-signal, per language.

`CaptionReport.to_dict()` has the shape of `assetscreen evaluate --json` (service/evaluation.py): "kinds" holds
the four signals, "post" the any-signal figures, plus "languages" (any-signal per caption language).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detectors.caption.lexicon import SIGNALS
from detectors.errors import ConfigError
from detectors.scoring import Counts

REQUIRED_COLUMNS = ("id", "lang", "labels", "text")


@dataclass(frozen=True)
class CaptionRow:
    id: str
    split: str
    lang: str
    labels: frozenset[str]
    text: str


def read_caption_dataset(path: str | Path, split: str | None = None) -> list[CaptionRow]:
    """Rows of a caption CSV (other columns ignored; `split` optional). With `split`, only rows whose split
    column equals it (all rows when the file has no split column). Unknown labels are an error naming the row."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"caption dataset not found: {p}")
    rows = []
    with p.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(f"{p}: needs columns {', '.join(REQUIRED_COLUMNS)} (missing {', '.join(missing)})")
        has_split = "split" in (reader.fieldnames or [])
        for r in reader:
            labels = frozenset(x.strip() for x in (r["labels"] or "").split(";") if x.strip())
            unknown = labels - set(SIGNALS)
            if unknown:
                raise ConfigError(f"{p}: row {r['id']} has unknown labels {sorted(unknown)}")
            row_split = (r.get("split") or "") if has_split else ""
            if split is not None and has_split and row_split != split:
                continue
            rows.append(CaptionRow(r["id"], row_split, r["lang"], labels, r["text"] or ""))
    return rows


# --- counting ------------------------------------------------------------------------------------------------


@dataclass
class CaptionReport:
    kinds: dict[str, Counts] = field(default_factory=lambda: {str(s): Counts() for s in SIGNALS})
    post: Counts = field(default_factory=Counts)
    languages: dict[str, Counts] = field(default_factory=dict)
    n_captions: int = 0
    seconds: float = 0.0
    misclassified: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: CaptionRow, predicted: Iterable[str]) -> None:
        pred = set(predicted)
        self.n_captions += 1
        for kind, counts in self.kinds.items():
            exp, got = kind in row.labels, kind in pred
            counts.add(exp, got)
            if exp != got:
                self.misclassified.append({"file": row.id, "kind": kind, "expected": exp, "predicted": got})
        exp_post, pred_post = bool(row.labels), bool(pred & set(self.kinds))
        self.post.add(exp_post, pred_post)
        self.languages.setdefault(row.lang, Counts()).add(exp_post, pred_post)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_images": self.n_captions,  # the key `assetscreen evaluate --json` uses for its items
            "n_captions": self.n_captions,
            "kinds": {k: c.to_dict() for k, c in self.kinds.items()},
            "post": self.post.to_dict(),
            "languages": {k: self.languages[k].to_dict() for k in sorted(self.languages)},
            "seconds_per_image": round(self.seconds / self.n_captions, 6) if self.n_captions else 0.0,
            "errors": [],
            "misclassified": list(self.misclassified),
        }

    def table(self) -> str:
        head = f"{'signal':<16} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>6} {'f1':>6} {'support':>7}"

        def line(name: str, c: Counts) -> str:
            return (
                f"{name:<16} {c.tp:>4} {c.fp:>4} {c.fn:>4} {c.precision:>9.3f} {c.recall:>6.3f} {c.f1:>6.3f} "
                f"{c.tp + c.fn:>7}"
            )

        rows = [head, *(line(k, c) for k, c in self.kinds.items()), line("post (any)", self.post), ""]
        rows.append(head.replace("signal  ", "language", 1))
        rows += [line(k, self.languages[k]) for k in sorted(self.languages)]
        rows.append(f"captions: {self.n_captions}")
        return "\n".join(rows)


def measure(predict: Callable[[str], Iterable[str]], rows: Sequence[CaptionRow]) -> CaptionReport:
    """The report for `predict(text) -> signals present` over `rows`."""
    report = CaptionReport()
    t0 = time.perf_counter()
    for row in rows:
        report.add(row, predict(row.text))
    report.seconds = time.perf_counter() - t0
    return report


# --- the older per-signal API (kept for callers and tests) ---------------------------------------------------


@dataclass(frozen=True)
class SignalScore:
    signal: str
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def evaluate_captions(
    predict: Callable[[str], Iterable[str]], rows: Sequence[CaptionRow]
) -> tuple[list[SignalScore], list[tuple[CaptionRow, set[str]]]]:
    """Per-signal counts for `predict(text) -> set of signals`, plus the rows it got wrong."""
    counts = {str(s): [0, 0, 0] for s in SIGNALS}
    errors = []
    for row in rows:
        pred = set(predict(row.text))
        for s in counts:
            if s in pred and s in row.labels:
                counts[s][0] += 1
            elif s in pred:
                counts[s][1] += 1
            elif s in row.labels:
                counts[s][2] += 1
        if pred != set(row.labels):
            errors.append((row, pred))
    return [SignalScore(s, *c) for s, c in counts.items()], errors


def format_table(scores: Sequence[SignalScore]) -> str:
    lines = [f"{'signal':<14} {'tp':>3} {'fp':>3} {'fn':>3} {'precision':>9} {'recall':>6}"]
    for s in scores:
        lines.append(f"{s.signal:<14} {s.tp:>3} {s.fp:>3} {s.fn:>3} {s.precision:>9.3f} {s.recall:>6.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m detectors.caption`: screen captions, or measure the packaged detector on a caption CSV."""
    from detectors.caption.detector import CaptionDetector, CaptionOptions

    parser = argparse.ArgumentParser(prog="python -m detectors.caption", description=main.__doc__)
    parser.add_argument("--eval", metavar="CSV", help="caption dataset to measure (id,lang,labels,text[,split])")
    parser.add_argument("--split", default="heldout", help="split to measure, or 'all' (default: heldout)")
    parser.add_argument("--errors", action="store_true", help="list the captions it got wrong")
    parser.add_argument("--lexicon-only", action="store_true", help="without the learned model")
    parser.add_argument("text", nargs="*", help="captions to screen")
    args = parser.parse_args(argv)
    detector = CaptionDetector.from_options(CaptionOptions(use_model=not args.lexicon_only))
    if args.eval:
        rows = read_caption_dataset(args.eval, None if args.split == "all" else args.split)
        scores, errors = evaluate_captions(lambda t: {e.kind for e in detector.detect_text(t)}, rows)
        print(f"caption detector {detector.version}: {len(rows)} captions (split {args.split})")
        print(format_table(scores))
        if args.errors:
            for row, pred in errors:
                print(f"  {row.id} [{row.lang}] want={sorted(row.labels)} got={sorted(pred)}: {row.text}")
        return 0
    for text in args.text:
        for e in detector.detect_text(text):
            print(f"{e.kind} {e.score:.2f} {e.explanation}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
