"""The site managers' overview page: sites × recent days, rendered on the server."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from hub import queries
from hub.api.deps import EngineDep, SettingsDep

templates = Jinja2Templates(directory=Path(__file__).resolve().parents[2] / "templates")
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, engine: EngineDep, settings: SettingsDep) -> HTMLResponse:
    """Each site's last days in its own timezone; a day without data reads 'missing'.

    Columns are shared by all sites and end at the latest local date any site has
    reached, so a site whose day has not begun yet shows that instead of "missing"."""
    sites = queries.list_sites(engine)
    todays = {site.id: queries.site_today(site) for site in sites}
    days = queries.recent_days(max(todays.values()), settings.dashboard_days) if sites else []
    rows = []
    for site in sites:
        counts = {c.date: c for c in queries.daily(engine, [site.id], days[-1], days[0])}
        cells = [
            {"date": d.isoformat(), "future": d > todays[site.id], "counts": counts.get(d.isoformat())}
            for d in days
        ]
        rows.append({"site": site, "cells": cells})
    return templates.TemplateResponse(
        request, "overview.html", {"rows": rows, "days": [d.isoformat() for d in days]}
    )
