"""Config as data: strict pydantic models loaded from YAML, unknown keys rejected with the key named."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from detectors.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def describe_errors(exc: ValidationError) -> str:
    """Pydantic errors as 'key.path: message' so the bad key is named."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def validate_model(model: type[M], data: Any, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid {where}: {describe_errors(exc)}") from None


def read_yaml(path: str | Path) -> Any:
    """A YAML file's content; a missing or malformed file is a ConfigError naming it."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p} is not valid YAML: {exc}") from None


def load_yaml_model(model: type[M], path: str | Path) -> M:
    """Load and validate a YAML file against `model`."""
    return validate_model(model, read_yaml(path) or {}, str(path))
