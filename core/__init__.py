"""The layer every part shares and that imports none of them.

What the gate, the sync agent, the hub and provisioning must agree on is defined here
once: the release (version, and the date a device clock cannot precede), the reasons a
check can have, a site's policy, the trust list, the device bundle, the wire protocol,
passwords and the text rules. ``make lint`` checks that nothing here imports ``edge``,
``sync``, ``hub``, ``provisioning`` or ``gatecheck`` (docs/architecture.md).
"""

from datetime import UTC, datetime

__version__ = "0.1.0"
RELEASED = datetime(2026, 11, 23, tzinfo=UTC)
"""A device clock earlier than this release cannot be right: it is unset (no RTC, no NTP)."""

__all__ = ["RELEASED", "__version__"]
