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
def serve(database_url: str, host: str, port: int) -> None:
    """Serve device ingest, the JSON API and the dashboard."""
    app = create_app(HubSettings(database_url=database_url))
    click.echo(f"gatecheck hub on http://{host}:{port}/  (database: {database_url})")
    uvicorn.run(app, host=host, port=port, log_level="info")
