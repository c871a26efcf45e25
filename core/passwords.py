"""Secrets people type — dashboard passwords, guard PINs — stored as scrypt hashes.

scrypt is in the standard library and memory-hard (16 MiB per try here), which is what
slows guessing of a short PIN on a stolen SD card; the kiosk also locks a guard out after
repeated failures. Hub and edge share this one definition.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    return "$".join(
        [
            "scrypt",
            str(_N),
            str(_R),
            str(_P),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@cache
def stand_in_hash() -> str:
    """A hash no one knows the secret of. Checking a secret against it when the name is
    unknown costs what a real check costs, so refusal times do not tell which names exist."""
    return hash_password(secrets.token_urlsafe(16))
