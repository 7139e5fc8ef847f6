"""`assetscreen policy check FILE [--verdict VERDICT.json]`: validate a policy file and show which rules fire.

Policy changes are reviewed like code: before a new policy goes live an operator checks that it loads (every
unknown key and dangling citation is named) and replays saved verdicts through it to see which rules fire and
what the decision would be, without re-running any detector.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from detectors.errors import BadInput
from detectors.evidence import Author, Evidence


def read_verdicts(path: Path) -> list[dict[str, Any]]:
    """Verdict dicts from a JSON object, a JSON list, or JSON lines (scan output); a record may nest `verdict`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
        records = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        try:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise BadInput(f"{path} is neither JSON nor JSON lines: {exc}") from None
    out = []
    for n, rec in enumerate(records, 1):
        v = rec.get("verdict", rec) if isinstance(rec, Mapping) else None
        if not isinstance(v, Mapping) or not isinstance(v.get("evidence"), list):
            raise BadInput(f"{path}: record {n} has no 'evidence' list (expected Verdict.to_dict() output)")
        out.append(dict(v))
    return out


def check(args: argparse.Namespace) -> dict[str, Any]:
    from service.policy import Policy

    policy = Policy.load(args.file)
    report: dict[str, Any] = {
        "policy": str(args.file),
        "version": policy.version,
        "rules": [r.id for r in policy.rules],
        "citations": sorted(policy.citations),
        "exempt_accounts": len(policy.exempt_accounts),
        "verdicts": [],
    }
    if args.verdict is None:
        return report
    author = Author(
        account_id=args.account or "",
            verified=True,  # the operator at the command line is trusted to say who posted
        group_id=args.group_id,
        group_admins=tuple(a.strip() for a in (args.group_admins or "").split(",") if a.strip()),
    )
    for v in read_verdicts(args.verdict):
        try:
            evidence = [Evidence.from_dict(e) for e in v["evidence"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"{args.verdict}: bad evidence record in post {v.get('post_id', '?')!r}: {exc}") from None
        decision, score, findings = policy.evaluate(evidence, author=author)
        fired = {f.rule_id: f for f in findings}
        report["verdicts"].append(
            {
                "post_id": v.get("post_id", ""),
                "recorded_decision": v.get("decision"),
                "decision": decision.value,
                "score": round(score, 4),
                "evidence": [f"{i}: {e.kind} {e.score:.2f} {e.label}" for i, e in enumerate(evidence)],
                "rules": [
                    {"rule_id": r.id, "fires": r.id in fired, **(fired[r.id].to_dict() if r.id in fired else {})}
                    for r in policy.rules
                ],
            }
        )
    return report


def cmd_check(args: argparse.Namespace) -> int:
    report = check(args)
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return 0
    print(
        f"policy {report['policy']} OK: version {report['version']}, {len(report['rules'])} rules, "
        f"{len(report['citations'])} citations, {report['exempt_accounts']} exempt account(s)"
    )
    for v in report["verdicts"]:
        recorded = f" (recorded: {v['recorded_decision']})" if v["recorded_decision"] else ""
        print(f"\npost {v['post_id'] or '(no id)'}: {v['decision']} {v['score']:.2f}{recorded}")
        for line in v["evidence"]:
            print(f"  evidence {line}")
        for r in v["rules"]:
            if not r["fires"]:
                print(f"  -     {r['rule_id']}")
                continue
            extra = f" exempted_by={r['exempted_by']}" if r["exempted_by"] else ""
            print(f"  FIRES {r['rule_id']}: {r['decision']}/{r['severity']} evidence {r['evidence']}{extra}")
            print(f"        reason: {r['reason']}")
            print(f"        cites: {r['citation']}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("policy", help="validate a policy file and replay verdicts through it")
    sub = p.add_subparsers(dest="policy_command", required=True)
    c = sub.add_parser("check", help="validate FILE; with --verdict, show which rules fire on saved verdicts")
    c.add_argument("file", type=Path, help="policy YAML")
    c.add_argument("--verdict", type=Path, help="verdict JSON (Verdict.to_dict()), a JSON list, or scan JSON lines")
    c.add_argument("--account", help="author account id to evaluate as (exemptions)")
    c.add_argument("--group-id", help="group the post was made in")
    c.add_argument("--group-admins", help="comma-separated admin account ids of that group")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_check)
