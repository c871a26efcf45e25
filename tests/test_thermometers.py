"""Thermometer drivers against byte-level fakes of their buses (see tests/fake_buses.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from edge.mlx90614 import MLX90614, pec
from edge.sensor_config import Reconnecting, ThermometerConfig, open_thermometer
from edge.serial_thermometer import LineProtocol, SerialThermometer, open_port
from edge.thermometer import Calibrated, ManualEntry, Reading, SensorError, SimulatedThermometer
from tests.fake_buses import FakeMLX90614Bus, PtyThermometer


def test_pec_matches_the_smbus_crc8_reference() -> None:
    # CRC-8/SMBUS check value for "123456789".
    assert pec(b"123456789") == 0xF4
    # The datasheet's example: address 0x5A reading 0x07 answers D2 3A with PEC 0x30.
    assert pec(bytes([0xB4, 0x07, 0xB5, 0xD2, 0x3A])) == 0x30


def test_mlx90614_reads_object_and_ambient_temperature() -> None:
    bus = FakeMLX90614Bus(object_c=36.8, ambient_c=22.5)
    sensor = MLX90614(bus)
    assert sensor.read() == Reading(pytest.approx(36.8, abs=0.02), "sensor")
    assert sensor.ambient_celsius() == pytest.approx(22.5, abs=0.02)
    bus.set_object(38.1)
    assert sensor.read().celsius == pytest.approx(38.1, abs=0.02)


def test_mlx90614_retries_a_corrupted_answer_then_gives_up() -> None:
    bus = FakeMLX90614Bus(object_c=36.5)
    sensor = MLX90614(bus)
    bus.corrupt_next = 2
    assert sensor.read().celsius == pytest.approx(36.5, abs=0.02)
    bus.corrupt_next = 3
    with pytest.raises(SensorError, match="checksum"):
        sensor.read()


def test_mlx90614_error_flag_is_not_a_temperature() -> None:
    bus = FakeMLX90614Bus()
    bus.ram[0x07] = 0x8000 | bus.ram[0x07]
    with pytest.raises(SensorError, match="invalid"):
        MLX90614(bus).read()


def test_mlx90614_absent_at_its_address_says_check_the_wiring() -> None:
    with pytest.raises(SensorError, match=r"no answer .* 0x5b"):
        MLX90614(FakeMLX90614Bus(address=0x5A), address=0x5B).read()


def test_mlx90614_emissivity_is_erased_then_written_and_not_rewritten_when_equal() -> None:
    bus = FakeMLX90614Bus()
    sensor = MLX90614(bus)
    assert sensor.emissivity() == 1.0
    sensor.set_emissivity(0.98)
    assert bus.eeprom[0x04] == round(0.98 * 0xFFFF)
    assert sensor.emissivity() == 0.98
    assert [w[1:3] for w in bus.writes] == [b"\x00\x00", (64224).to_bytes(2, "little")]  # erase, value
    sensor.set_emissivity(0.98)
    assert len(bus.writes) == 2
    with pytest.raises(ValueError, match=r"between 0\.1 and 1\.0"):
        sensor.set_emissivity(1.5)


@pytest.fixture
def serial_device() -> Iterator[list[PtyThermometer]]:
    made: list[PtyThermometer] = []
    yield made
    for device in made:
        device.close()


def test_serial_thermometer_asks_and_parses_its_answer(serial_device: list[PtyThermometer]) -> None:
    answers = iter([b"READY\r\nT=36.62C\r\n", b"T=38.05C\r\n"])
    device = PtyThermometer(lambda request: next(answers) if request == b"MEAS\r\n" else b"ERR\r\n")
    serial_device.append(device)
    protocol = LineProtocol(command=b"MEAS\r\n", pattern=r"T=(-?[\d.]+)C")
    sensor = SerialThermometer(open_port(device.path, 9600, protocol.timeout_s), protocol)
    assert sensor.read() == Reading(36.62, "sensor")  # "READY" skipped, next line read
    assert sensor.read() == Reading(38.05, "sensor")


def test_serial_thermometer_in_fahrenheit_streaming(serial_device: list[PtyThermometer]) -> None:
    device = PtyThermometer(lambda request: None, stream=b"noise\r\n98.6 F\r\n")
    serial_device.append(device)
    protocol = LineProtocol(pattern=r"([\d.]+)\s*F", unit="F")
    sensor = SerialThermometer(open_port(device.path, 9600, protocol.timeout_s), protocol)
    assert sensor.read() == Reading(37.0, "sensor")


def test_serial_thermometer_that_never_answers_times_out_clearly(serial_device: list[PtyThermometer]) -> None:
    device = PtyThermometer(lambda request: None)
    serial_device.append(device)
    protocol = LineProtocol(command=b"MEAS\r\n", timeout_s=0.5)
    sensor = SerialThermometer(open_port(device.path, 9600, protocol.timeout_s), protocol)
    started = time.monotonic()
    with pytest.raises(SensorError, match=r"no reading .* within 0\.5 s"):
        sensor.read()
    assert time.monotonic() - started < 2


def test_unplugged_serial_port_and_missing_i2c_bus_are_named() -> None:
    for config, words in (
        (ThermometerConfig(kind="serial", serial_port="/dev/ttyUSB97"), "/dev/ttyUSB97"),
        (ThermometerConfig(kind="mlx90614", i2c_bus=97), "/dev/i2c-97"),
    ):
        sensor = open_thermometer(config)  # opening is deferred: the kiosk starts regardless
        with pytest.raises(SensorError, match=words):
            sensor.read()


def test_reconnecting_sensor_reopens_after_a_failure() -> None:
    buses = [FakeMLX90614Bus(address=0x10), FakeMLX90614Bus(object_c=36.4)]
    sensor = Reconnecting(lambda: MLX90614(buses.pop(0)))
    with pytest.raises(SensorError):
        sensor.read()
    assert sensor.read().celsius == pytest.approx(36.4, abs=0.02)


def test_calibration_offset_applies_to_sensor_readings_only() -> None:
    bus = FakeMLX90614Bus(object_c=36.1)
    assert Calibrated(MLX90614(bus), 0.4).read().celsius == pytest.approx(36.5, abs=0.02)
    assert Calibrated(ManualEntry(36.1), 0.4).read() == Reading(36.1, "manual")
    plain = SimulatedThermometer(seed=5).read().celsius
    assert Calibrated(SimulatedThermometer(seed=5), -0.3).read().celsius == pytest.approx(plain - 0.3)
