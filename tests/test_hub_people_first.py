"""People before devices (hub.people_first): uploads wait while a person's request is being
answered in the same process — until it is answered, and never longer than the bound."""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select
from starlette.types import Receive, Scope, Send

from core.bundle import DeviceBundle
from core.protocol import HEADER_DEVICE, INGEST_PATH, sign_request
from hub.core.db import checks
from hub.people_first import MAX_WAIT_S, UPLOAD_NICENESS, CountPeople, People
from hub.server import BackgroundHub
from tests.hub_helpers import make_batch, make_check


def _scope(path: str, device: bool = False) -> Scope:
    headers = [(HEADER_DEVICE.lower().encode(), b"d1")] if device else []
    return {"type": "http", "path": path, "headers": [(b"accept", b"text/html"), *headers]}


async def _nothing() -> dict[str, object]:
    return {"type": "http.request", "body": b""}


async def _sent(message: object) -> None:
    return None


def test_an_upload_waits_until_the_persons_page_is_answered() -> None:
    async def scenario() -> list[str]:
        people = People(max_wait_s=5.0)
        release = asyncio.Event()
        order: list[str] = []

        async def page(scope: Scope, receive: Receive, send: Send) -> None:
            await release.wait()
            order.append("page answered")

        app = CountPeople(page, people)
        serving = asyncio.create_task(app(_scope("/"), _nothing, _sent))
        await asyncio.sleep(0)
        assert people.in_flight == 1

        async def upload() -> None:
            await people.wait_for_people()
            order.append("upload runs")

        waiting = asyncio.create_task(upload())
        await asyncio.sleep(0.05)
        assert order == []  # still held back
        release.set()
        await asyncio.gather(serving, waiting)
        assert people.in_flight == 0
        return order

    assert asyncio.run(scenario()) == ["page answered", "upload runs"]


def test_an_upload_waits_no_longer_than_the_bound() -> None:
    async def scenario() -> float:
        people = People(max_wait_s=0.1)
        people.arrived()  # a page that takes long
        started = time.perf_counter()
        await people.wait_for_people()
        return time.perf_counter() - started

    waited = asyncio.run(scenario())
    assert 0.09 <= waited < 1.0


def test_no_wait_when_nobody_is_served_and_failed_pages_still_leave() -> None:
    async def scenario() -> People:
        people = People(max_wait_s=5.0)

        async def broken(scope: Scope, receive: Receive, send: Send) -> None:
            raise RuntimeError("the page failed")

        with pytest.raises(RuntimeError):
            await CountPeople(broken, people)(_scope("/alerts"), _nothing, _sent)
        started = time.perf_counter()
        await people.wait_for_people()
        assert time.perf_counter() - started < 0.05
        return people

    assert asyncio.run(scenario()).in_flight == 0


def test_devices_static_files_and_probes_are_not_people() -> None:
    async def scenario() -> list[int]:
        people = People()
        seen: list[int] = []

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(people.in_flight)

        counted = CountPeople(app, people)
        for scope in (_scope("/api/v1/ingest", device=True), _scope("/static/app.css"), _scope("/healthz"),
                      _scope("/readyz"), _scope("/"), _scope("/api/v1/sites")):  # fmt: skip
            await counted(scope, _nothing, _sent)
        return seen

    assert asyncio.run(scenario()) == [0, 0, 0, 0, 1, 1]


def test_a_real_hub_holds_uploads_while_a_person_is_answered(
    live_hub: BackgroundHub, bundle: DeviceBundle, hub_engine: Engine
) -> None:
    """A person's request in flight on the same process (a login form whose body is still
    arriving) holds an upload back — for the bound, then it is stored all the same."""
    host, port = live_hub.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as person:
        person.sendall(
            b"POST /login HTTP/1.1\r\nHost: hub\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100\r\n\r\nusername=a"
        )
        time.sleep(0.1)  # the hub has the request and awaits the rest of its body
        batch = make_batch(bundle, None, [make_check(1)])
        body = gzip.compress(batch.model_dump_json().encode())
        headers = sign_request(bundle.signing_key_bytes, bundle.device_id, "POST", INGEST_PATH, body)
        started = time.perf_counter()
        answer = httpx.post(live_hub.url + INGEST_PATH, content=body,
                            headers={**headers, "Content-Encoding": "gzip"}, timeout=10)  # fmt: skip
        waited = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] == 1
    assert waited >= MAX_WAIT_S * 0.9
    with hub_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(checks)) == 1


def test_uploads_run_on_threads_of_their_own_below_the_pages_priority(
    live_hub: BackgroundHub, bundle: DeviceBundle, hub_engine: Engine
) -> None:
    """An upload is stored by one of the hub's upload threads, which run 10 lower (nice)
    than the rest of the process: the kernel serves pages first when cores are short."""

    def niceness() -> dict[int, int]:
        threads = [int(t.name) for t in Path("/proc/self/task").iterdir()]
        return {t: os.getpriority(os.PRIO_PROCESS, t) for t in threads}

    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    lowered = min(19, base + UPLOAD_NICENESS)
    before = {t for t, n in niceness().items() if n == lowered}  # other tests' hubs' threads
    batch = make_batch(bundle, None, [make_check(1)])
    body = gzip.compress(batch.model_dump_json().encode())
    headers = sign_request(bundle.signing_key_bytes, bundle.device_id, "POST", INGEST_PATH, body)
    answer = httpx.post(live_hub.url + INGEST_PATH, content=body,
                        headers={**headers, "Content-Encoding": "gzip"}, timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text
    niced = {t for t, n in niceness().items() if n == lowered} - before
    assert len(niced) == 1  # this hub's one upload thread, started for this upload
    with hub_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(checks)) == 1
