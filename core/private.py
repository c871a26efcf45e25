"""Files that hold secrets are created readable by their owner only.

The hub's SQLite file holds every site's pseudonym key and the password hashes; a gate's
check log holds pseudonyms, guards' PIN hashes and visitors' phone numbers. SQLite gives
its -wal and -shm files the main file's permissions, so creating the main file 0600
before SQLite opens it covers all three.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (an existing file keeps
    its mode: the doctor reports one others can read)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
