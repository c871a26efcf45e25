"""Alerts for fevers and red codes (and whatever else a site's policy alerts on): kept in
the database as the managers' worklist, and pushed to an optional webhook (a city's
reporting system, a duty phone gateway) as they arrive — and again, marked
``"escalated": true``, when one passes its reporting deadline unacknowledged.

The webhook is best effort after the batch is committed: three tries with backoff, then
the alert stays on the dashboard's list, which is the record.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from sqlalchemy import Engine, and_, or_, update
from tenacity import retry, stop_after_attempt, wait_exponential

from hub.core.config import HubSettings
from hub.core.db import ALERT_OPEN, alerts

ACTIONS: dict[str, tuple[str, str]] = {
    "reported_community": ("已报告社区", "Reported to the community"),
    "observation_point": ("已送临时观察点", "Sent to the observation point"),
    "fever_clinic": ("已送发热门诊", "Sent to the fever clinic"),
    "ambulance_120": ("已呼叫 120", "Ambulance (120) called"),
    "sent_home": ("已劝返", "Sent home"),
    "false_alarm": ("误报", "False alarm"),
    "other": ("其他（须写明）", "Other (say what)"),
}
"""What a manager did about an alert, recorded with the acknowledgement."""
SENT = ("site_id", "id", "device_id", "seq", "gate", "reason", "temp_c", "event_ms", "received_ms")
"""An alert's fields as the webhook receives them."""

logger = logging.getLogger(__name__)


@retry(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.5, max=5), reraise=True)
def _post(url: str, payload: list[dict[str, Any]]) -> None:
    httpx.post(url, json={"alerts": payload}, timeout=5).raise_for_status()


def post_alerts(url: str, raised: list[dict[str, Any]]) -> None:
    """POST alerts to the webhook (best effort; the dashboard list is the record)."""
    try:
        _post(url, raised)
    except httpx.HTTPError:
        logger.exception("alert webhook %s failed; %d alerts stay on the dashboard only", url, len(raised))


def report_within_ms(reason: str, settings: HubSettings) -> int:
    """How soon after the event an alert must be reported: a fever within half an hour
    (the seeds' 0.5 h rule, 002:319), anything else within the hour (000:625)."""
    minutes = settings.fever_report_min if reason == "fever" else settings.alert_report_min
    return minutes * 60_000


def escalate_overdue(engine: Engine, settings: HubSettings, now_ms: int) -> list[dict[str, Any]]:
    """Mark every unacknowledged alert past its reporting deadline as escalated (once each,
    in one statement: several hub workers may run this at the same moment) and return
    them, for the webhook to hear of again."""
    fever_due = now_ms - report_within_ms("fever", settings)
    other_due = now_ms - report_within_ms("other", settings)
    overdue = or_(
        and_(alerts.c.reason == "fever", alerts.c.event_ms < fever_due),
        and_(alerts.c.reason != "fever", alerts.c.event_ms < other_due),
    )
    columns = [alerts.c[k] for k in SENT]
    with engine.begin() as conn:
        rows = conn.execute(
            update(alerts)
            .where(and_(ALERT_OPEN, alerts.c.escalated_ms.is_(None), overdue))
            .values(escalated_ms=now_ms)
            .returning(*columns)
        ).all()
    return [dict(row._mapping) | {"escalated": True} for row in rows]
