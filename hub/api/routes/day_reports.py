"""The daily report a site hands in: as PDF and Excel, per site or for all my sites, and
the manager's confirmation that it was checked and reported ("已核对上报")."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import RedirectResponse, Response

from hub import day_reports, queries
from hub.api.deps import BackPath, EngineDep, LangDep, SettingsDep, SiteDep, UserDep, report_day
from hub.core.config import HubSettings
from hub.report_documents import FontMissing, find_font, to_pdf, to_xlsx

router = APIRouter(include_in_schema=False)
Kind = Literal["pdf", "xlsx"]
MEDIA = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _document(
    reports: list[day_reports.DayReport], kind: Kind, lang: str, settings: HubSettings, name: str
) -> Response:
    if kind == "pdf":
        try:
            body = to_pdf(reports, lang, find_font(settings.report_font))
        except FontMissing as exc:
            raise HTTPException(503, str(exc)) from exc
    else:
        body = to_xlsx(reports, lang)
    disposition = f'attachment; filename="{name}.{kind}"'
    return Response(body, media_type=MEDIA[kind], headers={"Content-Disposition": disposition})


@router.get("/sites/{site_id}/reports/{day}.{kind}")
def site_report(
    site: SiteDep, engine: EngineDep, settings: SettingsDep, lang: LangDep, day: date, kind: Kind
) -> Response:
    """One site's report for one local day."""
    reports = day_reports.day_reports(engine, [site], report_day(day))
    return _document(reports, kind, lang, settings, f"gatecheck-{site.id}-{day}")


@router.get("/reports/{day}.{kind}")
def my_sites_report(
    engine: EngineDep, settings: SettingsDep, user: UserDep, lang: LangDep, day: date, kind: Kind
) -> Response:
    """Every site I may see, one row each: the organisation's report for the day."""
    site_list = queries.list_sites(engine, user.sites)
    if not site_list:
        raise HTTPException(404, "No sites")
    reports = day_reports.day_reports(engine, site_list, report_day(day))
    return _document(reports, kind, lang, settings, f"gatecheck-{day}")


@router.post("/sites/{site_id}/reports/{day}/confirm")
def confirm_report(
    site: SiteDep,
    engine: EngineDep,
    user: UserDep,
    day: date,
    back: BackPath = "/",
) -> RedirectResponse:
    """The manager checked the day's report and reported it: recorded with who and when.
    A zero report is confirmed in one step from the overview."""
    [report] = day_reports.day_reports(engine, [site], report_day(day))
    try:
        day_reports.confirm(engine, report, user.username)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc
    return RedirectResponse(back, status_code=303)
