"""The gate's verdict for one presentation: admit, deny, re-measure or check by hand.

The rules are a site's policy (validated config, pushed by the hub); each verdict carries
a stable reason code — what the hub counts and reports by — and the texts the kiosk shows
in zh-CN and English. The order of the rules is the order of severity: a fever refuses
entry whatever the code says. docs/policy.md has the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge.codes import CodeResult, Colour
from edge.codes.hc1 import dcc_colour
from edge.thermometer import Reading

Verdict = Literal["admit", "deny", "remeasure", "manual"]
ManualOrDeny = Literal["manual", "deny"]


class Policy(BaseModel):
    """A site's gate rules. Defaults follow the sites' documents (docs/policy.md)."""

    model_config = ConfigDict(extra="forbid")

    fever_threshold_c: float = Field(37.3, ge=36.0, le=40.0, description="Fever at or above this.")
    remeasure_window_s: int = Field(
        300, ge=30, le=3600, description="A second high reading within this is a confirmed fever."
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
    debounce_s: float = Field(5.0, ge=0.5, le=60, description="Same code again within this: same check.")

    @model_validator(mode="after")
    def _threshold_inside_plausible(self) -> Policy:
        if not self.plausible_min_c < self.fever_threshold_c < self.plausible_max_c:
            raise ValueError("fever_threshold_c must lie between plausible_min_c and plausible_max_c")
        return self


REASON_TEXTS: dict[str, tuple[str, str]] = {
    "ok": ("通行", "Admitted"),
    "fever": ("体温异常，禁止通行", "Fever confirmed: entry refused"),
    "temp_high": ("体温偏高，请复测", "Temperature high: measure again"),
    "temp_out_of_range": ("体温读数异常，请复测", "Implausible reading: measure again"),
    "no_temperature": ("未测体温，请测温", "No temperature taken: measure first"),
    "no_code": ("未识别健康码，请人工核验", "No readable code: check by hand"),
    "code_invalid": ("健康码无法识读，禁止通行", "Damaged or malformed code: entry refused"),
    "signature_invalid": ("健康码签名无效，禁止通行", "Forged or altered code: entry refused"),
    "issuer_unknown": ("签发机构不在信任列表，请人工核验", "Issuer not trusted on this gate"),
    "revoked": ("健康码已撤销，禁止通行", "Code revoked: entry refused"),
    "expired": ("健康码已过期，禁止通行", "Code expired: entry refused"),
    "not_yet_valid": ("健康码尚未生效，禁止通行", "Code not yet valid: entry refused"),
    "clock_unset": ("设备时钟未校准，请人工核验", "Device clock not set: check by hand"),
    "code_red": ("红码，禁止通行", "Red code: entry refused"),
    "code_yellow": ("黄码，禁止通行", "Yellow code: entry refused"),
    "code_green_refused": ("绿码不符合本场所规定，禁止通行", "Green codes not accepted here"),
    "test_required": ("需有效期内核酸阴性证明", "Recent negative test required"),
    "code_unverified": ("无法离线验证，请人工核验健康码", "Unverifiable code: guard confirms it"),
    "trust_stale": ("信任列表已过期，请人工核验", "Trust list out of date: check by hand"),
    "refused": ("拒绝检查，禁止通行", "Refused the check: entry refused"),
    "override": ("保安人工判定", "Decided by the guard"),
    "visitor": ("访客已登记，通行", "Visitor registered: admitted"),
    "id_checked": ("已人工核验身份，通行", "Identity checked by the guard: admitted"),
}


URGENT_REASONS = frozenset({"fever", "code_red", "refused"})
"""Denials the sites must report within the hour: sent ahead of the routine backlog."""


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    flags: tuple[str, ...] = ()

    @property
    def urgent(self) -> bool:
        return self.verdict == "deny" and self.reason in URGENT_REASONS

    @property
    def text_zh(self) -> str:
        return REASON_TEXTS[self.reason][0]

    @property
    def text_en(self) -> str:
        return REASON_TEXTS[self.reason][1]


@dataclass(frozen=True)
class Presentation:
    """Everything the gate knows about one person at one moment."""

    code: CodeResult | None
    reading: Reading | None
    at: datetime
    prior_high: bool = False
    """A high reading for the same person within the re-measure window."""
    clock_unset: bool = False
    trust_age_hours: float | None = None
    flags: list[str] = field(default_factory=list)


def _temperature(p: Presentation, policy: Policy) -> Decision | None:
    if p.reading is None:
        return Decision("manual", "no_temperature")
    if not policy.plausible_min_c <= p.reading.celsius <= policy.plausible_max_c:
        return Decision("remeasure", "temp_out_of_range")
    if p.reading.celsius >= policy.fever_threshold_c:
        return Decision("deny", "fever") if p.prior_high else Decision("remeasure", "temp_high")
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


def decide(p: Presentation, policy: Policy) -> Decision:
    """Apply the site's rules in order of severity."""
    stale = p.trust_age_hours is not None and p.trust_age_hours > policy.trust_max_age_hours
    flags = tuple(p.flags) + (("clock_unset",) if p.clock_unset else ()) + (("trust_stale",) if stale else ())
    decision = _temperature(p, policy) or _code(p, policy, stale)
    return Decision(decision.verdict, decision.reason, flags)
