"""Office insignia: government emblems from a gallery, national flags in official settings, designation plates.

A package by cue family: `config` (files, vocabulary, options), `gallery` (emblems), `flags` (Pakistan flags,
stars, rows of flags), `marks` (letterhead crests, round seals), `seating`, `text` (name plates, office names,
the OCR gate) and `detector` (the detector and its factory).

The Sindh notice forbids photographs of government offices; what shows an office in a photo is its insignia.
Four independent, explainable cues (the first two cheap enough for every image, the text ones gated):

- Emblems: ORB keypoints matched against a gallery of emblem images (the operator's plus our stand-in
  drawings), verified with a RANSAC homography, so scale, rotation, perspective and partial occlusion are
  tolerated and the projected gallery outline says where the emblem is. Gallery features are computed once
  when the detector is built. A gallery entry of kind `office_setting` (an office fixture such as the
  Quaid-e-Azam portrait, registered by the operator) is matched the same way and reported as supporting
  evidence, not as insignia.
- Flags: the Pakistan flag by colour and shape: a dark-green region with a white, concave crescent/star shape
  set in it (a white hoist band beside it raises the score; alone it is too common to count). A large green
  field must show its white at near the flag's true share (tables and lawns carry only a fleck). Where it
  stands decides the kind: indoors, beside people, several in a row -> `insignia`; alone against the sky,
  filling a stock photo, or with red party colours around it -> `flag_only`. The flag's five-point star is
  also found on its own (exactly five deep, alike notches round its centre) in a uniform dark green-to-teal
  field: that finds flags whose green has gone dark or blue under studio light, or whose crescent is folded
  away, where the green test fails. Stars under ~20 px on the 640 px work copy lose their notches.
- Rows of flags of any country: two or more flag-shaped (width/height 0.25..2.2, a hanging drape to a flag
  unfurled), solidly filled fields of one strong flag colour, each with another flag colour or white along one
  whole side (the flag's band, cross or hoist), of one size (heights within 1.3x), vertically aligned and
  side by side. Flag reds and yellows must be far more saturated than skin, wood and brick; greens may be dark
  (national greens in indoor shade). Rows with sky above them are left alone (a ceremony or a street). The
  country is not identified. Plain single-colour panels on a white wall would pass the side test; wide shop
  signs do not (aspect), and rows of one colour (a team's kits, one party's flags) do not (two colours needed).
- Name plates, office signage and official form titles: OCR words matched against word lists in
  detectors/data/insignia.yaml (form titles are empty by default: an FIR heading is the documents detector's).
  Designations count on short lines (a plate, a board) and office names on lines of at most ten words (a
  sign or a letterhead line), not when mentioned inside a running sentence. Lettering inside a vehicle the
  object detector already found is that vehicle's marking and is left to the vehicles detector.
  OCR is the costly stage (~1 s/photo), so by default (`ocr: gated`) it runs here only on page-like images
  (paper, letterheads, boards: mostly near-white), and text lines other detectors already read for the image
  are reused for free through the per-image memo. `reuse` never runs OCR here; `always` runs it everywhere.
- Letterhead crests: on a page whose text lines were already detected, a compact, mirror-symmetric, moderately
  dense mark that is not a text line, at the head of the page. It serves letterheads in Urdu, which the OCR
  cannot read; which body the crest belongs to is not identified.
- Round seals and logos: a large closed circular contour (a drawn seal border) with letter-sized marks arched
  along its rim over at least half the circle and a mirror-symmetric centre. The rim is unwrapped to polar
  coordinates and the seal's concentric border lines removed there first, so bold lettering that touches them
  still counts letter by letter. Photographs seldom hold such a circle; clock faces fail the symmetric centre,
  plain round mirrors and plates the lettered rim. Very fine rim lettering that breaks into specks is missed;
  the body is not identified.
- Seating (supporting evidence only): a row of four or more chairs, or three or more chairs or people at one
  table, from the object detector's boxes when another detector already ran it for the image (no detection of
  its own). It fired on 3 of the 255 evaluation photos, all official meetings; chairs under seated people are
  mostly not boxed.

Not done: a single flag of another country is not recognised (only in a row); small desk flag stands are found
only as Pakistan flags (their pieces are a few pixels on the row cue's work copy); very dark or blue-shifted
Pakistan flags are missed unless their star is seen whole (widening the green test's colour range found as many
false flags as real ones); the Quaid-e-Azam portrait behind a desk is found only once the operator registers
it (`gallery add --kind office_setting`); emblems not in the gallery are found only as letterhead crests on
pages or as round lettered seals, not as shields or crests on backdrops or signs.
"""

from __future__ import annotations

from detectors.insignia.config import (
    BUILTIN_GALLERY,
    DATA_DIR,
    GALLERY_INDEX,
    GALLERY_SIDE,
    VOCABULARY_FILE,
    FlagOptions,
    FlagRowOptions,
    GalleryFile,
    GalleryItem,
    InsigniaOptions,
    SeatingOptions,
    Vocabulary,
)
from detectors.insignia.detector import (
    InsigniaDetector,
    build,
    gallery_dirs,
)
from detectors.insignia.flags import (
    FLAG_HUES,
    GREEN_AROUND_MIN,
    LARGE_FIELD_FRAC,
    LARGE_FIELD_WHITE_MIN,
    LETTERING_PIECE_FRAC,
    LETTERING_PIECES_MAX,
    SOLIDITY_RANGE,
    STAR_DEPTH_SPREAD,
    STAR_MAX_ANGLE_GAP,
    STAR_MIN_PX,
    STAR_SOLIDITY,
    FlagCandidate,
    FlagPiece,
    FlagRow,
    find_flag_rows,
    find_flag_stars,
    find_pakistan_flags,
)
from detectors.insignia.gallery import (
    BRUTE_FORCE_MAX_DESCRIPTORS,
    EmblemGallery,
    EmblemMatch,
    GalleryEmblem,
    describe_emblem,
    read_gallery_file,
)
from detectors.insignia.marks import (
    CREST_DENSITY,
    CREST_MIN_LINES,
    CREST_SYMMETRY_MIN,
    SEAL_MIN_ARC,
    SEAL_MIN_GLYPHS,
    SEAL_MIN_RADIUS,
    SEAL_RING_COVER,
    SEAL_SIDE,
    SEAL_SYMMETRY_MIN,
    CrestCandidate,
    SealCandidate,
    find_letterhead_crests,
    find_round_seals,
)
from detectors.insignia.seating import (
    CHAIR_LABELS,
    TABLE_LABELS,
    Seating,
    find_seating,
)
from detectors.insignia.text import (
    OFFICE_LINE_MAX_WORDS,
    ON_VEHICLE_SHARE,
    TextHit,
    TextMatcher,
    page_like_share,
)

__all__ = [
    "DATA_DIR",
    "BUILTIN_GALLERY",
    "VOCABULARY_FILE",
    "GALLERY_INDEX",
    "GALLERY_SIDE",
    "GalleryItem",
    "GalleryFile",
    "Vocabulary",
    "FlagOptions",
    "FlagRowOptions",
    "SeatingOptions",
    "InsigniaOptions",
    "GalleryEmblem",
    "EmblemMatch",
    "read_gallery_file",
    "describe_emblem",
    "BRUTE_FORCE_MAX_DESCRIPTORS",
    "EmblemGallery",
    "FlagCandidate",
    "find_pakistan_flags",
    "STAR_SOLIDITY",
    "STAR_MIN_PX",
    "STAR_DEPTH_SPREAD",
    "STAR_MAX_ANGLE_GAP",
    "find_flag_stars",
    "SOLIDITY_RANGE",
    "LARGE_FIELD_FRAC",
    "LARGE_FIELD_WHITE_MIN",
    "GREEN_AROUND_MIN",
    "LETTERING_PIECE_FRAC",
    "LETTERING_PIECES_MAX",
    "FLAG_HUES",
    "FlagPiece",
    "FlagRow",
    "find_flag_rows",
    "CrestCandidate",
    "CREST_MIN_LINES",
    "CREST_DENSITY",
    "CREST_SYMMETRY_MIN",
    "find_letterhead_crests",
    "SealCandidate",
    "SEAL_SIDE",
    "SEAL_MIN_RADIUS",
    "SEAL_RING_COVER",
    "SEAL_MIN_GLYPHS",
    "SEAL_MIN_ARC",
    "SEAL_SYMMETRY_MIN",
    "find_round_seals",
    "CHAIR_LABELS",
    "TABLE_LABELS",
    "Seating",
    "find_seating",
    "OFFICE_LINE_MAX_WORDS",
    "ON_VEHICLE_SHARE",
    "TextHit",
    "TextMatcher",
    "page_like_share",
    "InsigniaDetector",
    "gallery_dirs",
    "build",
]
