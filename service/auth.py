"""API keys on HTTP: `Authorization: Bearer <token>` on every endpoint but liveness, and what each role may do.

- screen: submit posts (POST /v1/screen, /v1/hook) and read the results it submitted.
- integration: as screen, and its account claims are trusted (a platform adapter that knows who posted), so the
  para-5 exemption can apply. Any other caller's claim is recorded and never honoured.
- review: read every result and its evidence, record review decisions.
- admin: everything, including exemptions and the audit log.
"""

from __future__ import annotations

from detectors.errors import AssetScreenError
from service.store import ApiKey, Role, Store

SUBMIT: frozenset[Role] = frozenset({"screen", "integration", "admin"})
READ_ALL: frozenset[Role] = frozenset({"review", "admin"})
ADMIN: frozenset[Role] = frozenset({"admin"})
ANY: frozenset[Role] = frozenset({"screen", "integration", "review", "admin"})


class Unauthorized(AssetScreenError):
    http_status = 401
    exit_code = 2


class Forbidden(AssetScreenError):
    http_status = 403
    exit_code = 2


def authenticate(store: Store, header: str | None) -> ApiKey:
    """The active key named by an `Authorization: Bearer` header; Unauthorized otherwise (never says which part
    was wrong beyond missing / malformed / not valid)."""
    if not header:
        raise Unauthorized("an API key is required: Authorization: Bearer <key>")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use Authorization: Bearer <key>")
    key = store.key_for_token(token.strip())
    if key is None or not key.active:
        raise Unauthorized("the API key is not valid (unknown or revoked)")
    return key


def require(key: ApiKey, roles: frozenset[Role], what: str) -> ApiKey:
    if key.role not in roles:
        raise Forbidden(f"a {key.role} key may not {what}")
    return key
