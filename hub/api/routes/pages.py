"""The site managers' pages: login, today across my sites, a site's trend and devices,
CSV export, alerts. Server-rendered with Jinja2; nothing loads from the internet."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Connection

from core.fever_drill import DISPOSITIONS
from core.four_checks import CATEGORIES, PARTS
from core.reasons import reason
from core.text import LINE_PATTERN
from hub import day_reports, queries, region_overview, sessions, visitors
from hub.alerts import ACTIONS, report_within_ms
from hub.api.deps import (
    BackPath,
    EngineDep,
    LangDep,
    RegionDep,
    SettingsDep,
    SiteDep,
    UserDep,
    report_day,
    report_range,
    same_origin,
)
from hub.auth import User, authenticate
from hub.charts import AXIS_LEFT, daily_bars, peak_of
from hub.core.config import HubSettings
from hub.i18n import RULE_NAMES, clock_skew, duration, local_time, time_left, translator, zone_label
from hub.policies import history as policy_history
from hub.policies import set_policy
from hub.records import PolicyChange, RegistryError, typed_value
from hub.region_overview import region_today, visible_regions
from hub.schemas import SitePublic
from hub.throttle import LoginThrottle
from hub.urgency import worklist

templates = Jinja2Templates(directory=Path(__file__).resolve().parents[2] / "templates")
router = APIRouter(include_in_schema=False)


def _reason(code: str, lang: str) -> str:
    """A reason code in words, as the kiosk says it (the code itself when unknown)."""
    found = reason(code)
    return found.en if lang == "en" else found.zh


def _render(
    request: Request, name: str, lang: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    session = getattr(request.state, "session", None)
    helpers = {
        "t": translator(lang),
        "lang": lang,
        "reason": lambda code: _reason(code, lang),
        "csrf_token": session.csrf if session else "",
        "local": local_time,
        "span": lambda ms: duration(ms, lang),
        "left": lambda iso, now_ms: time_left(datetime.fromisoformat(iso), now_ms, lang),
        "skew": clock_skew,
        "rule_name": lambda name: RULE_NAMES.get(name, (name, name))[lang == "en"],
        "zone": zone_label,
        "actions": {key: texts[lang == "en"] for key, texts in ACTIONS.items()},
        "disposition": lambda key: DISPOSITIONS.get(key, (key, key))[lang == "en"],
        "person": lambda key: CATEGORIES.get(key, (key, key))[lang == "en"],
        "left_ms": lambda ms, now_ms: time_left(datetime.fromtimestamp(ms / 1000, UTC), now_ms, lang),
    }
    response = templates.TemplateResponse(request, name, {**helpers, **context}, status_code=status)
    if request.query_params.get("lang"):
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="strict")
    return response


def wants_page(request: Request) -> bool:
    """A browser asking for a dashboard page (not the JSON API, not a device)."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def not_found_page(request: Request, lang: str) -> HTMLResponse:
    return _render(request, "not_found.html", lang, {"user": None}, status=404)


def _login_page(request: Request, lang: str, error: str | None, status: int = 200) -> HTMLResponse:
    """The login form with a fresh CSRF token, in the form and in a cookie (double
    submit): a page on another site cannot read it, so it cannot log anyone in."""
    token = secrets.token_urlsafe(32)
    response = _render(request, "login.html", lang, {"error": error, "login_token": token}, status=status)
    _set_cookie(request, response, sessions.LOGIN_COOKIE, token, max_age=3600)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    secure = request.app.state.settings.https
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", secure=secure)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, lang: LangDep) -> HTMLResponse:
    return _login_page(request, lang, None)


@router.post("/login", response_class=HTMLResponse, response_model=None)
def login(
    request: Request,
    engine: EngineDep,
    lang: LangDep,
    username: Annotated[str, Form(max_length=64, pattern=LINE_PATTERN)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    expected = request.cookies.get(sessions.LOGIN_COOKIE, "")
    if not (expected and same_origin(request) and sessions.same_token(csrf_token, expected)):
        return _login_page(request, lang, "form_expired", status=403)
    throttle: LoginThrottle = request.app.state.throttle
    address = request.client.host if request.client else ""
    if wait := throttle.locked_for(username, address):
        refused = _login_page(request, lang, "too_many", status=429)
        refused.headers["Retry-After"] = str(int(wait) + 1)
        return refused
    user = authenticate(engine, username, password)
    if user is None:
        throttle.failed(username, address)
        return _login_page(request, lang, "bad_login", status=401)
    throttle.succeeded(username)
    response = RedirectResponse("/", status_code=303)
    _set_cookie(
        request, response, sessions.COOKIE, sessions.start(engine, user.username), sessions.LIFETIME_S
    )
    response.delete_cookie(sessions.LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, engine: EngineDep, user: UserDep) -> RedirectResponse:
    """Ends the session on the hub, not only in this browser."""
    sessions.end(engine, request.cookies.get(sessions.COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(sessions.COOKIE)
    return response


def _site_rows(
    conn: Connection,
    site_list: list[SitePublic],
    n_days: int,
    now: datetime,
    gates: dict[str, queries.Gates],
    active: queries.ActiveDevices,
) -> tuple[list[str], list[SimpleNamespace]]:
    """Rows of one overview page: its sites' recent days and yesterday's report (two queries).
    Rows, cells and listed alerts are namespaces, not dicts: the template reads ``row.site``,
    and Jinja's attribute lookup on a dict raises and catches an AttributeError each time
    before it tries the key (~9 % of the overview's CPU for 50 sites × 7 days)."""
    if not site_list:
        return [], []
    todays = {s.id: queries.site_today(s, now) for s in site_list}
    days = queries.recent_days(max(todays.values()), n_days)
    counts: dict[str, dict[str, queries.DaySummary]] = {s.id: {} for s in site_list}
    for found in queries.overview_counts(conn, [s.id for s in site_list], days[-1], days[0]):
        counts[found.site_id][found.date] = found
    yesterdays = [(s, todays[s.id] - timedelta(days=1)) for s in site_list]
    statuses = queries.day_statuses(
        conn, [(s, d, counts[s.id].get(d.isoformat())) for s, d in yesterdays], now, gates, active
    )
    rows: list[SimpleNamespace] = []
    for site, status in zip(site_list, statuses, strict=True):
        mine, today = counts[site.id], todays[site.id]
        cells = [
            SimpleNamespace(date=d.isoformat(), future=d > today, counts=mine.get(d.isoformat()))
            for d in days
        ]
        rows.append(SimpleNamespace(site=site, today=mine.get(today.isoformat()), status=status, cells=cells))
    return [d.isoformat() for d in days], rows


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    lang: LangDep,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """Open alerts, today's totals across my sites, then my sites most urgent first (late,
    fevers open, gates offline, waiting, fine), a page at a time: today — "no data yet"
    with the last contact, never a false zero — yesterday's report and its deadline.
    An officer starts from their region instead (a province is no list of sites)."""
    if user.role == "officer":
        only = next(iter(user.regions)) if len(user.regions) == 1 else None
        return RedirectResponse(f"/regions/{only}" if only else "/regions", status_code=303)
    now = datetime.now(UTC)
    quiet_before_ms = int(now.timestamp() * 1000) - settings.offline_after_min * 60_000
    with queries.page_reads(engine) as conn:
        found = queries.worklist_sites(conn, user.sites, quiet_before_ms)
        site_list = [f.site for f in found]
        work = worklist(found, now, quiet_before_ms)
        size = settings.overview_page_size
        pages = max(1, -(-len(work.ordered) // size))
        shown = work.ordered[(page - 1) * size : page * size]
        active = queries.active_devices(conn, work.to_name(shown))  # usually a few gates, or none
        days, rows = _site_rows(conn, shown, settings.dashboard_days, now, work.gates, active)
        confirmed = day_reports.confirmations(conn, [(r.site.id, r.status.date) for r in rows])
        today = max((queries.site_today(s) for s in site_list), default=queries.site_today_utc())
        totals = queries.overview_totals(conn, None if user.sites is None else list(user.sites), today)
        alerts_shown = _alerts_shown(conn, settings, user, site_list, settings.overview_alerts, 0)
    for row in rows:
        site_id = row.site.id
        row.urgency = work.levels[site_id]
        gates, named = work.gates.get(site_id), active.get(site_id, [])
        row.contact = queries.contact_of(gates, named, work.quiet_before_ms)
        row.open_alerts = work.open_alerts.get(site_id, 0)
        row.confirmed = confirmed.get((site_id, row.status.date))
    context = {"user": user, "days": days, "rows": rows, "totals": totals, "page": page, "pages": pages,
               "n_sites": len(site_list), "now_ms": int(now.timestamp() * 1000), "back": "/",
               "n_open_alerts": sum(work.open_alerts.values()), **alerts_shown}  # fmt: skip
    return _render(request, "overview.html", lang, context)


ALERTS_PAGE = 50
"""Open alerts per page of /alerts."""


def _alerts_shown(
    conn: Connection, settings: HubSettings, user: User, site_list: list[SitePublic], limit: int, offset: int
) -> dict[str, Any]:
    """The open alerts a page lists (newest first) with each one's report deadline, and
    the names and zones of their sites."""
    scope = None if user.sites is None else [s.id for s in site_list]
    shown = [
        SimpleNamespace(**a.model_dump(), due_ms=a.event_ms + report_within_ms(a.reason, settings))
        for a in queries.open_alerts(conn, scope, limit, offset)
    ]
    return {"alerts": shown, "names": {s.id: s.name for s in site_list},
            "zones": {s.id: s.timezone for s in site_list}}  # fmt: skip


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    lang: LangDep,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """Every open alert of my sites, newest first, a page at a time, each with its form:
    the overview lists only the newest, so a page of them stays quick to load and read."""
    with queries.page_reads(engine) as conn:
        site_list = queries.list_sites(conn, user.sites)
        counts = queries.open_alert_counts(conn, user.sites)
        shown = _alerts_shown(conn, settings, user, site_list, ALERTS_PAGE, (page - 1) * ALERTS_PAGE)
    n_open = sum(counts.values())
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    context = {"user": user, "n_open_alerts": n_open, "page": page, "back": f"/alerts?page={page}",
               "pages": max(1, -(-n_open // ALERTS_PAGE)), "now_ms": now_ms, **shown}  # fmt: skip
    return _render(request, "alerts.html", lang, context)


@router.get("/regions", response_class=HTMLResponse)
def regions_page(request: Request, engine: EngineDep, user: UserDep, lang: LangDep) -> HTMLResponse:
    """The regions this user may open, as a tree with the sites below each."""
    shown = visible_regions(engine, user)
    context = {"user": user, "regions": shown, "top_depth": min((g.depth for g in shown), default=0)}
    return _render(request, "regions.html", lang, context)


@router.get("/regions/{region_id}", response_class=HTMLResponse)
def region_page(
    request: Request,
    region_id: RegionDep,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    lang: LangDep,
    day: Annotated[date | None, Query(alias="date")] = None,
) -> HTMLResponse:
    """A region's day (today by default, yesterday one tap away): totals, each region
    below and each category, the sites late or without a gate, open alerts — every row
    leading down to a region or a site."""
    today = region_today(settings)
    wanted = report_day(day) if day else today
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    found = region_overview.overview(
        engine, region_id, wanted, now_ms, settings.offline_after_min * 60_000, lang
    )
    if found is None:
        raise HTTPException(404, "Region not found")
    links = [((today - timedelta(days=1)).isoformat(), "day_yesterday"), (today.isoformat(), "day_today")]
    above = {region for region, _ in found.path[:-1] if user.can_see_region(region)}
    context = {"user": user, "r": found, "day_links": links, "now_ms": now_ms, "linked": above,
               "zone_of": settings.region_timezone}  # fmt: skip
    return _render(request, "region.html", lang, context)


@router.get("/sites/{site_id}", response_class=HTMLResponse)
def site_page(
    request: Request, site: SiteDep, engine: EngineDep, settings: SettingsDep, user: UserDep, lang: LangDep
) -> HTMLResponse:
    """A site's 30-day trend, today per entrance and per hour ("no data yet" when nothing
    came since local midnight), report status with deadlines, devices (silent ones
    flagged offline), times on the site's clock."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    today = queries.site_today(site)
    days = [d.isoformat() for d in reversed(queries.recent_days(today, 30))]
    counts = {c.date: c for c in queries.daily(engine, [site.id], today - timedelta(days=29), today)}
    statuses = queries.day_statuses(
        engine, [(site, date.fromisoformat(d), counts.get(d)) for d in reversed(days[-8:-1])]
    )
    context = {
        "user": user,
        "site": site,
        "days": days,
        "counts": counts,
        "today": counts.get(today.isoformat()),
        "today_date": today.isoformat(),
        "bars": daily_bars(days, counts),
        "peak": peak_of(counts),
        "axis_left": AXIS_LEFT,
        "statuses": statuses,
        "confirmed": day_reports.confirmations(engine, [(site.id, s.date) for s in statuses]),
        "history": queries.alert_history(engine, site.id, now_ms - 30 * 86_400_000),
        "rules": (rules := policy_history(engine, site.id)),
        "policy_error": request.query_params.get("policy_error", "")[:300],
        "rules_in_force": next((v.version for v in rules if v.effective_from_ms <= now_ms), 1),
        "devices": queries.device_health(engine, site.id),
        "contact": queries.site_contact(engine, site.id, now_ms - settings.offline_after_min * 60_000),
        "now_ms": now_ms,
    }
    return _render(request, "site.html", lang, context)


@router.post("/sites/{site_id}/policy")
def change_policy(
    site: SiteDep,
    engine: EngineDep,
    user: UserDep,
    field: Annotated[str, Form(max_length=64)],
    value: Annotated[str, Form(max_length=500)],
    reason: Annotated[str, Form(max_length=200, pattern=LINE_PATTERN)],
    effective_from: Annotated[str, Form(max_length=16)] = "",
) -> RedirectResponse:
    """An administrator changes one rule from the site page (the same rules and history as
    the admin API and ``provision site policy set``); what went wrong comes back on the page."""
    if user.role != "admin":
        raise HTTPException(403, "only an administrator may change a site's rules")
    try:
        when = (
            datetime.strptime(effective_from, "%Y-%m-%dT%H:%M").replace(tzinfo=ZoneInfo(site.timezone))
            if effective_from
            else None
        )
        change = PolicyChange(changes={field: typed_value(value)}, effective_from=when, reason=reason)
        set_policy(engine, site.id, change, user.username)
    except (ValueError, RegistryError) as exc:
        return RedirectResponse(f"/sites/{site.id}?{urlencode({'policy_error': str(exc)[:300]})}#rules", 303)
    return RedirectResponse(f"/sites/{site.id}#rules", status_code=303)


@router.get("/sites/{site_id}/visitors", response_class=HTMLResponse)
def visitor_ledger(
    request: Request,
    site: SiteDep,
    engine: EngineDep,
    user: UserDep,
    lang: LangDep,
    day: Annotated[date | None, Query(alias="date")] = None,
    full: bool = False,
) -> HTMLResponse:
    """The site's visitors of a local day and who is still inside; names and phone numbers
    masked, in full only for an administrator who asks — and that view is recorded."""
    day = report_day(day) if day else queries.site_today(site)
    if full and user.role != "admin":
        raise HTTPException(403, "only an administrator may see visitors' names in full")
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    if full:
        visitors.log_full_view(engine, site.id, user.username, f"ledger {day.isoformat()}", now_ms)
    entries = visitors.ledger(engine, site.id, day, site.timezone, full)
    context = {
        "user": user, "site": site, "day": day.isoformat(), "entries": entries, "full": full,
        "inside": [e for e in entries if e.left_ms is None], "may_see_names": user.role == "admin",
        "views": visitors.full_views(engine, site.id),
    }  # fmt: skip
    return _render(request, "visitors.html", lang, context)


CSV_FIELDS = (
    "checks", "admitted", "denied", "remeasure", "manual", "fevers", "code_red", "refused",
    "overrides", "visitors", "holders", "devices", "temp_manual", "handovers", "exits", "vehicles",
)  # fmt: skip
CSV_HEADERS = {field: field for field in CSV_FIELDS} | {"devices": "devices_reporting"}
"""The i18n key each column is headed by."""


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run: a leading = + - @ (or tab, CR) makes Excel
    and LibreOffice read a formula, so such a cell starts with an apostrophe instead."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/sites/{site_id}/report.csv")
def export_csv(
    site: SiteDep,
    engine: EngineDep,
    lang: LangDep,
    start: Annotated[date | None, Query()] = None,
    end: Annotated[date | None, Query()] = None,
) -> Response:
    """The daily report as CSV, one row per local day, missing days included as such:
    headers and report states in the reader's language (Chinese unless English was
    chosen), then a column per entrance and per local hour. The JSON API keeps codes."""
    t = translator(lang)
    start, end = report_range(site, start, end)
    counts = {c.date: c for c in queries.daily(engine, [site.id], start, end)}
    gates = sorted({gate for c in counts.values() for gate in c.by_gate})
    hours = [f"{h:02d}" for h in range(24)]
    out = io.StringIO()
    writer = csv.writer(out)
    named = [t(CSV_HEADERS[f]) for f in CSV_FIELDS]
    per_gate_head = [f"{t('gate')}:{_cell(g)}" for g in gates]
    per_hour_head = [f"{h}{t('o_clock')}" for h in hours]
    writer.writerow(
        [
            t("site"),
            t("date"),
            t("status"),
            *named,
            t("typed_share"),
            t("complete_share"),
            *(t(f"missing_{part}") for part in PARTS),
            t("by_reason"),
            *per_gate_head,
            *per_hour_head,
        ]
    )
    span = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    statuses = queries.day_statuses(engine, [(site, day, counts.get(day.isoformat())) for day in span])
    for day, status in zip(span, statuses, strict=True):
        found = counts.get(day.isoformat())
        numbers = [getattr(found, f) for f in CSV_FIELDS] if found else [""] * len(CSV_FIELDS)
        denied = sorted(found.denied_by_reason.items()) if found else []
        reasons = "; ".join(f"{_reason(k, lang)}={v}" for k, v in denied)
        share = f"{found.typed_share:.3f}" if found else ""
        complete = f"{found.complete_share:.3f}" if found and found.complete_share is not None else ""
        incomplete = [found.incomplete_by_part.get(part, 0) if found else "" for part in PARTS]
        per_gate = [found.by_gate.get(g, 0) if found else "" for g in gates]
        per_hour = [found.by_hour.get(h, 0) if found else "" for h in hours]
        writer.writerow(
            [
                _cell(site.name),
                day.isoformat(),
                t(status.state),
                *numbers,
                share,
                complete,
                *incomplete,
                reasons,
                *per_gate,
                *per_hour,
            ]
        )
    filename = f"gatecheck-{site.id}-{start}-{end}.csv"
    return Response(
        "\ufeff" + out.getvalue(),  # BOM: spreadsheet programs then read the Chinese names right
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/sites/{site_id}/alerts/{alert_id}/ack")
def acknowledge(
    site_id: str,
    alert_id: int,
    engine: EngineDep,
    user: UserDep,
    action: Annotated[str, Form(max_length=32)],
    note: Annotated[str, Form(max_length=200, pattern=LINE_PATTERN)] = "",
    back: BackPath = "/",
) -> RedirectResponse:
    """A manager handled an alert: what they did (from the list), a note, who and when.
    The alert leaves the worklist and stays in the site's alert history; the manager
    returns to the list they handled it from."""
    if action not in ACTIONS or (action == "other" and not note.strip()):
        raise HTTPException(422, "choose what was done (and say what, for other)")
    if not (
        user.can_see(site_id)
        and queries.acknowledge_alert(engine, site_id, alert_id, user.username, action, note.strip() or None)
    ):
        raise HTTPException(404, "Alert not found")
    return RedirectResponse(back, status_code=303)
