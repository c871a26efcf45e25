"""The dashboard's two languages. zh-CN is the default; ``?lang=en`` switches (a cookie
keeps the choice). Terms follow the sites' own documents (通行, 体温异常, 零报告 …)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LANGUAGES = ("zh-CN", "en")

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("门岗核验", "Gate checks"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "bad_login": ("用户名或密码错误", "Wrong username or password"),
    "form_expired": ("登录页面已过期，请重新登录", "The login page expired: please log in again"),
    "too_many": ("登录失败次数过多，请 15 分钟后再试", "Too many failed logins: try again in 15 minutes"),
    "today": ("今日概况", "Today across my sites"),
    "site": ("场所", "Site"),
    "checks": ("核验人次", "Checked"),
    "admitted": ("通行", "Admitted"),
    "denied": ("禁止通行", "Denied"),
    "remeasure": ("复测", "Re-measure"),
    "manual": ("人工核验", "By hand"),
    "fevers": ("体温异常", "Fevers"),
    "holders": ("人数", "People"),
    "typed": ("手动录入体温", "Typed temps"),
    "by_reason": ("拒绝原因", "Denied by reason"),
    "status": ("上报状态", "Report"),
    "zero_report": ("零报告（已自动生成）", "Zero report (automatic)"),
    "reported": ("有情况，已上报", "Reported, with incidents"),
    "waiting": ("等待设备同步", "Waiting for devices"),
    "late": ("逾期未报", "Late"),
    "no_devices": ("当日尚无登记设备", "No gate enrolled that day"),
    "not_begun": ("未开始", "Not begun"),
    "missing": ("未上报", "missing"),
    "recent_days": ("近期每日统计", "Recent days"),
    "trend": ("30日趋势", "30-day trend"),
    "per_gate": ("各出入口", "Per entrance"),
    "per_hour": ("分时段", "Per hour"),
    "devices": ("设备状态", "Device health"),
    "gate": ("出入口", "Gate"),
    "last_seen": ("最近联系", "Last seen"),
    "backlog": ("未同步", "Backlog"),
    "skew": ("时钟偏差", "Clock skew"),
    "software": ("软件版本", "Software"),
    "trust_age": ("信任列表时长", "Trust list age"),
    "alerts": ("告警", "Alerts"),
    "no_alerts": ("暂无未处理告警", "No open alerts"),
    "all_open_alerts": ("全部未处理告警", "All open alerts"),
    "newest_shown": ("此处仅显示最新", "Shown here: the newest"),
    "ack": ("已处理", "Acknowledge"),
    "export": ("导出CSV", "Export CSV"),
    "deadline": ("截止", "due"),
    "date": ("日期", "Date"),
    "no_data_yet": ("今日暂无数据", "No data yet today"),
    "choose_action": ("请选择处置措施", "What was done?"),
    "rules_version": ("规则版本", "Rules"),
    "rules_now": ("现行规则", "Rules in force"),
    "first_rules": ("建立场所时的规则", "The rules the site was created with"),
    "rule": ("规则项", "Rule"),
    "new_value": ("新值（如 37.0）", "New value (e.g. 37.0)"),
    "change_rule": ("修改规则", "Change rule"),
    "old_rules": ("旧版本", "outdated"),
    "rules_history": ("规则变更记录", "Rule changes"),
    "applies_from": ("生效时间", "Applies from"),
    "changed_by": ("变更人", "Changed by"),
    "why_changed": ("原因", "Why"),
    "in_force": ("现行", "in force"),
    "upcoming": ("待生效", "upcoming"),
    "visitor_ledger": ("访客登记簿", "Visitor ledger"),
    "refresh": ("刷新", "Refresh"),
    "show_full": ("显示完整姓名和电话", "Show full names and phones"),
    "hide_full": ("隐藏", "Hide"),
    "full_logged": ("本次查看已记录", "This view is recorded"),
    "inside_now": ("目前在场", "Inside now"),
    "entered": ("进入时间", "Entered"),
    "name": ("姓名", "Name"),
    "phone": ("电话", "Phone"),
    "host": ("被访人 / 单位", "Host / unit"),
    "purpose": ("事由", "Purpose"),
    "escort": ("陪同人", "Escort"),
    "left": ("离开时间", "Left"),
    "still_inside": ("在场", "inside"),
    "no_visitors": ("当日无访客登记", "No visitors that day"),
    "full_views": ("完整信息查看记录", "Who saw names in full"),
    "no_full_views": ("无人查看过完整信息", "Nobody has seen names in full"),
    "visitors_link": ("访客登记簿", "Visitor ledger"),
    "at_gate": ("现场处置：", "At the gate: "),
    "action_taken": ("处置措施", "Action taken"),
    "note": ("备注", "Note"),
    "escalated": ("已超时，已升级", "Overdue: escalated"),
    "overridden": ("保安已人工放行", "Admitted by the guard's override"),
    "alert_history": ("告警记录（30 日）", "Alert history (30 days)"),
    "handled_by": ("处理人", "Handled by"),
    "open": ("未处理", "open"),
    "confirmed_by": ("已核对上报：", "Confirmed by"),
    "confirm_zero": ("确认零报告", "Confirm zero report"),
    "confirm_report": ("已核对上报", "Checked and reported"),
    "check_and_confirm": ("查看并核对日报", "Check and confirm the report"),
    "report_pdf": ("日报 PDF", "Report PDF"),
    "report_xlsx": ("日报 Excel", "Report Excel"),
    "excel": ("Excel", "Excel"),
    "code_red": ("红码", "Red codes"),
    "refused": ("拒绝检查", "Refused the check"),
    "overrides": ("人工判定", "Overrides"),
    "visitors": ("访客登记", "Visitors"),
    "devices_reporting": ("上报设备数", "Devices reporting"),
    "temp_manual": ("手动录入体温", "Typed temperatures"),
    "typed_share": ("手动录入比例", "Typed share"),
    "o_clock": ("时", "h"),
    "no_sites": (
        "还没有场所。请用 gatecheck provision site create 创建。",
        "No sites yet. Create one with gatecheck provision site create.",
    ),
    "last_contact": ("最近联系", "Last contact"),
    "never_contacted": ("从未联系", "never"),
    "offline": ("离线", "Offline"),
    "urgency": ("优先级", "Priority"),
    "u_late": ("逾期未报", "Late"),
    "u_alerts_open": ("有未处理告警", "Open alerts"),
    "u_offline": ("设备离线", "Gate offline"),
    "u_waiting": ("等待同步", "Waiting"),
    "u_fine": ("正常", "Fine"),
    "yesterday_report": ("昨日报告", "Yesterday's report"),
    "report_due": ("上报时限", "Report by"),
    "age": ("已过", "Age"),
    "time": ("时间", "Time"),
    "open_alerts_n": ("未处理告警", "open alerts"),
    "active": ("在用", "active"),
    "revoked": ("已停用", "revoked"),
    "not_found": ("页面不存在", "Page not found"),
    "not_found_text": (
        "您要找的页面或场所不存在，或您无权查看。",
        "The page or site does not exist, or you may not see it.",
    ),
    "back_home": ("返回首页", "Back to the overview"),
    "all_regions": ("辖区", "Regions"),
    "rule_own": ("本场所自定", "set by this site"),
    "complete_share": ("四件套完整率", "Complete four checks"),
    "handovers": ("快递外卖无接触交接", "Courier hand-overs"),
    "exits": ("离开人次", "Exits"),
    "vehicles": ("车辆", "Vehicles"),
    "by_person": ("按人员类别", "By kind of person"),
    "incomplete_parts": ("不完整（按项）", "Incomplete, by part"),
    "missing_code": ("健康码未核验", "code not verified"),
    "missing_itinerary": ("行程卡未查", "itinerary not seen"),
    "missing_temperature": ("体温非自动测量", "temperature not measured by sensor"),
    "missing_mask": ("口罩未查", "mask not checked"),
    "rule_inherited": ("默认 / 上级规定", "default or set above"),
    "region": ("区域", "Region"),
    "category": ("场所类别", "Category"),
    "sites_n": ("场所数", "Sites"),
    "by_child_region": ("下级区域", "By region below"),
    "by_category": ("按场所类别", "By category"),
    "no_gates": ("无在用设备", "No working gate"),
    "late_list": ("逾期未报及无设备场所", "Sites late with their report or without a gate"),
    "none_late": ("没有逾期未报的场所", "No site is late"),
    "first_n": ("仅列出最早的", "Showing the first"),
    "no_sites_here": ("该区域下还没有场所", "No sites in this region yet"),
    "no_regions": (
        "还没有区域。请用 gatecheck provision region create 创建。",
        "No regions yet. Create one with gatecheck provision region create.",
    ),
    "region_sums": ("各场所按本地日期汇总", "sums of each site's own local day"),
    "day_today": ("今日", "Today"),
    "day_yesterday": ("昨日", "Yesterday"),
    "cell_help": (
        "每格：核验 / 通行 / 禁止；红字为体温异常。“未上报”表示该日没有数据到达，并非零报告。",
        "Each cell: checked / admitted / denied; fevers in red. “missing” means no data reached "
        "the hub for that day — it is not a zero report.",
    ),
}


RULE_NAMES: dict[str, tuple[str, str]] = {
    "fever_threshold_c": ("体温异常阈值 °C", "Fever threshold °C"),
    "retest_after_s": ("复测等待（秒）", "Wait before the re-test (s)"),
    "remeasure_window_s": ("复测窗口（秒）", "Re-test window (s)"),
    "plausible_min_c": ("合理读数下限 °C", "Lowest plausible reading °C"),
    "plausible_max_c": ("合理读数上限 °C", "Highest plausible reading °C"),
    "allowed_colours": ("准入码色", "Colours admitted"),
    "negative_test_hours": ("核酸有效时长（小时）", "Negative test valid for (h)"),
    "require_negative_test": ("须持核酸阴性证明", "Negative test required"),
    "test_admits_colours": ("持阴性证明可入的码色", "Colours admitted with a negative test"),
    "opaque_action": ("无法离线验证的码", "Codes not verifiable offline"),
    "unknown_issuer_action": ("未知签发机构", "Unknown issuer"),
    "trust_max_age_hours": ("信任列表有效时长（小时）", "Trust list valid for (h)"),
    "stale_trust_action": ("信任列表过期时", "When the trust list is stale"),
    "alert_reasons": ("告警事项", "Alerted denials"),
    "debounce_s": ("同码去重（秒）", "Same code ignored for (s)"),
}
"""Each gate rule's name on the dashboard (the field name stays in the API and the CLI)."""


def translator(lang: str) -> Callable[[str], str]:
    index = 1 if lang == "en" else 0
    return lambda key: TEXTS.get(key, (key, key))[index]


def local_time(ms: int | None, timezone: str, with_date: bool = True) -> str:
    """An instant as the site's clock showed it ("11-30 14:05"), "-" for none."""
    if not ms:
        return "-"
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZoneInfo(timezone))
    return moment.strftime("%m-%d %H:%M" if with_date else "%H:%M")


def duration(ms: int, lang: str) -> str:
    """A length of time in words: "1 小时 58 分" / "1 h 58 min" (minutes under an hour,
    days over two)."""
    minutes = max(0, ms) // 60_000
    hours, mins = divmod(minutes, 60)
    days, hours_left = divmod(hours, 24)
    if lang == "en":
        if days >= 2:
            return f"{days} d {hours_left} h"
        return f"{hours} h {mins} min" if hours else f"{mins} min"
    if days >= 2:
        return f"{days} 天 {hours_left} 小时"
    return f"{hours} 小时 {mins} 分" if hours else f"{mins} 分钟"


def time_left(deadline: datetime, now_ms: int, lang: str) -> str:
    """Until a deadline ("剩 1 小时 58 分"), or how far past it ("已逾期 35 分钟")."""
    deadline_ms = int(deadline.timestamp() * 1000)
    if now_ms <= deadline_ms:
        span = duration(deadline_ms - now_ms, lang)
        return f"{span} left" if lang == "en" else f"剩 {span}"
    span = duration(now_ms - deadline_ms, lang)
    return f"{span} overdue" if lang == "en" else f"已逾期 {span}"


def clock_skew(ms: int | None) -> str:
    """A device clock's offset from the hub's, to a tenth of a second, signed ("+0.3 s",
    "0.0 s" — never "-0.0 s"); "-" when unknown."""
    if ms is None:
        return "-"
    tenths = round(ms / 100)
    return "0.0 s" if tenths == 0 else f"{tenths / 10:+.1f} s"


def zone_label(timezone: str) -> str:
    """A site's zone as its current UTC offset ("UTC+08:00"): the same in both languages."""
    offset = datetime.now(UTC).astimezone(ZoneInfo(timezone)).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"
