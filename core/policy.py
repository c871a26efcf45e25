"""A site's gate rules: validated, versioned with the site at the hub, pushed to its gates.

The model is shared (the hub stores and serves it, provisioning sets it, the gate
applies it); the rules that turn a presentation into a verdict are ``edge.policy``.
docs/policy.md has the table.
"""

from __future__ import annotations

from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.four_checks import Category, Itinerary, Mask, Symptom

Verdict = Literal["admit", "deny", "remeasure", "manual"]
ManualOrDeny = Literal["manual", "deny"]
AlertReason = Literal["fever", "code_red", "code_yellow", "refused", "symptoms"]
"""Denials a site may have raised to its managers as alerts (docs/hub.md, "Alerts")."""
Colour = Literal["green", "yellow", "red"]
"""A health code's colour, as the issuing app draws it."""


RETEST_GRACE_S = 15
"""Either edge of the re-test window is this much wider: a guard who re-tests at 4 min 50 s
of a 5-minute wait (a clock read a moment early) is not sent back to wait ten seconds."""


class Policy(BaseModel):
    """A site's gate rules. Defaults follow the sites' documents (docs/policy.md)."""

    model_config = ConfigDict(extra="forbid")

    fever_threshold_c: float = Field(37.3, ge=36.0, le=40.0, description="Fever at or above this.")
    retest_after_s: int = Field(
        300,
        ge=0,
        le=1800,
        description="A first high reading is re-tested this long after it (the drill's 5 minutes).",
    )
    remeasure_window_s: int = Field(
        1800,
        ge=30,
        le=3600,
        description="Once the wait is over, a re-test this long after it confirms a fever; "
        "a high reading later than that is a new first reading.",
    )
    plausible_min_c: float = Field(34.0, ge=25.0, le=36.0, description="Below: sensor/aiming error.")
    plausible_max_c: float = Field(43.0, ge=40.0, le=45.0, description="Above: sensor error.")
    allowed_colours: frozenset[Colour] = Field(
        frozenset({"green"}), description="Code colours admitted on their own."
    )
    negative_test_hours: Literal[24, 48, 72, 168] = Field(
        48, description="How old a negative test may be to count."
    )
    require_negative_test: bool = Field(False, description="Everyone needs a recent negative test.")
    test_admits_colours: frozenset[Colour] = Field(
        frozenset(), description="Colours admitted anyway with a recent negative test."
    )
    opaque_action: Literal["manual", "admit", "deny"] = Field(
        "manual", description="Codes that cannot be verified offline (regional apps)."
    )
    unknown_issuer_action: ManualOrDeny = Field(
        "manual", description="Signed codes from a key not in the trust list."
    )
    trust_max_age_hours: float = Field(48, gt=0, le=24 * 30, description="Trust list goes stale after.")
    stale_trust_action: Literal["warn", "manual", "deny"] = Field(
        "warn", description="What a stale trust list does to signed codes (warn: flag only)."
    )
    alert_reasons: frozenset[AlertReason] = Field(
        frozenset({"fever", "code_red"}),
        description="Denials raised as alerts to the managers (yellow codes and refusals on request).",
    )
    debounce_s: float = Field(5.0, ge=0.5, le=60, description="Same code again within this: same check.")
    itinerary_star_action: Literal["deny", "admit"] = Field(
        "deny", description="An itinerary card with a star (a risk area in the last 14 days)."
    )
    itinerary_required: bool = Field(
        False, description="No itinerary card shown: deny (true) or admit, counted as incomplete (false)."
    )
    category_thresholds: dict[Category, float] = Field(
        default_factory=dict,
        description="A fever threshold for some kinds of person, e.g. workmen at a school: 37.0 (002:287).",
    )
    symptom_questions: frozenset[Symptom] = Field(
        frozenset({"cough", "fatigue", "fever_14d", "contact"}),
        description="The questions that refuse entry when answered yes (others are recorded only).",
    )
    kiosk_itinerary_default: Itinerary | None = Field(
        None, description="Where the gate screen's itinerary taps start for each person (none: untapped)."
    )
    kiosk_mask_default: Mask | None = Field(
        None, description="Where the gate screen's mask taps start for each person (none: untapped)."
    )
    shift_temperature_required: bool = Field(
        True, description="A guard types their own temperature to start a shift (000:19, 002:33)."
    )
    no_mask_action: Literal["give", "deny"] = Field(
        "give", description="No mask: hand one out and go on (give), or refuse entry (deny)."
    )
    symptoms_asked_of: frozenset[Category] = Field(
        frozenset({"visitor", "returnee"}),
        description="Kinds of person who must answer the health questions (unasked: checked by hand).",
    )
    visitor_escort_required: bool = Field(
        True,
        description="A visitor's registration names who escorts them (name, phone, host, reason: always).",
    )

    def threshold_for(self, category: str | None) -> float:
        """The fever threshold for this kind of person (the site's own when none is set)."""
        found = self.category_thresholds.get(cast(Category, category)) if category else None
        return self.fever_threshold_c if found is None else found

    def retest_window_s(self) -> tuple[int, int]:
        """Seconds after a first high reading when a re-test counts: (opens, closes)."""
        opens = max(0, self.retest_after_s - RETEST_GRACE_S)
        return opens, self.retest_after_s + self.remeasure_window_s + RETEST_GRACE_S

    @model_validator(mode="after")
    def _threshold_inside_plausible(self) -> Policy:
        for name, value in (("fever_threshold_c", self.fever_threshold_c), *self.category_thresholds.items()):
            if not self.plausible_min_c < value < self.plausible_max_c:
                raise ValueError(
                    f"{name}: the threshold must lie between plausible_min_c and plausible_max_c"
                )
        return self


class PolicyNext(BaseModel):
    """A version of the site's rules set to apply later: sent ahead, so a gate switches at
    the time even if its uplink is down then."""

    version: int = Field(ge=1)
    policy: Policy
    effective_from_ms: int = Field(ge=0, description="Wall clock, ms since the Unix epoch (UTC).")


class SiteRules(BaseModel):
    """The rules a gate holds: the version in force when it last heard from the hub, and
    the next one if already decided."""

    version: int = Field(1, ge=1)
    policy: Policy = Field(default_factory=Policy)
    next: PolicyNext | None = None

    def at(self, wall_ms: int) -> tuple[int, Policy]:
        """The (version, rules) that apply at ``wall_ms`` on the gate's clock."""
        if self.next is not None and wall_ms >= self.next.effective_from_ms:
            return self.next.version, self.next.policy
        return self.version, self.policy
