"""The wire protocol between a device's sync agent and the hub — defined once, here.

Both ``sync`` and ``hub`` import this module; nothing else defines what crosses the wire.
See docs/protocol.md for the prose version.

A device uploads its checks in batches keyed by (device id, seq). The batch states the
highest seq the device believes the hub already holds (``after_seq``) and carries every
check after it, in order, so the hub can tell a complete continuation from a gap. The hub
answers with the highest seq up to which it holds *everything* (``acked_seq``); the device
advances its high-water mark to exactly that number and nothing else.

Requests are signed with the device's Ed25519 key over a canonical string (method, path,
timestamp, nonce, SHA-256 of the body), so a stolen hub database cannot forge uploads.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from typing import Annotated, Any, Literal

import annotated_types
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    model_serializer,
    model_validator,
)

from core.policy import Policy, PolicyNext
from core.text import LINE_PATTERN, Line
from core.trust import TrustList

PROTOCOL_VERSION = 3
INGEST_PATH = "/api/v1/ingest"
VISITORS_PATH = "/api/v1/visitors"
"""Where a device sends its visitor book (entries, and their closing when visitors leave)."""
MAX_BATCH_VISITORS = 500
CONFIG_PATH = "/api/v1/device/config"
CLOCK_TOLERANCE_S = 300
"""Signed requests more than this far from the hub's clock are refused (replay window)."""
MAX_BATCH_CHECKS = 5000
"""Hard cap the hub accepts in one batch; the agent sends far fewer by default."""

HEADER_DEVICE = "X-Gatecheck-Device"
HEADER_TIMESTAMP = "X-Gatecheck-Timestamp"
HEADER_NONCE = "X-Gatecheck-Nonce"
HEADER_SIGNATURE = "X-Gatecheck-Signature"
HEADER_SERVER_TIME = "X-Gatecheck-Server-Time"
"""On every answer to a device: the hub's clock (ms), so devices without an RTC can sign."""
CLOCK_REFUSAL = "clock:"
"""Starts the hub's 401 detail for a request signed too far from its clock: the device
should sign again with the time in ``HEADER_SERVER_TIME`` (boards without an RTC)."""


# Limits of every value a device may send, defined once: the hub's columns are sized from
# them (hub/core/db.py), so whatever passes validation fits both databases.
MAX_SEQ = 2**40 - 1
"""Highest sequence number a log may use (a trillion checks). The hub keeps each log of a
device in its own range of 2^40 numbers (see ``LOG_SEQ_BITS``)."""
LOG_SEQ_BITS = 40
MAX_MS = 2**47
"""Clock values (ms) above this — the year 6429 — are not clocks."""
MAX_COUNT = 2**31 - 1
GATE_MAX = 64
REASON_MAX = 40
FLAGS_MAX = 8
FLAGS_TEXT_MAX = 200
"""Flags travel and are stored comma-joined: at most this many characters in all."""
ID_MAX = 64
LOG_ID_PATTERN = r"^[0-9a-f]{32}$"


REPLAY_REFUSAL = "replayed:"
"""Starts the hub's 401 detail for a nonce it has seen: the request already reached it (a
network that duplicates packets delivers it twice) — never a sign of a bad key."""
REPLAY_DETAIL = f"{REPLAY_REFUSAL} this request already reached the hub (nonce used)"


def refused_for_clock(status_code: int, detail: str) -> bool:
    return status_code == 401 and CLOCK_REFUSAL in detail


def refused_as_replay(status_code: int, detail: str) -> bool:
    return status_code == 401 and REPLAY_REFUSAL in detail


Verdict = Literal["admit", "deny", "remeasure", "manual"]
TempSource = Literal["sensor", "manual", "none"]
Clock = Annotated[int, Field(ge=0, le=MAX_MS)]


def _fits_flags_column(flags: list[str]) -> list[str]:
    if len(",".join(flags)) > FLAGS_TEXT_MAX:
        raise ValueError(f"flags take at most {FLAGS_TEXT_MAX} characters in all")
    return flags


Flags = Annotated[
    list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]],
    Field(max_length=FLAGS_MAX),
    AfterValidator(_fits_flags_column),
]


class CheckRecord(BaseModel):
    """What a check says — the one definition of a check's shape. The gate stores it
    (``edge.store.NewCheck`` adds what stays on the device), sends it numbered
    (``CheckIn``), and the hub stores exactly these fields; every value that passes here
    fits the hub's columns. Times are the device's own clocks."""

    model_config = ConfigDict(extra="forbid")

    gate: Line = Field(min_length=1, max_length=GATE_MAX)
    wall_ms: Clock = Field(description="Device wall clock, ms since the Unix epoch (UTC).")
    mono_ms: Clock = Field(description="Device monotonic clock (since boot), ms.")
    boot_id: Line = Field(min_length=1, max_length=ID_MAX, description="Kernel boot id.")
    verdict: Verdict
    reason: str = Field(pattern=rf"^[a-z][a-z0-9_]{{0,{REASON_MAX - 1}}}$", description="Stable reason code.")
    temp_c: float | None = Field(None, ge=-50.0, le=150.0, allow_inf_nan=False)
    temp_source: TempSource = Field(description="'manual' when a guard typed the reading.")
    scheme: Line | None = Field(None, max_length=16, description="Health-code scheme.")
    holder: Line | None = Field(None, max_length=ID_MAX, description="Keyed pseudonym, never an id.")
    flags: Flags = Field(default_factory=list, description="Conditions such as clock_unset, trust_stale.")
    refers_to: int | None = Field(
        None,
        ge=1,
        le=MAX_SEQ,
        description="The earlier check of the same log this one acts on: a re-test, an override, "
        "a confirmed colour, a fever's disposition (None from devices that do not send it).",
    )
    policy_version: int | None = Field(
        None, ge=1, le=MAX_COUNT, description="The version of the site's rules it was decided under."
    )


class CheckIn(CheckRecord):
    """A check as it travels: numbered in its log."""

    seq: int = Field(ge=1, le=MAX_SEQ, description="Sequence number in its log, never reused.")


def _delta(values: list[int]) -> list[int]:
    return [b - a for a, b in zip([0, *values], values, strict=False)]


def _undelta(deltas: list[int]) -> list[int]:
    total, out = 0, []
    for step in deltas:
        total += step
        out.append(total)
    return out


def _bounds(name: str) -> tuple[Any, Any]:
    """The ``ge``/``le`` of a numeric ``CheckIn`` field: columns are checked with the
    model's own limits, not a copy of them."""
    metadata = CheckIn.model_fields[name].metadata
    low = next(m.ge for m in metadata if isinstance(m, annotated_types.Ge))
    high = next(m.le for m in metadata if isinstance(m, annotated_types.Le))
    return low, high


OPTIONAL_INTS = ("refers_to", "policy_version")
"""Integer columns newer devices send and older ones do not: absent from a batch where
every value is None, so a hub that predates one still takes such batches."""
_BOUNDS = {name: _bounds(name) for name in ("seq", "wall_ms", "mono_ms", "temp_c", *OPTIONAL_INTS)}
_HOLDER_MAX = next(
    m.max_length for m in CheckIn.model_fields["holder"].metadata if isinstance(m, annotated_types.MaxLen)
)
_ONE_LINE = re.compile(LINE_PATTERN)
"""The holder's text rule (core.text.Line), for checking a whole column at once."""
_CODED = ("gate", "boot_id", "verdict", "reason", "temp_source", "scheme", "flags")
_FIELD_CHECKS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(Annotated[field.annotation, field])  # type: ignore[arg-type]
    for name, field in CheckIn.model_fields.items()
    if name in _CODED
}
"""Each coded column's ``CheckIn`` rules, applied to its distinct values."""


class CheckColumns(BaseModel):
    """Checks as columns — the wire form of a batch, about 25 bytes a check once gzipped.

    Integers (seq, wall_ms, mono_ms) are delta-coded: consecutive checks differ by small
    numbers that compress to almost nothing. Repeated strings (gate, boot id, verdict,
    reason, temperature source, scheme, comma-joined flags) are indices into ``strings``;
    -1 stands for "none". Every check is validated as a ``CheckIn`` when unpacked.
    """

    model_config = ConfigDict(extra="forbid")

    seq: list[int]
    wall_ms: list[int]
    mono_ms: list[int]
    temp_c: list[float | None]
    holder: list[str | None]
    strings: list[str] = Field(max_length=4 * MAX_BATCH_CHECKS)
    gate: list[int]
    boot_id: list[int]
    verdict: list[int]
    reason: list[int]
    temp_source: list[int]
    scheme: list[int]
    flags: list[int]
    refers_to: list[int | None] | None = None
    policy_version: list[int | None] | None = None
    """(Both: see ``OPTIONAL_INTS``.)"""

    @model_serializer(mode="wrap")
    def _absent_when_none(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in OPTIONAL_INTS:
            if data.get(name) is None:
                data.pop(name, None)
        return data

    @model_validator(mode="after")
    def _same_length(self) -> CheckColumns:
        n = len(self.seq)
        if n > MAX_BATCH_CHECKS:
            raise ValueError(f"at most {MAX_BATCH_CHECKS} checks per batch")
        for name in OPTIONAL_INTS:
            values = getattr(self, name)
            if values is not None and len(values) != n:
                raise ValueError(f"column {name} has {len(values)} values, seq has {n}")
        for name in ("wall_ms", "mono_ms", "temp_c", "holder", *_CODED):
            if len(getattr(self, name)) != n:
                raise ValueError(f"column {name} has {len(getattr(self, name))} values, seq has {n}")
            if name in _CODED and any(not -1 <= i < len(self.strings) for i in getattr(self, name)):
                raise ValueError(f"column {name} refers past the string table")
        return self

    @classmethod
    def pack(cls, checks: list[CheckIn]) -> CheckColumns:
        strings: dict[str, int] = {}

        def code(value: str | None) -> int:
            return -1 if value is None else strings.setdefault(value, len(strings))

        coded = {
            name: [code(",".join(c.flags) if name == "flags" else getattr(c, name)) for c in checks]
            for name in _CODED
        }
        return cls(
            seq=_delta([c.seq for c in checks]),
            wall_ms=_delta([c.wall_ms for c in checks]),
            mono_ms=_delta([c.mono_ms for c in checks]),
            temp_c=[c.temp_c for c in checks],
            holder=[c.holder for c in checks],
            strings=list(strings),
            **coded,
            **{
                name: [getattr(c, name) for c in checks] if any(getattr(c, name) for c in checks) else None
                for name in OPTIONAL_INTS
            },
        )

    def _texts(self, name: str) -> list[str | None]:
        return [None if i < 0 else self.strings[i] for i in getattr(self, name)]

    def rows(self) -> list[dict[str, Any]]:
        """The checks as plain dicts, validated column by column: the bounds of ``CheckIn``
        on every number, its rules on every distinct string (a batch repeats a handful).
        Raises ``ValueError`` naming the first bad value."""
        seqs, walls, monos = _undelta(self.seq), _undelta(self.wall_ms), _undelta(self.mono_ms)
        for name, integers in (("seq", seqs), ("wall_ms", walls), ("mono_ms", monos)):
            low, high = _BOUNDS[name]
            if integers and not (low <= min(integers) and max(integers) <= high):
                raise ValueError(f"{name} must lie between {low} and {high}")
        low, high = _BOUNDS["temp_c"]
        # Written out so NaN, which every comparison refuses, fails wherever it stands.
        if not all(low <= t <= high for t in self.temp_c if t is not None):
            raise ValueError(f"temp_c must lie between {low} and {high}")
        # Every holder in one pass of the field's own pattern and length (a batch holds up
        # to thousands of distinct ones: one validator call each was a tenth of an ingest).
        holders = [h for h in self.holder if h is not None]
        if holders and not (max(map(len, holders)) <= _HOLDER_MAX and _ONE_LINE.fullmatch("".join(holders))):
            raise ValueError(f"holder pseudonyms are at most {_HOLDER_MAX} characters, on one line")
        optional: dict[str, list[Any]] = {}
        for name in OPTIONAL_INTS:
            optional[name] = getattr(self, name) or [None] * len(seqs)
            low, high = _BOUNDS[name]
            if not all(low <= r <= high for r in optional[name] if r is not None):
                raise ValueError(f"{name} must lie between {low} and {high}")
        columns: dict[str, list[Any]] = {}
        for name in _CODED:
            texts = self._texts(name)
            values: list[Any] = [t.split(",") if t else [] for t in texts] if name == "flags" else texts
            for distinct in set(texts):
                as_field = (distinct.split(",") if distinct else []) if name == "flags" else distinct
                _FIELD_CHECKS[name].validate_python(as_field)
            columns[name] = values
        columns |= {
            "seq": seqs,
            "wall_ms": walls,
            "mono_ms": monos,
            "temp_c": self.temp_c,
            "holder": self.holder,
            **optional,
        }
        names = tuple(columns)
        return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]

    def unpack(self) -> list[CheckIn]:
        """The checks as ``CheckIn`` models (each validated again; for tools and tests)."""
        return [CheckIn.model_validate(row) for row in self.rows()]


class BatchIn(BaseModel):
    """A run of checks from one device.

    Routine batches carry ``after_seq``: the device promises the batch holds every check
    it has with a seq in (after_seq, last seq of the batch]. Urgent batches (the priority
    lane: fevers, red codes, refusals) carry ``after_seq = None`` and promise nothing about
    the checks between them; the hub stores and counts them but acknowledges only
    contiguous runs.
    """

    model_config = ConfigDict(extra="forbid")

    protocol: Literal[3] = Field(3, description="PROTOCOL_VERSION; other versions are refused.")
    device_id: Line = Field(max_length=ID_MAX)
    log_id: str = Field(
        pattern=LOG_ID_PATTERN,
        description="Identity of the check log the seqs belong to (made with the log).",
    )
    after_seq: int | None = Field(ge=0, le=MAX_SEQ, description="None: urgent batch, no continuity claim.")
    boot_id: Line = Field(max_length=ID_MAX, description="Boot id of the device when it sent the batch.")
    sent_wall_ms: Clock = Field(description="Device wall clock at send time.")
    sent_mono_ms: Clock = Field(description="Device monotonic clock at send time.")
    software: Line = Field("", max_length=32, description="Device software version.")
    backlog: int = Field(
        0, ge=0, le=MAX_COUNT, description="Checks the device holds unacknowledged besides this batch."
    )
    trust_version: int | None = Field(
        None, ge=0, le=MAX_MS, description="Version of the trust list the device applied."
    )
    trust_fetched_ms: Clock | None = Field(None, description="When the device received it (device clock).")
    policy_version: int | None = Field(
        None, ge=1, le=MAX_COUNT, description="The version of the site's rules the device applies now."
    )
    checks: CheckColumns


class VisitorRecord(BaseModel):
    """An entry of a gate's visitor book as it travels (the hub keeps the site's ledger:
    002:733, 002:829). Real names and phone numbers: the hub shows them masked, in full
    only to roles allowed to, and logs every full view."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1, le=MAX_SEQ, description="The entry's number in the device's book.")
    check_seq: int = Field(ge=1, le=MAX_SEQ, description="The visitor's check (same log).")
    name: Line = Field(min_length=1, max_length=40)
    phone: Line = Field(min_length=1, max_length=20)
    host: Line = Field(min_length=1, max_length=80, description="Whom or which unit they visit.")
    purpose: Line = Field(min_length=1, max_length=120)
    escort: Line | None = Field(None, max_length=40)
    entered_ms: Clock
    left_ms: Clock | None = Field(None, description="When they left (销号); None: still inside.")


class VisitorsIn(BaseModel):
    """New and changed entries of a device's visitor book, sent after its checks."""

    model_config = ConfigDict(extra="forbid")

    device_id: Line = Field(max_length=ID_MAX)
    log_id: str = Field(pattern=LOG_ID_PATTERN)
    visitors: list[VisitorRecord] = Field(max_length=MAX_BATCH_VISITORS)


class VisitorsAck(BaseModel):
    stored: int = Field(description="Entries the hub now holds as sent (new or changed).")


class BatchAck(BaseModel):
    """The hub's answer: how far the device may advance."""

    acked_seq: int = Field(description="Highest seq up to which the hub holds every check.")
    stored: int = Field(description="Checks newly stored from this batch.")
    duplicates: int = Field(description="Checks in this batch the hub already had, identical.")
    conflicts: int = Field(
        0, description="Checks whose seq the hub holds with other content: kept aside and alerted."
    )


class DeviceConfig(BaseModel):
    """What the hub tells a device (downlink): who it is, the site's rules, whom to trust.

    Served with an ETag over everything here; the device applies a new one atomically.
    """

    device_id: str
    site_id: str
    site_name: str
    timezone: str
    gate: str
    status: str
    policy: Policy
    policy_version: int = Field(1, ge=1, description="The version of the site's rules in force now.")
    next_policy: PolicyNext | None = Field(
        None, description="The next version, already decided, and when it applies (the gate switches then)."
    )
    trust: TrustList


def _canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, timestamp, nonce, digest]).encode()


def sign_request(
    signing_key: bytes, device_id: str, method: str, path: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    """Headers that authenticate one request from a device. ``now`` is the signing time
    (the agent passes its clock corrected by the hub's, for devices with no RTC)."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_urlsafe(16)
    key = Ed25519PrivateKey.from_private_bytes(signing_key)
    signature = key.sign(_canonical(method, path, timestamp, nonce, body))
    return {
        HEADER_DEVICE: device_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }


def verify_request(
    public_key: bytes,
    method: str,
    path: str,
    timestamp: str,
    nonce: str,
    signature_b64: str,
    body: bytes,
) -> bool:
    """True when the signature was made by the holder of ``public_key`` over this request."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signature, _canonical(method, path, timestamp, nonce, body)
        )
    except (ValueError, InvalidSignature):
        return False
    return True


def public_key_for(signing_key: bytes) -> bytes:
    """The raw 32-byte public key matching a device's signing key."""
    return (
        Ed25519PrivateKey.from_private_bytes(signing_key)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
