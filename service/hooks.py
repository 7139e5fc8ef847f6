"""The hook other moderation tools call: a Python function and its JSON shape (also served at POST /v1/hook).

Media arrives as bytes (base64 in JSON); the core never fetches URLs (no SSRF surface).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from pydantic import Field, ValidationError

from detectors.config import Strict, describe_errors
from detectors.errors import BadInput
from detectors.evidence import Author, Post, PostImage, Verdict
from service.media import decode_image
from service.screener import Screener


class HookAuthor(Strict):
    account_id: str = ""
    display_name: str = ""
    group_id: str | None = None
    group_admins: list[str] = Field(default_factory=list, max_length=100)


class HookRequest(Strict):
    post_id: str = ""
    caption: str = ""
    author: HookAuthor = Field(default_factory=HookAuthor)
    images_b64: list[str] = Field(default_factory=list, max_length=32)


def screen_media(
    screener: Screener,
    media: Sequence[tuple[str, bytes]],
    *,
    caption: str = "",
    author: Author | None = None,
    post_id: str = "",
) -> Verdict:
    """Decode (name, bytes) pairs and screen them as one post. Raises BadInput subclasses on bad media."""
    frames: list[PostImage] = []
    for name, data in media:
        frames.extend(decode_image(data, screener.settings.media, name).frames)
    return screener.screen(Post(images=tuple(frames), caption=caption, author=author or Author(), post_id=post_id))


def handle_hook(screener: Screener, payload: Any) -> dict[str, Any]:
    """Validate a hook payload (dict), screen it, return the verdict as a dict."""
    try:
        req = HookRequest.model_validate(payload)
    except ValidationError as exc:
        raise BadInput(f"invalid hook request: {describe_errors(exc)}") from None
    media = []
    for i, b64 in enumerate(req.images_b64):
        try:
            media.append((f"image{i + 1}", base64.b64decode(b64, validate=True)))
        except (binascii.Error, ValueError):
            raise BadInput(f"images_b64[{i}] is not valid base64") from None
    if not media and not req.caption:
        raise BadInput("a post needs at least one image or a caption")
    a = req.author
    author = Author(
        account_id=a.account_id,
        display_name=a.display_name,
        group_id=a.group_id,
        group_admins=tuple(a.group_admins),
    )
    return screen_media(screener, media, caption=req.caption, author=author, post_id=req.post_id).to_dict()
