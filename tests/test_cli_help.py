"""Every command explains itself."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from gatecheck.cli import SUBCOMMANDS, main


def all_commands() -> list[list[str]]:
    found: list[list[str]] = []

    def walk(command: click.Command, path: list[str]) -> None:
        found.append(path)
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name])

    walk(main, [])
    return found


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "gatecheck")
def test_every_command_has_help(path: list[str]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    command_help = result.output.split("Options:")[0]
    assert len(command_help.strip().splitlines()) >= 2, "command has no description"


def test_top_level_lists_every_part() -> None:
    result = CliRunner().invoke(main, ["--help"])
    for name in SUBCOMMANDS:
        assert name in result.output
