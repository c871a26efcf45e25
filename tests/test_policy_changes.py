"""Rules that change: a change set ahead reaches two gates by the downlink, applies from
its time on each gate's own clock (checks before it decided under the old version, after
it under the new), the gates report the version they apply, and the history says who,
when, what and why — through the admin API and the command line, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, select

from core.bundle import DeviceBundle
from edge import clock
from edge.station import GateStation
from edge.store import CheckStore
from edge.thermometer import Reading
from hub.core.db import checks, device_status
from hub.registry import Site, enrol_device
from hub.server import BackgroundHub
from sync.agent import SyncAgent
from tests.conftest import ADMIN_PASSWORD, admin_session, cli

BOTH_DATABASES = True


def test_a_change_set_ahead_reaches_two_gates_and_applies_from_its_time(
    site: Site,
    bundle: DeviceBundle,
    live_hub: BackgroundHub,
    hub_engine: Engine,
    tmp_path: Path,
    later: Callable[[float], None],
) -> None:
    gates = [bundle, enrol_device(hub_engine, site.id, "South gate", live_hub.url)]
    stores = [CheckStore(tmp_path / f"gate-{n}.db") for n in range(2)]
    admin = admin_session(live_hub.url, hub_engine)
    from_when = datetime.now(UTC) + timedelta(hours=1)
    change = {"changes": {"fever_threshold_c": 37.0}, "effective_from": from_when.isoformat(),
              "reason": "学校规定：37.0 °C 起复测"}  # fmt: skip
    made = admin.put(f"/api/v1/admin/sites/{site.id}/policy", json=change)
    assert made.status_code == 201, made.text
    assert made.json()["version"] == 2 and made.json()["author"] == "admin"

    stations = []
    for gate, store in zip(gates, stores, strict=True):
        assert SyncAgent(gate, store).pull_config() is True  # the change travels ahead of its time
        stations.append(GateStation(gate, store))
    before = [s.record(None, Reading(37.1, "sensor")) for s in stations]
    assert [o.decision.reason for o in before] == ["no_code", "no_code"]  # 37.1 < 37.3: fine then
    later(3601)  # an hour on: each gate switches by its own clock, no uplink needed
    after = [s.record(None, Reading(37.1, "sensor")) for s in stations]
    assert [o.decision.reason for o in after] == ["temp_high", "temp_high"]
    for store in stores:
        assert [r["policy_version"] for r in store.rows()] == [1, 2]

    for gate, store in zip(gates, stores, strict=True):
        # The gate's clock (an hour ahead here): the hub's answer corrects its signing time.
        SyncAgent(gate, store, device_clock=clock.now).push()
    with hub_engine.connect() as conn:
        decided = sorted(conn.execute(select(checks.c.policy_version, checks.c.reason)).all())
        reported = sorted(conn.scalars(select(device_status.c.policy_version)).all())
    assert decided == [(1, "no_code"), (1, "no_code"), (2, "temp_high"), (2, "temp_high")]
    assert reported == [2, 2]

    history = admin.get(f"/api/v1/admin/sites/{site.id}/policy").json()
    assert [(v["version"], v["policy"]["fever_threshold_c"]) for v in history] == [(2, 37.0), (1, 37.3)]
    assert history[0]["reason"] == "学校规定：37.0 °C 起复测"
    page = admin.get(f"/sites/{site.id}").text  # before its time: v1 in force, v2 upcoming
    assert 'data-version="2"' in page and "待生效" in page and "学校规定" in page


def test_bad_or_backdated_changes_are_refused_and_change_nothing(
    site: Site, live_hub: BackgroundHub, hub_engine: Engine
) -> None:
    admin = admin_session(live_hub.url, hub_engine)
    path = f"/api/v1/admin/sites/{site.id}/policy"
    hot = admin.put(path, json={"changes": {"fever_threshold_c": 50}, "reason": "typo"})
    assert hot.status_code == 422 and "fever_threshold_c" in hot.text
    unknown = admin.put(path, json={"changes": {"fever": 1}, "reason": "typo"})
    assert unknown.status_code == 422 and "fever" in unknown.text
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    backdated = admin.put(path, json={"changes": {"debounce_s": 3}, "effective_from": past, "reason": "late"})
    assert backdated.status_code == 422 and "past" in backdated.text
    assert len(admin.get(path).json()) == 1
    manager = httpx.Client(base_url=live_hub.url)
    assert manager.put(path, json={"changes": {}, "reason": "no"}).status_code in (401, 403)


def test_the_command_line_sets_rules_from_a_site_time_and_lists_the_history(
    site: Site, live_hub: BackgroundHub, hub_engine: Engine
) -> None:
    admin_session(live_hub.url, hub_engine)  # makes the admin account
    where = ["--hub", live_hub.url, "--admin-user", "admin", "--admin-password", ADMIN_PASSWORD]
    code, out = cli("provision", "site", "policy", "set", site.id, *where,
                    "--set", "allowed_colours=[\"green\", \"yellow\"]", "--set", "negative_test_hours=72",
                    "--from", "2099-01-01 00:00", "--reason", "7 日内核酸阴性可入")  # fmt: skip
    assert code == 0, out
    assert "version 2 from 2098-12-31 16:00 UTC" in out  # midnight in Shanghai
    code, out = cli("provision", "site", "policy", "history", site.id, *where)
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("2\t2098-12-31 16:00\tadmin\t7 日内核酸阴性可入")
    assert '"negative_test_hours":72' in lines[0] and lines[1].startswith("1\t")
    code, out = cli("provision", "site", "policy", "set", site.id, *where, "--set", "opaque_action=maybe",
                    "--reason", "typo")  # fmt: skip
    assert code != 0 and "opaque_action" in out


def test_an_administrator_changes_a_rule_from_the_site_page(
    site: Site, live_hub: BackgroundHub, hub_engine: Engine
) -> None:
    admin = admin_session(live_hub.url, hub_engine)
    form = {"field": "fever_threshold_c", "value": "37.2", "reason": "街道通知"}
    assert admin.post(f"/sites/{site.id}/policy", data=form).status_code == 303
    page = admin.get(f"/sites/{site.id}").text
    assert 'data-version="2" class="in-force"' in page and "街道通知" in page
    wrong = admin.post(f"/sites/{site.id}/policy", data=form | {"value": "55"}, follow_redirects=True)
    assert 'id="policy-error"' in wrong.text and "fever_threshold_c" in wrong.text
    assert len(admin.get(f"/api/v1/admin/sites/{site.id}/policy").json()) == 2  # nothing stored
