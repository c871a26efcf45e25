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


@pytest.mark.parametrize(
    "args",
    [
        ["sync", "run", "--batch-size", "6000"],
        ["sync", "run", "--batch-size", "0"],
        ["sync", "run", "--interval", "-1"],
        ["edge", "kiosk", "--port", "70000"],
        ["edge", "kiosk", "--clear-after", "0"],
        ["hub", "serve", "--port", "0"],
        ["doctor", "--min-free-mb", "-5"],
    ],
    ids=lambda a: " ".join(a),
)
def test_out_of_range_options_are_usage_errors_not_tracebacks(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "Invalid value" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
