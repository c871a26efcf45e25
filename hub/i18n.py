"""The dashboard's two languages. zh-CN is the default; ``?lang=en`` switches (a cookie
keeps the choice). Terms follow the sites' own documents (通行, 体温异常, 零报告 …)."""

from __future__ import annotations

from collections.abc import Callable

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
    "no_devices": ("未登记设备", "No devices"),
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
    "ack": ("已处理", "Acknowledge"),
    "export": ("导出CSV", "Export CSV"),
    "deadline": ("截止", "due"),
    "date": ("日期", "Date"),
    "cell_help": (
        "每格：核验 / 通行 / 禁止；红字为体温异常。“未上报”表示该日没有数据到达，并非零报告。",
        "Each cell: checked / admitted / denied; fevers in red. “missing” means no data reached "
        "the hub for that day — it is not a zero report.",
    ),
}


def translator(lang: str) -> Callable[[str], str]:
    index = 1 if lang == "en" else 0
    return lambda key: TEXTS.get(key, (key, key))[index]
