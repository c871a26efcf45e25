"""``gatecheck doctor``: the technician's pass/fail list for this gate device."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from edge.camera import Roi
from edge.cli_options import camera_options, db_option, device_option, thermometer_options
from edge.doctor import DoctorSettings, Finding, examine
from edge.sensor_config import ThermometerConfig

_MARKS = {"PASS": ("PASS", "green"), "WARN": ("WARN", "yellow"), "FAIL": ("FAIL", "red")}


def _print(finding: Finding) -> None:
    label, colour = _MARKS[finding.status]
    click.echo(f"  {click.style(label, fg=colour, bold=True)}  {finding.name:<13} {finding.detail}")


@click.command()
@device_option
@db_option
@camera_options
@thermometer_options
@click.option(
    "--min-free-mb",
    default=200,
    show_default=True,
    type=click.IntRange(0),
    help="Less free disk than this fails.",
)
@click.option("--json", "as_json", is_flag=True, help="The findings as JSON (for monitoring).")
def doctor(
    device_path: Path,
    db_path: Path,
    source: str,
    roi: Roi | None,
    thermometer: ThermometerConfig,
    min_free_mb: int,
    as_json: bool,
) -> None:
    """Check camera, thermometer, clock, storage, check log, trust list and the hub link,
    and say what to do about each problem. Exits 1 if anything failed."""
    settings = DoctorSettings(device_path, db_path, source, roi, thermometer, min_free_mb)
    if not as_json:
        click.echo("gatecheck doctor")
    findings = examine(settings, (lambda f: None) if as_json else _print)
    failed = [f for f in findings if f.status == "FAIL"]
    if as_json:
        click.echo(json.dumps([asdict(f) for f in findings], ensure_ascii=False, indent=2))
    elif failed:
        click.echo(
            f"{len(failed)} problem{'s' if len(failed) > 1 else ''} to fix: "
            + ", ".join(f.name for f in failed)
        )
    else:
        click.echo("all good")
    if failed:
        raise SystemExit(1)
