"""Holder pseudonyms: a keyed hash, so the device never stores who someone is.

The key is per site (from the device bundle), so the same person gets the same pseudonym
at every gate of the site — the hub can count unique people — while a pseudonym from one
site means nothing at another.
"""

from __future__ import annotations

import hashlib
import hmac

PSEUDONYM_HEX_CHARS = 32


def pseudonym(key: bytes, identifier: bytes) -> str:
    """HMAC-SHA256 of the identifier, truncated to 128 bits, as hex."""
    return hmac.new(key, identifier, hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_CHARS]
