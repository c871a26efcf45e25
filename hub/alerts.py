"""Alerts for fevers and red codes: kept in the database for the dashboard, and pushed
to an optional webhook (a city's reporting system, a duty phone gateway) as they arrive.

The webhook is best effort after the batch is committed: three tries with backoff, then
the alert stays on the dashboard's list, which is the record.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from tenacity import retry, stop_after_attempt, wait_exponential

from hub.core.config import HubSettings

logger = logging.getLogger(__name__)


@retry(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.5, max=5), reraise=True)
def _post(url: str, payload: list[dict[str, Any]]) -> None:
    httpx.post(url, json={"alerts": payload}, timeout=5).raise_for_status()


def post_alerts(url: str, raised: list[dict[str, Any]]) -> None:
    try:
        _post(url, raised)
    except httpx.HTTPError:
        logger.exception("alert webhook %s failed; %d alerts stay on the dashboard only", url, len(raised))


def report_within_ms(reason: str, settings: HubSettings) -> int:
    """How soon after the event an alert must be reported: a fever within half an hour
    (the seeds' 0.5 h rule, 002:319), anything else within the hour (000:625)."""
    minutes = settings.fever_report_min if reason == "fever" else settings.alert_report_min
    return minutes * 60_000
