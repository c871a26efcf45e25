"""``gatecheck provision``: sites, devices, issuers and trust, against the hub's database."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from pydantic import ValidationError

from core.bundle import DeviceBundle
from core.four_checks import CATEGORIES, Category
from core.policy import Policy
from hub.options import database_option, open_database
from hub.records import (
    DEFAULT_ORGANISATION,
    CategorySet,
    DefaultsChange,
    DeviceEnrol,
    LevelKind,
    PolicyChange,
    RegionCreate,
    RegistryError,
    SiteCreate,
    SitePlacement,
    typed_value,
)
from provisioning.backends import AdminApiRegistry, Registry

T = TypeVar("T")

out_option = click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (secrets are written with mode 0600).",
)


@click.group()
def provision() -> None:
    """Create sites, enrol devices, manage issuer keys and the trust list."""


def registry_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--database-url, or --hub with an admin account: where site and device changes go."""
    options = [
        database_option,
        click.option(
            "--hub",
            "hub_url",
            envvar="GATECHECK_ADMIN_HUB",
            help="Use this hub's admin API instead of its database [env GATECHECK_ADMIN_HUB].",
        ),
        click.option(
            "--admin-user",
            envvar="GATECHECK_ADMIN_USER",
            default="admin",
            show_default=True,
            help="With --hub.",
        ),
        click.option(
            "--admin-password",
            envvar="GATECHECK_ADMIN_PASSWORD",
            help="With --hub [env GATECHECK_ADMIN_PASSWORD]; asked for when missing.",
        ),
        click.option(
            "--hub-ca",
            type=click.Path(exists=True, dir_okay=False),
            help="With --hub: CA certificate (PEM) of the hub's TLS certificate.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def open_registry(
    database_url: str, hub_url: str | None, admin_user: str, admin_password: str | None, hub_ca: str | None
) -> Registry:
    if hub_url is None:
        from hub.registry import DatabaseRegistry

        return DatabaseRegistry(open_database(database_url))
    if admin_password is None:
        admin_password = click.prompt(f"Password of {admin_user} at {hub_url}", hide_input=True)
    return AdminApiRegistry(hub_url, admin_user, admin_password, hub_ca or True)


def _registry_call(action: Callable[[], T]) -> T:
    try:
        return action()
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc


def _time(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M") if ms else "-"


@provision.group()
def org() -> None:
    """Organisations: a property company, school board or employer with several sites."""


@org.command("create")
@registry_options
@click.option("--name", required=True, help="Organisation name (sites name it with --org).")
def org_create(name: str, **where: Any) -> None:
    """Create an organisation (or find it) and print its id."""
    click.echo(_registry_call(lambda: open_registry(**where).create_organisation(name)).id)


@org.command("list")
@registry_options
def org_list(**where: Any) -> None:
    """List organisations: id, number of sites, name."""
    for o in _registry_call(lambda: open_registry(**where).list_organisations()):
        click.echo(f"{o.id}\t{o.sites}\t{o.name}")


def _valid(make: Callable[[], T]) -> T:
    """A request built from options, its validation errors said as a command-line error."""
    try:
        return make()
    except ValidationError as exc:
        raise click.ClickException(str(exc)) from exc


def _assigned(assignments: tuple[str, ...]) -> dict[str, Any]:
    """``--set FIELD=VALUE`` options as rule values."""
    changes = {}
    for assignment in assignments:
        field, sep, text = assignment.partition("=")
        if not sep or not field.strip():
            raise click.ClickException(f"--set {assignment!r}: write FIELD=VALUE")
        changes[field.strip()] = typed_value(text.strip())
    return changes


def _local_time(text: str, zone: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(zone))
    except ValueError as exc:
        raise click.ClickException(f"--from {text!r}: write YYYY-MM-DD HH:MM (local time)") from exc


def _defaults_commands(group: click.Group, kind: LevelKind) -> None:
    """``policy set`` and ``policy history`` for the defaults of an organisation or region."""

    @group.group("policy")
    def policy() -> None:
        """Defaults for every site below: set, give back to the level above, lock; the history."""

    @policy.command("set")
    @registry_options
    @click.argument("scope_id")
    @click.option(
        "--set", "assignments", multiple=True, metavar="FIELD=VALUE", help="A default to set (repeatable)."
    )
    @click.option("--inherit", multiple=True, metavar="FIELD", help="A default this level stops setting.")
    @click.option("--lock", multiple=True, metavar="FIELD", help="A rule no level or site below may change.")
    @click.option(
        "--unlock", multiple=True, metavar="FIELD", help="A rule levels and sites below may change again."
    )
    @click.option(
        "--from", "effective_from", help="When it applies, 'YYYY-MM-DD HH:MM' in --zone (default: now)."
    )
    @click.option("--zone", default="Asia/Shanghai", show_default=True, help="The timezone --from is in.")
    @click.option("--reason", required=True, help="Why the rules change (kept in the history).")
    @click.option("--author", default=getpass.getuser, show_default="your login", help="Who (database only).")
    def policy_set(
        scope_id: str,
        assignments: tuple[str, ...],
        inherit: tuple[str, ...],
        lock: tuple[str, ...],
        unlock: tuple[str, ...],
        effective_from: str | None,
        zone: str,
        reason: str,
        author: str,
        **where: Any,
    ) -> None:
        """Change the defaults; every site below whose rules change gets a new version."""
        when = _local_time(effective_from, zone) if effective_from else None
        change = _valid(
            lambda: DefaultsChange(
                changes=_assigned(assignments), inherit=list(inherit), lock=list(lock), unlock=list(unlock),
                effective_from=when, reason=reason,
            )
        )  # fmt: skip
        made = _registry_call(lambda: open_registry(**where).set_defaults(kind, scope_id, change, author))
        click.echo(
            f"version {made.version} from {_time(made.effective_from_ms)} UTC by {made.author}: "
            f"{made.sites_changed} sites got new rules"
        )

    @policy.command("history")
    @registry_options
    @click.argument("scope_id")
    def policy_history(scope_id: str, **where: Any) -> None:
        """Every version, newest first: version, applies from (UTC), author, reason, defaults, locked."""
        for v in _registry_call(lambda: open_registry(**where).defaults_history(kind, scope_id)):
            click.echo(
                f"{v.version}\t{_time(v.effective_from_ms)}\t{v.author}\t{v.reason}\t"
                f"{json.dumps(v.fields, ensure_ascii=False)}\t{','.join(v.locked) or '-'}"
            )


@provision.group()
def region() -> None:
    """Regions: city → district → street/town → community, any depth; each site is in one."""


@region.command("create")
@registry_options
@click.option("--name", required=True, help="e.g. 某市, 某区, 某街道, 某社区.")
@click.option("--parent", "parent_id", help="The region it is part of (default: a top region).")
def region_create(name: str, parent_id: str | None, **where: Any) -> None:
    """Create a region and print its id."""
    request = _valid(lambda: RegionCreate(name=name, parent_id=parent_id))
    click.echo(_registry_call(lambda: open_registry(**where).create_region(request)).id)


@region.command("list")
@registry_options
def region_list(**where: Any) -> None:
    """The region tree: id, sites below, name indented by depth."""
    for r in _registry_call(lambda: open_registry(**where).list_regions()):
        click.echo(f"{r.id}\t{r.sites}\t{'  ' * r.depth}{r.name}")


_defaults_commands(region, "region")
_defaults_commands(org, "org")


@provision.group()
def category() -> None:
    """Kinds of venue (supermarkets and markets, schools, …): the eight of the source plans."""


@category.command("list")
@registry_options
def category_list(**where: Any) -> None:
    """Categories: id, Chinese name, English name."""
    for c in _registry_call(lambda: open_registry(**where).list_categories()):
        click.echo(f"{c.id}\t{c.name_zh}\t{c.name_en}")


@category.command("set")
@registry_options
@click.argument("category_id")
@click.option("--zh", "name_zh", required=True, help="Chinese name, e.g. 农贸市场.")
@click.option("--en", "name_en", required=True, help="English name, e.g. Farmers' markets.")
def category_set(category_id: str, name_zh: str, name_en: str, **where: Any) -> None:
    """Add a category or rename one (its id stays)."""
    request = _valid(lambda: CategorySet(name_zh=name_zh, name_en=name_en))
    made = _registry_call(lambda: open_registry(**where).set_category(category_id, request))
    click.echo(f"{made.id}\t{made.name_zh}\t{made.name_en}")


@provision.group()
def site() -> None:
    """Sites: a compound, branch or school with its own timezone."""


@site.command("create")
@registry_options
@click.option("--name", required=True, help="Site name as managers know it.")
@click.option("--timezone", required=True, help="IANA timezone, e.g. Asia/Shanghai.")
@click.option("--org", "organisation", default=DEFAULT_ORGANISATION, show_default=True, help="Organisation.")
@click.option("--deadline", default="12:00", show_default=True, help="Daily report due next day at HH:MM.")
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file with the site's gate rules (see docs/policy.md); default rules otherwise.",
)
@click.option("--region", "region_id", help="The region it is in (region list).")
@click.option("--category", "category_id", help="Its kind of venue (category list).")
def site_create(
    name: str,
    timezone: str,
    organisation: str,
    deadline: str,
    policy_path: Path | None,
    region_id: str | None,
    category_id: str | None,
    **where: Any,
) -> None:
    """Create a site and print its id."""
    policy = None
    if policy_path is not None:
        try:
            policy = Policy.model_validate_json(policy_path.read_text(encoding="utf-8"))
        except ValidationError as exc:
            raise click.ClickException(f"invalid policy {policy_path}:\n{exc}") from exc
    request = _valid(
        lambda: SiteCreate(
            name=name, timezone=timezone, organisation=organisation, report_deadline=deadline, policy=policy,
            region_id=region_id, category_id=category_id,
        )
    )  # fmt: skip
    created = _registry_call(lambda: open_registry(**where).create_site(request))
    click.echo(created.id)


@site.command("list")
@registry_options
def site_list(**where: Any) -> None:
    """List sites: id, timezone, name, region, category (the first three as always)."""
    for s in _registry_call(lambda: open_registry(**where).list_sites()):
        click.echo(f"{s.id}\t{s.timezone}\t{s.name}\t{s.region_id or '-'}\t{s.category_id or '-'}")


@site.command("place")
@registry_options
@click.argument("site_id")
@click.option("--region", "region_id", help="The region it is in (none: taken out of every region).")
@click.option("--category", "category_id", help="Its kind of venue (none: no category).")
def site_place(site_id: str, region_id: str | None, category_id: str | None, **where: Any) -> None:
    """Put a site in a region and a category; its counts so far move with it."""
    request = _valid(lambda: SitePlacement(region_id=region_id, category_id=category_id))
    placed = _registry_call(lambda: open_registry(**where).place_site(site_id, request))
    click.echo(f"{placed.id}\t{placed.region_id or '-'}\t{placed.category_id or '-'}\t{placed.name}")


@site.group("policy")
def site_policy() -> None:
    """A site's gate rules: change them (from now or from a later time), read the history."""


@site_policy.command("set")
@registry_options
@click.argument("site_id")
@click.option(
    "--set", "assignments", multiple=True, metavar="FIELD=VALUE",
    help="A rule to change, e.g. fever_threshold_c=37.0 or allowed_colours='[\"green\"]' (repeatable).",
)  # fmt: skip
@click.option(
    "--inherit", multiple=True, metavar="FIELD",
    help="A rule the site stops setting itself: its region's or organisation's applies (repeatable).",
)  # fmt: skip
@click.option(
    "--from", "effective_from", help="When it applies, site-local 'YYYY-MM-DD HH:MM' (default: now)."
)
@click.option("--reason", required=True, help="Why the rules change (kept in the history).")
@click.option(
    "--author", default=getpass.getuser, show_default="your login", help="Who changes them (database only)."
)
def site_policy_set(
    site_id: str,
    assignments: tuple[str, ...],
    inherit: tuple[str, ...],
    effective_from: str | None,
    reason: str,
    author: str,
    **where: Any,
) -> None:
    """Change a site's rules; prints the new version. Invalid rules change nothing."""
    registry = open_registry(**where)
    when = None
    if effective_from:
        zone = next((s.timezone for s in _registry_call(registry.list_sites) if s.id == site_id), None)
        if zone is None:
            raise click.ClickException(f"no site {site_id!r}; list them with 'gatecheck provision site list'")
        when = _local_time(effective_from, zone)
    change = _valid(
        lambda: PolicyChange(
            changes=_assigned(assignments), inherit=list(inherit), effective_from=when, reason=reason
        )
    )
    made = _registry_call(lambda: registry.set_policy(site_id, change, author))
    click.echo(f"version {made.version} from {_time(made.effective_from_ms)} UTC by {made.author}")


@site_policy.command("history")
@registry_options
@click.argument("site_id")
def site_policy_history(site_id: str, **where: Any) -> None:
    """Every version, newest first: version, applies from (UTC), author, reason, rules."""
    for v in _registry_call(lambda: open_registry(**where).policy_history(site_id)):
        click.echo(
            f"{v.version}\t{_time(v.effective_from_ms)}\t{v.author}\t{v.reason}\t{v.policy.model_dump_json()}"
        )


@provision.group()
def device() -> None:
    """Devices: one per gate. Enrol, rotate credentials, revoke, list."""


def _save_bundle(bundle: DeviceBundle, ca_cert: Path | None, out: Path) -> None:
    if ca_cert is not None:
        pem = ca_cert.read_text(encoding="utf-8")
        if "BEGIN CERTIFICATE" not in pem:
            raise click.ClickException(f"{ca_cert} is not a PEM certificate")
        bundle = bundle.model_copy(update={"ca_cert": pem})
    bundle.save(out)
    click.echo(f"{bundle.device_id}\t{out}")


ca_cert_option = click.option(
    "--ca-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The site CA (PEM) the hub's TLS certificate chains to, written into the bundle.",
)


@device.command("enrol")
@registry_options
@click.option("--site", "site_id", required=True, help="Site id from 'site create'.")
@click.option("--gate", required=True, help="Name of the entrance, e.g. 'North gate'.")
@click.option("--hub-url", "device_hub_url", required=True, help="URL the device will sync to.")
@ca_cert_option
@out_option
def device_enrol(
    site_id: str, gate: str, device_hub_url: str, ca_cert: Path | None, out: Path, **where: Any
) -> None:
    """Enrol a device and write its bundle (credentials, policy, trust list, CA)."""
    try:
        request = DeviceEnrol(site_id=site_id, gate=gate, hub_url=device_hub_url)
    except ValidationError as exc:
        raise click.ClickException(str(exc)) from exc
    _save_bundle(_registry_call(lambda: open_registry(**where).enrol_device(request)), ca_cert, out)


@device.command("rotate")
@registry_options
@click.argument("device_id")
@click.option("--hub-url", "device_hub_url", help="A new URL for the device to sync to (default: unchanged).")
@ca_cert_option
@out_option
def device_rotate(
    device_id: str, device_hub_url: str | None, ca_cert: Path | None, out: Path, **where: Any
) -> None:
    """Give DEVICE_ID a new key pair and write its new bundle. The old key is refused at
    once; load the new bundle on the device with 'gatecheck edge init --bundle FILE' (its
    unsent checks wait on the device meanwhile)."""
    bundle = _registry_call(lambda: open_registry(**where).rotate_device(device_id, device_hub_url))
    _save_bundle(bundle, ca_cert, out)


@device.command("revoke")
@registry_options
@click.argument("device_id")
def device_revoke(device_id: str, **where: Any) -> None:
    """Refuse DEVICE_ID from now on (stolen, broken or retired). Its checks stay."""
    record = _registry_call(lambda: open_registry(**where).revoke_device(device_id))
    click.echo(f"{record.id}\t{record.status}\trevoked {_time(record.revoked_ms)} UTC")


@device.command("list")
@registry_options
@click.option("--site", "site_id", help="Only this site's devices.")
def device_list(site_id: str | None, **where: Any) -> None:
    """List devices: id, site, gate, status, last seen (UTC), acknowledged seq, backlog."""
    rows = _registry_call(lambda: open_registry(**where).list_devices(site_id))
    click.echo("device\tsite\tgate\tstatus\tlast seen (UTC)\tacked seq\tbacklog")
    for d in rows:
        backlog = "-" if d.backlog is None else str(d.backlog)
        click.echo(
            f"{d.id}\t{d.site_name}\t{d.gate}\t{d.status}\t{_time(d.last_seen_ms)}\t{d.acked_seq}\t{backlog}"
        )


@provision.group()
def issuer() -> None:
    """Issuers of gatecheck (gc1) codes: their keys go into every trust list."""


@issuer.command("create")
@database_option
@click.option("--name", required=True, help="Issuer name, written into every code it signs.")
@out_option
def issuer_create(database_url: str, name: str, out: Path) -> None:
    """Make an issuer key pair; the private key goes to --out, the public key to the hub."""
    from provisioning.issuers import create_issuer

    try:
        secret = create_issuer(open_database(database_url), name)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    secret.save(out)
    click.echo(f"{secret.kid}\t{out}")


@provision.command("issue-code")
@click.option(
    "--issuer-key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Issuer key file from 'issuer create'.",
)
@click.option("--holder-id", required=True, help="The person's ID number; only a pseudonym is kept.")
@click.option("--name", "display_name", required=True, help="Masked name shown at the gate, e.g. 张*.")
@click.option("--colour", type=click.Choice(["green", "yellow", "red"]), default="green", show_default=True)
@click.option("--valid-hours", type=click.FloatRange(min=0.01), default=24.0, show_default=True)
@click.option("--tested-hours-ago", type=click.FloatRange(min=0), help="Last negative test, hours ago.")
@click.option("--vaccinations", type=click.IntRange(0, 9), help="Vaccination doses received.")
@click.option(
    "--category", type=click.Choice(list(CATEGORIES)),
    help="Who the holder is (a school's student or staff code): gates apply that kind's rules.",
)  # fmt: skip
@out_option
def issue_code_command(
    issuer_key: Path,
    holder_id: str,
    display_name: str,
    colour: str,
    valid_hours: float,
    tested_hours_ago: float | None,
    vaccinations: int | None,
    category: Category | None,
    out: Path,
) -> None:
    """Sign a gc1 code for one person, write it as a QR PNG and print the payload."""
    from provisioning.issuers import IssuerSecret, issue_code, write_qr_png

    try:
        secret = IssuerSecret.load(issuer_key)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    payload = issue_code(
        secret,
        holder_id,
        display_name,
        colour,  # type: ignore[arg-type]
        timedelta(hours=valid_hours),
        timedelta(hours=tested_hours_ago) if tested_hours_ago is not None else None,
        vaccinations,
        category=category,
    )
    write_qr_png(payload, out)
    click.echo(payload)


@provision.group()
def trust() -> None:
    """The trust list devices verify codes with."""


@trust.command("add-cert")
@database_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def trust_add_cert(database_url: str, paths: tuple[Path, ...]) -> None:
    """Trust EU DCC document signer certificates (PEM or DER files, or folders of them)."""
    from hub.trust import add_signer_certificate

    engine = open_database(database_url)
    files = [f for p in paths for f in (sorted(p.iterdir()) if p.is_dir() else [p]) if f.is_file()]
    for path in files:
        try:
            kid = add_signer_certificate(engine, path.read_bytes())
        except RegistryError as exc:
            raise click.ClickException(f"{path}: {exc}") from exc
        click.echo(f"{kid}\t{path}")


@trust.command("revoke")
@database_option
@click.option("--scheme", type=click.Choice(["gc1", "hc1"]), required=True)
@click.option("--id", "identifier", required=True, help="gc1: code id (cid); hc1: certificate id (ci).")
def trust_revoke(database_url: str, scheme: str, identifier: str) -> None:
    """Revoke one code; devices refuse it once they have the new trust list."""
    from hub.trust import revoke_code

    click.echo(revoke_code(open_database(database_url), scheme, identifier))


@trust.command("show")
@database_option
def trust_show(database_url: str) -> None:
    """Print the current trust list as devices receive it (JSON)."""
    from hub.trust import build_trust_list

    trust_list = build_trust_list(open_database(database_url))
    click.echo(json.dumps(trust_list.model_dump(mode="json"), indent=2))
