"""``gatecheck hub``: run the hub server."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import click

from hub import listeners, rollups
from hub.auth import ROLES, AuthError, create_user
from hub.core.db import create_schema, current_schema, make_engine
from hub.options import database_option, open_database
from hub.recompute import recompute


@click.group()
def hub() -> None:
    """The central hub: device ingest, reports, dashboard."""


@hub.command()
@database_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on."
)
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False), help="TLS certificate (PEM).")
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM).")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes serving requests (all on the same database; PostgreSQL for more than one).",
)
def serve(
    database_url: str, host: str, port: int, ssl_certfile: str | None, ssl_keyfile: str | None, workers: int
) -> None:
    """Serve device ingest, the JSON API and the dashboard. The database must be at this
    software's schema ('gatecheck hub migrate' first). SIGTERM lets requests in flight
    finish (up to 30 s) before the processes exit."""
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise click.UsageError("give both --ssl-certfile and --ssl-keyfile, or neither")
    open_database(database_url).dispose()  # refused, with what to do, unless at this schema
    # Worker processes read their settings from the environment, like a deployment's.
    os.environ["GATECHECK_HUB_DATABASE_URL"] = database_url
    scheme = "https" if ssl_certfile else "http"
    click.echo(f"gatecheck hub on {scheme}://{host}:{port}/  (database: {database_url}, {workers} worker(s))")
    try:
        listeners.serve(
            "hub.asgi:app",
            workers,
            factory=True,
            host=host,
            port=port,
            log_level="info",
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            timeout_graceful_shutdown=30,
        )
    except OSError as exc:  # the address is taken, or not this machine's
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


@hub.command()
@database_option
def migrate(database_url: str) -> None:
    """Bring the hub database to this software's schema (run once per upgrade, before
    starting the hub; safe to repeat)."""
    engine = make_engine(database_url)
    made = create_schema(engine)
    if made:
        click.echo(f"made month partitions for raw checks: {', '.join(m.name for m in made)}")
    click.echo(f"hub database at schema {current_schema(engine)}  ({engine.url.render_as_string()})")


@hub.command("purge")
@database_option
@click.option(
    "--keep-days",
    type=click.IntRange(7),
    default=90,
    show_default=True,
    help="Raw checks received longer ago than this go (daily counts, alerts and reports stay).",
)
def purge_command(database_url: str, keep_days: int) -> None:
    """Delete old raw checks in small transactions while the hub serves; the day counts
    stay exact (a re-sent old check still counts once)."""
    from hub.retention import purge

    report = purge(open_database(database_url), keep_days)
    months = f" ({report.months} month partitions dropped)" if report.months else ""
    click.echo(
        f"purged {report.checks:,} raw checks from {report.logs} device logs older than {keep_days} days"
        f"{months}"
    )


@hub.command("backup")
@database_option
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(database_url: str, target: Path) -> None:
    """Write a consistent copy of the hub database to TARGET while the hub keeps serving
    (SQLite: a database file; PostgreSQL: a pg_dump archive for 'hub restore')."""
    from hub.backup import BackupError, backup

    try:
        backup(open_database(database_url), target)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written to {target} ({target.stat().st_size:,} bytes)")


@hub.command("restore")
@database_option
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore_command(database_url: str, source: Path) -> None:
    """Load a PostgreSQL backup (from 'hub backup') into the empty database at
    --database-url. An SQLite backup is itself a hub database: serve it directly."""
    from hub.backup import BackupError, restore

    engine = make_engine(database_url)
    try:
        restore(engine, source)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"restored {source} into {engine.url.render_as_string()}")


@hub.command("user")
@database_option
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--site", "sites", multiple=True, help="Site id a manager may see (repeatable).")
@click.option(
    "--region",
    "region_ids",
    multiple=True,
    help="Region id an officer oversees, and all below it (repeatable).",
)
@click.password_option(
    envvar="GATECHECK_USER_PASSWORD", help="At least 8 characters [env GATECHECK_USER_PASSWORD]."
)
def add_user(
    database_url: str,
    username: str,
    role: str,
    sites: tuple[str, ...],
    region_ids: tuple[str, ...],
    password: str,
) -> None:
    """Add a dashboard user, or reset their password, role, sites and regions."""
    engine = open_database(database_url)
    try:
        user = create_user(engine, username, password, role, sites, region_ids)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from exc
    if user.role == "officer":
        scope = "regions " + ", ".join(sorted(user.regions))
    else:
        scope = "all sites" if user.sites is None else ", ".join(sorted(user.sites))
    click.echo(f"{user.username}: {user.role} of {scope}")


@hub.command("recompute")
@database_option
@click.option("--site", "site_id", required=True, help="Site id.")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First local date.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last local date.")
def recompute_command(database_url: str, site_id: str, start: datetime, end: datetime) -> None:
    """Rebuild a site's daily counts for a range of local dates from the raw checks."""
    if start > end:
        raise click.BadParameter("--from is after --to")
    engine = open_database(database_url)
    n = recompute(engine, site_id, start.date(), end.date())
    click.echo(f"recomputed {site_id} {start.date()}..{end.date()} from {n} checks")


@hub.command("rollups")
@database_option
@click.option("--rebuild", is_flag=True, help="Recount every region rollup from the sites' daily counts.")
def rollups_command(database_url: str, rebuild: bool) -> None:
    """Fold pending count changes into the region rollups now (the hub does it every few
    seconds), or rebuild them all (after a restore, or to audit them)."""
    engine = open_database(database_url)
    if rebuild:
        click.echo(f"rebuilt {rollups.rebuild(engine)} region rollup rows from the daily counts")
    else:
        click.echo(f"folded {rollups.fold(engine)} pending site count changes")
