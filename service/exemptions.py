"""Adding an exempt account, the same way from HTTP and from the command line: checked against the policy's
exemption types, stored, and written to the audit log. Kept apart from the HTTP app so the CLI does not load it."""

from __future__ import annotations

from typing import Any

from detectors.errors import BadInput
from service.store import Exemption, Store, stamp


def add_exemption_checked(store: Store, screener_or_policy: Any, data: dict[str, Any], *, actor: str) -> Exemption:
    """Validate an exemption against the policy's exemption types and record it (and who did it)."""
    import datetime as dt

    policy = getattr(screener_or_policy, "policy", screener_or_policy)
    if data["type"] not in policy.exemptions.types:
        raise BadInput(f"unknown exemption type {data['type']!r}; known: {', '.join(sorted(policy.exemptions.types))}")
    if data.get("valid_until"):
        try:
            dt.date.fromisoformat(data["valid_until"])
        except ValueError:
            raise BadInput(f"valid_until is not a date: {data['valid_until']!r}") from None
    ex = Exemption(**{**data, "created_at": stamp(), "created_by": actor})
    store.put_exemption(ex)
    store.audit(actor, "exemption.add", ex.account_id, {k: v for k, v in ex.to_dict().items() if k != "created_at"})
    return ex
