"""Prometheus metrics of one hub (a registry per app, so tests can build many hubs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass
class HubMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.batches = Counter(
            "gatecheck_batches", "Device batches ingested", ["lane"], registry=self.registry
        )
        self.checks = Counter("gatecheck_checks_stored", "Checks newly stored", registry=self.registry)
        self.duplicates = Counter(
            "gatecheck_checks_duplicate", "Checks received again", registry=self.registry
        )
        self.alerts = Counter("gatecheck_alerts", "Fever and red-code alerts raised", registry=self.registry)
        self.refused = Counter(
            "gatecheck_requests_refused", "Device requests refused", ["status"], registry=self.registry
        )
        self.ingest_seconds = Histogram(
            "gatecheck_ingest_seconds", "Time to ingest one batch", registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )  # fmt: skip
