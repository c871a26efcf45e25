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
    """Each site's last days in its own timezone; a day without data reads 'missing'."""
    rows = []
    for site in queries.list_sites(engine):
        days = queries.recent_days(queries.site_today(site), settings.dashboard_days)
        counts = {c.date: c for c in queries.daily(engine, [site.id], days[-1], days[0])}
        rows.append({"site": site, "days": [(d.isoformat(), counts.get(d.isoformat())) for d in days]})
    return templates.TemplateResponse(request, "overview.html", {"rows": rows})
