"""`kapcheck serve` over real HTTP: the server is started as a user would start it, on a
free port, and spoken to with httpx."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

import httpx
import pytest
import yaml

from kapcheck.protocol.documents import _SafeLoader

from .helpers import compliant_course, document

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "riverside.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kapcheck.cli", "serve", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"the service did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def riverside() -> bytes:
    return json.dumps(yaml.load(EXAMPLE.read_text(), Loader=_SafeLoader)).encode()  # noqa: S506


def cli_json(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "kapcheck.cli", "validate", *args],
                          input=stdin, capture_output=True, cwd=ROOT, timeout=60)


def test_the_report_is_byte_for_byte_the_command_lines(server: str) -> None:
    body = riverside()
    answer = httpx.post(f"{server}/validate", params={"as_of": "2026-03-01"}, content=body)
    assert answer.status_code == 200
    assert answer.headers["x-kapcheck-fails"] == "true"
    cli = cli_json("-", "--as-of", "2026-03-01", "-f", "json", stdin=body)
    assert answer.content == cli.stdout


def test_unusable_input_is_a_422_with_the_command_lines_problems(server: str) -> None:
    doc = document(compliant_course())
    doc["sessions"][0]["kind"] = "dozing"
    doc["sessions"][1]["patient"] = "P-404"
    body = json.dumps(doc).encode()
    answer = httpx.post(f"{server}/validate", content=body)
    assert answer.status_code == 422
    problems = [f"{p['file']}: {p['path']}: {p['message']}" for p in answer.json()["problems"]]
    cli = cli_json("-", stdin=body)
    assert cli.returncode == 2
    listed = [line.split("kapcheck:", 1)[1].strip() for line in cli.stderr.decode().splitlines()[1:]]
    assert listed == problems


def test_an_oversized_body_is_a_413(server: str) -> None:
    answer = httpx.post(f"{server}/validate", content=b" " * (33 * 1024 * 1024))
    assert answer.status_code == 413


def test_a_body_built_to_crash_the_engine_does_not_take_the_service_down(server: str) -> None:
    doc = document(compliant_course())
    doc["sessions"][2]["id"] = "x" * 9_000_000  # durable_rules' stack overflows on this
    answer = httpx.post(f"{server}/validate", content=json.dumps(doc).encode(), timeout=60)
    assert answer.status_code == 422
    assert "at most 128 characters" in answer.text and len(answer.text) < 2000
    assert httpx.get(f"{server}/healthz").status_code == 200


def test_a_hundred_requests_from_eight_threads_are_all_answered_correctly(server: str) -> None:
    body = riverside()
    expected = cli_json("-", "--as-of", "2026-03-01", "-f", "json", stdin=body).stdout
    good = json.dumps(document(compliant_course())).encode()

    def ask(n: int) -> bool:
        with httpx.Client(timeout=60) as client:
            if n % 2:
                return client.post(f"{server}/validate", params={"as_of": "2026-03-01"},
                                   content=body).content == expected
            answer = client.post(f"{server}/validate", content=good)
            return answer.status_code == 200 and answer.json()["compliant"] is True

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(ask, range(100)))


def test_a_proposal_is_answered_with_its_change(server: str) -> None:
    schedule = document(compliant_course())
    answer = httpx.post(f"{server}/propose", json={"schedule": schedule,
                                                  "proposal": {"cancel": ["S-2"]}})
    assert answer.status_code == 200, answer.text
    change = answer.json()["change"]
    assert [f["rule"] for f in change["introduced"]] == ["KAP-PREP-001"]
    assert answer.headers["x-kapcheck-fails"] == "true"
    bad = httpx.post(f"{server}/propose", json={"schedule": schedule,
                                               "proposal": {"cancel": ["S-404"]}})
    assert bad.status_code == 422 and "cancel[0]" in bad.text


def test_rules_openapi_and_docs_are_served(server: str) -> None:
    rules = httpx.get(f"{server}/rules", params={"protocol": "mdma-at"}).json()
    assert rules["protocol"]["name"] == "mdma-at"
    assert httpx.get(f"{server}/rules", params={"protocol": "/etc/passwd"}).status_code == 422
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    assert {"/validate", "/propose", "/rules", "/healthz"} <= set(paths)
    assert httpx.get(f"{server}/docs").status_code == 200


def test_an_engine_failure_answers_500_then_unhealthy_and_exits_3() -> None:
    from fastapi.testclient import TestClient

    from kapcheck.cli.service import create_app
    from kapcheck.rules import EngineError

    client = TestClient(create_app())
    with mock.patch("kapcheck.cli.service.validate", side_effect=EngineError("boom")), \
            mock.patch("kapcheck.cli.service.threading.Timer") as timer:
        answer = client.post("/validate", content=json.dumps(document(compliant_course())))
    assert answer.status_code == 500
    assert client.get("/healthz").status_code == 503
    timer.assert_called_once()
    assert timer.call_args.args[1] is os._exit and timer.call_args.kwargs["args"] == (3,)
