"""The daily report a site hands in: the PDF and the Excel file are opened and their
cells checked against the database, a zero report is confirmed in one step and the hub
records who and when, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import Engine, select, update

from hub.auth import create_user
from hub.core.db import daily_counts, devices, report_confirmations
from hub.registry import Site, create_site, enrol_device
from tests.browser import keep_screenshot
from tests.conftest import log_in
from tests.hub_helpers import make_batch, make_check, post

BOTH_DATABASES = True
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def yesterday() -> str:
    return (datetime.now(SHANGHAI).date() - timedelta(days=1)).isoformat()


@pytest.fixture
def reports(hub_app: FastAPI, hub_engine: Engine, yesterday: str) -> tuple[Site, Site, TestClient]:
    """Two sites whose gates (enrolled last week) sent yesterday's checks today: one with a
    fever the gate sent to the fever clinic and a red code, one all clear."""
    noon = datetime.fromisoformat(f"{yesterday}T12:00:00").replace(tzinfo=SHANGHAI)
    at = int(noon.astimezone(UTC).timestamp() * 1000)
    busy = create_site(hub_engine, "阳光花园", "Asia/Shanghai")
    clear = create_site(hub_engine, "静安小学", "Asia/Shanghai")
    hub = TestClient(hub_app)
    for site, checks in (
        (busy, [make_check(1, at), make_check(2, at, verdict="deny", reason="code_red"),
                make_check(3, at, verdict="remeasure", reason="temp_high", temp_c=38.2),
                make_check(4, at, verdict="deny", reason="fever", temp_c=38.4, refers_to=3,
                           flags=["retest_axillary"]),
                make_check(5, at, verdict="deny", reason="fever_handled", temp_c=None, refers_to=4,
                           flags=["disposition_fever_clinic"])]),
        (clear, [make_check(1, at), make_check(2, at, gate="South")]),
    ):  # fmt: skip
        device = enrol_device(hub_engine, site.id, "North", "http://127.0.0.1:9")
        with hub_engine.begin() as conn:
            week_ago = at - 7 * 86_400_000
            conn.execute(
                update(devices).where(devices.c.id == device.device_id).values(created_at_ms=week_ago)
            )
        assert post(hub, device, make_batch(device, 0, checks)).status_code == 200
    create_user(hub_engine, "王经理", "manager password", "manager", [busy.id, clear.id])
    manager = TestClient(hub_app)
    assert log_in(manager, "王经理", "manager password").status_code == 303
    return busy, clear, manager


def pdf_text(content: bytes) -> str:
    """The PDF's text as a reader copies it (pypdf spells fpdf2's CID text with NULs between)."""
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).replace("\x00", "")


def confirm(manager: TestClient, site_id: str, day: str) -> Any:
    return manager.post(f"/sites/{site_id}/reports/{day}/confirm", data={"back": "/"}, follow_redirects=False)


def counts_of(engine: Engine, site_id: str, day: str) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(daily_counts.c.metric, daily_counts.c.n).where(
                daily_counts.c.site_id == site_id, daily_counts.c.local_date == day
            )
        ).all()
    return {metric: n for metric, n in rows}


def test_the_pdf_and_excel_reports_say_what_the_database_holds(
    reports: tuple[Site, Site, TestClient], hub_engine: Engine, yesterday: str, tmp_path: Path
) -> None:
    busy, _, manager = reports
    held = counts_of(hub_engine, busy.id, yesterday)
    assert (held["checks"], held["fevers"], held["code_red"]) == (4, 1, 1)  # the disposition is no check

    pdf = manager.get(f"/sites/{busy.id}/reports/{yesterday}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    for expected in (
        "门岗核验日报",
        "阳光花园",
        yesterday,
        "核验人次",
        "禁止通行及原因",
        "有情况",
        "红码",
        "已送发热门诊",
        "38.4",
    ):
        assert expected in text, expected
    assert f"North {held['checks']}" in text
    if os.environ.get("GATECHECK_UPDATE_SCREENSHOTS") and shutil.which("pdftoppm"):  # the picture in docs/
        (tmp_path / "report.pdf").write_bytes(pdf.content)
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(tmp_path / "report.pdf"),
                        str(tmp_path / "report-day")], check=True)  # fmt: skip
        keep_screenshot(tmp_path / "report-day.png")

    book = load_workbook(io.BytesIO(manager.get(f"/sites/{busy.id}/reports/{yesterday}.xlsx").content))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[2]]
    row = dict(zip(header, (c.value for c in sheet[3]), strict=True))
    assert header[:4] == ["日期", "场所", "出入口", "核验人次"]
    assert (row["日期"], row["场所"], row["核验人次"], row["通行"], row["体温异常"]) == (
        yesterday, "阳光花园", held["checks"], held["admitted"], held["fevers"],
    )  # fmt: skip
    assert str(row["禁止通行及原因"]).startswith(str(held["denied"])) and "红码" in str(row["禁止通行及原因"])
    assert row["零报告/有情况"] == "有情况" and row["车辆"] == "未记录"
    assert "已送发热门诊" in book.worksheets[1]["A1"].value

    everything = load_workbook(io.BytesIO(manager.get(f"/reports/{yesterday}.xlsx").content)).worksheets[0]
    states = {r[1].value: r[9].value for r in everything.iter_rows(min_row=3)}
    assert states == {"阳光花园": "有情况", "静安小学": "零报告"}
    english = load_workbook(io.BytesIO(manager.get(f"/reports/{yesterday}.xlsx?lang=en").content)).worksheets[
        0
    ]
    assert english["D2"].value == "核验人次 Checked"


def test_a_zero_report_is_confirmed_in_one_step_and_recorded(
    reports: tuple[Site, Site, TestClient], hub_engine: Engine, yesterday: str
) -> None:
    busy, clear, manager = reports
    overview = manager.get("/").text
    assert f'action="/sites/{clear.id}/reports/{yesterday}/confirm"' in overview  # the one step
    assert f'action="/sites/{busy.id}/reports/{yesterday}/confirm"' not in overview  # read it first
    answer = manager.post(
        f"/sites/{clear.id}/reports/{yesterday}/confirm", data={"back": "/"}, follow_redirects=False
    )
    assert answer.status_code == 303
    with hub_engine.connect() as conn:
        [row] = conn.execute(select(report_confirmations)).all()
    assert (row.site_id, row.local_date, row.state, row.username) == (
        clear.id,
        yesterday,
        "zero_report",
        "王经理",
    )
    assert "已核对上报：" in manager.get("/").text
    again = manager.post(
        f"/sites/{clear.id}/reports/{yesterday}/confirm", data={"back": "/"}, follow_redirects=False
    )
    assert again.status_code == 303  # a second confirmation keeps the first
    with hub_engine.connect() as conn:
        assert conn.execute(select(report_confirmations.c.confirmed_ms)).scalar_one() == row.confirmed_ms
    today = datetime.now(SHANGHAI).date().isoformat()
    refused = manager.post(
        f"/sites/{clear.id}/reports/{today}/confirm", data={"back": "/"}, follow_redirects=False
    )
    assert refused.status_code == 409  # today is not complete
    pdf = manager.get(f"/sites/{clear.id}/reports/{yesterday}.pdf")
    text = pdf_text(pdf.content)
    assert "零报告" in text and "王经理" in text and "已核对上报" in text
