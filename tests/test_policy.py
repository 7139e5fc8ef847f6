"""The policy engine: every default rule, thresholds, exemptions, group admins, malformed files, `policy check`."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from detectors.errors import ConfigError
from detectors.evidence import Author, DecisionLevel, Evidence, Finding, Post, PostImage, Verdict
from service.policy import DEFAULT_POLICY_PATH, ExemptAccount, Policy

OFFICIAL_KINDS = ["gov_vehicle", "uniform", "insignia", "official_document"]
PLAIN_KINDS = ["vehicle", "person", "document", "flag_only", "office_setting"]


def ev(
    kind: str,
    score: float = 0.8,
    image: int | None = 0,
    label: str | None = None,
    detector: str = "recognition",
    **details: Any,
) -> Evidence:
    """Image evidence (image index given) or caption evidence (image=None); from the learned stage by default."""
    box = (10.0, 10.0, 60.0, 60.0) if image is not None else None
    return Evidence(kind, label or f"{kind} seen", score, detector, "1", f"{kind} cue", box, image, details)


def band(policy: Policy, rule_id: str) -> float:
    """A score inside the band of a rule's first condition."""
    c = next(r for r in policy.rules if r.id == rule_id).any_of[0]
    return (c.min_score + (c.max_score or 1.0)) / 2


def lowest_threshold(policy: Policy, kind: str) -> float:
    return min(c.min_score for r in policy.rules for c in r.any_of if kind in c.kind_set)


def cap(kind: str, score: float = 0.8, words: tuple[str, ...] = ("proud to serve",)) -> Evidence:
    return ev(kind, score, image=None, label=f"{kind} in caption", words=list(words))


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


def finding(findings: list[Finding], rule_id: str) -> Finding:
    found = [f for f in findings if f.rule_id == rule_id]
    assert found, f"rule {rule_id} did not fire; fired: {[f.rule_id for f in findings]}"
    return found[0]


# One case per default rule: the evidence that should fire it, the decision, and words the citation must hold.
RULE_CASES: dict[str, tuple[list[Evidence], str, str]] = {
    "official-document": ([ev("official_document", 0.97), ev("document", 0.9)], "violation", "rule 18"),
    "official-document-weak": ([], "review", "4(ii)"),  # evidence made in the band of the rule, below
    "known-image": ([ev("known_image", 0.9)], "violation", "rule 18"),
    "glorified-official-asset": ([ev("uniform", 0.95), cap("glorification")], "violation", "SO(IX)CMS/Misc/07-07/2025"),
    "government-vehicle": ([ev("gov_vehicle", 0.95)], "review", "15.02.2025"),
    "government-uniform": ([ev("uniform", 0.95)], "review", "15.02.2025"),
    "government-office-insignia": ([ev("insignia", 0.95)], "review", "15.02.2025"),
    "office-with-glorifying-caption": ([ev("office_setting", 0.7), cap("glorification")], "review", "15.02.2025"),
    "glorifying-caption": ([cap("glorification")], "review", "15.02.2025"),
    "disclosure-caption": ([cap("disclosure", words=("notification attached",))], "violation", "rule 18"),
    "document-with-disclosure": ([ev("document", 0.8), cap("disclosure")], "violation", "4(ii)"),
    "political-opinion": ([cap("political", words=("pti", "destroyed"))], "violation", "4(iii)"),
    "disparaging-remarks": ([cap("disparaging", words=("kafir",))], "violation", "4(v)"),
}


def test_every_default_rule_has_a_case(policy: Policy) -> None:
    assert {r.id for r in policy.rules} == set(RULE_CASES)


@pytest.mark.parametrize("rule_id", sorted(RULE_CASES))
def test_each_rule_fires_with_citation_reason_and_evidence(policy: Policy, rule_id: str) -> None:
    evidence, decision, cited = RULE_CASES[rule_id]
    if rule_id == "official-document-weak":
        evidence = [ev("official_document", band(policy, rule_id))]
    verdict_decision, score, findings = policy.evaluate(evidence)
    f = finding(findings, rule_id)
    assert f.decision.value == decision
    assert verdict_decision.rank >= f.decision.rank
    assert cited in f.citation
    assert f.evidence, "a finding must name the evidence behind it"
    rule = next(r for r in policy.rules if r.id == rule_id)
    fired_kinds = {evidence[i].kind for i in f.evidence}
    wanted = {k for c in (*rule.all_of, *rule.any_of) for k in c.kind_set}
    assert fired_kinds <= wanted
    for i in f.evidence:
        assert evidence[i].label in f.reason
    assert 0.0 < score <= 1.0


@pytest.mark.parametrize("kind", OFFICIAL_KINDS)
def test_official_asset_evidence_is_review_at_or_above_the_policy_threshold(policy: Policy, kind: str) -> None:
    t = lowest_threshold(policy, kind)
    for score in (t, min(1.0, t + 0.1), 1.0):
        decision, _, findings = policy.evaluate([ev(kind, score)])
        assert decision.rank >= DecisionLevel.REVIEW.rank, score
        assert any(f.citation and f.evidence == (0,) for f in findings)
    assert t > 0.05 and policy.evaluate([ev(kind, t - 0.05)])[0] == DecisionLevel.CLEAR


@pytest.mark.parametrize("kind", OFFICIAL_KINDS)
def test_a_hand_written_cue_alone_does_not_decide(policy: Policy, kind: str) -> None:
    assert policy.evaluate([ev(kind, 0.99, detector="vehicles")])[0] == DecisionLevel.CLEAR
    assert policy.evaluate([ev(kind, 0.99, detector="examples")])[0] != DecisionLevel.CLEAR


def test_flagged_kinds_follow_the_rules(policy: Policy) -> None:
    t = lowest_threshold(policy, "uniform")
    got = policy.flagged_kinds([ev("uniform", t), ev("gov_vehicle", 0.99, detector="vehicles"), ev("person", 0.3)])
    assert got == {"uniform", "person"}
    assert policy.flagged_kinds([ev("uniform", t - 0.05)]) == set()


@pytest.mark.parametrize("kind", PLAIN_KINDS)
def test_plain_observations_alone_stay_clear(policy: Policy, kind: str) -> None:
    assert policy.evaluate([ev(kind, 1.0), ev(kind, 0.9, image=1)]) == (DecisionLevel.CLEAR, 0.0, [])


def test_plain_observations_together_stay_clear(policy: Policy) -> None:
    decision, _, _ = policy.evaluate([ev(k, 1.0) for k in PLAIN_KINDS])
    assert decision == DecisionLevel.CLEAR


def test_office_setting_raises_only_with_other_official_evidence(policy: Policy) -> None:
    assert policy.evaluate([ev("office_setting", 0.9)])[0] == DecisionLevel.CLEAR
    assert policy.evaluate([ev("office_setting", 0.9), ev("insignia", 0.6)])[0] == DecisionLevel.REVIEW
    decision, _, findings = policy.evaluate([ev("office_setting", 0.9), cap("glorification", words=("my office",))])
    assert decision == DecisionLevel.REVIEW
    assert "'my office'" in finding(findings, "office-with-glorifying-caption").reason


def test_asset_with_and_without_glorifying_caption(policy: Policy) -> None:
    assert policy.evaluate([ev("gov_vehicle", 0.7)])[0] == DecisionLevel.REVIEW
    decision, score, findings = policy.evaluate([ev("gov_vehicle", 0.7), cap("glorification", 0.9)])
    assert decision == DecisionLevel.VIOLATION and score == pytest.approx(0.9)
    f = finding(findings, "glorified-official-asset")
    assert f.severity == "high" and f.evidence == (0, 1)
    assert "gov_vehicle" in f.reason and "'proud to serve'" in f.reason and "image 1" in f.reason
    # the caption-only rule steps aside when an asset is there (none_of)
    assert "glorifying-caption" not in {f.rule_id for f in findings}


def test_thresholds_split_weak_and_strong_documents(policy: Policy) -> None:
    weak = policy.evaluate([ev("official_document", 0.49)])
    strong = policy.evaluate([ev("official_document", 0.5)])
    assert weak[0] == DecisionLevel.REVIEW and {f.rule_id for f in weak[2]} == {"official-document-weak"}
    assert strong[0] == DecisionLevel.VIOLATION and {f.rule_id for f in strong[2]} == {"official-document"}


def test_caption_evidence_below_rule_threshold_does_not_fire(policy: Policy) -> None:
    assert policy.evaluate([cap("political", 0.4)])[0] == DecisionLevel.CLEAR


def test_every_non_clear_verdict_names_a_cited_rule_with_evidence(policy: Policy) -> None:
    rng = random.Random(7)
    kinds = [*OFFICIAL_KINDS, *PLAIN_KINDS, "known_image"]
    caption_kinds = ["glorification", "disclosure", "political", "disparaging"]
    seen = set()
    for _ in range(400):
        evidence = [ev(rng.choice(kinds), rng.random(), image=rng.randrange(3)) for _ in range(rng.randrange(4))]
        evidence += [cap(k, rng.uniform(0.3, 1.0)) for k in caption_kinds if rng.random() < 0.2]
        decision, score, findings = policy.evaluate(evidence)
        seen.add(decision)
        if decision == DecisionLevel.CLEAR:
            assert score == 0.0
            continue
        top = [f for f in findings if f.decision == decision]
        assert top and all(f.citation and f.evidence and f.reason for f in top)
        Verdict(decision, score, tuple(findings), tuple(evidence), {}, {})  # indices are valid
    assert seen == set(DecisionLevel) - {DecisionLevel.INCOMPLETE}  # the screener's, never a rule's


# --- same_image and custom policies ----------------------------------------------------------------------------


def write_policy(tmp_path: Path, rules: list[dict[str, Any]], **extra: Any) -> Path:
    data: dict[str, Any] = {"version": "t1", "citations": {"c": "Test citation"}, "rules": rules, **extra}
    p = tmp_path / "policy.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


def test_same_image_requires_conditions_in_one_image(tmp_path: Path) -> None:
    rule = {
        "id": "uniform-with-document",
        "description": "d",
        "decision": "violation",
        "severity": "high",
        "citations": ["c"],
        "same_image": True,
        "all_of": [{"kind": "uniform", "min_score": 0.5}, {"kind": "document", "min_score": 0.5}],
        "reason": "{count} items in image {images}",
    }
    p = Policy.load(write_policy(tmp_path, [rule]))
    assert p.evaluate([ev("uniform", image=0), ev("document", image=1)])[0] == DecisionLevel.CLEAR
    decision, _, findings = p.evaluate([ev("uniform", image=0), ev("document", image=1), ev("document", image=0)])
    assert decision == DecisionLevel.VIOLATION
    assert findings[0].evidence == (0, 2) and findings[0].reason == "2 items in image 1."
    # caption evidence belongs to every image
    rule["all_of"][1] = {"kind": "glorification"}
    p = Policy.load(write_policy(tmp_path, [rule]))
    assert p.evaluate([ev("uniform", image=2), cap("glorification")])[0] == DecisionLevel.VIOLATION


def test_min_count_and_source(tmp_path: Path) -> None:
    rule = {
        "id": "many-uniforms",
        "description": "d",
        "decision": "review",
        "severity": "low",
        "citations": ["c"],
        "any_of": [{"kind": "uniform", "min_score": 0.5, "min_count": 2, "source": "image"}],
    }
    p = Policy.load(write_policy(tmp_path, [rule]))
    assert p.evaluate([ev("uniform")])[0] == DecisionLevel.CLEAR
    assert p.evaluate([ev("uniform"), ev("uniform", image=None)])[0] == DecisionLevel.CLEAR
    assert p.evaluate([ev("uniform"), ev("uniform", image=1)])[0] == DecisionLevel.REVIEW


# --- exemptions and group admins ------------------------------------------------------------------------------


def exempt(policy: Policy, *accounts: ExemptAccount) -> Policy:
    p = policy.model_copy()
    p.set_exempt_accounts(accounts)
    return p


OFFICIAL = ExemptAccount(account_id="fb:sindhpolice", type="official_account", name="Sindh Police", reference="r1")
PERMITTED = ExemptAccount(account_id="x:spokesman", type="permission", name="Spokesman", reference="letter 12")


def test_official_account_clears_assets_but_is_recorded(policy: Policy) -> None:
    p = exempt(policy, OFFICIAL)
    evidence = [ev("uniform", 0.8), ev("gov_vehicle", 0.7), cap("glorification")]
    decision, score, findings = p.evaluate(evidence, Post(caption="x", author=Author("fb:sindhpolice", verified=True)))
    assert decision == DecisionLevel.CLEAR and score == 0.0
    assert findings, "exempted findings are still recorded"
    for f in findings:
        assert f.decision == DecisionLevel.CLEAR
        assert f.exempted_by == "official_account: fb:sindhpolice (r1)"
        assert "para 5" in f.citation and "official account" in f.reason
    # the same post from anyone else is a violation
    assert policy.evaluate(evidence, Post(author=Author("fb:someone", verified=True)))[0] == DecisionLevel.VIOLATION


def test_official_account_documents_go_to_review_and_disparaging_is_never_exempt(policy: Policy) -> None:
    p = exempt(policy, OFFICIAL)
    author = Author("fb:sindhpolice", verified=True)
    decision, _, findings = p.evaluate([ev("official_document", 0.9)], author=author)
    assert decision == DecisionLevel.REVIEW
    assert finding(findings, "official-document").exempted_by is not None
    decision, _, findings = p.evaluate([cap("disparaging")], author=author)
    assert decision == DecisionLevel.VIOLATION
    assert finding(findings, "disparaging-remarks").exempted_by is None


def test_permission_holder_gets_review_for_glorified_assets(policy: Policy) -> None:
    p = exempt(policy, PERMITTED)
    evidence = [ev("uniform", 0.8), cap("glorification")]
    decision, _, findings = p.evaluate(evidence, author=Author("x:spokesman", verified=True))
    assert decision == DecisionLevel.REVIEW
    f = finding(findings, "glorified-official-asset")
    assert f.decision == DecisionLevel.REVIEW and f.exempted_by == "permission: x:spokesman (letter 12)"
    assert "express permission" in f.citation
    assert finding(findings, "government-uniform").decision == DecisionLevel.CLEAR
    # permission does not cover political opinion
    assert p.evaluate([cap("political")], author=Author("x:spokesman", verified=True))[0] == DecisionLevel.VIOLATION


def test_expired_permission_no_longer_exempts(policy: Policy) -> None:
    p = exempt(policy, PERMITTED.model_copy(update={"valid_until": dt.date(2025, 6, 30)}))
    evidence = [ev("uniform", 0.8), cap("glorification")]
    author = Author("x:spokesman", verified=True)
    assert p.evaluate(evidence, author=author, today=dt.date(2025, 6, 30))[0] == DecisionLevel.REVIEW
    assert p.evaluate(evidence, author=author, today=dt.date(2025, 7, 1))[0] == DecisionLevel.VIOLATION


def test_registry_file_named_by_the_policy_is_loaded(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    data["exemptions"]["registry"] = "accounts.yaml"
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    (tmp_path / "accounts.yaml").write_text(
        "accounts:\n  - {account_id: 'fb:dc.karachi', type: official_account, name: DC Karachi}\n", encoding="utf-8"
    )
    p = Policy.load(tmp_path / "policy.yaml")
    assert set(p.exempt_accounts) == {"fb:dc.karachi"}
    decision, _, findings = p.evaluate([ev("insignia")], author=Author("fb:dc.karachi", verified=True))
    assert decision == DecisionLevel.CLEAR and findings[0].exempted_by
    # a registry entry of an unknown type, or with an unknown key, is named
    (tmp_path / "accounts.yaml").write_text("accounts:\n  - {account_id: a1, type: vip}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="a1.*vip"):
        Policy.load(tmp_path / "policy.yaml")
    (tmp_path / "accounts.yaml").write_text("accounts:\n  - {account_id: a1, typ: permission}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="accounts.0.typ: unknown key"):
        Policy.load(tmp_path / "policy.yaml")
    (tmp_path / "accounts.yaml").unlink()
    with pytest.raises(ConfigError, match="accounts.yaml"):
        Policy.load(tmp_path / "policy.yaml")


def test_group_admins_are_listed_as_also_liable_on_violations(policy: Policy) -> None:
    author = Author("u1", group_id="wa:district-officers", group_admins=("adm1", "u1", "adm2"))
    decision, _, findings = policy.evaluate([cap("political"), ev("uniform", 0.6)], author=author)
    assert decision == DecisionLevel.VIOLATION
    pol = finding(findings, "political-opinion")
    assert pol.also_liable == ("adm1", "adm2")  # the author is not listed as their own co-liable admin
    assert "wa:district-officers" in pol.reason and "adm1, adm2" in pol.reason and "para 6" in pol.citation
    assert finding(findings, "government-uniform").also_liable == ()  # review findings do not extend liability
    assert policy.evaluate([cap("political")], author=Author("u1"))[2][0].also_liable == ()
    assert pol.to_dict()["also_liable"] == ["adm1", "adm2"]


# --- malformed policy files -----------------------------------------------------------------------------------


def default_data() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))


def load_data(tmp_path: Path, data: dict[str, Any]) -> Policy:
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return Policy.load(p)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["rules"][0]["any_of"][0].update(min_scor=0.2), r"rules\.0\.any_of\.0\.min_scor: unknown key"),
        (lambda d: d["rules"][1].update(severty="low"), r"rules\.1\.severty: unknown key"),
        (lambda d: d.update(rulez=[]), r"rulez: unknown key"),
        (lambda d: d["rules"][0].update(citations=["nope"]), r"official-document cites unknown citation keys: nope"),
        (lambda d: d["rules"][0].update(reason="{evidense}"), r"unknown placeholders \['evidense'\]"),
        (lambda d: d["rules"][0].update(decision="ban"), r"rules\.0\.decision"),
        (lambda d: d["rules"][0]["any_of"][0].update(kinds=["uniform"]), r"exactly one of 'kind' or 'kinds'"),
        (lambda d: d["rules"][0]["any_of"][0].update(min_score=1.5), r"rules\.0\.any_of\.0\.min_score"),
        (lambda d: d["rules"][0].update(exemptions={"vip": "clear"}), r"unknown exemption types: vip"),
        (lambda d: d["rules"][1].update(id=d["rules"][0]["id"]), r"duplicate rule ids: official-document"),
        (lambda d: d["rules"][0].pop("any_of"), r"needs any_of or all_of"),
    ],
)
def test_malformed_policy_is_a_config_error_naming_the_problem(tmp_path: Path, mutate: Any, message: str) -> None:
    data = default_data()
    data["exemptions"]["registry"] = str(DEFAULT_POLICY_PATH.with_name("exemptions.yaml"))
    mutate(data)
    with pytest.raises(ConfigError, match=message):
        load_data(tmp_path, data)


def test_missing_or_non_mapping_policy_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        Policy.load(tmp_path / "absent.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        Policy.load(tmp_path / "list.yaml")


# --- the screener passes the post; the check command ----------------------------------------------------------


def test_screener_applies_exemptions_from_the_post_author(policy: Policy) -> None:
    from service.screener import BuiltDetectors, Screener
    from service.settings import Settings
    from tests.fakes import CaptionWordDetector, EchoRecognizer, RedPatchDetector

    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[10:30, 10:30] = (255, 0, 0)  # the fake detector reports a uniform here
    built = BuiltDetectors((RedPatchDetector(),), (CaptionWordDetector(),), ())
    screener = Screener(Settings(), detectors=built, policy=exempt(policy, OFFICIAL), recognizer=EchoRecognizer())
    image = PostImage("a.png", rgb)
    v = screener.screen(Post(images=(image,), caption="Proud day", author=Author("fb:someone", verified=True)))
    assert v.decision == DecisionLevel.VIOLATION
    assert "glorified-official-asset" in {f.rule_id for f in v.findings}
    v = screener.screen(Post(images=(image,), caption="Proud day", author=Author("fb:sindhpolice", verified=True)))
    assert v.decision == DecisionLevel.CLEAR and all(f.exempted_by for f in v.findings)


def test_policy_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli import main

    evidence = [ev("gov_vehicle", 0.8), cap("glorification", 0.9)]
    decision, score, findings = Policy.load().evaluate(evidence)
    verdict = Verdict(decision, score, tuple(findings), tuple(evidence), {}, {}, post_id="p7")
    vfile = tmp_path / "v.json"
    vfile.write_text(json.dumps(verdict.to_dict()), encoding="utf-8")
    assert main(["policy", "check", str(DEFAULT_POLICY_PATH)]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["policy", "check", str(DEFAULT_POLICY_PATH), "--verdict", str(vfile)]) == 0
    out = capsys.readouterr().out
    assert "post p7: violation" in out and "FIRES glorified-official-asset" in out and "-     known-image" in out
    assert main(["policy", "check", str(DEFAULT_POLICY_PATH), "--verdict", str(vfile), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    fired = {r["rule_id"] for r in report["verdicts"][0]["rules"] if r["fires"]}
    assert fired == {"glorified-official-asset", "government-vehicle"}
    # scan output (JSON lines nesting the verdict) is accepted too
    jl = tmp_path / "scan.jsonl"
    jl.write_text("\n".join(json.dumps({"file": f, "verdict": verdict.to_dict()}) for f in "ab"), encoding="utf-8")
    assert main(["policy", "check", str(DEFAULT_POLICY_PATH), "--verdict", str(jl)]) == 0
    assert capsys.readouterr().out.count("FIRES glorified-official-asset") == 2


def test_policy_check_rejects_a_malformed_policy_and_bad_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.cli import main

    data = default_data()
    data["rules"][2]["any_of"][0]["min_scor"] = 0.5
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["policy", "check", str(bad)]) == 2
    assert "rules.2.any_of.0.min_scor: unknown key" in capsys.readouterr().err
    notverdict = tmp_path / "n.json"
    notverdict.write_text('{"decision": "clear"}', encoding="utf-8")
    assert main(["policy", "check", str(DEFAULT_POLICY_PATH), "--verdict", str(notverdict)]) == 2
    assert "no 'evidence' list" in capsys.readouterr().err


def test_a_typo_in_a_rule_kind_or_detector_is_a_load_error(tmp_path: Path) -> None:
    from detectors.errors import ConfigError

    base = {"id": "r1", "description": "d", "decision": "review", "severity": "low", "citations": ["c"]}
    with pytest.raises(ConfigError, match="unifrom"):
        Policy.load(write_policy(tmp_path, [{**base, "any_of": [{"kind": "unifrom"}]}]))
    with pytest.raises(ConfigError, match="recogniton"):
        Policy.load(write_policy(tmp_path, [{**base, "any_of": [{"kind": "uniform", "detectors": ["recogniton"]}]}]))
    # a site detector's own kind is fine once declared
    p = Policy.load(write_policy(tmp_path, [{**base, "any_of": [{"kind": "ration_card"}]}],
                                 extra_kinds=["ration_card"]))
    assert p.rules[0].any_of[0].kind == "ration_card"
