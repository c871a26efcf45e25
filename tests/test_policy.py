"""The gate's verdict rules, one test per rule, with the texts the kiosk shows."""

from __future__ import annotations

import pytest

from edge.policy import decide
from edge.thermometer import Reading, ReadingError, parse_celsius


def test_normal_temperature_with_code_is_admitted() -> None:
    decision = decide(True, Reading(36.6, "sensor"), 37.3)
    assert (decision.verdict, decision.reason) == ("admit", "ok")
    assert decision.text_zh == "通行"


@pytest.mark.parametrize("celsius", [37.3, 37.4, 39.0])
def test_at_or_above_threshold_is_denied_for_fever(celsius: float) -> None:
    decision = decide(True, Reading(celsius, "sensor"), 37.3)
    assert (decision.verdict, decision.reason) == ("deny", "fever")
    assert "体温异常" in decision.text_zh
    assert "Temperature" in decision.text_en


def test_fever_beats_missing_code() -> None:
    assert decide(False, Reading(38.0, "sensor"), 37.3).reason == "fever"


def test_site_threshold_applies() -> None:
    assert decide(True, Reading(37.1, "sensor"), 37.0).verdict == "deny"
    assert decide(True, Reading(36.9, "sensor"), 37.0).verdict == "admit"


def test_missing_code_goes_to_the_guard() -> None:
    decision = decide(False, Reading(36.5, "sensor"), 37.3)
    assert (decision.verdict, decision.reason) == ("manual", "no_code")
    assert decision.text_zh == "未识别健康码，请人工核验"


@pytest.mark.parametrize("celsius", [20.0, 33.9, 43.1, 100.0])
def test_implausible_reading_is_measured_again(celsius: float) -> None:
    decision = decide(True, Reading(celsius, "sensor"), 37.3)
    assert (decision.verdict, decision.reason) == ("remeasure", "temp_out_of_range")


def test_no_reading_means_no_admission() -> None:
    assert decide(True, None, 37.3).verdict == "manual"


@pytest.mark.parametrize("text, value", [("36.6", 36.6), (" 37,2 ", 37.2), ("38", 38.0)])
def test_typed_temperatures_parse(text: str, value: float) -> None:
    assert parse_celsius(text) == value


@pytest.mark.parametrize("text", ["abc", "", "36.6C", "nan", "inf"])
def test_typed_garbage_is_refused(text: str) -> None:
    with pytest.raises(ReadingError):
        parse_celsius(text)
