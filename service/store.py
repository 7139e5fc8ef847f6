"""The service's memory: results, API keys, exemptions, webhooks and their deliveries, and an audit log.

One small interface (`Store`), two implementations: `SqlStore` (SQLAlchemy 2; SQLite in WAL mode under the data
folder by default, PostgreSQL by URL; the schema is created and upgraded by the Alembic migrations in
`service/migrations/`) and `MemoryStore` (a dict-backed fake for tests, held to the same contract tests).

What is kept and why:
- results: the verdict as returned (findings, evidence, timings, model and policy versions), who submitted it,
  the account the caller claimed and whether that claim was trusted. Image bytes are not results: only the
  redacted evidence rendering of flagged results (so a reviewer can see them) unless retention says otherwise.
- API keys: only a SHA-256 of the token (tokens are 32 random bytes, so a fast hash is enough) and a short
  prefix to tell keys apart in listings.
- the audit log is append-only and each row carries the hash of the previous row, so an edited or deleted row
  breaks the chain where it happened (`verify_audit`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from detectors.errors import BadInput, ConfigError

Role = Literal["screen", "review", "admin", "integration"]
ROLES: tuple[Role, ...] = ("screen", "review", "admin", "integration")
ImageKind = Literal["evidence", "original", "embedding"]  # embedding: float32 bytes, kept with the result
TOKEN_PREFIX = "as_"
GENESIS = "0" * 64


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp(t: dt.datetime | None = None) -> str:
    """UTC timestamps as fixed-width ISO strings: portable across databases and sortable as text."""
    t = (t or utcnow()).astimezone(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> dt.datetime:
    """An ISO date or time given by a user (`since=`), as UTC; BadInput when it is not one."""
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"not an ISO date or time: {text!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


# --- records -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultRecord:
    id: str
    created_at: str
    decision: str
    score: float
    verdict: dict[str, Any]
    post_id: str = ""
    policy_version: str = ""
    source: str = "http"  # http | hook | cli | mastodon | scan
    submitted_by: str = ""  # the API key's name
    caption: str = ""
    account_claim: str = ""
    account_verified: bool = False
    image_sha256: tuple[str, ...] = ()

    @property
    def model_versions(self) -> dict[str, str]:
        return dict(self.verdict.get("model_versions", {}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "source": self.source,
            "submitted_by": self.submitted_by,
            "caption": self.caption,
            "author": {"account_id": self.account_claim, "verified": self.account_verified},
            "image_sha256": list(self.image_sha256),
            **self.verdict,
        }


@dataclass(frozen=True)
class ApiKey:
    name: str
    role: Role
    prefix: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "prefix": self.prefix,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class Exemption:
    account_id: str
    type: str
    name: str = ""
    reference: str = ""
    valid_until: str | None = None  # YYYY-MM-DD, inclusive
    created_at: str = ""
    created_by: str = ""

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_until is None or dt.date.fromisoformat(self.valid_until) >= day

    def to_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "type": self.type,
            "name": self.name,
            "reference": self.reference,
            "valid_until": self.valid_until,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    secret: str
    events: tuple[str, ...]
    created_at: str
    active: bool = True

    def to_dict(self) -> dict[str, Any]:  # never the secret
        return {"id": self.id, "url": self.url, "events": list(self.events), "created_at": self.created_at,
                "active": self.active}


@dataclass(frozen=True)
class Delivery:
    id: str
    webhook_id: str
    event: str
    payload: dict[str, Any]
    status: str = "pending"  # pending | delivered | dead
    attempts: int = 0
    last_status: int | None = None
    last_error: str = ""
    created_at: str = ""
    updated_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "webhook_id": self.webhook_id,
            "event": self.event,
            "status": self.status,
            "attempts": self.attempts,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class ReviewDecision:
    """A reviewer's decision on a result: confirm it, dismiss it, or correct its kinds (and boxes)."""

    id: str
    result_id: str
    reviewer: str
    decision: str  # confirm | dismiss | correct
    kinds: tuple[str, ...] = ()
    boxes: tuple[dict[str, Any], ...] = ()  # {"image": i, "kind": k, "box": [x1, y1, x2, y2]} in image pixels
    note: str = ""
    examples: tuple[str, ...] = ()  # example-bank ids this decision added
    created_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "result_id": self.result_id, "reviewer": self.reviewer, "decision": self.decision,
                "kinds": list(self.kinds), "boxes": list(self.boxes), "note": self.note,
                "examples": list(self.examples), "created_at": self.created_at}


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS
    hash: str = ""

    def body(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "actor": self.actor, "action": self.action,
                "subject": self.subject, "detail": self.detail}

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "prev_hash": self.prev_hash, "hash": self.hash}


def chain_hash(prev_hash: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def check_chain(entries: Sequence[AuditEntry]) -> int | None:
    """The seq of the first entry that breaks the hash chain (edited, removed or reordered), or None."""
    prev = GENESIS
    expected_seq = 1
    for e in entries:
        if e.seq != expected_seq or e.prev_hash != prev or chain_hash(prev, e.body()) != e.hash:
            return e.seq
        prev = e.hash
        expected_seq += 1
    return None


# --- the interface -------------------------------------------------------------------------------------------


class Store(Protocol):
    """What the service keeps. Every implementation passes tests/test_store.py."""

    # results
    def save_result(self, rec: ResultRecord) -> None: ...
    def get_result(self, result_id: str) -> ResultRecord | None: ...
    def list_results(
        self, *, decision: str | None = None, since: str | None = None, before: str | None = None, limit: int = 100
    ) -> list[ResultRecord]: ...
    def save_image(self, result_id: str, index: int, kind: ImageKind, data: bytes, media_type: str) -> None: ...
    def get_image(self, result_id: str, index: int, kind: ImageKind) -> tuple[bytes, str] | None: ...
    def purge(self, *, images_before: str | None, results_before: str | None) -> tuple[int, int]: ...

    # keys
    def add_key(self, name: str, role: Role) -> tuple[ApiKey, str]: ...
    def key_for_token(self, token: str) -> ApiKey | None: ...
    def list_keys(self) -> list[ApiKey]: ...
    def revoke_key(self, name: str) -> ApiKey: ...

    # exemptions
    def put_exemption(self, ex: Exemption) -> None: ...
    def remove_exemption(self, account_id: str) -> bool: ...
    def get_exemption(self, account_id: str) -> Exemption | None: ...
    def list_exemptions(self) -> list[Exemption]: ...

    # webhooks
    def add_webhook(self, url: str, secret: str, events: Sequence[str]) -> Webhook: ...
    def list_webhooks(self) -> list[Webhook]: ...
    def remove_webhook(self, webhook_id: str) -> bool: ...
    def save_delivery(self, d: Delivery) -> None: ...
    def list_deliveries(self, *, status: str | None = None, limit: int = 100) -> list[Delivery]: ...

    # review decisions
    def add_decision(self, d: ReviewDecision) -> None: ...
    def list_decisions(self, *, result_id: str | None = None, limit: int | None = None) -> list[ReviewDecision]: ...

    # audit
    def audit(self, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None) -> AuditEntry: ...
    def audit_entries(self, *, after: int = 0, limit: int | None = None) -> list[AuditEntry]: ...

    def close(self) -> None: ...


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise BadInput(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role  # type: ignore[return-value]


def _check_key_name(name: str) -> str:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise BadInput("a key name is 1-64 letters, digits, '-', '_' or '.'")
    return name


def verify_audit(store: Store) -> int | None:
    """The seq of the first broken audit row, or None when the whole chain holds."""
    return check_chain(store.audit_entries())


# --- in memory -----------------------------------------------------------------------------------------------


class MemoryStore:
    """A dict-backed Store for tests and one-shot runs; nothing survives the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.results: dict[str, ResultRecord] = {}
        self.images: dict[tuple[str, int, str], tuple[bytes, str]] = {}
        self.keys: dict[str, tuple[ApiKey, str]] = {}  # name -> (key, token hash)
        self.exemptions: dict[str, Exemption] = {}
        self.webhooks: dict[str, Webhook] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.entries: list[AuditEntry] = []
        self.decisions: list[ReviewDecision] = []

    def save_result(self, rec: ResultRecord) -> None:
        with self._lock:
            if rec.id in self.results:
                raise BadInput(f"result {rec.id} exists")
            self.results[rec.id] = rec

    def get_result(self, result_id: str) -> ResultRecord | None:
        return self.results.get(result_id)

    def list_results(
        self, *, decision: str | None = None, since: str | None = None, before: str | None = None, limit: int = 100
    ) -> list[ResultRecord]:
        rows = [
            r
            for r in self.results.values()
            if (decision is None or r.decision == decision)
            and (since is None or r.created_at >= since)
            and (before is None or r.created_at < before)
        ]
        rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return rows[:limit]

    def save_image(self, result_id: str, index: int, kind: ImageKind, data: bytes, media_type: str) -> None:
        with self._lock:
            self.images[(result_id, index, kind)] = (bytes(data), media_type)

    def get_image(self, result_id: str, index: int, kind: ImageKind) -> tuple[bytes, str] | None:
        return self.images.get((result_id, index, kind))

    def purge(self, *, images_before: str | None, results_before: str | None) -> tuple[int, int]:
        with self._lock:
            n_img = n_res = 0
            for key in list(self.images):
                rec = self.results.get(key[0])
                if rec is None or (images_before is not None and key[2] != "embedding"
                                   and rec.created_at < images_before):
                    del self.images[key]
                    n_img += 1
            if results_before is not None:
                for rid, rec in list(self.results.items()):
                    if rec.created_at < results_before:
                        del self.results[rid]
                        self.decisions = [d for d in self.decisions if d.result_id != rid]
                        n_res += 1
                        for key in [k for k in self.images if k[0] == rid]:
                            del self.images[key]
            return n_img, n_res

    def add_key(self, name: str, role: Role) -> tuple[ApiKey, str]:
        _check_key_name(name)
        _check_role(role)
        with self._lock:
            if name in self.keys:
                raise BadInput(f"a key named {name} exists (revoked keys keep their name)")
            token = new_token()
            key = ApiKey(name=name, role=role, prefix=token[:10], created_at=stamp())
            self.keys[name] = (key, token_hash(token))
            return key, token

    def key_for_token(self, token: str) -> ApiKey | None:
        h = token_hash(token)
        for key, kh in self.keys.values():
            if secrets.compare_digest(kh, h):
                return key
        return None

    def list_keys(self) -> list[ApiKey]:
        return sorted((k for k, _ in self.keys.values()), key=lambda k: k.name)

    def revoke_key(self, name: str) -> ApiKey:
        with self._lock:
            if name not in self.keys:
                raise BadInput(f"no key named {name}")
            key, h = self.keys[name]
            if key.revoked_at is None:
                key = replace(key, revoked_at=stamp())
                self.keys[name] = (key, h)
            return key

    def put_exemption(self, ex: Exemption) -> None:
        with self._lock:
            self.exemptions[ex.account_id] = ex

    def remove_exemption(self, account_id: str) -> bool:
        with self._lock:
            return self.exemptions.pop(account_id, None) is not None

    def get_exemption(self, account_id: str) -> Exemption | None:
        return self.exemptions.get(account_id)

    def list_exemptions(self) -> list[Exemption]:
        return sorted(self.exemptions.values(), key=lambda e: e.account_id)

    def add_webhook(self, url: str, secret: str, events: Sequence[str]) -> Webhook:
        hook = Webhook(id=new_id("wh"), url=url, secret=secret, events=tuple(events), created_at=stamp())
        with self._lock:
            self.webhooks[hook.id] = hook
        return hook

    def list_webhooks(self) -> list[Webhook]:
        return sorted(self.webhooks.values(), key=lambda w: w.created_at)

    def remove_webhook(self, webhook_id: str) -> bool:
        with self._lock:
            return self.webhooks.pop(webhook_id, None) is not None

    def save_delivery(self, d: Delivery) -> None:
        with self._lock:
            self.deliveries[d.id] = d

    def list_deliveries(self, *, status: str | None = None, limit: int = 100) -> list[Delivery]:
        rows = [d for d in self.deliveries.values() if status is None or d.status == status]
        rows.sort(key=lambda d: (d.created_at, d.id), reverse=True)
        return rows[:limit]

    def add_decision(self, d: ReviewDecision) -> None:
        with self._lock:
            if d.result_id not in self.results:
                raise BadInput(f"no result {d.result_id}")
            self.decisions.append(d)

    def list_decisions(self, *, result_id: str | None = None, limit: int | None = None) -> list[ReviewDecision]:
        rows = [d for d in self.decisions if result_id is None or d.result_id == result_id]
        rows.sort(key=lambda d: (d.created_at, d.id))
        return rows[:limit] if limit is not None else rows

    def audit(self, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None) -> AuditEntry:
        with self._lock:
            prev = self.entries[-1].hash if self.entries else GENESIS
            entry = AuditEntry(len(self.entries) + 1, stamp(), actor, action, subject, dict(detail or {}), prev)
            entry = replace(entry, hash=chain_hash(prev, entry.body()))
            self.entries.append(entry)
            return entry

    def audit_entries(self, *, after: int = 0, limit: int | None = None) -> list[AuditEntry]:
        rows = [e for e in self.entries if e.seq > after]
        return rows[:limit] if limit is not None else rows

    def close(self) -> None:
        pass


# --- SQL -----------------------------------------------------------------------------------------------------


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{(Path(data_dir) / 'assetscreen.db').resolve()}"


class SqlStore:
    """SQLAlchemy Core over the schema the Alembic migrations create (upgraded to head when opened)."""

    def __init__(self, url: str, *, upgrade: bool = True) -> None:
        import sqlalchemy as sa

        from service import schema

        self.url = url
        self._t = schema
        kwargs: dict[str, Any] = {"future": True}
        if url.startswith("sqlite"):
            if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        try:
            self.engine = sa.create_engine(url, **kwargs)
        except (sa.exc.ArgumentError, ImportError, ValueError) as exc:
            raise ConfigError(f"store URL {redact_url(url)} is not usable: {exc}") from None
        if url.startswith("sqlite"):
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._audit_lock = threading.Lock()
        if upgrade:
            from service.migrations import upgrade_to_head

            upgrade_to_head(self.engine)

    # plumbing
    def _begin(self) -> Any:
        return self.engine.begin()

    # results
    def save_result(self, rec: ResultRecord) -> None:
        t = self._t.results
        with self._begin() as c:
            c.execute(
                t.insert().values(
                    id=rec.id, created_at=rec.created_at, decision=rec.decision, score=rec.score,
                    post_id=rec.post_id, policy_version=rec.policy_version, source=rec.source,
                    submitted_by=rec.submitted_by, caption=rec.caption, account_claim=rec.account_claim,
                    account_verified=rec.account_verified, image_sha256=json.dumps(list(rec.image_sha256)),
                    verdict=json.dumps(rec.verdict, ensure_ascii=False),
                )
            )

    def _result(self, row: Any) -> ResultRecord:
        return ResultRecord(
            id=row.id, created_at=row.created_at, decision=row.decision, score=row.score,
            verdict=json.loads(row.verdict), post_id=row.post_id, policy_version=row.policy_version,
            source=row.source, submitted_by=row.submitted_by, caption=row.caption, account_claim=row.account_claim,
            account_verified=bool(row.account_verified), image_sha256=tuple(json.loads(row.image_sha256)),
        )

    def get_result(self, result_id: str) -> ResultRecord | None:
        t = self._t.results
        with self.engine.connect() as c:
            row = c.execute(t.select().where(t.c.id == result_id)).first()
        return self._result(row) if row is not None else None

    def list_results(
        self, *, decision: str | None = None, since: str | None = None, before: str | None = None, limit: int = 100
    ) -> list[ResultRecord]:
        t = self._t.results
        q = t.select()
        if decision is not None:
            q = q.where(t.c.decision == decision)
        if since is not None:
            q = q.where(t.c.created_at >= since)
        if before is not None:
            q = q.where(t.c.created_at < before)
        q = q.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
        with self.engine.connect() as c:
            return [self._result(r) for r in c.execute(q)]

    def save_image(self, result_id: str, index: int, kind: ImageKind, data: bytes, media_type: str) -> None:
        t = self._t.images
        with self._begin() as c:
            c.execute(t.delete().where((t.c.result_id == result_id) & (t.c.idx == index) & (t.c.kind == kind)))
            c.execute(t.insert().values(result_id=result_id, idx=index, kind=kind, data=data, media_type=media_type))

    def get_image(self, result_id: str, index: int, kind: ImageKind) -> tuple[bytes, str] | None:
        t = self._t.images
        with self.engine.connect() as c:
            row = c.execute(
                t.select().where((t.c.result_id == result_id) & (t.c.idx == index) & (t.c.kind == kind))
            ).first()
        return (bytes(row.data), row.media_type) if row is not None else None

    def purge(self, *, images_before: str | None, results_before: str | None) -> tuple[int, int]:
        import sqlalchemy as sa

        r, i = self._t.results, self._t.images
        n_img = n_res = 0
        with self._begin() as c:
            if images_before is not None:
                old = sa.select(r.c.id).where(r.c.created_at < images_before)
                n_img = c.execute(
                    i.delete().where(i.c.result_id.in_(old) & (i.c.kind != "embedding"))).rowcount or 0
            if results_before is not None:
                old = sa.select(r.c.id).where(r.c.created_at < results_before)
                n_img += c.execute(i.delete().where(i.c.result_id.in_(old))).rowcount or 0
                d = self._t.decisions
                c.execute(d.delete().where(d.c.result_id.in_(old)))
                n_res = c.execute(r.delete().where(r.c.created_at < results_before)).rowcount or 0
        return n_img, n_res

    # keys
    def _key(self, row: Any) -> ApiKey:
        return ApiKey(name=row.name, role=row.role, prefix=row.prefix, created_at=row.created_at,
                      revoked_at=row.revoked_at)

    def add_key(self, name: str, role: Role) -> tuple[ApiKey, str]:
        import sqlalchemy as sa

        _check_key_name(name)
        _check_role(role)
        token = new_token()
        key = ApiKey(name=name, role=role, prefix=token[:10], created_at=stamp())
        try:
            with self._begin() as c:
                c.execute(self._t.api_keys.insert().values(
                    name=name, role=role, prefix=key.prefix, token_sha256=token_hash(token),
                    created_at=key.created_at))
        except sa.exc.IntegrityError:
            raise BadInput(f"a key named {name} exists (revoked keys keep their name)") from None
        return key, token

    def key_for_token(self, token: str) -> ApiKey | None:
        t = self._t.api_keys
        with self.engine.connect() as c:
            row = c.execute(t.select().where(t.c.token_sha256 == token_hash(token))).first()
        return self._key(row) if row is not None else None

    def list_keys(self) -> list[ApiKey]:
        t = self._t.api_keys
        with self.engine.connect() as c:
            return [self._key(r) for r in c.execute(t.select().order_by(t.c.name))]

    def revoke_key(self, name: str) -> ApiKey:
        t = self._t.api_keys
        with self._begin() as c:
            row = c.execute(t.select().where(t.c.name == name)).first()
            if row is None:
                raise BadInput(f"no key named {name}")
            if row.revoked_at is None:
                c.execute(t.update().where(t.c.name == name).values(revoked_at=stamp()))
            row = c.execute(t.select().where(t.c.name == name)).first()
        return self._key(row)

    # exemptions
    def put_exemption(self, ex: Exemption) -> None:
        t = self._t.exemptions
        with self._begin() as c:
            c.execute(t.delete().where(t.c.account_id == ex.account_id))
            c.execute(t.insert().values(**ex.to_dict()))

    def remove_exemption(self, account_id: str) -> bool:
        t = self._t.exemptions
        with self._begin() as c:
            return bool(c.execute(t.delete().where(t.c.account_id == account_id)).rowcount)

    def get_exemption(self, account_id: str) -> Exemption | None:
        t = self._t.exemptions
        with self.engine.connect() as c:
            row = c.execute(t.select().where(t.c.account_id == account_id)).first()
        return Exemption(**row._asdict()) if row is not None else None

    def list_exemptions(self) -> list[Exemption]:
        t = self._t.exemptions
        with self.engine.connect() as c:
            return [Exemption(**r._asdict()) for r in c.execute(t.select().order_by(t.c.account_id))]

    # webhooks
    def add_webhook(self, url: str, secret: str, events: Sequence[str]) -> Webhook:
        hook = Webhook(id=new_id("wh"), url=url, secret=secret, events=tuple(events), created_at=stamp())
        with self._begin() as c:
            c.execute(self._t.webhooks.insert().values(
                id=hook.id, url=url, secret=secret, events=json.dumps(list(events)), created_at=hook.created_at,
                active=True))
        return hook

    def list_webhooks(self) -> list[Webhook]:
        t = self._t.webhooks
        with self.engine.connect() as c:
            return [
                Webhook(id=r.id, url=r.url, secret=r.secret, events=tuple(json.loads(r.events)),
                        created_at=r.created_at, active=bool(r.active))
                for r in c.execute(t.select().order_by(t.c.created_at))
            ]

    def remove_webhook(self, webhook_id: str) -> bool:
        t = self._t.webhooks
        with self._begin() as c:
            return bool(c.execute(t.delete().where(t.c.id == webhook_id)).rowcount)

    def save_delivery(self, d: Delivery) -> None:
        t = self._t.deliveries
        values = {**d.to_dict(), "payload": json.dumps(d.payload, ensure_ascii=False)}
        with self._begin() as c:
            if c.execute(t.select().where(t.c.id == d.id)).first() is None:
                c.execute(t.insert().values(**values))
            else:
                c.execute(t.update().where(t.c.id == d.id).values(**values))

    def list_deliveries(self, *, status: str | None = None, limit: int = 100) -> list[Delivery]:
        t = self._t.deliveries
        q = t.select()
        if status is not None:
            q = q.where(t.c.status == status)
        q = q.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
        with self.engine.connect() as c:
            return [
                Delivery(**{**r._asdict(), "payload": json.loads(r.payload)}) for r in c.execute(q)
            ]

    # review decisions
    def add_decision(self, d: ReviewDecision) -> None:
        import sqlalchemy as sa

        try:
            with self._begin() as c:
                c.execute(self._t.decisions.insert().values(
                    id=d.id, result_id=d.result_id, reviewer=d.reviewer, decision=d.decision,
                    kinds=json.dumps(list(d.kinds)), boxes=json.dumps(list(d.boxes)), note=d.note,
                    examples=json.dumps(list(d.examples)), created_at=d.created_at))
        except sa.exc.IntegrityError:
            raise BadInput(f"no result {d.result_id} (or a duplicate decision id)") from None

    def list_decisions(self, *, result_id: str | None = None, limit: int | None = None) -> list[ReviewDecision]:
        t = self._t.decisions
        q = t.select()
        if result_id is not None:
            q = q.where(t.c.result_id == result_id)
        q = q.order_by(t.c.created_at, t.c.id)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as c:
            return [
                ReviewDecision(id=r.id, result_id=r.result_id, reviewer=r.reviewer, decision=r.decision,
                               kinds=tuple(json.loads(r.kinds)), boxes=tuple(json.loads(r.boxes)), note=r.note,
                               examples=tuple(json.loads(r.examples)), created_at=r.created_at)
                for r in c.execute(q)
            ]

    # audit
    def audit(self, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None) -> AuditEntry:
        """Append one row chained to the last. The unique seq makes a concurrent writer (another process on
        the same database) fail its insert instead of forking the chain; it then retries on the new tail."""
        import sqlalchemy as sa

        t = self._t.audit_log
        with self._audit_lock:
            for _ in range(20):
                try:
                    with self._begin() as c:
                        last = c.execute(t.select().order_by(t.c.seq.desc()).limit(1)).first()
                        prev, seq = (last.hash, last.seq + 1) if last is not None else (GENESIS, 1)
                        entry = AuditEntry(seq, stamp(), actor, action, subject, dict(detail or {}), prev)
                        entry = replace(entry, hash=chain_hash(prev, entry.body()))
                        c.execute(t.insert().values(
                            seq=seq, at=entry.at, actor=actor, action=action, subject=subject,
                            detail=json.dumps(entry.detail, sort_keys=True, ensure_ascii=False),
                            prev_hash=prev, hash=entry.hash))
                    return entry
                except sa.exc.IntegrityError:
                    continue
        raise RuntimeError("audit log: could not append after 20 tries (contention)")

    def audit_entries(self, *, after: int = 0, limit: int | None = None) -> list[AuditEntry]:
        t = self._t.audit_log
        q = t.select().where(t.c.seq > after).order_by(t.c.seq)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as c:
            return [
                AuditEntry(r.seq, r.at, r.actor, r.action, r.subject, json.loads(r.detail), r.prev_hash, r.hash)
                for r in c.execute(q)
            ]

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def redact_url(url: str) -> str:
    """A database URL with any password replaced, for messages and logs."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable URL)"


def open_store(url: str | None, data_dir: Path) -> Store:
    """The configured store: `memory` for a throwaway one, a SQLAlchemy URL, or SQLite under the data folder."""
    if url == "memory":
        return MemoryStore()
    return SqlStore(url or default_url(data_dir))

