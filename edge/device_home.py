"""The device's home directory and its settings file.

``$GATECHECK_HOME`` (default ``/var/lib/gatecheck``) holds everything a gate device owns:
``device.json`` (the bundle: credentials, site, policy, trust list), ``edge.db`` (the
check log) and ``gatecheck.env`` (hardware and service settings, one ``GATECHECK_*``
variable per line). The systemd units read that file as their ``EnvironmentFile``, and
every ``gatecheck`` command run on the device loads it too, so the services and a
technician's shell always agree.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path("/var/lib/gatecheck")
_LINE = re.compile(r"^\s*([A-Z_][A-Z0-9_]*)\s*=\s*(.*?)\s*$")


@dataclass(frozen=True)
class DeviceHome:
    path: Path

    @classmethod
    def from_env(cls) -> DeviceHome:
        return cls(Path(os.environ.get("GATECHECK_HOME") or DEFAULT_HOME))

    @property
    def bundle(self) -> Path:
        return self.path / "device.json"

    @property
    def database(self) -> Path:
        return self.path / "edge.db"

    @property
    def env_file(self) -> Path:
        return self.path / "gatecheck.env"


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines as systemd reads them (quotes stripped, # comments skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


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


def load_device_env() -> None:
    """Put the device's settings into this process's environment, where not already set
    (an explicit variable or option still wins)."""
    env_file = DeviceHome.from_env().env_file
    try:
        values = read_env_file(env_file)
    except OSError:
        return  # not a device (or not initialised yet)
    for key, value in values.items():
        os.environ.setdefault(key, value)
