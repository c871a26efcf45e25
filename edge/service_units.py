"""The device's systemd units, filled in for this installation (see edge/units/ and
docs/deploy.md): the gate, the sync agent, the kiosk browser and the daily purge."""

from __future__ import annotations

import os
from pathlib import Path

UNITS_DIR = Path(__file__).parent / "units"
SERVICES = ("gatecheck-edge.service", "gatecheck-sync.service", "gatecheck-kiosk-browser.service")
TIMERS = ("gatecheck-purge.timer",)


def render_units(gatecheck: Path, home: Path, user: str, cage: Path) -> dict[str, str]:
    """Unit file name → text, placeholders replaced."""
    values = {"@GATECHECK@": str(gatecheck), "@HOME@": str(home), "@USER@": user, "@CAGE@": str(cage)}
    units = {}
    for template in sorted(UNITS_DIR.iterdir()):
        text = template.read_text(encoding="utf-8")
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        units[template.name] = text
    return units


def write_units(units: dict[str, str], dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in units.items():
        path = dest / name
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        written.append(path)
    return written
