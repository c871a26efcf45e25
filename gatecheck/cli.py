"""The ``gatecheck`` command: one entry point, a subcommand group per part.

Groups load lazily, so ``gatecheck edge`` and ``gatecheck sync`` on a gate device never
import the hub's web stack (and start faster on a small board).
"""

from __future__ import annotations

import importlib

import click

from core import __version__

SUBCOMMANDS = {
    "edge": ("edge.cli", "edge", "Gate-side commands: check people, inspect the local log."),
    "code": ("edge.codes.cli", "code", "Health codes: verify offline against a trust list."),
    "sync": ("sync.cli", "sync", "Device → hub synchronisation."),
    "hub": ("hub.cli", "hub", "The central hub: device ingest, reports, dashboard."),
    "provision": ("provisioning.cli", "provision", "Sites, devices, issuer keys and trust lists."),
    "demo": ("gatecheck.demo", "demo", "Run the whole chain on sample data."),
    "doctor": (
        "edge.doctor_cli",
        "doctor",
        "Check this gate device: hardware, storage, clock, hub.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        module, attr, _ = SUBCOMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="gatecheck")
def main() -> None:
    """gatecheck — offline-first gate checks (health code + temperature) and site reports."""
