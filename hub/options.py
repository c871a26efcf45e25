"""Command-line options shared by ``gatecheck hub`` and ``gatecheck provision`` — light to
import (click and the settings model only), so the operator's tool on a laptop does not
load the server to parse its options."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from hub.core.config import HubSettings

if TYPE_CHECKING:
    from sqlalchemy import Engine

database_option = click.option(
    "--database-url",
    envvar="GATECHECK_HUB_DATABASE_URL",
    default=HubSettings.model_fields["database_url"].default,
    show_default=True,
    help="SQLAlchemy URL of the hub database [env GATECHECK_HUB_DATABASE_URL].",
)


def open_database(database_url: str) -> Engine:
    """The hub's database for an operator's command, refused (with what to do) unless it is
    at this software's schema. Imported here, not at the top: a laptop running
    ``gatecheck provision --hub`` never loads SQLAlchemy or Alembic."""
    from hub.core.db import SchemaMismatch, make_engine, require_schema

    engine = make_engine(database_url)
    try:
        require_schema(engine)
    except SchemaMismatch as exc:
        raise click.ClickException(str(exc)) from exc
    return engine
