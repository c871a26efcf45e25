"""Health-code schemes and the registry that picks one for a payload.

Each verifying scheme is a module with ``SCHEME``, ``matches(payload)`` (its prefix),
``resembles(payload)`` (its content under a wrong or missing prefix) and
``verify(payload, trust, at)``; anything none of them claims is ``opaque``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from types import ModuleType

from core.policy import Colour
from edge.codes import gc1, hc1, opaque
from edge.codes.result import CodeResult
from edge.trust import TrustStore

logger = logging.getLogger(__name__)

SCHEMES: tuple[ModuleType, ...] = (hc1, gc1)

__all__ = ["SCHEMES", "CodeResult", "Colour", "verify"]


def verify(payload: bytes, trust: TrustStore, at: datetime) -> CodeResult:
    """Verify a payload offline with the scheme that claims it. Never raises."""
    scheme = next((s for s in SCHEMES if s.matches(payload)), None) or next(
        (s for s in SCHEMES if _resembles(s, payload)), None
    )
    if scheme is None:
        return opaque.verify(payload)
    try:
        result: CodeResult = scheme.verify(payload, trust, at)
    except Exception as exc:  # a bug must not stop the gate; say what happened
        logger.exception("%s verifier failed", scheme.SCHEME)
        return CodeResult(scheme.SCHEME, signature_valid=False, error=f"internal: {exc}")
    return result


def _resembles(scheme: ModuleType, payload: bytes) -> bool:
    try:
        return bool(scheme.resembles(payload))
    except Exception:  # sniffing must never stop the gate either
        logger.exception("%s.resembles failed", scheme.SCHEME)
        return False
