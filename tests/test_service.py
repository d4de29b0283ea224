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


#: Short deadlines for the tests of slow clients (the defaults are 10 and 30 s).
TIMEOUTS = {"KAPCHECK_HEADER_TIMEOUT": "1", "KAPCHECK_BODY_TIMEOUT": "2"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("service") / "stderr.log"
    proc = subprocess.Popen([sys.executable, "-m", "kapcheck.cli", "serve", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
                            env={**os.environ, **TIMEOUTS})
    proc.log = log  # type: ignore[attr-defined]
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
        pytest.fail(f"the service did not start: {log.read_text()}")
    _LOGS[url] = log
    yield url
    proc.terminate()
    proc.wait(timeout=10)


_LOGS: dict[str, Path] = {}


def riverside() -> bytes:
    return json.dumps(yaml.load(EXAMPLE.read_text(), Loader=_SafeLoader)).encode()  # noqa: S506


def cli_json(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "kapcheck.cli", "validate", *args],
                          input=stdin, capture_output=True, cwd=ROOT, timeout=60)


def test_the_report_is_the_command_line_s_with_the_request_named(server: str) -> None:
    """The same report, byte for byte, but where the command line names standard input
    (sources, meta) the service names the request."""
    body = riverside()
    answer = httpx.post(f"{server}/validate", params={"as_of": "2026-03-01"}, content=body)
    assert answer.status_code == 200
    assert answer.headers["x-kapcheck-fails"] == "true"
    cli = cli_json("-", "--as-of", "2026-03-01", "-f", "json", stdin=body)
    assert answer.content == cli.stdout.replace(b"<stdin>", b"<request>")
    assert b"<stdin>" not in answer.content


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
    listed = [line.split("kapcheck:", 1)[1].strip().replace("<stdin>", "<request>")
              for line in cli.stderr.decode().splitlines()[1:]]
    assert listed == problems and all(p.startswith("<request>") for p in problems)


def test_an_oversized_body_is_a_413(server: str) -> None:
    answer = httpx.post(f"{server}/validate", content=b" " * (33 * 1024 * 1024))
    assert answer.status_code == 413


def test_a_body_built_to_crash_the_engine_does_not_take_the_service_down(server: str) -> None:
    doc = document(compliant_course())
    doc["sessions"][2]["id"] = "x" * 9_000_000  # durable_rules' stack overflows on this
    answer = httpx.post(f"{server}/validate", content=json.dumps(doc).encode(), timeout=60)
    assert answer.status_code == 422
    assert "at most 255 characters" in answer.text and len(answer.text) < 2000
    assert httpx.get(f"{server}/healthz").status_code == 200


def test_a_hundred_requests_from_eight_threads_are_all_answered_correctly(server: str) -> None:
    body = riverside()
    expected = cli_json("-", "--as-of", "2026-03-01", "-f", "json", stdin=body).stdout.replace(b"<stdin>", b"<request>")
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


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _closed_within(sock: socket.socket, seconds: float) -> bytes:
    """What the service sends before it closes the connection, waiting at most
    ``seconds`` (a byte dripped every 0.2 s meanwhile, which must not keep it open)."""
    deadline = time.monotonic() + seconds
    sock.settimeout(0.2)
    got = b""
    while time.monotonic() < deadline:
        try:
            data = sock.recv(4096)
            if not data:
                return got
            got += data
        except TimeoutError:
            try:
                sock.send(b"X")
            except OSError:
                return got
        except OSError:
            return got
    pytest.fail("the connection was still open")


def test_headers_dripped_a_byte_at_a_time_are_cut_off(server: str) -> None:
    with _connect(server) as sock:
        sock.send(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        _closed_within(sock, 5)
    assert httpx.get(f"{server}/healthz").status_code == 200


def test_a_body_dripped_a_byte_at_a_time_is_a_408(server: str) -> None:
    with _connect(server) as sock:
        sock.send(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
        answer = _closed_within(sock, 6)
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"did not arrive within 2 s" in answer


def test_a_client_gone_mid_body_is_one_line_in_the_log(server: str) -> None:
    with _connect(server) as sock:
        sock.send(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"a\"")
        time.sleep(0.2)
    time.sleep(0.5)
    assert httpx.get(f"{server}/healthz").status_code == 200
    log = _LOGS[server].read_text()
    assert "the client went away before its body arrived" in log
    assert "Traceback" not in log


def test_every_request_is_one_access_log_line_without_its_query(server: str) -> None:
    httpx.post(f"{server}/validate?as_of=2026-03-01&protocol=kap", content=riverside())
    time.sleep(0.2)
    lines = [line for line in _LOGS[server].read_text().splitlines() if "POST /validate" in line]
    assert lines and all("?" not in line and "as_of" not in line for line in lines)
    assert any(line.startswith("kapcheck: POST /validate 200 ") and line.endswith(" ms")
               for line in lines)


def test_a_port_in_use_is_one_line_and_exit_2(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    done = subprocess.run([sys.executable, "-m", "kapcheck.cli", "serve", "--port", port],
                          cwd=ROOT, capture_output=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.decode().strip() == f"kapcheck: error: 127.0.0.1:{port} is in use"


def test_the_listening_socket_sends_small_answers_at_once() -> None:
    """Connections inherit TCP_NODELAY from the socket kapcheck binds: without it every
    answer waited on the client's delayed ACK (40 ms a request, bench/service.py)."""
    import socket as sockets

    from kapcheck.cli import serving

    sock = serving.bind("127.0.0.1", 0)
    try:
        assert sock.getsockopt(sockets.IPPROTO_TCP, sockets.TCP_NODELAY)
    finally:
        sock.close()
