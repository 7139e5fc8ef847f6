"""Operator commands for the service's store: keys, exemptions, webhooks, the audit log, the database, the
stdin hook and the load test. Each opens the configured store (SQLite under the data folder by default, or
`store.url` / ASSETSCREEN_STORE_URL) and calls the same functions the HTTP routes call.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from detectors.errors import BadInput
from service.store import Store

# `assetscreen hook` exit codes, one per verdict (bad input 2 and internal errors 1 as everywhere).
HOOK_EXIT = {"clear": 0, "review": 4, "violation": 5, "incomplete": 3}


def _settings(args: argparse.Namespace) -> Any:
    from service.settings import Settings

    return Settings.load(getattr(args, "config", None))


def _store(args: argparse.Namespace) -> Store:
    from service.store import open_store

    s = _settings(args)
    return open_store(s.store.url, s.data_dir)


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name (some containers)
        return "cli"


# --- keys ----------------------------------------------------------------------------------------------------


def cmd_keys_add(args: argparse.Namespace) -> int:
    store = _store(args)
    key, token = store.add_key(args.name, args.role)
    store.audit(_actor(), "key.add", key.name, {"role": key.role, "prefix": key.prefix})
    print(f"key {key.name} ({key.role}) created. The token is shown once; store it now:", file=sys.stderr)
    print(token)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    keys = _store(args).list_keys()
    if args.json:
        print(json.dumps([k.to_dict() for k in keys]))
        return 0
    for k in keys:
        state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
        print(f"{k.name:<24} {k.role:<12} {k.prefix}...  created {k.created_at}  {state}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    store = _store(args)
    key = store.revoke_key(args.name)
    store.audit(_actor(), "key.revoke", key.name)
    print(f"key {key.name} revoked at {key.revoked_at}")
    return 0


# --- exemptions ------------------------------------------------------------------------------------------------


def _policy(args: argparse.Namespace) -> Any:
    from service.policy import Policy

    return Policy.load(_settings(args).policy)


def cmd_exemptions_add(args: argparse.Namespace) -> int:
    from service.exemptions import add_exemption_checked

    ex = add_exemption_checked(
        _store(args), _policy(args),
        {"account_id": args.account_id, "type": args.type, "name": args.name or "",
         "reference": args.reference or "", "valid_until": args.valid_until},
        actor=_actor(),
    )
    print(f"exempt: {ex.account_id} ({ex.type}){' until ' + ex.valid_until if ex.valid_until else ''}")
    return 0


def cmd_exemptions_list(args: argparse.Namespace) -> int:
    rows = _store(args).list_exemptions()
    if args.json:
        print(json.dumps([e.to_dict() for e in rows]))
        return 0
    for e in rows:
        until = f" until {e.valid_until}" if e.valid_until else ""
        print(f"{e.account_id:<32} {e.type:<18} {e.name}{until}  ({e.reference or 'no reference'})")
    return 0


def cmd_exemptions_remove(args: argparse.Namespace) -> int:
    store = _store(args)
    if not store.remove_exemption(args.account_id):
        raise BadInput(f"no exemption for {args.account_id}")
    store.audit(_actor(), "exemption.remove", args.account_id)
    print(f"removed {args.account_id}")
    return 0


def cmd_exemptions_import(args: argparse.Namespace) -> int:
    """Import today's YAML registry (service/policy/exemptions.yaml format) into the store."""
    from service.exemptions import add_exemption_checked
    from service.policy.engine import load_registry

    store, policy = _store(args), _policy(args)
    accounts = load_registry(args.file).accounts
    for a in accounts:
        add_exemption_checked(
            store, policy,
            {"account_id": a.account_id, "type": a.type, "name": a.name, "reference": a.reference,
             "valid_until": a.valid_until.isoformat() if a.valid_until else None},
            actor=_actor(),
        )
    print(f"imported {len(accounts)} exemption(s) from {args.file}")
    return 0


# --- webhooks --------------------------------------------------------------------------------------------------


def cmd_webhooks_add(args: argparse.Namespace) -> int:
    from urllib.parse import urlsplit

    if urlsplit(args.url).scheme not in ("http", "https"):
        raise BadInput("a webhook URL must be http(s)")
    if len(args.secret) < 16:
        raise BadInput("use a secret of at least 16 characters")
    store = _store(args)
    events = [e.strip() for e in (args.events or "").split(",") if e.strip()]
    hook = store.add_webhook(args.url, args.secret, events)
    store.audit(_actor(), "webhook.add", hook.id, {"url": args.url, "events": events})
    print(hook.id)
    return 0


def cmd_webhooks_list(args: argparse.Namespace) -> int:
    for h in _store(args).list_webhooks():
        print(f"{h.id}  {h.url}  events: {', '.join(h.events) or '(the settings default)'}")
    return 0


def cmd_webhooks_remove(args: argparse.Namespace) -> int:
    store = _store(args)
    if not store.remove_webhook(args.id):
        raise BadInput(f"no webhook {args.id}")
    store.audit(_actor(), "webhook.remove", args.id)
    print(f"removed {args.id}")
    return 0


def cmd_webhooks_deliveries(args: argparse.Namespace) -> int:
    for d in _store(args).list_deliveries(status=args.status, limit=args.limit):
        print(f"{d.id}  {d.event:<18} {d.status:<9} attempts {d.attempts}  last {d.last_status} {d.last_error}")
    return 0


# --- audit and database ------------------------------------------------------------------------------------------


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from service.store import verify_audit

    store = _store(args)
    bad = verify_audit(store)
    n = len(store.audit_entries())
    if bad is None:
        print(f"audit log intact: {n} entries, hash chain verified")
        return 0
    print(f"audit log BROKEN at entry {bad} (edited, removed or reordered); {n} entries", file=sys.stderr)
    return 1


def cmd_audit_list(args: argparse.Namespace) -> int:
    for e in _store(args).audit_entries(after=args.after, limit=args.limit):
        print(json.dumps(e.to_dict(), ensure_ascii=False))
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from service.migrations import current_revision
    from service.store import SqlStore, default_url, redact_url

    s = _settings(args)
    store = SqlStore(s.store.url or default_url(s.data_dir))
    print(f"{redact_url(store.url)} at revision {current_revision(store.engine)}")
    return 0


def cmd_db_purge(args: argparse.Namespace) -> int:
    from service.pipeline import purge_expired

    images, results = purge_expired(_store(args), _settings(args))
    print(f"purged {images} image(s) and {results} result(s) past retention")
    return 0


# --- hook on stdin -----------------------------------------------------------------------------------------------


def cmd_hook(args: argparse.Namespace) -> int:
    """One post as JSON on stdin (media as paths or base64) -> the verdict on stdout; exit code per verdict."""
    from service.cli import _screener
    from service.hooks import submission_from_hook
    from service.pipeline import ScreeningService
    from service.store import MemoryStore, open_store

    raw = sys.stdin.buffer.read(args.max_bytes + 1)
    if len(raw) > args.max_bytes:
        raise BadInput(f"stdin over {args.max_bytes} bytes")
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadInput("stdin must hold one JSON object") from None
    screener = _screener(args)
    s = screener.settings
    store: Store = open_store(s.store.url, s.data_dir) if args.store else MemoryStore()
    sub = submission_from_hook(payload, source="cli", submitted_by=_actor(), verified=True, allow_paths=True)
    rec = ScreeningService(screener, store).screen(sub)
    print(json.dumps({"result_id": rec.id if args.store else None, **rec.verdict}, ensure_ascii=False))
    return HOOK_EXIT[rec.decision]


# --- load test ---------------------------------------------------------------------------------------------------


def cmd_load(args: argparse.Namespace) -> int:
    from service.load import format_report, run_load

    report = run_load(
        args.url, args.key, images=args.images, requests=args.requests, clients=args.clients,
        server_pid=args.server_pid,
    )
    print(json.dumps(report) if args.json else format_report(report))
    return 0 if report["errors"] == 0 else 1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", type=Path, help="settings YAML (store, data folder, policy)")
        return p

    k = sub.add_parser("keys", help="API keys: add, list, revoke").add_subparsers(dest="keys_cmd", required=True)
    p = common(k.add_parser("add", help="create a key; prints its token once"))
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=["screen", "review", "admin", "integration"])
    p.set_defaults(func=cmd_keys_add)
    p = common(k.add_parser("list"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_keys_list)
    p = common(k.add_parser("revoke"))
    p.add_argument("name")
    p.set_defaults(func=cmd_keys_revoke)

    e = sub.add_parser("exemptions", help="exempt accounts (OM para 5; permissions)").add_subparsers(
        dest="ex_cmd", required=True)
    p = common(e.add_parser("add"))
    p.add_argument("account_id")
    p.add_argument("--type", required=True, help="an exemption type of the policy (official_account, permission)")
    p.add_argument("--name")
    p.add_argument("--reference", help="the notification or permission letter")
    p.add_argument("--valid-until", help="YYYY-MM-DD (inclusive)")
    p.add_argument("--policy", type=Path)
    p.set_defaults(func=cmd_exemptions_add)
    p = common(e.add_parser("list"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_exemptions_list)
    p = common(e.add_parser("remove"))
    p.add_argument("account_id")
    p.set_defaults(func=cmd_exemptions_remove)
    p = common(e.add_parser("import", help="import a YAML registry (exemptions.yaml format)"))
    p.add_argument("file", type=Path)
    p.add_argument("--policy", type=Path)
    p.set_defaults(func=cmd_exemptions_import)

    w = sub.add_parser("webhooks", help="outbound webhooks").add_subparsers(dest="wh_cmd", required=True)
    p = common(w.add_parser("add", help="POST signed verdict events to URL"))
    p.add_argument("url")
    p.add_argument("--secret", required=True, help="HMAC-SHA256 signing secret (>= 16 characters)")
    p.add_argument("--events", help="comma-separated, e.g. result.violation,result.review (default: settings)")
    p.set_defaults(func=cmd_webhooks_add)
    p = common(w.add_parser("list"))
    p.set_defaults(func=cmd_webhooks_list)
    p = common(w.add_parser("remove"))
    p.add_argument("id")
    p.set_defaults(func=cmd_webhooks_remove)
    p = common(w.add_parser("deliveries", help="delivery attempts; --status dead lists the dead letters"))
    p.add_argument("--status", choices=["pending", "delivered", "dead"])
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_webhooks_deliveries)

    a = sub.add_parser("audit", help="the append-only audit log").add_subparsers(dest="audit_cmd", required=True)
    p = common(a.add_parser("verify", help="check the hash chain; exit 1 if broken"))
    p.set_defaults(func=cmd_audit_verify)
    p = common(a.add_parser("list"))
    p.add_argument("--after", type=int, default=0)
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=cmd_audit_list)

    d = sub.add_parser("db", help="the store's database").add_subparsers(dest="db_cmd", required=True)
    p = common(d.add_parser("upgrade", help="create or migrate the schema (Alembic) and print the revision"))
    p.set_defaults(func=cmd_db_upgrade)
    p = common(d.add_parser("purge", help="drop images and results past the retention settings"))
    p.set_defaults(func=cmd_db_purge)

    p = sub.add_parser("hook", help="screen one post given as JSON on stdin; exit 0 clear, 4 review, "
                       "5 violation, 3 incomplete, 2 bad input")
    p.add_argument("--store", action="store_true", help="also keep the result in the store")
    p.add_argument("--max-bytes", type=int, default=64 * 1024 * 1024)
    p.add_argument("--config", type=Path)
    p.add_argument("--policy", type=Path)
    p.add_argument("--detectors")
    p.set_defaults(func=cmd_hook)

    p = sub.add_parser("load", help="load-test a running server (loopback only): N requests from C clients")
    p.add_argument("url", help="base URL, e.g. http://127.0.0.1:8000")
    p.add_argument("--key", required=True, help="a screen or integration key")
    p.add_argument("--images", type=Path, nargs="*", default=[], help="images to send (default: generated)")
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--server-pid", type=int, help="the server's pid, to report its peak RSS")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_load)
