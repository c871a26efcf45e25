"""gatecheck: the umbrella command line and the end-to-end demo.

The product lives in the four parts named by the product card: ``edge`` (the gate),
``sync`` (the uplink and the wire protocol), ``hub`` (the site managers' server) and
``provisioning`` (sites, devices, credentials). This package only ties them together.
"""

from datetime import UTC, datetime

__version__ = "0.1.0"
RELEASED = datetime(2026, 11, 23, tzinfo=UTC)
"""A device clock earlier than this release cannot be right: it is unset (no RTC, no NTP)."""

__all__ = ["RELEASED", "__version__"]
