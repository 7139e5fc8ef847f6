"""One submitted post, from bytes to a stored result: the core call every adapter (HTTP, hook command, inbound
webhooks) makes, so that caps, retention and notification are the same whichever way a post arrives.

decode (file count, byte and decoded-pixel budget per post) -> `Screener.screen` -> result row (+ the evidence
rendering and, if retention allows, the originals) -> outbound webhooks for the verdicts subscribers want.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detectors.errors import BadInput, MediaTooLarge
from detectors.evidence import Author, DecisionLevel, Post, PostImage, Verdict
from service.media import decode_image, probe
from service.screener import Screener
from service.settings import Settings
from service.store import ResultRecord, Store, new_id, stamp

EMBEDDING_TYPE = "application/x-float32"


@dataclass(frozen=True)
class Submission:
    """A post as an adapter received it: raw media bytes by name, caption, author claim and who sent it."""

    media: Sequence[tuple[str, bytes]] = ()
    caption: str = ""
    author: Author = field(default_factory=Author)
    post_id: str = ""
    source: str = "http"
    submitted_by: str = ""


def check_submission(sub: Submission, settings: Settings) -> None:
    """The caps that need no decoding: file count, caption and field lengths. BadInput / MediaTooLarge."""
    svc = settings.service
    if not sub.media and not sub.caption.strip():
        raise BadInput("a post needs at least one image or a caption")
    if len(sub.media) > svc.max_files:
        raise MediaTooLarge(f"{len(sub.media)} files; at most {svc.max_files} per post")
    if len(sub.caption) > svc.max_caption_chars:
        raise MediaTooLarge(f"caption of {len(sub.caption)} characters; the limit is {svc.max_caption_chars}")
    for what, value in (("post_id", sub.post_id), ("account_id", sub.author.account_id)):
        if len(value) > svc.max_field_chars:
            raise BadInput(f"{what} is over {svc.max_field_chars} characters")


def decode_post_media(media: Sequence[tuple[str, bytes]], settings: Settings) -> list[PostImage]:
    """Decode every file, refusing before any decoding when the post's total pixel cost (read from the headers)
    is over the per-post budget."""
    budget = settings.service.max_request_pixels
    cost = sum(probe(data, settings.media, name) for name, data in media)
    if cost > budget:
        raise MediaTooLarge(f"the post's images hold {cost / 1e6:.0f} MP; the limit per post is {budget / 1e6:.0f} MP")
    frames: list[PostImage] = []
    for name, data in media:
        frames.extend(decode_image(data, settings.media, name).frames)
    return frames


class ScreeningService:
    """Screens submissions and keeps their results. Thread-safe: the HTTP workers share one instance."""

    def __init__(
        self,
        screener: Screener,
        store: Store,
        *,
        notify: Callable[[ResultRecord], None] | None = None,
        observe: Callable[[Verdict, float], None] | None = None,
    ) -> None:
        self.screener = screener
        self.store = store
        self.settings = screener.settings
        self._notify = notify
        self._observe = observe

    def screen(self, sub: Submission) -> ResultRecord:
        check_submission(sub, self.settings)
        t0 = time.perf_counter()
        frames = decode_post_media(sub.media, self.settings)
        decode_ms = (time.perf_counter() - t0) * 1000
        post = Post(images=tuple(frames), caption=sub.caption, author=sub.author, post_id=sub.post_id)
        embeddings: dict[int, Any] = {}
        verdict = self.screener.screen(post, embeddings=embeddings)
        verdict_dict = verdict.to_dict()
        verdict_dict["timings_ms"] = {"decode": round(decode_ms, 2), **verdict_dict["timings_ms"]}
        # the frames' sizes: the pixel frame every evidence box (and a reviewer's drawn box) is in
        verdict_dict["images"] = [
            {"name": f.name, "width": f.width, "height": f.height, "frame_index": f.frame_index,
             "time_s": f.time_s} for f in frames
        ]
        rec = ResultRecord(
            id=new_id("r"),
            created_at=stamp(),
            decision=verdict.decision.value,
            score=verdict.score,
            verdict=verdict_dict,
            post_id=sub.post_id,
            policy_version=verdict.policy_version,
            source=sub.source,
            submitted_by=sub.submitted_by,
            caption=sub.caption,
            account_claim=sub.author.account_id,
            account_verified=sub.author.verified,
            image_sha256=tuple(hashlib.sha256(data).hexdigest() for _, data in sub.media),
        )
        self.store.save_result(rec)
        self._keep_images(rec, verdict, frames, sub.media)
        for idx, vector in embeddings.items():  # not an image: lets a review decision teach the example bank
            self.store.save_image(rec.id, idx, "embedding", np.asarray(vector, np.float32).tobytes(), EMBEDDING_TYPE)
        if self._observe is not None:
            self._observe(verdict, decode_ms)
        if self._notify is not None:
            self._notify(rec)
        return rec

    def _keep_images(
        self, rec: ResultRecord, verdict: Verdict, frames: Sequence[PostImage], media: Sequence[tuple[str, bytes]]
    ) -> None:
        from service.evidence_image import render

        keep = self.settings.retention
        flagged = verdict.decision != DecisionLevel.CLEAR
        if keep.evidence_images == "all" or (keep.evidence_images == "flagged" and flagged):
            for idx, frame in enumerate(frames):
                found = [e for e in verdict.evidence if e.image_index == idx]
                self.store.save_image(rec.id, idx, "evidence", render(frame.rgb, found), "image/png")
        if keep.originals:
            for idx, (_, data) in enumerate(media):
                self.store.save_image(rec.id, idx, "original", data, "application/octet-stream")


def purge_expired(store: Store, settings: Settings) -> tuple[int, int]:
    """Drop image bytes and results older than the retention settings; (images, results) removed."""
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    r = settings.retention
    images_before = stamp(now - dt.timedelta(days=r.image_days)) if r.image_days else None
    results_before = stamp(now - dt.timedelta(days=r.result_days)) if r.result_days else None
    return store.purge(images_before=images_before, results_before=results_before)
