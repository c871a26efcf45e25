"""What the guard types into the kiosk, validated before anything is stored.

Every field has bounds and a message a guard can act on; a form that fails validation
stores nothing at all. Names and phone numbers are only ever kept for visitors (the
site's visitor book); for everyone else they become a pseudonym on the spot.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from core import four_checks
from core.fever_drill import Disposition, RetestMethod
from core.four_checks import SYMPTOMS, Category, Itinerary, Mask, Symptom
from core.messages import LocalisedError
from edge.codes import Colour

Text = Annotated[str, StringConstraints(strip_whitespace=True)]
PHONE = re.compile(r"\+?[0-9][0-9 -]{5,18}[0-9]")
RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")
PASSPORT = re.compile(r"[A-Z0-9]{5,20}")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


class Invalid(LocalisedError):
    """A value a form refuses, said in both languages (the kiosk shows the guard's)."""


class Form(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _temperature(value: float | None) -> float | None:
    if value is not None and not 25.0 <= value <= 45.0:
        raise Invalid(
            "手工体温应在 25–45 °C 之间（例如 36.6）",
            "a typed temperature is between 25 and 45 °C (example: 36.6)",
        )
    return value


def _name(value: str) -> str:
    value = " ".join(unicodedata.normalize("NFKC", value).split())
    if not 1 <= len(value) <= 40:
        raise Invalid("姓名：1–40 个字符", "name: 1 to 40 characters")
    return value


def _phone(value: str) -> str:
    if not PHONE.fullmatch(value):
        raise Invalid(
            "电话：7–20 位数字（可含空格、'-' 和开头的 '+'）",
            "phone: 7 to 20 digits (spaces, '-' and a leading '+' allowed)",
        )
    return value


def resident_id_ok(number: str) -> bool:
    """An 18-character resident ID number with a correct ISO 7064 MOD 11-2 check digit."""
    if not RESIDENT_ID.fullmatch(number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


def name_phone_identifier(name: str, phone: str) -> bytes:
    """One person, however the name is spaced or the number punctuated."""
    digits = re.sub(r"\D", "", phone)
    return f"name_phone:{name.replace(' ', '').casefold()}:{digits}".encode()


class Login(Form):
    guard_id: Text = Field(min_length=1, max_length=32)
    pin: Text = Field(pattern=r"^\d{4,8}$")
    temp_c: float | None = None
    """The guard's own temperature, taken before the shift starts."""

    _temp = field_validator("temp_c")(_temperature)


class Remeasure(Form):
    temp_c: float | None = None
    """Typed by the guard; None: read the thermometer again."""

    _temp = field_validator("temp_c")(_temperature)


class Override(Form):
    verdict: Literal["admit", "deny"]
    reason: Text = Field(min_length=2, max_length=200, description="Why the guard decided so.")


class Confirm(Form):
    colour: Colour


class Identity(Form):
    """Someone without a phone: a code typed from paper, an ID number, or name + phone."""

    kind: Literal["code", "resident_id", "passport", "name_phone"]
    code: Text | None = Field(None, max_length=4096)
    id_number: Text | None = None
    name: Text | None = None
    phone: Text | None = None
    temp_c: float | None = None

    _temp = field_validator("temp_c")(_temperature)

    @model_validator(mode="after")
    def _complete(self) -> Identity:
        if self.kind == "code" and not self.code:
            raise Invalid("请输入二维码下方印的码文", "type the code's text as printed under the QR")
        if self.kind == "resident_id":
            number = (self.id_number or "").upper()
            if not resident_id_ok(number):
                raise Invalid(
                    "身份证号：18 位，校验位须正确", "resident ID: 18 characters with a valid check digit"
                )
            self.id_number = number
        if self.kind == "passport":
            number = (self.id_number or "").upper().replace(" ", "")
            if not PASSPORT.fullmatch(number):
                raise Invalid("护照号：5–20 个字母和数字", "passport number: 5 to 20 letters and digits")
            self.id_number = number
        if self.kind == "name_phone":
            self.name = _name(self.name or "")
            self.phone = _phone(self.phone or "")
        return self

    def identifier(self) -> bytes:
        """What the pseudonym is computed over (never stored itself)."""
        if self.kind in ("resident_id", "passport"):
            return f"{self.kind}:{self.id_number}".encode()
        return name_phone_identifier(self.name or "", self.phone or "")


class Visitor(Form):
    """A visitor's registration, after their check admitted them (the temperature and the
    rest were taken by that check). Whether the escort is required is the site's rule."""

    name: Text
    phone: Text
    host: Text = Field(min_length=1, max_length=80, description="Whom or which unit they visit.")
    purpose: Text = Field(min_length=1, max_length=120)
    escort: Text | None = Field(None, max_length=40)

    _name = field_validator("name")(_name)
    _phone = field_validator("phone")(_phone)


class Refusal(Form):
    note: Text | None = Field(None, max_length=200)


class Retest(Form):
    method: RetestMethod
    temp_c: float | None = None
    """Typed by the guard; None (infrared only): read the gate's thermometer."""

    _temp = field_validator("temp_c")(_temperature)

    @model_validator(mode="after")
    def _typed_unless_infrared(self) -> Retest:
        if self.method != "infrared" and self.temp_c is None:
            raise Invalid("请输入体温计显示的读数", "type the temperature the thermometer showed")
        return self


class FeverAck(Form):
    action: Disposition
    note: Text | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _note_for_other(self) -> FeverAck:
        if self.action == "other" and not self.note:
            raise Invalid("选择“其他”时请写明做了什么", "say what was done")
        return self


class Release(Form):
    """A first high reading that will not be re-tested (the person left): why."""

    note: Text = Field(min_length=2, max_length=200)


class NextPerson(Form):
    """What the guard says of the next person: their itinerary card and mask (one tap each;
    None: not looked at), who they are, the health questions answered yes (an empty list:
    asked, all no; None: not asked), and whether they are leaving. It goes with the next
    check the camera records or the guard enters by hand, then clears."""

    itinerary: Itinerary | None = None
    mask: Mask | None = None
    category: Category | None = None
    symptoms: list[Symptom] | None = Field(None, max_length=len(SYMPTOMS))
    leaving: bool = False

    @model_validator(mode="after")
    def _leaving_alone(self) -> NextPerson:
        if self.leaving and (self.itinerary or self.mask or self.symptoms is not None):
            raise Invalid(
                "离开的人员不做行程卡、口罩和健康问题检查",
                "a person leaving is not checked for itinerary card, mask or questions",
            )
        return self

    def looked(self) -> four_checks.Looked:
        symptoms = tuple(dict.fromkeys(self.symptoms)) if self.symptoms is not None else None
        return four_checks.Looked(self.itinerary, self.mask, self.category, symptoms)
