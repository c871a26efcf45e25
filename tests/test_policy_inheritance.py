"""Rules set above a site: organisation and region defaults reach every site below and its
gates, a site may override a field unless a level above locked it, and a change that
would make any site's rules invalid changes nothing — on both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from core.policy import Policy
from edge.station import GateStation
from edge.store import CheckStore
from edge.thermometer import Reading
from hub.core.db import policy_defaults, policy_versions
from hub.policies import history, set_policy
from hub.policy_levels import set_defaults
from hub.records import DefaultsChange, DefaultsRecord, LevelKind, PolicyChange, RegistryError
from hub.regions import create_region
from hub.registry import create_site, device_config, enrol_device, ensure_organisation
from hub.server import BackgroundHub
from sync.agent import SyncAgent
from tests.conftest import ADMIN_PASSWORD, admin_session, cli

BOTH_DATABASES = True


def rules(engine: Engine, site_id: str) -> Policy:
    return history(engine, site_id)[0].policy


def own(engine: Engine, site_id: str, reason: str, inherit: tuple[str, ...] = (), **changes: object) -> None:
    """A site's manager changes its own rules."""
    set_policy(engine, site_id, PolicyChange(changes=changes, inherit=list(inherit), reason=reason), "经理")


def above(engine: Engine, kind: LevelKind, scope_id: str, reason: str, **change: Any) -> DefaultsRecord:
    """An officer changes the defaults of an organisation or region."""
    return set_defaults(engine, kind, scope_id, DefaultsChange(reason=reason, **change), "防控办")


def versions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(policy_versions)) or 0)


def test_a_region_default_overridden_at_one_site_and_not_at_another(
    hub_engine: Engine, live_hub: BackgroundHub, tmp_path: Path
) -> None:
    city = create_region(hub_engine, "某市")
    district = create_region(hub_engine, "甲区", city.id)
    school = create_site(hub_engine, "第一中学", "Asia/Shanghai", region_id=district.id, category_id="school")
    market = create_site(hub_engine, "农贸市场", "Asia/Shanghai", region_id=district.id, category_id="market")
    gate = enrol_device(hub_engine, market.id, "North", live_hub.url)
    # The school holds its own threshold (workmen at 37.0, 002:287).
    set_policy(
        hub_engine, school.id, PolicyChange(changes={"fever_threshold_c": 37.0}, reason="学校规定"), "校医"
    )

    made = above(hub_engine, "region", city.id, "全市统一",
                 changes={"fever_threshold_c": 37.2, "negative_test_hours": 24})  # fmt: skip
    assert made.version == 1 and made.sites_changed == 2
    assert rules(hub_engine, school.id).fever_threshold_c == 37.0  # its own value stays
    assert rules(hub_engine, school.id).negative_test_hours == 24  # the rest comes from the city
    assert rules(hub_engine, market.id).fever_threshold_c == 37.2
    newest = history(hub_engine, market.id)[0]
    assert newest.author == "防控办" and newest.reason == f"region:{city.id}: 全市统一"
    assert newest.overrides == {}

    # It reaches the market's gate by the downlink, and the gate decides by it.
    store = CheckStore(tmp_path / "gate.db")
    assert SyncAgent(gate, store).pull_config() is True
    outcome = GateStation(gate, store).record(None, Reading(37.25, "sensor"))
    assert outcome.decision.reason == "temp_high"
    assert [r["policy_version"] for r in store.rows()] == [2]

    # The district, below the city, sets its own value for the market and the school alike —
    # except where the school set its own.
    above(hub_engine, "region", district.id, "区内从严", changes={"fever_threshold_c": 37.1})
    assert rules(hub_engine, market.id).fever_threshold_c == 37.1
    assert rules(hub_engine, school.id).fever_threshold_c == 37.0
    # The school gives its value back: the district's applies.
    set_policy(
        hub_engine, school.id, PolicyChange(inherit=["fever_threshold_c"], reason="按区里规定"), "校医"
    )
    assert rules(hub_engine, school.id).fever_threshold_c == 37.1
    assert history(hub_engine, school.id)[0].overrides == {}
    config = device_config(hub_engine, gate.device_id)
    assert config is not None and config.policy.fever_threshold_c == 37.1


def test_a_locked_field_beats_every_override_below(hub_engine: Engine) -> None:
    org = ensure_organisation(hub_engine, "某物业公司")
    city = create_region(hub_engine, "某市")
    homes = [
        create_site(hub_engine, f"小区{n}", "Asia/Shanghai", organisation="某物业公司", region_id=city.id)
        for n in range(3)
    ]
    # The company's default for all its compounds; the city's below it wins where both set one.
    set_defaults(hub_engine, "org", org, DefaultsChange(changes={"remeasure_window_s": 600,
                 "fever_threshold_c": 37.5}, reason="公司统一"), "总部")  # fmt: skip
    set_policy(
        hub_engine, homes[0].id, PolicyChange(changes={"fever_threshold_c": 36.9}, reason="自定"), "经理"
    )
    assert [rules(hub_engine, h.id).remeasure_window_s for h in homes] == [600] * 3
    assert [rules(hub_engine, h.id).fever_threshold_c for h in homes] == [36.9, 37.5, 37.5]

    above(hub_engine, "region", city.id, "全市统一，不得更改", changes={"fever_threshold_c": 37.3},
          lock=["fever_threshold_c"])  # fmt: skip
    assert [rules(hub_engine, h.id).fever_threshold_c for h in homes] == [37.3] * 3  # the lock beats 36.9
    with pytest.raises(RegistryError, match=f"fever_threshold_c is set for every site by region:{city.id}"):
        set_policy(
            hub_engine, homes[1].id, PolicyChange(changes={"fever_threshold_c": 37.0}, reason="试试"), "经理"
        )
    with pytest.raises(RegistryError, match="set for every site"):
        create_site(
            hub_engine, "新小区", "Asia/Shanghai", policy=Policy(fever_threshold_c=37.0), region_id=city.id
        )
    # Unlocked: the site's own value, kept all along, applies again.
    set_defaults(
        hub_engine, "region", city.id, DefaultsChange(unlock=["fever_threshold_c"], reason="放开"), "市防控办"
    )
    assert rules(hub_engine, homes[0].id).fever_threshold_c == 36.9


def test_a_default_that_breaks_any_site_changes_nothing(hub_engine: Engine) -> None:
    city = create_region(hub_engine, "某市")
    sites = [create_site(hub_engine, f"场所{n}", "Asia/Shanghai", region_id=city.id) for n in range(2)]
    before = versions(hub_engine)
    for change, message in (
        ({"fever_threshold_c": 45}, "fever_threshold_c"),
        ({"no_such_rule": 1}, "no such rule: no_such_rule"),
    ):
        with pytest.raises(RegistryError, match=message):
            set_defaults(
                hub_engine, "region", city.id, DefaultsChange(changes=change, reason="错误"), "市防控办"
            )
    with pytest.raises(RegistryError, match="no region reg-nowhere"):
        set_defaults(
            hub_engine, "region", "reg-nowhere", DefaultsChange(lock=["debounce_s"], reason="错误"), "x"
        )
    with hub_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(policy_defaults)) == 0
    assert versions(hub_engine) == before and all(len(history(hub_engine, s.id)) == 1 for s in sites)


def test_region_defaults_through_the_admin_api_and_the_command_line(
    hub_engine: Engine, live_hub: BackgroundHub
) -> None:
    city = create_region(hub_engine, "某市")
    site = create_site(hub_engine, "银行网点", "Asia/Shanghai", region_id=city.id, category_id="bank")
    admin_session(live_hub.url, hub_engine)  # the admin account
    code, out = cli(
        "provision", "region", "policy", "set", city.id, "--set", "fever_threshold_c=37.0", "--lock",
        "fever_threshold_c", "--from", "2099-01-01 08:00", "--reason", "新学期", "--hub", live_hub.url,
        "--admin-password", ADMIN_PASSWORD,
    )  # fmt: skip
    assert code == 0 and "version 1 from 2099-01-01 00:00 UTC by admin: 1 sites got new rules" in out, out
    newest = history(hub_engine, site.id)[0]
    assert newest.version == 2 and newest.policy.fever_threshold_c == 37.0
    code, out = cli("provision", "region", "policy", "history", city.id, "--hub", live_hub.url,
                    "--admin-password", ADMIN_PASSWORD)  # fmt: skip
    assert code == 0 and '{"fever_threshold_c": 37.0}\tfever_threshold_c' in out and "新学期" in out
    code, out = cli(
        "provision", "org", "policy", "set", "org-missing", "--set", "fever_threshold_c=37.0",
        "--reason", "试试", "--hub", live_hub.url, "--admin-password", ADMIN_PASSWORD,
    )  # fmt: skip
    assert code == 1 and "no organisation org-missing" in out
