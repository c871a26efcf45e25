"""``gatecheck hub``: run the hub server."""

from __future__ import annotations

from datetime import datetime

import click
import uvicorn

from hub.auth import AuthError, create_user
from hub.core.config import HubSettings
from hub.core.db import create_schema, make_engine
from hub.main import create_app
from hub.options import database_option
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
def serve(database_url: str, host: str, port: int, ssl_certfile: str | None, ssl_keyfile: str | None) -> None:
    """Serve device ingest, the JSON API and the dashboard."""
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise click.UsageError("give both --ssl-certfile and --ssl-keyfile, or neither")
    app = create_app(HubSettings(database_url=database_url))
    scheme = "https" if ssl_certfile else "http"
    click.echo(f"gatecheck hub on {scheme}://{host}:{port}/  (database: {database_url})")
    uvicorn.run(
        app, host=host, port=port, log_level="info", ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile
    )


@hub.command("user")
@database_option
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(["admin", "manager"]), required=True)
@click.option("--site", "sites", multiple=True, help="Site id a manager may see (repeatable).")
@click.password_option(
    envvar="GATECHECK_USER_PASSWORD", help="At least 8 characters [env GATECHECK_USER_PASSWORD]."
)
def add_user(database_url: str, username: str, role: str, sites: tuple[str, ...], password: str) -> None:
    """Add a dashboard user, or reset their password, role and sites."""
    engine = make_engine(database_url)
    create_schema(engine)
    try:
        user = create_user(engine, username, password, role, sites)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from exc
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
    engine = make_engine(database_url)
    create_schema(engine)
    n = recompute(engine, site_id, start.date(), end.date())
    click.echo(f"recomputed {site_id} {start.date()}..{end.date()} from {n} checks")
