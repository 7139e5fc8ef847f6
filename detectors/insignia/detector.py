"""The insignia detector: runs the cue families on one image and turns their candidates into evidence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detectors.base import ImageContext, register_detector
from detectors.config import load_yaml_model, validate_model
from detectors.errors import ConfigError, DetectorUnavailable
from detectors.evidence import Evidence, Kind, clip_box
from detectors.insignia.config import (
    BUILTIN_GALLERY,
    GALLERY_INDEX,
    VOCABULARY_FILE,
    InsigniaOptions,
    Vocabulary,
)
from detectors.insignia.flags import (
    find_flag_rows,
    find_pakistan_flags,
)
from detectors.insignia.gallery import (
    EmblemGallery,
)
from detectors.insignia.marks import (
    _cached_text_quads,
    find_letterhead_crests,
    find_round_seals,
)
from detectors.insignia.seating import (
    find_seating,
)
from detectors.insignia.text import (
    ON_VEHICLE_SHARE,
    TextMatcher,
    _cached_ocr_words,
    page_like_share,
)

# ----------------------------------------------------------------------------------------------- detector


class InsigniaDetector:
    name = "insignia"
    version = "insignia-5"
    produces = frozenset({Kind.INSIGNIA.value, Kind.FLAG_ONLY.value, Kind.OFFICE_SETTING.value})
    text_cost = 3  # up to ocr_max_lines lines of a page-like image: the OCR gate reads it last

    def __init__(
        self,
        gallery: EmblemGallery,
        vocabulary: Vocabulary,
        options: InsigniaOptions | None = None,
        ocr_engine: Any = None,
        vehicle_classes: Sequence[str] = ("car", "bus", "truck", "motorcycle"),
    ) -> None:
        self.gallery = gallery
        self.options = options or InsigniaOptions()
        self.text = TextMatcher(vocabulary)
        self.ocr_engine = ocr_engine  # used only with ocr: always
        self.vehicle_classes = frozenset(vehicle_classes)

    def detect(self, ctx: ImageContext) -> list[Evidence]:
        if min(ctx.width, ctx.height) < 24:
            return []
        out: list[Evidence] = []
        out.extend(self._emblems(ctx))
        out.extend(self._flags(ctx, emblem_found=any(e.kind == Kind.INSIGNIA.value for e in out)))
        out.extend(self._flag_rows(ctx))
        out.extend(self._text(ctx))
        out.extend(self._crests(ctx))
        out.extend(self._seals(ctx))
        out.extend(self._seating(ctx))
        return out

    def _seating(self, ctx: ImageContext) -> list[Evidence]:
        so = self.options.seating
        if not so.enabled:
            return []
        detections = [d for _, found in ctx.cached("yolo") for d in (found or [])]
        out = []
        for s in find_seating(detections, so):
            what = f"a row of {s.chairs} chairs" if s.arrangement == "row" else f"{s.chairs} seats taken at a table"
            out.append(
                self._ev(
                    Kind.OFFICE_SETTING.value,
                    "rows of chairs" if s.arrangement == "row" else "meeting table",
                    0.5,
                    f"{what} (object detector boxes): a hall or meeting room; supporting evidence only",
                    s.box,
                    ctx,
                    cue="seating",
                    arrangement=s.arrangement,
                    chairs=s.chairs,
                )
            )
        return out

    def _ev(
        self, kind: str, label: str, score: float, explanation: str, box: Any, ctx: ImageContext, **details: Any
    ) -> Evidence:
        b = None if box is None else clip_box(box, ctx.width, ctx.height)
        return Evidence(
            kind=kind,
            label=label,
            score=float(min(max(score, 0.0), 1.0)),
            detector=self.name,
            detector_version=self.version,
            explanation=explanation,
            box=b,
            details=details,
        )

    def _emblems(self, ctx: ImageContext) -> list[Evidence]:
        out = []
        for m in self.gallery.match(ctx.gray(), self.options):
            xs, ys = m.outline[:, 0], m.outline[:, 1]
            score = 0.55 + 0.45 * min(1.0, (m.inliers - self.options.min_inliers) / 40)
            what = "emblem" if m.emblem.kind == Kind.INSIGNIA.value else "office fixture"
            out.append(
                self._ev(
                    m.emblem.kind,
                    f"{what}: {m.emblem.body}",
                    score,
                    f"gallery {what} {m.emblem.name!r} matched with {m.inliers} geometrically consistent keypoints",
                    (xs.min(), ys.min(), xs.max(), ys.max()),
                    ctx,
                    cue="emblem",
                    emblem=m.emblem.name,
                    body=m.emblem.body,
                    inliers=m.inliers,
                    matches=m.matches,
                    outline=[[round(float(x), 1), round(float(y), 1)] for x, y in m.outline],
                )
            )
        return out

    def _flags(self, ctx: ImageContext, emblem_found: bool) -> list[Evidence]:
        fo = self.options.flags
        flags = find_pakistan_flags(ctx.rgb, fo)
        if not flags:
            return []
        several = len(flags) >= 2
        out = []
        official = 0
        for f in flags:
            details = dict(
                cue="flag",
                flag="Pakistan",
                shape=f.cue,
                area_frac=round(f.area_frac, 4),
                sky_around=round(f.sky_around, 3),
                party_colours_around=round(f.party_around, 3),
            )
            if f.party_around >= fo.party_frac:
                why = "red/black party colours beside the green: a party flag, not an official one"
            elif f.sky_around >= fo.sky_frac and not several and not emblem_found:
                why = "flag against the sky with nothing official around it"
            elif f.area_frac >= fo.dominant_frac and not several and not emblem_found:
                why = "the flag fills the picture (a flag photo, not a setting)"
            else:
                why = ""
            if why:
                out.append(
                    self._ev(
                        Kind.FLAG_ONLY.value,
                        "Pakistan flag, no official setting",
                        f.score,
                        f"Pakistan flag ({f.cue}) but {why}",
                        f.box,
                        ctx,
                        **details,
                    )
                )
                continue
            official += 1
            setting = (
                "several flags in a row"
                if several
                else ("beside an emblem" if emblem_found else "indoors / beside people, not against the sky")
            )
            out.append(
                self._ev(
                    Kind.INSIGNIA.value,
                    "Pakistan flag in an official setting",
                    f.score,
                    f"Pakistan flag ({f.cue}): green field with its white parts, {setting}",
                    f.box,
                    ctx,
                    **details,
                    setting=setting,
                )
            )
        if official:
            out.append(
                self._ev(
                    Kind.OFFICE_SETTING.value,
                    "flags displayed (desk, podium or office)",
                    0.5 if official == 1 else 0.65,
                    f"{official} Pakistan flag(s) displayed away from the open sky",
                    None,
                    ctx,
                    cue="flag_display",
                    flags=official,
                )
            )
        return out

    def _flag_rows(self, ctx: ImageContext) -> list[Evidence]:
        ro = self.options.flag_rows
        if not ro.enabled:
            return []
        out = []
        for row in find_flag_rows(ctx.rgb, ro):
            if row.sky_above >= ro.max_sky_above:
                continue  # flags flying in the open: a ceremony or a street, not shown as an office setting here
            out.append(
                self._ev(
                    Kind.INSIGNIA.value,
                    "row of flags (country not identified)",
                    0.5,
                    f"{row.count} flag-shaped, saturated colour fields of one size side by side "
                    f"({', '.join(row.colours)}), each beside another colour or white: flags displayed in a row",
                    row.box,
                    ctx,
                    cue="flag_row",
                    flags=row.count,
                    colours=list(row.colours),
                    sky_above=round(row.sky_above, 3),
                )
            )
        return out

    def _crests(self, ctx: ImageContext) -> list[Evidence]:
        if not self.options.crests:
            return []
        out = []
        for c in find_letterhead_crests(ctx.rgb, _cached_text_quads(ctx))[:2]:
            out.append(
                self._ev(
                    Kind.INSIGNIA.value,
                    "letterhead crest (unidentified)",
                    0.5,
                    f"a compact, mirror-symmetric emblem-like mark (symmetry {c.symmetry:.2f}) that is not text, at "
                    f"the head of a page of {c.lines} text lines: a letterhead crest or seal, body not identified",
                    c.box,
                    ctx,
                    cue="letterhead_crest",
                    ink_density=round(c.ink_density, 3),
                    symmetry=round(c.symmetry, 3),
                    lines=c.lines,
                )
            )
        return out

    def _seals(self, ctx: ImageContext) -> list[Evidence]:
        if not self.options.seals:
            return []
        out = []
        for c in find_round_seals(ctx.rgb)[:2]:
            out.append(
                self._ev(
                    Kind.INSIGNIA.value,
                    "round seal or logo (unidentified)",
                    0.5,
                    f"a circular border with {c.glyphs} letter-sized marks arched along its rim and a mirror-symmetric "
                    f"centre (symmetry {c.symmetry:.2f}): an official-style round seal or logo, body not identified",
                    c.box,
                    ctx,
                    cue="round_seal",
                    glyphs=c.glyphs,
                    arc=round(c.arc, 3),
                    symmetry=round(c.symmetry, 3),
                )
            )
        return out

    def _text(self, ctx: ImageContext) -> list[Evidence]:
        mode = self.options.ocr
        if mode == "never":
            return []
        words = _cached_ocr_words(ctx)
        run_here = mode == "always" or (mode == "gated" and page_like_share(ctx.rgb) >= self.options.ocr_gate_white)
        if self.ocr_engine is not None and run_here:
            from detectors.runtime.ocr import LineRecognizer, ocr_words, read_quads, text_quads

            engine = self.ocr_engine
            reads_lines = isinstance(engine, LineRecognizer)
            if reads_lines:
                # Text detection at the documents detector's size and per-line recognition, both memoised per
                # image, so a page another detector reads is detected once and each line recognised once.
                quads = text_quads(ctx, engine, self.options.ocr_det_side)
                quads = sorted(quads, key=lambda q: min(p[1] for p in q))[: self.options.ocr_max_lines]
                extra = [w for w in read_quads(ctx, engine, quads) if w is not None]
            else:
                extra = list(ocr_words(ctx, engine))
            words = extra + [w for w in (words or []) if w not in extra]
        if not words:
            return []
        out = []
        seen: set[tuple[str, str]] = set()
        vehicles = self._vehicle_boxes(ctx)
        for hit in self.text.hits(words):
            if (hit.what, hit.phrase) in seen or any(_inside_share(hit.box, v) >= ON_VEHICLE_SHARE for v in vehicles):
                continue  # repeated, or lettering on a vehicle (the vehicles detector reports markings)
            seen.add((hit.what, hit.phrase))
            if hit.what == "designation":
                out.append(
                    self._ev(
                        Kind.INSIGNIA.value,
                        f"designation: {hit.phrase}",
                        0.6,
                        f"OCR read {hit.text!r} (designation {hit.phrase!r}) on a short line (plate, board or heading)",
                        hit.box,
                        ctx,
                        cue="designation",
                        phrase=hit.phrase,
                        text=hit.text,
                    )
                )
            elif hit.what == "form":
                out.append(
                    self._ev(
                        Kind.INSIGNIA.value,
                        f"official form: {hit.phrase}",
                        0.5,
                        f"OCR read the heading {hit.text!r}: the title of an official form ({hit.phrase!r}), which is "
                        "issued under the office's seal",
                        hit.box,
                        ctx,
                        cue="form_title",
                        phrase=hit.phrase,
                        text=hit.text,
                    )
                )
            else:
                out.append(
                    self._ev(
                        Kind.INSIGNIA.value,
                        f"office name: {hit.phrase}",
                        0.55,
                        f"OCR read {hit.text!r} naming a government office ({hit.phrase!r})",
                        hit.box,
                        ctx,
                        cue="office_text",
                        phrase=hit.phrase,
                        text=hit.text,
                    )
                )
        return out

    def _vehicle_boxes(self, ctx: ImageContext) -> list[tuple[float, float, float, float]]:
        """Vehicles the object detector already found in this image (no new work: the memo only)."""
        return [
            d.box
            for _, found in ctx.cached("yolo")
            for d in (found or [])
            if getattr(d, "label", None) in self.vehicle_classes
        ]


def _inside_share(box: Sequence[float], outer: Sequence[float]) -> float:
    """Share of `box`'s area that lies inside `outer` (both xyxy)."""
    iw = max(0.0, min(box[2], outer[2]) - max(box[0], outer[0]))
    ih = max(0.0, min(box[3], outer[3]) - max(box[1], outer[1]))
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-6)
    return iw * ih / area


def gallery_dirs(settings: Any, opts: InsigniaOptions) -> list[Path]:
    dirs = [BUILTIN_GALLERY] if opts.builtin_gallery else []
    if opts.user_gallery:
        dirs.append(Path(settings.data_dir) / "gallery")
    dirs.extend(Path(d) for d in opts.gallery_dirs)
    for d in opts.gallery_dirs:
        if not (Path(d) / GALLERY_INDEX).is_file():
            raise ConfigError(f"insignia gallery {d} has no {GALLERY_INDEX}")
    return dirs


@register_detector("insignia")
def build(settings: Any) -> InsigniaDetector:
    opts = validate_model(InsigniaOptions, settings.options_for("insignia"), "detector_options.insignia")
    vocab = load_yaml_model(Vocabulary, opts.vocabulary or VOCABULARY_FILE)
    gallery = EmblemGallery.load(gallery_dirs(settings, opts))
    engine = None
    if opts.ocr in ("gated", "always"):
        from detectors.runtime.ocr import ocr_engine_for

        try:
            engine = ocr_engine_for(settings)
        except DetectorUnavailable as exc:
            raise DetectorUnavailable("insignia", f"ocr: {opts.ocr} needs an OCR engine: {exc}") from None
    yolo = getattr(settings, "yolo", None)
    classes = getattr(yolo, "vehicle_classes", None) or ("car", "bus", "truck", "motorcycle")
    return InsigniaDetector(gallery, vocab, opts, engine, vehicle_classes=classes)


