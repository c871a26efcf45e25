"""Command-line options shared by ``gatecheck hub`` and ``gatecheck provision`` — light to
import (click and the settings model only), so the operator's tool on a laptop does not
load the server to parse its options."""

from __future__ import annotations

import click

from hub.core.config import HubSettings

database_option = click.option(
    "--database-url",
    envvar="GATECHECK_HUB_DATABASE_URL",
    default=HubSettings.model_fields["database_url"].default,
    show_default=True,
    help="SQLAlchemy URL of the hub database [env GATECHECK_HUB_DATABASE_URL].",
)
