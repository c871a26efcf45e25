"""The gate's rule table: one test per rule, with the zh-CN and English texts.

Codes are real: signed with a real key and verified by the real scheme code.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from core.policy import Policy
from core.protocol import public_key_for
from core.reasons import texts
from core.trust import IssuerKey, TrustList, revocation_key
from edge.codes import CodeResult, gc1, verify
from edge.policy import Decision, Presentation, decide
from edge.thermometer import Reading, ReadingError, parse_celsius
from edge.trust import TrustStore
from gatecheck.samples import forge_gc1

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
KEY = secrets.token_bytes(32)
TRUST = TrustList(
    gc1_keys=[IssuerKey(issuer="Issuer", public_key=base64.b64encode(public_key_for(KEY)).decode())]
)
NORMAL = Reading(36.6, "sensor")


def code(colour: Any = "green", issued: datetime = NOW - timedelta(hours=1), valid_hours: float = 24,
         tested: datetime | None = None, key: bytes = KEY, revoked: bool = False) -> CodeResult:  # fmt: skip
    payload = gc1.issue(
        key, "Issuer", "ID-1", "张*", colour, issued, issued + timedelta(hours=valid_hours), tested
    )
    trust = TRUST
    if revoked:
        cid = verify(payload.encode(), TrustStore.build(TRUST), NOW).claims["cid"]  # type: ignore[index]
        trust = TRUST.model_copy(update={"revoked": [revocation_key("gc1", cid)]})
    return verify(payload.encode(), TrustStore.build(trust), NOW)


def judge(result: CodeResult | None, reading: Reading | None = NORMAL, policy: Policy | None = None,
          **kw: Any) -> Decision:  # fmt: skip
    return decide(Presentation(code=result, reading=reading, at=NOW, **kw), policy or Policy())


def assert_rule(decision: Decision, verdict: str, reason: str, zh: str, en: str) -> None:
    assert (decision.verdict, decision.reason) == (verdict, reason)
    assert zh in decision.text_zh
    assert en in decision.text_en


def test_green_code_normal_temperature_admits() -> None:
    assert_rule(judge(code()), "admit", "ok", "通行", "Admitted")


@pytest.mark.parametrize("celsius", [37.3, 37.4, 39.0])
def test_first_high_reading_asks_to_measure_again(celsius: float) -> None:
    assert_rule(
        judge(code(), Reading(celsius, "sensor")), "remeasure", "temp_high", "请复测", "measure again"
    )


def test_a_high_re_test_after_the_wait_is_a_confirmed_fever() -> None:
    decision = judge(code(), Reading(38.2, "sensor"), prior_high_age_s=300)
    assert_rule(decision, "deny", "fever", "体温异常", "Fever")


@pytest.mark.parametrize(
    ("age_s", "reason"),
    [(0, "retest_wait"), (284.9, "retest_wait"), (285, "fever"), (310, "fever"), (2100, "fever")],
)
def test_the_re_test_window_opens_after_the_wait_less_the_grace(age_s: float, reason: str) -> None:
    """Default policy: 5 min wait, 15 s grace; a high re-test before that is not a fever yet."""
    assert Policy().retest_window_s() == (285, 2115)
    assert judge(code(), Reading(38.2, "sensor"), prior_high_age_s=age_s).reason == reason


def test_a_normal_re_test_decides_by_the_code() -> None:
    assert judge(code(), Reading(36.6, "sensor"), prior_high_age_s=600).reason == "ok"


def test_fever_refuses_whatever_the_code() -> None:
    assert judge(None, Reading(38.0, "sensor"), prior_high_age_s=400).reason == "fever"


def test_site_threshold_applies() -> None:
    strict = Policy(fever_threshold_c=37.0)
    assert judge(code(), Reading(37.1, "sensor"), strict).reason == "temp_high"
    assert judge(code(), Reading(36.9, "sensor"), strict).reason == "ok"


@pytest.mark.parametrize("celsius", [20.0, 33.9, 43.1, 100.0])
def test_implausible_reading_is_a_sensor_error(celsius: float) -> None:
    decision = judge(code(), Reading(celsius, "sensor"))
    assert_rule(decision, "remeasure", "temp_out_of_range", "读数异常", "Implausible")


def test_no_reading_means_no_admission() -> None:
    assert_rule(judge(code(), None), "manual", "no_temperature", "未测体温", "No temperature")


def test_no_readable_code_goes_to_the_guard() -> None:
    assert_rule(judge(None), "manual", "no_code", "人工核验", "check by hand")


@pytest.mark.parametrize(
    ("colour", "reason", "zh"), [("yellow", "code_yellow", "黄码"), ("red", "code_red", "红码")]
)
def test_yellow_and_red_codes_are_refused(colour: str, reason: str, zh: str) -> None:
    assert_rule(judge(code(colour)), "deny", reason, zh, f"{colour.title()} code")


def test_recent_negative_test_admits_yellow_where_the_site_allows() -> None:
    lenient = Policy(test_admits_colours=frozenset({"yellow"}), negative_test_hours=48)
    assert judge(code("yellow", tested=NOW - timedelta(hours=30)), policy=lenient).reason == "ok"
    assert judge(code("yellow", tested=NOW - timedelta(hours=50)), policy=lenient).reason == "code_yellow"


def test_site_requiring_a_negative_test() -> None:
    strict = Policy(require_negative_test=True, negative_test_hours=24)
    assert judge(code(tested=NOW - timedelta(hours=20)), policy=strict).reason == "ok"
    decision = judge(code(tested=NOW - timedelta(hours=30)), policy=strict)
    assert_rule(decision, "deny", "test_required", "核酸阴性", "negative test")


def test_expired_code_is_refused() -> None:
    decision = judge(code(issued=NOW - timedelta(days=3)))
    assert_rule(decision, "deny", "expired", "已过期", "expired")


def test_code_from_the_future_is_refused() -> None:
    decision = judge(code(issued=NOW + timedelta(hours=2)))
    assert_rule(decision, "deny", "not_yet_valid", "尚未生效", "not yet valid")


def test_forged_code_is_refused() -> None:
    payload = gc1.issue(KEY, "Issuer", "ID-1", "张*", "red", NOW, NOW + timedelta(days=1))
    forged = verify(forge_gc1(payload).encode(), TrustStore.build(TRUST), NOW)
    assert forged.signature_valid is False and forged.issuer_known is True
    assert_rule(judge(forged), "deny", "signature_invalid", "签名无效", "Forged")


def test_unknown_issuer_is_checked_by_hand_or_refused_per_site() -> None:
    stranger = code(key=secrets.token_bytes(32))
    assert_rule(judge(stranger), "manual", "issuer_unknown", "信任列表", "not trusted")
    assert judge(stranger, policy=Policy(unknown_issuer_action="deny")).verdict == "deny"


def test_revoked_code_is_refused() -> None:
    assert_rule(judge(code(revoked=True)), "deny", "revoked", "已撤销", "revoked")


def test_garbled_signed_code_is_refused() -> None:
    broken = verify(b"GC1:not-base45-at-all", TrustStore.build(TRUST), NOW)
    assert_rule(judge(broken), "deny", "code_invalid", "无法识读", "malformed")


def test_opaque_code_goes_to_the_guard_by_default() -> None:
    opaque = verify(b"https://hc.example.invalid/v?t=1", TrustStore.build(TRUST), NOW)
    assert_rule(judge(opaque), "manual", "code_unverified", "人工核验", "guard confirms")
    assert judge(opaque, policy=Policy(opaque_action="admit")).verdict == "admit"
    assert judge(opaque, policy=Policy(opaque_action="deny")).verdict == "deny"


def test_unset_clock_is_flagged_and_sent_to_the_guard() -> None:
    decision = judge(code(), clock_unset=True)
    assert_rule(decision, "manual", "clock_unset", "时钟未校准", "clock not set")
    assert "clock_unset" in decision.flags


def test_stale_trust_list_warns_by_default_and_can_be_strict() -> None:
    warned = judge(code(), trust_age_hours=72)
    assert warned.reason == "ok" and "trust_stale" in warned.flags
    assert judge(code(), trust_age_hours=47).flags == ()
    strict = judge(code(), trust_age_hours=72, policy=Policy(stale_trust_action="manual"))
    assert_rule(strict, "manual", "trust_stale", "信任列表已过期", "out of date")


def test_every_reason_has_both_texts() -> None:
    for reason, (zh, en) in texts().items():
        assert zh and en and zh != en, reason


@pytest.mark.parametrize(
    "bad",
    [{"fever_threshold_c": 35.0}, {"fever_threshold_c": 41}, {"negative_test_hours": 36},
     {"allowed_colours": ["blue"]}, {"surprise": 1}, {"plausible_max_c": 39, "fever_threshold_c": 39.5}],
)  # fmt: skip
def test_invalid_policies_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Policy.model_validate(bad)


@pytest.mark.parametrize("text, value", [("36.6", 36.6), (" 37,2 ", 37.2), ("38", 38.0)])
def test_typed_temperatures_parse(text: str, value: float) -> None:
    assert parse_celsius(text) == value


@pytest.mark.parametrize("text", ["abc", "", "36.6C", "nan", "inf"])
def test_typed_garbage_is_refused(text: str) -> None:
    with pytest.raises(ReadingError):
        parse_celsius(text)
