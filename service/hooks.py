"""The hook other moderation tools call: one post as JSON, served at POST /v1/hook and by `assetscreen hook`.

Over HTTP media arrive as base64 (`images_b64`); the core never fetches URLs (no SSRF surface). The command
line may also name files (`media_paths`), which HTTP refuses: a web caller must never make the server read
its own files.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from detectors.config import Strict, describe_errors
from detectors.errors import BadInput
from detectors.evidence import Author
from service.pipeline import Submission


class HookAuthor(Strict):
    account_id: str = Field("", max_length=512)
    display_name: str = Field("", max_length=512)
    group_id: str | None = Field(None, max_length=512)
    group_admins: list[str] = Field(default_factory=list, max_length=100)


class HookRequest(Strict):
    post_id: str = Field("", max_length=512)
    caption: str = ""
    author: HookAuthor = Field(default_factory=HookAuthor)
    images_b64: list[str] = Field(default_factory=list, max_length=32)
    media_paths: list[str] = Field(default_factory=list, max_length=32, description="command line only")


def submission_from_hook(
    payload: Any, *, source: str, submitted_by: str, verified: bool, allow_paths: bool = False
) -> Submission:
    """Validate a hook payload (a dict) into a Submission. BadInput naming the bad key or item."""
    try:
        req = HookRequest.model_validate(payload)
    except ValidationError as exc:
        raise BadInput(f"invalid hook request: {describe_errors(exc)}") from None
    media: list[tuple[str, bytes]] = []
    for i, b64 in enumerate(req.images_b64):
        try:
            media.append((f"image{i + 1}", base64.b64decode(b64, validate=True)))
        except (binascii.Error, ValueError):
            raise BadInput(f"images_b64[{i}] is not valid base64") from None
    if req.media_paths and not allow_paths:
        raise BadInput("media_paths is accepted only by the command line; send images_b64")
    for i, name in enumerate(req.media_paths):
        path = Path(name)
        try:
            media.append((path.name, path.read_bytes()))
        except OSError as exc:
            raise BadInput(f"media_paths[{i}]: cannot read {name}: {exc.strerror or exc}") from None
    a = req.author
    author = Author(account_id=a.account_id, display_name=a.display_name, group_id=a.group_id,
                    group_admins=tuple(a.group_admins), verified=verified)
    return Submission(media=media, caption=req.caption, author=author, post_id=req.post_id, source=source,
                      submitted_by=submitted_by)
