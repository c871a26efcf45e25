"""``gatecheck hub``: run the hub server."""

from __future__ import annotations

import click
import uvicorn

from hub.core.config import HubSettings
from hub.main import create_app

database_option = click.option(
    "--database-url",
    envvar="GATECHECK_HUB_DATABASE_URL",
    default=HubSettings.model_fields["database_url"].default,
    show_default=True,
    help="SQLAlchemy URL of the hub database [env GATECHECK_HUB_DATABASE_URL].",
)


@click.group()
def hub() -> None:
    """The central hub: device ingest, reports, dashboard."""


@hub.command()
@database_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port to listen on.")
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
