"""The EU Digital COVID Certificate payload ("hcert"), as a pydantic schema.

Follows the published DCC JSON schema (v1.3) for the fields a gate uses; unknown extra
fields are allowed (newer schema versions add some). A certificate holds exactly one
vaccination, test or recovery entry.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DATE = r"^\d{4}-\d{2}-\d{2}"
DOB = r"^((19|20)\d\d(-\d\d){0,2})?$"
TEST_NEGATIVE = "260415000"
TEST_POSITIVE = "260373001"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="allow")

    tg: str = Field(min_length=1, description="Disease targeted (840539006 = COVID-19).")
    co: str = Field(min_length=2, max_length=3, description="Country of the event.")
    is_: str = Field(alias="is", min_length=1, max_length=80, description="Certificate issuer.")
    ci: str = Field(min_length=1, max_length=80, description="Unique certificate identifier.")


class Vaccination(_Entry):
    vp: str
    mp: str
    ma: str
    dn: int = Field(ge=1, le=9, description="Dose number.")
    sd: int = Field(ge=1, le=9, description="Total doses in the series.")
    dt: str = Field(pattern=DATE, description="Date of vaccination.")


class Test(_Entry):
    tt: str
    sc: str = Field(pattern=DATE, description="Date and time of sample collection.")
    tr: str = Field(description="Result: 260415000 not detected, 260373001 detected.")


class Recovery(_Entry):
    fr: str = Field(pattern=DATE, description="First positive test.")
    df: str = Field(pattern=DATE, description="Valid from.")
    du: str = Field(pattern=DATE, description="Valid until.")


class Name(BaseModel):
    model_config = ConfigDict(extra="allow")

    fn: str | None = Field(None, max_length=80)
    fnt: str = Field(pattern=r"^[A-Z<]*$", max_length=80, description="Standardised surname.")
    gn: str | None = Field(None, max_length=80)
    gnt: str | None = Field(None, pattern=r"^[A-Z<]*$", max_length=80)


class HCert(BaseModel):
    model_config = ConfigDict(extra="allow")

    ver: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    nam: Name
    dob: str = Field(pattern=DOB)
    v: list[Vaccination] | None = Field(None, min_length=1, max_length=1)
    t: list[Test] | None = Field(None, min_length=1, max_length=1)
    r: list[Recovery] | None = Field(None, min_length=1, max_length=1)

    @model_validator(mode="after")
    def _exactly_one_entry(self) -> HCert:
        present = [kind for kind in ("v", "t", "r") if getattr(self, kind)]
        if len(present) != 1:
            raise ValueError(f"exactly one of v, t, r must be present, found {present or 'none'}")
        return self

    @property
    def kind(self) -> Literal["v", "t", "r"]:
        return "v" if self.v else "t" if self.t else "r"
