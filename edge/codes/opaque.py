"""``opaque``: any payload no verifying scheme claims — regional app URLs, unknown tokens.

Nothing about it can be checked offline, so it is recorded as unverified and the policy
decides (by default the guard confirms the colour on the phone by hand).
"""

from __future__ import annotations

from edge.codes.result import CodeResult

SCHEME = "opaque"


def verify(payload: bytes) -> CodeResult:
    return CodeResult(SCHEME, decoded=True, signature_valid=None, time_valid=None, holder_id=payload)
