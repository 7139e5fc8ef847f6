"""The project's exceptions, each with a fixed HTTP status and CLI exit code. Messages are safe to show users."""

from __future__ import annotations


class AssetScreenError(Exception):
    http_status = 500
    exit_code = 1


class BadInput(AssetScreenError):
    """The request or file cannot be processed as given (corrupt, wrong type, empty)."""

    http_status = 400
    exit_code = 2


class UnsupportedMedia(BadInput):
    http_status = 415


class MediaTooLarge(BadInput):
    """Over a byte or pixel cap (including decompression bombs)."""

    http_status = 413


class ConfigError(AssetScreenError):
    """A settings or policy file is missing or invalid; the message names the file and the bad key."""

    http_status = 500
    exit_code = 2


class ModelMissing(AssetScreenError):
    """A required model file is absent; the message says which file and how to provide it."""

    http_status = 503
    exit_code = 3


class DetectorUnavailable(AssetScreenError):
    """A detector cannot run here: a model file is missing or an optional package is not installed.

    The message says which file or package and how to provide it; the screener reports it in every verdict.
    """

    http_status = 503
    exit_code = 3

    def __init__(self, detector: str, message: str, *, missing_file: str | None = None) -> None:
        super().__init__(f"{detector}: {message}")
        self.detector = detector
        self.missing_file = missing_file
