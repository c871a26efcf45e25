"""Every reason a check (or an alert) can have — one table, used by the gate, the hub and
the dashboard.

A reason code is stable: the hub counts by it (``deny:<code>``, and in the day report's
field ``metric`` when it has one), the kiosk and the dashboard show its texts, the sync agent sends
``urgent`` ones ahead of the backlog and the hub raises ``alert`` ones to the managers the
moment they arrive. Adding a reason is one line here; the policy rules that produce it
live in ``edge.policy``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: str
    zh: str
    en: str
    urgent: bool = False
    """A denial the sites must report within the hour: sent ahead of the routine backlog."""
    alert: bool = False
    """Always raised to the site's managers (dashboard, webhook) as soon as the hub has it
    (problems of a device's log); which denials are alerted is the site's policy
    (``Policy.alert_reasons``: fevers and red codes by default)."""
    event: bool = False
    """Not a decision at the gate but a record of something else (a fever's disposition, a
    person leaving): it travels and is kept like a check, and adds to no count but its own
    ``metric``, if it has one."""
    metric: str | None = None
    """The daily count this reason adds to, besides ``deny:<code>`` — named as the field of
    the hub's day report (``DayCounts``), the same name from the count to the CSV."""


REASONS: dict[str, Reason] = {
    reason.code: reason
    for reason in (
        Reason("ok", "通行", "Admitted"),
        Reason(
            "fever",
            "体温异常，禁止通行",
            "Fever confirmed: entry refused",
            urgent=True,
            metric="fevers",
        ),
        Reason("temp_high", "体温偏高，请复测", "Temperature high: measure again"),
        Reason("retest_wait", "体温偏高，请等待复测", "Temperature high: wait for the re-test"),
        Reason("fever_handled", "体温异常已处置", "Fever handled", urgent=True, event=True),
        Reason("temp_out_of_range", "体温读数异常，请复测", "Implausible reading: measure again"),
        Reason("no_temperature", "未测体温，请测温", "No temperature taken: measure first"),
        Reason("no_code", "未识别健康码，请人工核验", "No readable code: check by hand"),
        Reason("code_invalid", "健康码无法识读，禁止通行", "Damaged or malformed code: entry refused"),
        Reason("signature_invalid", "健康码签名无效，禁止通行", "Forged or altered code: entry refused"),
        Reason("issuer_unknown", "签发机构不在信任列表，请人工核验", "Issuer not trusted on this gate"),
        Reason("revoked", "健康码已撤销，禁止通行", "Code revoked: entry refused"),
        Reason("expired", "健康码已过期，禁止通行", "Code expired: entry refused"),
        Reason("not_yet_valid", "健康码尚未生效，禁止通行", "Code not yet valid: entry refused"),
        Reason("clock_unset", "设备时钟未校准，请人工核验", "Device clock not set: check by hand"),
        Reason(
            "code_red",
            "红码，禁止通行",
            "Red code: entry refused",
            urgent=True,
            metric="code_red",
        ),
        Reason("code_yellow", "黄码，禁止通行", "Yellow code: entry refused"),
        Reason("code_green_refused", "绿码不符合本场所规定，禁止通行", "Green codes not accepted here"),
        Reason("test_required", "需有效期内核酸阴性证明", "Recent negative test required"),
        Reason("code_unverified", "无法离线验证，请人工核验健康码", "Unverifiable code: guard confirms it"),
        Reason("trust_stale", "信任列表已过期，请人工核验", "Trust list out of date: check by hand"),
        Reason(
            "refused", "拒绝检查，禁止通行", "Refused the check: entry refused", urgent=True, metric="refused"
        ),
        Reason("override", "保安人工判定", "Decided by the guard"),
        Reason("itinerary_star", "行程卡带星号，禁止通行", "Itinerary card with a star: entry refused"),
        Reason("itinerary_missing", "未出示行程卡，禁止通行", "No itinerary card: entry refused"),
        Reason("no_mask", "未佩戴口罩，禁止通行", "No mask: entry refused"),
        Reason("exit", "已登记离开", "Left the site", event=True, metric="exits"),
        Reason(
            "staff_fever",
            "员工体温异常，不能上岗",
            "Staff fever: shift not started",
            urgent=True,
            alert=True,
            metric="fevers",
        ),
        Reason(
            "symptoms",
            "有症状或接触史，禁止通行，请立即上报",
            "Symptoms or contact: entry refused",
            urgent=True,
        ),
        Reason(
            "symptoms_unasked",
            "请询问健康问题后再判定",
            "Ask the health questions, then decide",
        ),
        Reason(
            "courier_handover",
            "快递外卖无接触交接，不入内",
            "Courier: contactless hand-over, no entry",
            metric="handovers",
        ),
        Reason("visitor", "访客已登记，通行", "Visitor registered: admitted", metric="visitors"),
        Reason("id_checked", "已人工核验身份，通行", "Identity checked by the guard: admitted"),
        Reason(
            "log_replaced",
            "设备检查记录已丢失并重新开始，之前未同步的检查可能已丢失",
            "Check log lost and restarted: unsynced checks may be lost",
            alert=True,
        ),
        Reason(
            "log_conflict",
            "同一编号的检查内容不一致（已另存）",
            "Same check number with other content (kept aside)",
            alert=True,
        ),
    )
}


def reason(code: str) -> Reason:
    """The reason with this code; an unknown code (from newer software) shows as itself."""
    return REASONS.get(code) or Reason(code, code, code)


def texts() -> dict[str, tuple[str, str]]:
    """code → (zh-CN, English), for pages that look reasons up in the browser."""
    return {r.code: (r.zh, r.en) for r in REASONS.values()}


def event_codes() -> tuple[str, ...]:
    """The reasons of records that are no decision at the gate (counted nowhere)."""
    return tuple(r.code for r in REASONS.values() if r.event)
