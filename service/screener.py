"""The screening pipeline: `Screener.screen(post) -> Verdict`, the one core call every adapter uses.

Detectors are built once per process from the registry. A detector that cannot be built (missing package) or
that fails on an image is reported in the verdict's `detector_status`, never silently skipped and never fatal for
the other detectors, and the verdict is `incomplete`: nothing that should have looked at the post may be missing
from a `clear`. Only a detector switched off in the settings may be absent; the verdict lists it as `off`.
Every stage is timed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detectors.base import DetectorRegistry, ImageContext, ImageDetector, TextDetector
from detectors.errors import AssetScreenError, ConfigError, DetectorUnavailable, ModelMissing
from detectors.evidence import DecisionLevel, DetectorStatus, Evidence, Post, Verdict
from detectors.recognition.bank import ExampleBank
from detectors.recognition.stage import RecognitionStage, Recognizer
from service.policy import Policy
from service.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuiltDetectors:
    image: tuple[ImageDetector, ...]
    text: tuple[TextDetector, ...]
    unavailable: tuple[DetectorStatus, ...]


def build_detectors(settings: Settings, names: Sequence[str] | None = None) -> BuiltDetectors:
    """The named detectors (default: the configured ones). Fails closed: an unknown name is a ConfigError, a
    missing or corrupt model file a ModelMissing naming it; only an optional package that is not installed
    leaves a detector `unavailable` (reported in every verdict)."""
    image: list[ImageDetector] = []
    text: list[TextDetector] = []
    unavailable: list[DetectorStatus] = []
    for name in names if names is not None else settings.detectors:
        try:
            factory = DetectorRegistry.factory(name)
        except KeyError as exc:
            raise ConfigError(str(exc.args[0])) from None
        try:
            det = factory(settings)
        except DetectorUnavailable as exc:
            if exc.missing_file:
                raise ModelMissing(str(exc)) from None
            unavailable.append(DetectorStatus(name, "unavailable", str(exc)))
            continue
        if isinstance(det, ImageDetector):
            image.append(det)
        elif isinstance(det, TextDetector):
            text.append(det)
        else:  # pragma: no cover - a programming error in a factory
            raise TypeError(f"detector {name} implements neither detect() nor detect_post()")
    return BuiltDetectors(tuple(image), tuple(text), tuple(unavailable))


def example_bank(settings: Settings) -> ExampleBank:
    """The operator's example bank under the data folder, with the configured similarity floor and k."""
    from detectors.recognition.bank import bank_for

    r = settings.recognition
    return bank_for(settings.data_dir, min_similarity=r.bank_min_similarity, k=r.bank_k)


def build_recognizer(settings: Settings) -> Recognizer:
    """The learned stage: shipped MobileNets, the object model, the heads file and the example bank.

    Every file is required and hash-checked: a missing or corrupt one is a ModelMissing naming it (exit 3, HTTP
    503), because a screener without its heads would call a police car `clear`.
    """
    from detectors.recognition.heads import HeadSet
    from detectors.recognition.stage import FeatureExtractor
    from detectors.runtime.manifest import verify_pinned
    from detectors.runtime.mobilenet import shared_pretrained
    from detectors.runtime.yolo import shared_yolo_runner
    from service.settings import WEIGHTS_DIR

    try:
        runner = shared_yolo_runner(settings.yolo)
    except DetectorUnavailable as exc:
        raise ModelMissing(str(exc)) from None
    models = shared_pretrained(WEIGHTS_DIR, threads=settings.yolo.threads)
    heads_path = Path(settings.recognition.heads)
    verify_pinned(heads_path)
    heads = HeadSet.load(heads_path)
    bank = example_bank(settings)
    extractor = FeatureExtractor(models, runner)
    fitted_with = dict(heads.recipe.get("models") or {})
    differ = {k: (v, extractor.versions.get(k)) for k, v in fitted_with.items() if extractor.versions.get(k) != v}
    if differ:
        said = "; ".join(f"{k}: fitted with {a}, configured {b}" for k, (a, b) in sorted(differ.items()))
        raise ConfigError(
            f"heads {heads_path} were fitted on other models' features ({said}): retrain them with "
            "`assetscreen train heads` on this configuration, or configure the models they were fitted with"
        )
    return Recognizer(extractor, heads, bank)


@dataclass(frozen=True)
class TextGate:
    """The OCR gate for one post: detectors whose text is always read, and per learned kind the scores the policy
    compares it with."""

    always: frozenset[str]
    cuts: Mapping[str, Sequence[float]]


_DEFAULT: Any = object()
# Detector statuses that make a verdict incomplete: something that should have looked at the post did not.
# "off" (switched off in settings), "partial" (heads missing some cue inputs) and "skipped" (text left unread
# because it could not change the verdict) are said in the verdict and do not.
INCOMPLETE_STATUSES = frozenset({"unavailable", "error", "not_ready"})


class Screener:
    """Holds the built detectors, the learned stage and the policy; safe to share across requests.

    Built from settings, it always has the learned stage when any image detector runs. Callers that pass their
    own `detectors` (tests, tools) get no learned stage unless they pass `recognizer` too.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        detectors: BuiltDetectors | None = None,
        policy: Policy | None = None,
        recognizer: RecognitionStage | None = _DEFAULT,
    ) -> None:
        self.settings = settings or Settings.load()
        self.detectors = detectors if detectors is not None else build_detectors(self.settings)
        if recognizer is _DEFAULT:
            recognizer = build_recognizer(self.settings) if detectors is None and self.detectors.image else None
        self.recognizer: RecognitionStage | None = recognizer
        self.policy = policy if policy is not None else Policy.load(self.settings.policy)
        self._partial = self._missing_cue_inputs()
        self._off = self._switched_off()
        self._text_keys = self._keys_text_can_change()

    def _missing_cue_inputs(self) -> tuple[DetectorStatus, ...]:
        """A learned stage fitted on cue detectors that are not running here sees those cues as absent: say so."""
        if self.recognizer is None:
            return ()
        missing = sorted(self.recognizer.cue_detectors - {d.name for d in self.detectors.image})
        if not missing:
            return ()
        msg = f"the heads use cues of detectors not running here ({', '.join(missing)}): scores may be lower"
        return (DetectorStatus("recognition", "partial", msg),)

    def _switched_off(self) -> tuple[DetectorStatus, ...]:
        """Default detectors the settings leave out: absent by the operator's choice, said in every verdict."""
        from service.settings import DEFAULT_DETECTORS

        running = {d.name for d in self.detectors.image} | {d.name for d in self.detectors.text}
        running |= {s.detector for s in self.detectors.unavailable}
        return tuple(
            DetectorStatus(name, "off", "switched off in the settings") for name in DEFAULT_DETECTORS
            if name not in running and name not in self.settings.detectors
        )

    @property
    def model_versions(self) -> dict[str, str]:
        dets: list[ImageDetector | TextDetector] = [*self.detectors.image, *self.detectors.text]
        out = {d.name: d.version for d in dets}
        if self.recognizer is not None:
            out.update(self.recognizer.versions)
        return out

    def _run_image_detectors(
        self, dets: Sequence[ImageDetector], ctx: ImageContext, statuses: list[DetectorStatus],
        timings: dict[str, float],
    ) -> tuple[dict[str, list[Evidence]], set[str]]:
        """Each detector once on `ctx`: its evidence by name, and the names of those that asked for text while
        OCR was held back."""
        idx = ctx.index
        found_by: dict[str, list[Evidence]] = {}
        asked: set[str] = set()
        for det in dets:
            t0 = time.perf_counter()
            before = ctx.ocr_requests
            try:
                found = det.detect(ctx)
            except DetectorUnavailable as exc:
                statuses.append(DetectorStatus(det.name, "unavailable", str(exc), idx))
                found = []
            except AssetScreenError as exc:
                statuses.append(DetectorStatus(det.name, "error", str(exc), idx))
                found = []
            except Exception as exc:  # a detector bug must not lose the other detectors' evidence
                log.exception("detector %s failed on image %d", det.name, idx)
                statuses.append(DetectorStatus(det.name, "error", f"{type(exc).__name__}: {exc}", idx))
                found = []
            _add(timings, det.name, (time.perf_counter() - t0) * 1000)
            found_by[det.name] = found
            if ctx.ocr_requests > before:
                asked.add(det.name)
        return found_by, asked

    def _keys_text_can_change(self) -> dict[str, frozenset[str]]:
        """Per image detector, the learned stage's cue keys that reading its text can change (fixed at start)."""
        if self.recognizer is None:
            return {}
        out: dict[str, frozenset[str]] = {}
        for det in self.detectors.image:
            mine = (k for k in self.recognizer.cue_keys if k.split(":", 1)[0] == det.name)
            out[det.name] = frozenset(k for k in mine if text_may_change(det, k.split(":", 1)[1]))
        return out

    def text_gate(self, policy: Policy, caption_present: frozenset[str]) -> TextGate | None:
        """The OCR gate for one post (None: every detector reads its text). A detector whose own evidence a rule
        reads directly (and that rule can still fire with this caption) or that the learned stage does not read
        always reads; the others read only while `_text_matters`."""
        if self.settings.ocr.gate != "learned" or self.recognizer is None:
            return None
        caption_kinds = frozenset(k for d in self.detectors.text for k in d.produces)
        always = frozenset(
            d.name for d in self.detectors.image
            if d.name not in self.recognizer.cue_detectors
            or policy.uses_directly(d.name, d.produces, caption_kinds=caption_kinds, caption_present=caption_present)
        )
        return TextGate(always, policy.score_cuts(self.recognizer.name))

    def _text_matters(
        self, ctx: ImageContext, evidence: Sequence[Evidence], pending: Sequence[ImageDetector], gate: TextGate
    ) -> bool:
        """Whether reading the text of the `pending` detectors could change the verdict: yes if one of them always
        reads; otherwise yes only if, with the cue keys their text can change set to anything at all, some
        learned head's score could land on either side of a score the policy compares it with."""
        if self.recognizer is None or any(d.name in gate.always for d in pending):
            return True
        keys = frozenset().union(*(self._text_keys[d.name] for d in pending))
        return bool(self.recognizer.unsettled(ctx, evidence, keys, gate.cuts))

    def image_evidence(
        self, ctx: ImageContext, statuses: list[DetectorStatus], timings: dict[str, float],
        gate: TextGate | None = None,
    ) -> list[Evidence]:
        """Every image detector on one image, then the learned stage over what they found.

        With a `gate` (`text_gate`; `ocr.gate: learned`, the default) the detectors first run with OCR held back
        (text detection and recognition are most of the cost). The detectors that asked for text are then run
        again with OCR one at a time, cheapest first (`text_cost`), for as long as `_text_matters` says the text
        still unread could change the verdict; text left unread is said in the verdict (status `skipped`).
        Exact: the decision and the rules that fire are those reading every text would give (scores shown may
        differ).
        """
        ctx.ocr = gate is None
        found_by, asked = self._run_image_detectors(self.detectors.image, ctx, statuses, timings)
        # Cheapest reader first (a few crops before a page of lines); after each, ask again with what it read.
        pending = sorted((d for d in self.detectors.image if d.name in asked), key=lambda d: getattr(d, "text_cost", 1))
        while pending and gate is not None:
            so_far = [e for found in found_by.values() for e in found]
            if not self._text_matters(ctx, so_far, pending, gate):
                break
            det = pending.pop(0)
            statuses[:] = [s for s in statuses if not (s.image_index == ctx.index and s.detector == det.name)]
            ctx.ocr = True
            found_by.update(self._run_image_detectors([det], ctx, statuses, timings)[0])
            ctx.ocr = False
        if pending:
            statuses.append(DetectorStatus(
                "ocr", "skipped",
                f"text not read for {', '.join(sorted(d.name for d in pending))}: whatever it said, no learned score "
                "would cross a score the policy compares it with, and no rule reads these detectors directly",
                ctx.index,
            ))
        found_all = [e for found in found_by.values() for e in found]
        if self.recognizer is not None:  # it times itself (stage "shared.recognition")
            try:
                found_all.extend(self.recognizer.recognise(ctx, found_all))
            except Exception as exc:  # the learned stage failing must not pass for "nothing found"
                log.exception("recognition failed on image %d", ctx.index)
                statuses.append(DetectorStatus("recognition", "error", f"{type(exc).__name__}: {exc}", ctx.index))
        return found_all

    def screen(
        self, post: Post, *, policy: Policy | None = None, embeddings: dict[int, Any] | None = None
    ) -> Verdict:
        """Screen one post. `embeddings`, when given, receives each image's embedding (the learned stage's, by
        image index): the service keeps it so a reviewer's decision can join the example bank without the photo."""
        policy = policy or self.policy
        timings: dict[str, float] = {}
        statuses: list[DetectorStatus] = [
            *self._off, *self.detectors.unavailable, *(self._partial if post.images else ())
        ]
        evidence: list[Evidence] = []
        t_start = time.perf_counter()
        for tdet in self.detectors.text:  # first: whether a caption signal is present decides what images need
            t0 = time.perf_counter()
            try:
                evidence.extend(tdet.detect_post(post))
            except Exception as exc:
                log.exception("detector %s failed", tdet.name)
                statuses.append(DetectorStatus(tdet.name, "error", f"{type(exc).__name__}: {exc}"))
            _add(timings, tdet.name, (time.perf_counter() - t0) * 1000)
        gate = self.text_gate(policy, frozenset(e.kind for e in evidence))
        for idx, image in enumerate(post.images):
            ctx = ImageContext(rgb=image.rgb, index=idx, name=image.name)
            found = self.image_evidence(ctx, statuses, timings, gate)
            evidence.extend(e.with_image(idx) for e in found)
            if embeddings is not None and self.recognizer is not None:
                vector = self.recognizer.embedding(ctx)
                if vector is not None:
                    embeddings[idx] = vector
            for stage, ms in ctx.timings_ms.items():
                _add(timings, f"shared.{stage}", ms)
        t0 = time.perf_counter()
        decision, score, findings = policy.evaluate(evidence, post=post)
        if any(st.status in INCOMPLETE_STATUSES for st in statuses):
            decision = DecisionLevel.INCOMPLETE  # the findings stay, for information
        timings["policy"] = (time.perf_counter() - t0) * 1000
        timings["total"] = (time.perf_counter() - t_start) * 1000
        return Verdict(
            decision=decision,
            score=score,
            findings=tuple(findings),
            evidence=tuple(evidence),
            timings_ms=timings,
            model_versions=self.model_versions,
            detector_status=tuple(statuses),
            post_id=post.post_id,
            policy_version=policy.version,
        )


def text_may_change(det: ImageDetector, key: str) -> bool:
    """Whether reading text can change `det`'s cue `key` (`kind` or `cue:NAME`): detectors name those keys in
    `text_keys`; one that does not is assumed to let text change every key."""
    keys = getattr(det, "text_keys", None)
    return keys is None or key in keys


def _add(timings: dict[str, float], key: str, ms: float) -> None:
    timings[key] = timings.get(key, 0.0) + ms


__all__ = ["BuiltDetectors", "DecisionLevel", "Screener", "build_detectors"]
