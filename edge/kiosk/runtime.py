"""The kiosk's moving parts: the camera loop, the sensors' state, live events to the page.

The camera loop runs in its own thread and the web requests in a thread pool, all on one
SQLite connection, so every use of the station goes through ``Kiosk.lock``: a check is
decided and stored whole before the next one starts. Events reach the page over
Server-Sent Events; each open page has its own queue, filled from any thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core import RELEASED
from core.reasons import reason
from edge import clock
from edge.codes.names import mask_name
from edge.desk import VISITOR, ActionError, GuardDesk
from edge.frames import Frame, FrameError
from edge.guards import GuardBook
from edge.kiosk.forms import Identity, NextPerson
from edge.kiosk.schemas import ShownCheck
from edge.log_identity import LogReplaced
from edge.station import GateStation, Outcome
from edge.store import StorageFault, SyncKey
from edge.tables.guards import Shift
from edge.thermometer import Reading, Thermometer
from edge.voice import Voice

logger = logging.getLogger(__name__)

NOT_OVERRIDDEN = ("fever", "temp_high", "override", "refused", "fever_handled")
"""Checks a guard cannot override: fever cases go through the drill, the rest are final."""
CAMERA_SILENCE_S = 30.0
PAGE_SILENCE_S = 45.0
ONLINE_WITHIN_MS = 180_000
"""The uplink counts as online if an upload succeeded this recently (three sync rounds)."""
CAMERA_STALE_MS = 5_000
HOLDS_FRESH_S = 1.0
"""The open fever cases are looked up again at most this often for the camera loop (and
at once after any write): a re-test window closing is seen within a second."""
NOTICE_EVERY_S = 1.0
"""A frame that made no check (lane held, code unreadable, same code again) tells the
page at most this often: a person holding a phone up gets one word, not thirty a second."""


@dataclass
class Device:
    """Last known state of a sensor, shown in the status bar."""

    state: str = "waiting"
    detail: str = ""
    at_ms: int = 0

    def set(self, state: str, detail: str = "") -> None:
        self.state, self.detail, self.at_ms = state, detail, clock.now().wall_ms


class WatchedThermometer:
    """A thermometer whose failures show in the status bar instead of stopping the gate."""

    def __init__(self, inner: Thermometer, state: Device) -> None:
        self.inner, self.state = inner, state

    def read(self) -> Reading:
        try:
            reading = self.inner.read()
        except Exception as exc:  # any driver failure: the guard measures by hand
            self.state.set("error", str(exc))
            raise
        self.state.set("ok")
        return reading


class Broadcaster:
    """Fan-out of events to every open page (each page has an asyncio queue)."""

    def __init__(self) -> None:
        self._queues: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = set()
        self._lock = threading.Lock()

    def subscribe(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]:
        entry = (asyncio.get_running_loop(), asyncio.Queue[dict[str, Any]](maxsize=100))
        with self._lock:
            self._queues.add(entry)
        return entry

    def unsubscribe(self, entry: tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]) -> None:
        with self._lock:
            self._queues.discard(entry)

    def publish(self, event: dict[str, Any]) -> None:
        """Safe from any thread; a page too slow to keep up loses old events, not new ones."""
        with self._lock:
            targets = list(self._queues)
        for loop, queue in targets:
            loop.call_soon_threadsafe(_offer, queue, event)


def _offer(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(event)


@dataclass
class Kiosk:
    station: GateStation
    thermometer: Thermometer
    clear_after_s: float = 3.0
    volume: int = 80
    """Loudness of prompts and alarms, 0–100 (0: silent)."""
    voice: Voice | None = None
    """Spoken prompts rendered on this device (None: tones only)."""
    lock: threading.RLock = field(default_factory=threading.RLock)
    events: Broadcaster = field(default_factory=Broadcaster)
    camera: Device = field(default_factory=Device)
    sensor: Device = field(default_factory=Device)
    camera_thread: threading.Thread | None = None
    frame_seen: float = field(default_factory=time.monotonic)
    """Monotonic time of the latest camera frame (wall time may jump when NTP arrives)."""
    page_seen: float | None = None
    """Monotonic time of the gate page's latest heartbeat."""
    storage: Device = field(default_factory=Device)
    """The last write to the check log: ok, storage_full or storage_fault."""
    failing_since: float | None = None
    """Monotonic time since which frames have failed to be recorded (None: they are not)."""
    log_replaced: LogReplaced | None = None
    """Set at start when the check log is not the one the device was set up with."""
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set when the gate shuts down: a reconnecting camera stops trying."""
    lost_at: float | None = None
    """Monotonic time the camera source was last found lost (a reconnect is under way)."""
    looked: NextPerson | None = None
    """The guard's taps for the next person (itinerary card, mask, who, health questions,
    leaving); None: the site's defaults (``kiosk_itinerary_default``, ``kiosk_mask_default``).
    Each check clears them."""
    _holds: list[dict[str, Any]] = field(default_factory=list)
    _holds_at: float | None = None
    _noticed_at: float = 0.0

    def __post_init__(self) -> None:
        self.watched = WatchedThermometer(self.thermometer, self.sensor)
        self.desk = GuardDesk(self.station, self.watched)
        self.guards = GuardBook(self.station.store)

    def describe(self, outcome: Outcome) -> ShownCheck:
        """What the page shows for a check, and which follow-up actions apply to it."""
        decision = outcome.decision
        actions = []
        if decision.reason in ("temp_out_of_range", "no_temperature"):
            actions.append("remeasure")  # a first high reading is re-tested on the hold screen
        if decision.reason == "code_unverified":
            actions.append("confirm")
        if decision.verdict != "admit" and decision.reason not in NOT_OVERRIDDEN:
            actions.append("override")
        if decision.verdict == "admit" and VISITOR in decision.flags and not reason(decision.reason).event:
            actions.append("register")  # the visitor passed the checks: the form opens
        return ShownCheck(
            seq=outcome.seq,
            verdict=decision.verdict,
            reason=decision.reason,
            text_zh=decision.text_zh,
            text_en=decision.text_en,
            temp_c=outcome.reading.celsius if outcome.reading else None,
            temp_source=outcome.reading.source if outcome.reading else "none",
            name=mask_name(outcome.display_name) if outcome.display_name else None,
            flags=list(decision.flags),
            guard_id=outcome.guard_id,
            refers_to=outcome.refers_to,
            recorded_ms=outcome.wall_ms,
            hold=decision.reason in ("fever", "temp_high") and decision.verdict != "admit",
            actions=actions,
            camera_colour=outcome.code.colour if outcome.code else None,
        )

    def announce(self, outcome: Outcome) -> ShownCheck:
        """Push a stored check to the page: its verdict on screen — except a record of what
        was done about an earlier check (a fever's disposition, a visitor's leaving: the
        hold lifting or the visitor list says it)."""
        shown = self.describe(outcome)
        if not (reason(shown.reason).event and shown.refers_to is not None):
            self.events.publish({"event": "verdict", "data": shown.model_dump()})
        self.publish_holds()
        self.publish_status()  # the backlog grew
        return shown

    def publish_status(self) -> None:
        self.events.publish({"event": "status", "data": self.status()})

    def holds(self, fresh: bool = False) -> list[dict[str, Any]]:
        """The fever cases holding the lane (``GuardDesk.holds``), looked up again when
        ``fresh`` or older than ``HOLDS_FRESH_S``."""
        now = time.monotonic()
        if fresh or self._holds_at is None or now - self._holds_at >= HOLDS_FRESH_S:
            with self.lock:
                self._holds = [hold.model_dump() for hold in self.desk.holds()]
            self._holds_at = now
        return self._holds

    def publish_holds(self) -> list[dict[str, Any]]:
        """After any write: the page learns at once that the lane is held or free."""
        holds = self.holds(fresh=True)
        self.events.publish({"event": "holds", "data": holds})
        return holds

    def notice(self, state: str) -> None:
        """Tell the page what a frame that made no check held (``waiting``: the lane is
        held; ``unreadable``; ``repeat``), at most every ``NOTICE_EVERY_S``."""
        now = time.monotonic()
        if now - self._noticed_at >= NOTICE_EVERY_S:
            self._noticed_at = now
            self.events.publish({"event": "notice", "data": {"state": state}})

    def wait_please(self, frame: Frame) -> None:
        """The lane is held: the camera keeps reading (and proving it works), but a code
        shown now gets no verdict — the page tells the person to wait. The code is not
        remembered, so it is taken at once when the lane opens."""
        seen = self.station.scan(frame)
        if seen.codes or seen.unreadable:
            self.notice("waiting")

    def look(self, looked: NextPerson) -> None:
        """What the guard tapped for the next person (see ``looked``). Visitors and
        returnees answer the health questions first (the site's ``symptoms_asked_of``)."""
        if looked.category in self.station.policy.symptoms_asked_of and looked.symptoms is None:
            raise ActionError(
                "请先询问健康问题（均无也请点选）", "ask the health questions first (tap 'all no' if none)"
            )
        self.looked = looked

    def default_looked(self) -> NextPerson:
        """Where the taps start for each person: the site's rules say."""
        policy = self.station.policy
        return NextPerson(itinerary=policy.kiosk_itinerary_default, mask=policy.kiosk_mask_default)

    def next_looked(self) -> NextPerson:
        """What goes with the next check: the guard's taps, else the site's defaults."""
        return self.looked or self.default_looked()

    def manual_entry(self, shift: Shift, form: Identity) -> Outcome:
        """A person entered by hand, with the taps for them (which it then clears)."""
        taps = self.next_looked()
        outcome = self.desk.manual_entry(shift, form, taps.looked(), taps.leaving)
        self.looked = None
        return outcome

    def present(self, frame: Frame) -> Outcome | None:
        """One camera frame through the gate's one loop step (``GateStation.present``),
        shown at once. When the card refuses the write the page says so."""
        self.frame_seen = time.monotonic()
        self.camera.set("ok")
        if self.holds():
            self.wait_please(frame)
            return None
        try:
            with self.lock:
                taps = self.next_looked()
                outcome = self.station.present(frame, self.watched, taps.looked(), taps.leaving)
                if isinstance(outcome, Outcome):
                    self.looked = None  # the taps were for that person
        except StorageFault as exc:
            self.storage_failed(exc)
            return None
        if not isinstance(outcome, Outcome):
            if outcome != "nothing":
                self.notice(outcome)
            return None
        self.storage_ok()
        self.announce(outcome)
        return outcome

    def storage_failed(self, exc: StorageFault) -> None:
        """A write was refused: shown on the page at once, in the guard's words."""
        logger.error("check not stored: %s", exc)
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        self.storage.set(exc.code, str(exc))
        self.events.publish(
            {"event": "fault", "data": {"code": exc.code, "zh": exc.text_zh, "en": exc.text_en}}
        )
        self.events.publish({"event": "status", "data": self.status()})

    def storage_ok(self) -> None:
        if self.failing_since is not None:
            logger.info("storage writes again")
            self.failing_since = None
        self.storage.set("ok")

    def run_camera(self, frames: Iterable[Frame]) -> None:
        """The camera loop (blocks; run it in a thread). No error in one frame ends it:
        the error is logged and shown, and the next frame is tried. A lost camera shows in
        the status bar; the guard can still enter people by hand."""
        try:
            for frame in frames:
                try:
                    self.present(frame)
                except Exception:
                    logger.exception("a camera frame could not be processed")
                    if self.failing_since is None:
                        self.failing_since = time.monotonic()
            self.camera.set("stopped", "the video source ended")
        except FrameError as exc:
            self.camera.set("error", str(exc))
        except Exception as exc:  # a source that fails in an unforeseen way is a camera fault
            logger.exception("the video source failed")
            self.camera.set("error", str(exc))

    def camera_lost(self, reason: str) -> None:
        """The live source dropped (it is being opened again): the page shows it at once."""
        self.lost_at = time.monotonic()
        self.camera.set("error", reason)
        self.events.publish({"event": "status", "data": self.status()})

    def start_camera(self, frames: Iterable[Frame]) -> threading.Thread:
        thread = threading.Thread(target=self.run_camera, args=(frames,), name="camera", daemon=True)
        self.camera_thread, self.frame_seen = thread, time.monotonic()
        thread.start()
        return thread

    def camera_alive(self, silence_s: float = CAMERA_SILENCE_S) -> bool:
        """False when the camera loop died of an error, or runs but is stuck (neither a
        frame nor a reconnect attempt for a while), or has been failing to record for that
        long: the cases a restart may cure. A live source that dropped is being opened
        again (alive); a file or folder that ended has simply ended (alive)."""
        thread = self.camera_thread
        if thread is None:
            return True
        if not thread.is_alive():
            return self.camera.state != "error"
        now = time.monotonic()
        failing = self.failing_since is not None and now - self.failing_since >= silence_s
        last_sign = max(self.frame_seen, self.lost_at or 0.0)
        return now - last_sign < silence_s and not failing

    def page_alive(self, silence_s: float = PAGE_SILENCE_S) -> bool:
        """Has the gate page's script beaten recently (is the screen really showing)?"""
        return self.page_seen is not None and time.monotonic() - self.page_seen < silence_s

    def status(self) -> dict[str, Any]:
        """The status bar: uplink, backlog, last sync, trust list, clock, camera, sensor."""
        now = clock.now().wall_ms
        with self.lock:
            store = self.station.store
            uplink = store.state(SyncKey.UPLINK_OK_MS)
            refused_ms, refused = store.state(SyncKey.HUB_REFUSED_MS), store.state(SyncKey.HUB_REFUSED_STATUS)
            backlog = store.backlog()
            trust_age = self.station.trust_list.age_hours(clock.utc_now())
            trust_stale = trust_age is not None and trust_age > self.station.policy.trust_max_age_hours
        camera = self.camera
        if camera.state == "ok" and now - camera.at_ms > CAMERA_STALE_MS:
            camera_state = "stale"
        else:
            camera_state = camera.state
        return {
            "online": uplink is not None and now - uplink <= ONLINE_WITHIN_MS,
            # The hub refused this device more recently than it last took an upload.
            "hub_refused": refused if refused_ms and refused_ms > (uplink or 0) else None,
            "backlog": backlog,
            "last_sync_ms": uplink,
            "trust_age_h": None if trust_age is None else round(trust_age, 1),
            "trust_stale": trust_stale,
            "clock_unset": now < RELEASED.timestamp() * 1000,
            "camera": camera_state,
            "camera_detail": camera.detail,
            "sensor": self.sensor.state,
            "sensor_detail": self.sensor.detail,
            "storage": self.storage.state,
            "log_replaced": self.log_replaced is not None,
            "now_ms": now,
            "gate": self.station.bundle.gate,
        }
