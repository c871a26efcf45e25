"""The gate station: one presentation in, one stored check out.

This is the edge's data path — frame → decode → verify → temperature → policy → local
log — kept in one place so the CLI, the camera loop and the kiosk record checks alike.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from core import RELEASED
from core.bundle import DeviceBundle
from core.four_checks import NOT_LOOKED, Category, Looked
from core.policy import Policy, SiteRules
from core.trust import TrustList
from edge import clock
from edge.codes import CodeResult, verify
from edge.decode import Code, Scan, decode, scan
from edge.frames import Frame
from edge.policy import Decision, Presentation, decide
from edge.pseudonym import pseudonym
from edge.settings import Direction
from edge.store import CheckStore, NewCheck, StorageFault
from edge.thermometer import Reading, Thermometer
from edge.trust import TrustStore

FrameState = Literal["nothing", "unreadable", "repeat"]
"""A camera frame that made no check: nothing in it, a code not read, the same code again."""
RECENT_OUTCOMES = 256
"""Checks kept in memory for the guard to act on (re-measure, override, confirm)."""

logger = logging.getLogger(__name__)


def _at(wall_ms: int) -> datetime:
    return datetime.fromtimestamp(wall_ms / 1000, UTC)


@dataclass(frozen=True)
class Outcome:
    seq: int
    decision: Decision
    reading: Reading | None
    code: Code | None
    verification: CodeResult | None
    holder: str | None = None
    wall_ms: int = 0
    guard_id: str | None = None
    refers_to: int | None = None

    @property
    def display_name(self) -> str | None:
        return self.verification.display_name if self.verification else None


def measure(thermometer: Thermometer) -> Reading | None:
    """The sensor's reading, or None when it gives none — unplugged, no answer, any driver
    failure. The one sensor-failure rule of the gate: the check is still recorded and its
    verdict asks the guard to measure by hand (``no_temperature``)."""
    try:
        return thermometer.read()
    except Exception as exc:  # a driver may fail in ways of its own; none may stop the gate
        logger.warning("no temperature: %s", exc)
        return None


@dataclass
class GateStation:
    """Records checks with the newest configuration: the downlinked one if the sync agent
    applied one (it may do so while the gate runs), else the bundle's."""

    bundle: DeviceBundle
    store: CheckStore
    cnn_fallback: bool = True
    """Whether still photos get the CNN QR reader (settings: camera.cnn_fallback)."""
    direction: Direction = "in"
    """``out``: an exit gate — every code shown is a person leaving (settings: gate.direction)."""
    category: Category | None = None
    """Who comes through this gate unless the guard or the code says (settings: gate.category)."""
    rules: SiteRules = field(init=False)
    trust_list: TrustList = field(init=False)
    trust: TrustStore = field(init=False)
    _config_etag: str | None = field(default=None, init=False)
    _recent: dict[bytes, float] = field(default_factory=dict)
    _outcomes: dict[int, Outcome] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rules = SiteRules(version=self.bundle.policy_version, policy=self.bundle.policy)
        self.trust_list = self.bundle.trust
        self.trust = TrustStore.build(self.trust_list)
        self.refresh_config()

    @property
    def policy(self) -> Policy:
        """The rules that apply now on this gate's clock (a change set ahead switches at its
        time even with the uplink down)."""
        return self.rules.at(clock.now().wall_ms)[1]

    def refresh_config(self) -> None:
        """Pick up a configuration the downlink applied since we last looked (cheap)."""
        etag = self.store.config_etag()
        if etag is None or etag == self._config_etag:
            return
        applied = self.store.config()
        if applied is None:
            return
        self._config_etag, rules_json, trust_json = applied
        self.rules = SiteRules.model_validate_json(rules_json)
        self.trust_list = TrustList.model_validate_json(trust_json)
        self.trust = TrustStore.build(self.trust_list)

    def record(
        self,
        code: Code | None,
        reading: Reading | None,
        guard_id: str | None = None,
        refers_to: int | None = None,
        flags: tuple[str, ...] = (),
        looked: Looked = NOT_LOOKED,
        note: str | None = None,
    ) -> Outcome:
        """Verify, decide and durably log one presentation. ``refers_to`` names the check
        this one measures again (the re-measure rule then looks at that check); ``flags``
        are added to the decision's (how a re-test was taken); ``looked`` is what the guard
        saw of the itinerary card and the mask."""
        self.refresh_config()
        now = clock.now()
        result = verify(code.payload, self.trust, _at(now.wall_ms)) if code else None
        holder = self.holder_of(result.holder_id) if result and result.holder_id else None
        presented = self.presentation(result, reading, holder, refers_to)
        presented = replace(presented, looked=self.who(looked, result))
        decision = decide(presented, self.policy)
        if flags:
            decision = Decision(decision.verdict, decision.reason, (*decision.flags, *flags))
        return self.write(
            decision, reading, holder, code, result, guard_id=guard_id, refers_to=refers_to, note=note
        )

    def who(self, looked: Looked, result: CodeResult | None = None) -> Looked:
        """Who the person is: as the guard said, else as their code says, else the gate's
        default kind (a staff gate)."""
        category = looked.category or (result.category if result else None) or self.category
        return replace(looked, category=category) if category != looked.category else looked

    def record_exit(self, code: Code | None, guard_id: str | None = None) -> Outcome:
        """A person leaving (an exit gate, or a guard's tap): who, when — no temperature,
        no verdict on their code; counted as an exit, never as a check."""
        self.refresh_config()
        result = verify(code.payload, self.trust, _at(clock.now().wall_ms)) if code else None
        holder = self.holder_of(result.holder_id) if result and result.holder_id else None
        return self.write(Decision("admit", "exit"), None, holder, code, result, guard_id=guard_id)

    def holder_of(self, identifier: bytes) -> str:
        """The site's pseudonym of a person (see edge.pseudonym)."""
        return pseudonym(self.bundle.pseudonym_key_bytes, identifier)

    def presentation(
        self,
        result: CodeResult | None,
        reading: Reading | None,
        holder: str | None,
        refers_to: int | None = None,
    ) -> Presentation:
        """What the policy is told about a person now, the re-measure history included."""
        now = clock.now()
        at = _at(now.wall_ms)
        since = now.mono_ms - self.policy.retest_window_s()[1] * 1000
        if refers_to is not None:
            high_ms = self.store.high_reading_at(refers_to, now.boot_id, since)
        else:
            high_ms = self.store.pending_high_reading(holder, now.boot_id, since)
        return Presentation(
            code=result,
            reading=reading,
            at=at,
            prior_high_age_s=None if high_ms is None else (now.mono_ms - high_ms) / 1000,
            clock_unset=at < RELEASED,
            trust_age_hours=self.trust_list.age_hours(at),
        )

    def write(
        self,
        decision: Decision,
        reading: Reading | None,
        holder: str | None,
        code: Code | None = None,
        result: CodeResult | None = None,
        *,
        guard_id: str | None = None,
        refers_to: int | None = None,
        note: str | None = None,
        also: Callable[[int], None] | None = None,
    ) -> Outcome:
        """Durably log a decided check and remember it for the guard's follow-up actions."""
        now = clock.now()
        seq = self.store.append(
            NewCheck(
                device_id=self.bundle.device_id,
                gate=self.bundle.gate,
                wall_ms=now.wall_ms,
                mono_ms=now.mono_ms,
                boot_id=now.boot_id,
                verdict=decision.verdict,
                reason=decision.reason,
                temp_c=reading.celsius if reading else None,
                temp_source=reading.source if reading else "none",
                scheme=result.scheme if result else None,
                holder=holder,
                engine=code.engine if code else None,
                flags=list(decision.flags),
                urgent=decision.urgent,
                guard_id=guard_id,
                refers_to=refers_to,
                note=note,
                policy_version=self.rules.at(now.wall_ms)[0],
            ),
            also,
        )
        outcome = Outcome(seq, decision, reading, code, result, holder, now.wall_ms, guard_id, refers_to)
        self._outcomes[seq] = outcome
        while len(self._outcomes) > RECENT_OUTCOMES:
            del self._outcomes[next(iter(self._outcomes))]
        return outcome

    def outcome(self, seq: int) -> Outcome | None:
        """A check recorded by this process lately (what a guard can still act on)."""
        return self._outcomes.get(seq)

    def present(
        self, frame: Frame, thermometer: Thermometer, looked: Looked = NOT_LOOKED, leaving: bool = False
    ) -> Outcome | FrameState:
        """One camera frame — the gate loop's step, for ``edge run`` and the kiosk alike: a
        new code in it becomes a check with the sensor's temperature (debounced) — or an
        exit, at an exit gate or when the guard said the next person is ``leaving``;
        otherwise what the frame held, for the screen to say. When the card refuses the
        write the code is forgotten, so showing it again is taken at once, and the
        ``StorageFault`` goes to the caller."""
        seen = self.scan(frame)
        if not seen.codes:
            return "unreadable" if seen.unreadable else "nothing"
        code = seen.codes[0]
        if self.is_repeat(code):
            return "repeat"
        try:
            if leaving or self.direction == "out":
                return self.record_exit(code)
            return self.record(code, measure(thermometer), looked=looked)
        except StorageFault:
            self._recent.pop(code.payload, None)
            raise

    def watch(
        self, frames: Iterable[Frame], thermometer: Thermometer, looked: Looked = NOT_LOOKED
    ) -> Iterator[Outcome]:
        """The camera loop without a screen: every new code in the stream becomes a check."""
        for frame in frames:
            if isinstance(outcome := self.present(frame, thermometer, looked), Outcome):
                yield outcome

    def scan(self, frame: Frame) -> Scan:
        """A camera frame's codes, and whether a code was seen but not read (see decode)."""
        return scan(frame.image, still=frame.still, cnn=self.cnn_fallback)

    def first_code(self, image: np.ndarray, still: bool = True) -> Code | None:
        """The code a person presents; a stream frame gets the cheap decode (see decode)."""
        codes = decode(image, still=still, cnn=self.cnn_fallback)
        return codes[0] if codes else None

    def is_repeat(self, code: Code, now: float | None = None) -> bool:
        """True when the camera saw this exact code moments ago (debounce)."""
        now = time.monotonic() if now is None else now
        window = self.policy.debounce_s
        self._recent = {p: t for p, t in self._recent.items() if now - t < window}
        repeat = code.payload in self._recent
        self._recent[code.payload] = now
        return repeat
