"""The daily report as documents a site hands in: a printable PDF (fpdf2, with the CJK
font from Debian's fonts-noto-cjk) and an Excel workbook (openpyxl). Headings are the
sites' own (日期, 场所, 出入口, 核验人次 …); with English chosen each also says it in
English. One row per site-day, then the day's fevers, then who confirmed it."""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTCollection
from fpdf import FPDF
from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from core.fever_drill import DISPOSITIONS
from core.reasons import reason
from hub.day_reports import DayReport
from hub.i18n import local_time

FONT_PATHS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf"),
)
"""Where Debian's fonts-noto-cjk puts the font the PDF is set in."""

HEADINGS: tuple[tuple[str, str], ...] = (
    ("日期", "Date"),
    ("场所", "Site"),
    ("出入口", "Entrances"),
    ("核验人次", "Checked"),
    ("通行", "Admitted"),
    ("禁止通行及原因", "Denied, by reason"),
    ("体温异常", "Fevers"),
    ("访客登记", "Visitors"),
    ("车辆", "Vehicles"),
    ("零报告/有情况", "Zero report / incidents"),
    ("核对人", "Confirmed by"),
    ("核对时间", "Confirmed at"),
)
STATES = {
    "zero_report": ("零报告", "Zero report"),
    "reported": ("有情况", "Incidents"),
    "waiting": ("等待设备同步", "Waiting for gates"),
    "late": ("逾期未报", "Late"),
    "no_devices": ("当日尚无登记设备", "No gate enrolled"),
    "not_begun": ("未开始", "Not begun"),
}
NOT_RECORDED = ("未记录", "not recorded")
NO_DISPOSITION = ("未记录处置", "disposition not recorded")


class FontMissing(RuntimeError):
    """The PDF needs a CJK font (Debian: fonts-noto-cjk)."""


def heading(index: int, lang: str) -> str:
    zh, en = HEADINGS[index]
    return f"{zh} {en}" if lang == "en" else zh


def _say(texts: tuple[str, str], lang: str) -> str:
    return texts[1] if lang == "en" else texts[0]


def cells(report: DayReport, lang: str) -> list[str | int]:
    """The report's row, as both documents write it."""
    c = report.counts
    denied = sorted(c.denied_by_reason.items()) if c else []
    denied_by = ", ".join(f"{_say((reason(k).zh, reason(k).en), lang)} {v}" for k, v in denied)
    gates = "; ".join(f"{gate} {n}" for gate, n in sorted(c.by_gate.items())) if c else ""
    confirmation = report.confirmation
    return [
        report.date,
        report.site.name,
        gates or "-",
        c.checks if c else 0,
        c.admitted if c else 0,
        f"{c.denied if c else 0}" + (f" ({denied_by})" if denied_by else ""),
        c.fevers if c else 0,
        c.visitors if c else 0,
        _say(NOT_RECORDED, lang),
        _say(STATES.get(report.status.state, (report.status.state,) * 2), lang),
        confirmation.username if confirmation else "",
        local_time(confirmation.confirmed_ms, report.site.timezone) if confirmation else "",
    ]


def fever_lines(report: DayReport, lang: str) -> list[str]:
    """One line per fever of the day: when, where, how hot, where the person went."""
    lines = []
    for fever in report.fevers:
        went = _say(
            DISPOSITIONS.get(fever.disposition or "", ("未记录处置", "disposition not recorded")), lang
        )
        temp = f"{fever.temp_c:.1f} °C" if fever.temp_c is not None else "-"
        when = local_time(fever.event_ms, report.site.timezone)
        lines.append(f"{report.site.name} · {fever.gate} · {when} · {temp} · {went}")
    return lines


def title(reports: Sequence[DayReport], lang: str) -> str:
    organisations = {r.organisation for r in reports}
    if len(reports) == 1:
        who = reports[0].site.name
    elif len(organisations) == 1:
        who = reports[0].organisation
    else:
        who = _say(("全部场所", "All my sites"), lang)
    words = ("门岗核验日报", "Daily gate-check report")
    return f"{_say(words, lang)} · {who} · {reports[0].date}"


@cache
def _font_face(path: Path) -> int:
    """Which face of a font collection is Simplified Chinese (0 for a single font)."""
    if path.suffix.lower() != ".ttc":
        return 0
    names = [font["name"].getDebugName(1) or "" for font in TTCollection(str(path)).fonts]
    return next((i for i, name in enumerate(names) if name.endswith(" SC")), 0)


def find_font(configured: Path | None = None) -> Path:
    for path in (configured, *FONT_PATHS):
        if path is not None and path.exists():
            return path
    raise FontMissing(
        "the PDF needs a CJK font: apt install fonts-noto-cjk (or set GATECHECK_HUB_REPORT_FONT)"
    )


def to_pdf(reports: Sequence[DayReport], lang: str, font: Path) -> bytes:
    """A landscape A4 page (more as needed): the title, the table, the fevers, and a line
    for the signature or the recorded confirmation."""
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_font("cjk", "", str(font), collection_font_number=_font_face(font))
    pdf.add_page()
    pdf.set_font("cjk", size=15)
    pdf.cell(text=title(reports, lang), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("cjk", size=8)
    widths = (18, 30, 34, 16, 14, 40, 16, 16, 14, 24, 22, 22)
    plain_headings = FontFace(emphasis=None, fill_color=(230, 234, 240))  # one weight of the CJK font
    with pdf.table(
        col_widths=widths, text_align="LEFT", line_height=5, headings_style=plain_headings
    ) as table:
        row = table.row()
        for i in range(len(HEADINGS)):
            row.cell(heading(i, lang))
        for report in reports:
            row = table.row()
            for value in cells(report, lang):
                row.cell(str(value))
    lines = [line for report in reports for line in fever_lines(report, lang)]
    if lines:
        pdf.ln(4)
        pdf.set_font("cjk", size=11)
        pdf.cell(text=_say(("体温异常明细", "Fevers"), lang), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=9)
        for line in lines:
            pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("cjk", size=10)
    signed = all(r.confirmation for r in reports)
    sign = ("核对人：____________  日期：____________", "Checked by: ____________  Date: ____________")
    pdf.cell(text=_say(("已核对上报", "Confirmed"), lang) if signed else _say(sign, lang))
    return bytes(pdf.output())


def to_xlsx(reports: Sequence[DayReport], lang: str) -> bytes:
    """The same table in a workbook: a sheet for the day, a sheet for its fevers."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = reports[0].date
    sheet.append([title(reports, lang)])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([heading(i, lang) for i in range(len(HEADINGS))])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True)
    for report in reports:
        sheet.append([_plain(v) for v in cells(report, lang)])
    for column, width in zip("ABCDEFGHIJKL", (12, 20, 24, 10, 10, 30, 10, 10, 10, 16, 14, 14), strict=True):
        sheet.column_dimensions[column].width = width
    fevers = book.create_sheet(_say(("体温异常", "Fevers"), lang))
    for line in (line for report in reports for line in fever_lines(report, lang)):
        fevers.append([_plain(line)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _plain(value: str | int) -> str | int:
    """A text cell a spreadsheet will not run as a formula."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value
