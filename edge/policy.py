"""The gate's verdict for one presentation: admit, deny, re-measure or check by hand.

The rules are a site's policy (validated config, pushed by the hub); each verdict carries
a stable reason code — what the hub counts and reports by — and the texts the kiosk shows
in zh-CN and English. The order of the rules is the order of severity: a fever refuses
entry whatever the code says. docs/policy.md has the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.four_checks import NOT_LOOKED, Looked, flag_of
from core.policy import Colour, Policy, Verdict
from core.reasons import reason
from edge.codes import CodeResult
from edge.codes.hc1 import dcc_colour
from edge.thermometer import Reading


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    flags: tuple[str, ...] = ()

    @property
    def urgent(self) -> bool:
        return self.verdict == "deny" and reason(self.reason).urgent

    @property
    def text_zh(self) -> str:
        return reason(self.reason).zh

    @property
    def text_en(self) -> str:
        return reason(self.reason).en


@dataclass(frozen=True)
class Presentation:
    """Everything the gate knows about one person at one moment."""

    code: CodeResult | None
    reading: Reading | None
    at: datetime
    prior_high_age_s: float | None = None
    """Seconds since this person's first high reading, when it is still open (re-test
    window not yet closed, nothing of theirs since); None: there is none."""
    clock_unset: bool = False
    trust_age_hours: float | None = None
    flags: list[str] = field(default_factory=list)
    looked: Looked = NOT_LOOKED
    """What the guard saw of the itinerary card and the mask (core.four_checks)."""


def _temperature(p: Presentation, policy: Policy) -> Decision | None:
    if p.reading is None:
        return Decision("manual", "no_temperature")
    if not policy.plausible_min_c <= p.reading.celsius <= policy.plausible_max_c:
        return Decision("remeasure", "temp_out_of_range")
    if p.reading.celsius >= policy.threshold_for(p.looked.category):
        if p.prior_high_age_s is None:
            return Decision("remeasure", "temp_high")
        opens, _ = policy.retest_window_s()
        return (
            Decision("deny", "fever") if p.prior_high_age_s >= opens else Decision("remeasure", "retest_wait")
        )
    return None


def _colour(code: CodeResult, at: datetime, policy: Policy) -> Colour:
    if code.scheme == "hc1" and code.claims:
        return dcc_colour(code.claims["hcert"], at, timedelta(hours=policy.negative_test_hours))
    return code.colour or "yellow"


def _code(p: Presentation, policy: Policy, stale: bool) -> Decision:
    code = p.code
    if code is None:
        return Decision("manual", "no_code")
    if code.scheme == "opaque":
        action = policy.opaque_action
        return Decision("admit", "ok") if action == "admit" else Decision(action, "code_unverified")
    if not code.decoded:
        return Decision("deny", "code_invalid")
    if not code.signature_valid:
        if code.issuer_known is False:
            return Decision(policy.unknown_issuer_action, "issuer_unknown")
        return Decision("deny", "signature_invalid")
    if code.revoked:
        return Decision("deny", "revoked")
    if stale and policy.stale_trust_action != "warn":
        return Decision(policy.stale_trust_action, "trust_stale")
    if p.clock_unset:
        return Decision("manual", "clock_unset")
    if not code.time_valid:
        iat = (code.claims or {}).get("iat")
        early = isinstance(iat, int | float) and p.at.timestamp() < iat
        return Decision("deny", "not_yet_valid" if early else "expired")
    window = timedelta(hours=policy.negative_test_hours).total_seconds()
    tested = code.last_test_at is not None and 0 <= p.at.timestamp() - code.last_test_at <= window
    colour = _colour(code, p.at, policy)
    if colour not in policy.allowed_colours and not (tested and colour in policy.test_admits_colours):
        return Decision("deny", "code_green_refused" if colour == "green" else f"code_{colour}")
    if policy.require_negative_test and not tested:
        return Decision("deny", "test_required")
    return Decision("admit", "ok")


def temperature_decision(p: Presentation, policy: Policy) -> Decision | None:
    """The temperature rules alone (they come first whatever else is shown); None: fine."""
    return _temperature(p, policy)


def confirmed_colour(colour: Colour, policy: Policy) -> Decision:
    """A guard's reading of a code the gate could not verify (a regional app's screen)."""
    if colour in policy.allowed_colours:
        return Decision("admit", "ok", ("colour_confirmed",))
    reason = "code_green_refused" if colour == "green" else f"code_{colour}"
    return Decision("deny", reason, ("colour_confirmed",))


def _looked(looked: Looked, policy: Policy) -> tuple[Decision | None, tuple[str, ...]]:
    """The itinerary card and the mask, as the guard saw them: a refusal if the site's rules
    say so, and what to record of both (a mask handed out is recorded as such)."""
    flags: list[str] = [flag_of("person", looked.category)] if looked.category else []
    refusal = None
    if looked.itinerary is not None:
        flags.append(flag_of("itinerary", looked.itinerary))
        if looked.itinerary == "star" and policy.itinerary_star_action == "deny":
            refusal = Decision("deny", "itinerary_star")
        elif looked.itinerary == "none" and policy.itinerary_required:
            refusal = Decision("deny", "itinerary_missing")
    if looked.symptoms is not None:
        flags += [flag_of("symptom", s) for s in looked.symptoms] or [flag_of("symptom", "none")]
        if set(looked.symptoms) & policy.symptom_questions:
            refusal = refusal or Decision("deny", "symptoms")
    elif looked.category in policy.symptoms_asked_of:
        refusal = refusal or Decision("manual", "symptoms_unasked")
    if looked.mask is not None:
        if looked.mask == "none" and policy.no_mask_action == "deny":
            refusal = refusal or Decision("deny", "no_mask")
        given = "given" if looked.mask == "none" and policy.no_mask_action == "give" else looked.mask
        flags.append(flag_of("mask", given))
    return refusal, tuple(flags)


def decide(p: Presentation, policy: Policy, identity: Decision | None = None) -> Decision:
    """Apply the site's rules in order of severity: the temperature, then what the guard
    saw of the itinerary card and the mask, then the code — or, for someone the guard
    identified without one (an ID, a name and phone), ``identity``."""
    stale = p.trust_age_hours is not None and p.trust_age_hours > policy.trust_max_age_hours
    refusal, seen = _looked(p.looked, policy)
    flags = tuple(p.flags) + (("clock_unset",) if p.clock_unset else ()) + (("trust_stale",) if stale else ())
    # Couriers do not enter: the gate records a contactless hand-over (002:995).
    courier = Decision("deny", "courier_handover") if p.looked.category == "courier" else None
    decision = courier or _temperature(p, policy) or refusal or identity or _code(p, policy, stale)
    return Decision(decision.verdict, decision.reason, flags + decision.flags + seen)
