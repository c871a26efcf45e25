"""The site managers' pages: login, today across my sites, a site's trend and devices,
CSV export, alerts. Server-rendered with Jinja2; nothing loads from the internet."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from core.reasons import reason
from core.text import LINE_PATTERN
from hub import queries, sessions
from hub.api.deps import EngineDep, LangDep, SettingsDep, SiteDep, UserDep, report_range, same_origin
from hub.auth import authenticate
from hub.charts import daily_bars
from hub.i18n import translator
from hub.schemas import DayCounts, SitePublic
from hub.throttle import LoginThrottle

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
    }
    response = templates.TemplateResponse(request, name, {**helpers, **context}, status_code=status)
    if request.query_params.get("lang"):
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="strict")
    return response


def _ms(value: int | None) -> str:
    if not value:
        return "-"
    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


templates.env.filters["ms"] = _ms


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
    engine: Any, site_list: list[SitePublic], n_days: int, all_sites: bool
) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows of the overview: one counts query and one devices query for these sites."""
    if not site_list:
        return [], []
    todays = {s.id: queries.site_today(s) for s in site_list}
    days = queries.recent_days(max(todays.values()), n_days)
    ids = None if all_sites else [s.id for s in site_list]
    counts: dict[str, dict[str, queries.DaySummary]] = {s.id: {} for s in site_list}
    for found in queries.overview_counts(engine, ids, days[-1], days[0]):
        counts[found.site_id][found.date] = found
    yesterdays = [(s, todays[s.id] - timedelta(days=1)) for s in site_list]
    statuses = queries.day_statuses(engine, [(s, d, counts[s.id].get(d.isoformat())) for s, d in yesterdays])
    rows = []
    for site, status in zip(site_list, statuses, strict=True):
        mine, today = counts[site.id], todays[site.id]
        cells = [
            {"date": d.isoformat(), "future": d > today, "counts": mine.get(d.isoformat())} for d in days
        ]
        rows.append({"site": site, "today": mine.get(today.isoformat()), "status": status, "cells": cells})
    return [d.isoformat() for d in days], rows


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    lang: LangDep,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """Open alerts, today's totals across my sites, then my sites a page at a time: today,
    yesterday's report status, recent days."""
    site_list = queries.list_sites(engine, user.sites)
    size = settings.overview_page_size
    pages = max(1, -(-len(site_list) // size))
    shown = site_list[(page - 1) * size : page * size]
    days, rows = _site_rows(engine, shown, settings.dashboard_days, all_sites=False)
    today = max((queries.site_today(s) for s in site_list), default=queries.site_today_utc())
    totals = queries.overview_totals(engine, None if user.sites is None else list(user.sites), today)
    open_alerts = queries.open_alerts(engine, [s.id for s in site_list] if user.sites is not None else None)
    names = {s.id: s.name for s in site_list}
    context = {"user": user, "days": days, "rows": rows, "alerts": open_alerts, "names": names,
               "totals": totals, "page": page, "pages": pages, "n_sites": len(site_list)}  # fmt: skip
    return _render(request, "overview.html", lang, context)


@router.get("/sites/{site_id}", response_class=HTMLResponse)
def site_page(
    request: Request, site: SiteDep, engine: EngineDep, user: UserDep, lang: LangDep
) -> HTMLResponse:
    """A site's 30-day trend, today per entrance and per hour, report status, devices."""
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
        "today": counts.get(today.isoformat()) or DayCounts(site_id=site.id, date=today.isoformat()),
        "bars": daily_bars(days, counts),
        "statuses": statuses,
        "devices": queries.device_health(engine, site.id),
    }
    return _render(request, "site.html", lang, context)


CSV_FIELDS = (
    "checks", "admitted", "denied", "remeasure", "manual", "fevers", "code_red", "refused",
    "overrides", "visitors", "holders", "devices", "temp_manual",
)  # fmt: skip


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run: a leading = + - @ (or tab, CR) makes Excel
    and LibreOffice read a formula, so such a cell starts with an apostrophe instead."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/sites/{site_id}/report.csv")
def export_csv(
    site: SiteDep,
    engine: EngineDep,
    start: Annotated[date | None, Query()] = None,
    end: Annotated[date | None, Query()] = None,
) -> Response:
    """The daily report as CSV, one row per local day, missing days included as such."""
    start, end = report_range(site, start, end)
    counts = {c.date: c for c in queries.daily(engine, [site.id], start, end)}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["site", "date", "report", *CSV_FIELDS, "typed_share", "denied_by_reason"])
    span = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    statuses = queries.day_statuses(engine, [(site, day, counts.get(day.isoformat())) for day in span])
    for day, status in zip(span, statuses, strict=True):
        found = counts.get(day.isoformat())
        numbers = [getattr(found, f) for f in CSV_FIELDS] if found else [""] * len(CSV_FIELDS)
        reasons = ";".join(f"{k}={v}" for k, v in sorted(found.denied_by_reason.items())) if found else ""
        share = f"{found.typed_share:.3f}" if found else ""
        writer.writerow([_cell(site.name), day.isoformat(), status.state, *numbers, share, reasons])
    filename = f"gatecheck-{site.id}-{start}-{end}.csv"
    return Response(
        "\ufeff" + out.getvalue(),  # BOM: spreadsheet programs then read the Chinese names right
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/sites/{site_id}/alerts/{alert_id}/ack")
def acknowledge(site_id: str, alert_id: int, engine: EngineDep, user: UserDep) -> RedirectResponse:
    if not (user.can_see(site_id) and queries.acknowledge_alert(engine, site_id, alert_id, user.username)):
        raise HTTPException(404, "Alert not found")
    return RedirectResponse("/", status_code=303)
