"""The device's home directory and its settings file.

``$GATECHECK_HOME`` (default ``/var/lib/gatecheck``) holds everything a gate device owns:
``device.json`` (the bundle: credentials, site, policy, trust list), ``edge.db`` (the
check log) and ``gatecheck.env`` (the settings, read through ``edge.settings``; the
systemd units also take it as their ``EnvironmentFile``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path("/var/lib/gatecheck")


@dataclass(frozen=True)
class DeviceHome:
    path: Path

    @property
    def bundle(self) -> Path:
        return self.path / "device.json"

    @property
    def database(self) -> Path:
        return self.path / "edge.db"

    @property
    def env_file(self) -> Path:
        return self.path / "gatecheck.env"


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Write settings atomically, every value single-quoted (literal for systemd too)."""
    lines = ["# gatecheck device settings — written by 'gatecheck edge init'; edit and restart."]
    for key, value in values.items():
        if "'" in value or "\n" in value:
            raise ValueError(f"setting {key} may not contain quotes or line breaks: {value!r}")
        lines.append(f"{key}='{value}'")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
