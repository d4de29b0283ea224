"""kapcheck as a CDS Hooks 2.0 service (appointment-book): discovery, cards for what a
proposed booking introduces, 412 for a prefetch it cannot fetch, feedback into an
append-only audit log, and the CDS Hooks JWT with real ES384 and RS384 keys made here."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from kapcheck.cli import jwtauth
from kapcheck.cli.service import create_app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "cds-hooks"
HOOK = "/cds-services/kapcheck-appointment-book"
REQUEST = json.loads((EXAMPLES / "request.json").read_text())


def _call(client: TestClient, body: Any, **headers: str) -> Any:
    return client.post(HOOK, content=json.dumps(body), headers=headers)


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def test_discovery_names_the_service_and_its_prefetch(client: TestClient) -> None:
    answer = client.get("/cds-services").json()
    assert answer == json.loads((EXAMPLES / "discovery.json").read_text())
    service = answer["services"][0]
    assert service["hook"] == "appointment-book" and service["id"] == "kapcheck-appointment-book"
    assert service["prefetch"]["conditions"] == "Condition?patient={{context.patientId}}"


def test_a_booking_too_soon_after_a_dose_is_one_critical_card(client: TestClient) -> None:
    answer = _call(client, REQUEST).json()
    expected = json.loads((EXAMPLES / "response.json").read_text())
    for card in answer["cards"]:
        assert uuid.UUID(card.pop("uuid"))
        for suggestion in card.get("suggestions", []):
            assert uuid.UUID(suggestion.pop("uuid"))
    for card in expected["cards"]:
        card.pop("uuid")
        for suggestion in card.get("suggestions", []):
            suggestion.pop("uuid")
    assert answer == expected
    card = answer["cards"][0]
    assert card["indicator"] == "critical" and len(card["summary"]) < 140
    assert card["source"]["topic"]["code"] == "KAP-DOSE-001"
    assert "kapcheck" in card["source"]["label"] and card["overrideReasons"]
    assert all({"code", "display"} <= set(r) for r in card["overrideReasons"])
    assert "**" in card["detail"] and "*Suggestion:*" in card["detail"]
    action = card["suggestions"][0]["actions"][0]
    assert action["type"] == "update" and action["resource"]["status"] == "proposed"
    assert action["resource"]["requestedPeriod"][0]["start"].startswith("2026-03-07T15:00")
    assert card["selectionBehavior"] == "at-most-one"


def test_a_missing_integration_is_a_suggestion_to_book_one_in_its_window(
        client: TestClient) -> None:
    body = copy.deepcopy(REQUEST)
    appointment = body["context"]["appointments"]["entry"][0]["resource"]
    appointment.update(start="2026-03-24T10:00:00-04:00", end="2026-03-24T12:00:00-04:00")
    card = next(c for c in _call(client, body).json()["cards"] if c["indicator"] != "info")
    action = card["suggestions"][0]["actions"][0]
    assert action["type"] == "create"
    assert action["resource"]["appointmentType"]["text"] == "integration"
    assert action["resource"]["requestedPeriod"] == [
        {"start": "2026-03-24T16:00:00+00:00", "end": "2026-03-27T16:00:00+00:00"}]


def test_findings_the_booked_schedule_already_had_make_no_card(client: TestClient) -> None:
    body = copy.deepcopy(REQUEST)
    appointment = body["context"]["appointments"]["entry"][0]["resource"]
    appointment.update(start="2026-03-24T10:00:00-04:00", end="2026-03-24T12:00:00-04:00")
    cards = _call(client, body).json()["cards"]
    assert [c["indicator"] for c in cards if c["indicator"] != "info"] == ["critical"]
    assert {c["source"].get("topic", {}).get("code") for c in cards} == {"KAP-INT-001", None}


def test_a_practitioner_appointments_prefetch_removes_the_info_card(client: TestClient) -> None:
    body = copy.deepcopy(REQUEST)
    body["prefetch"]["practitionerAppointments"] = {"resourceType": "Bundle", "type": "searchset",
                                                    "entry": []}
    assert all(c["indicator"] != "info" for c in _call(client, body).json()["cards"])


def test_a_missing_prefetch_is_412_and_a_null_one_is_no_data(client: TestClient) -> None:
    body = copy.deepcopy(REQUEST)
    del body["prefetch"]["conditions"]
    answer = _call(client, body)
    assert answer.status_code == 412 and "prefetch conditions is missing" in answer.text
    body["prefetch"]["conditions"] = None
    answer = _call(client, body)
    assert answer.status_code == 200
    rules = {c["source"].get("topic", {}).get("code") for c in answer.json()["cards"]}
    # No conditions: the booked schedule already lacked a diagnosis, so no card says so.
    assert "KAP-DX-001" not in rules and "KAP-DOSE-001" in rules


@pytest.mark.parametrize(("change", "text"), [
    (lambda b: b.pop("context"), "no context"),
    (lambda b: b["context"].update(appointments=[{"resourceType": "Patient", "id": "x"}]),
     "expected an Appointment"),
    (lambda b: b["prefetch"].update(patient={"resourceType": "Condition", "id": "c"}),
     "prefetch.patient: expected a Patient"),
])
def test_a_bad_request_is_refused_plainly_and_the_service_stays_healthy(
        client: TestClient, change: Any, text: str) -> None:
    """Unusable input is a 422 with its problems at every door, the hook's too."""
    body = copy.deepcopy(REQUEST)
    change(body)
    answer = _call(client, body)
    assert answer.status_code == 422 and text in answer.json()["problems"][0]["message"]
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(("path", "body", "text"), [
    (HOOK, b"{not json", "the body is not JSON"),
    (HOOK, b"[1, 2]", "expected a call of the appointment-book hook"),
    (HOOK + "/feedback", b"{not json", "the body is not JSON"),
    (HOOK + "/feedback", b"{}", 'expected {"feedback": [...]}'),
])
def test_a_body_that_is_no_call_is_a_422_with_its_problem(
        client: TestClient, path: str, body: bytes, text: str) -> None:
    answer = client.post(path, content=body)
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["message"] == text


def test_feedback_is_appended_to_the_audit_log_and_a_restart_appends(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    for _ in range(2):  # two services, one after the other, on one log
        client = TestClient(create_app(audit_log=str(log)))
        card = _call(client, REQUEST).json()["cards"][0]
        feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                                  "overrideReason": {"reason": {"code": "waiver-to-follow"},
                                                     "userComment": "video integration"},
                                  "outcomeTimestamp": "2026-03-06T10:00:00Z"}]}
        assert client.post(f"{HOOK}/feedback", content=json.dumps(feedback)).json() == {
            "recorded": 1}
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 2
    assert lines[0]["user"] == "PractitionerRole/role-front-desk"
    assert (lines[0]["rule"], lines[0]["patient"], lines[0]["outcome"]) == (
        "KAP-DOSE-001", "P-001", "overridden")
    assert lines[0]["reason"]["reason"]["code"] == "waiver-to-follow"


# --- the CDS Hooks JWT ------------------------------------------------------------------


PUBLIC = "https://kapcheck.clinic.example"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ec_key = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    ec_jwk.update(kid="ehr-ec", alg="ES384", use="sig")
    rsa_jwk.update(kid="ehr-rsa", alg="RS384", use="sig")
    jwks = tmp_path_factory.mktemp("jwks") / "ehr.json"
    jwks.write_text(json.dumps({"keys": [ec_jwk, rsa_jwk]}))
    other = ec.generate_private_key(ec.SECP384R1())
    return {"ec": ec_key, "rsa": rsa_key, "other": other, "jwks": jwks}


def _token(key: Any, alg: str, kid: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": "https://ehr.example", "aud": PUBLIC + HOOK, "iat": now,
            "exp": now + 120, "jti": str(uuid.uuid4()), **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=alg,
                      headers={"kid": kid})


@pytest.fixture(scope="module")
def secured(keys: dict[str, Any]) -> TestClient:
    trust = jwtauth.Trust([f"https://ehr.example={keys['jwks']}"])
    return TestClient(create_app(trust=trust, public_url=PUBLIC))


@pytest.mark.parametrize(("key", "alg", "kid"), [("ec", "ES384", "ehr-ec"),
                                                 ("rsa", "RS384", "ehr-rsa")])
def test_a_token_of_a_trusted_issuer_is_accepted(secured: TestClient, keys: dict[str, Any],
                                                 key: str, alg: str, kid: str) -> None:
    token = _token(keys[key], alg, kid)
    assert _call(secured, REQUEST, Authorization=f"Bearer {token}").status_code == 200


@pytest.mark.parametrize(("make", "reason"), [
    (lambda k: None, "a CDS Hooks JWT is required"),
    (lambda k: _token(k["ec"], "ES384", "ehr-ec", aud=PUBLIC + "/validate"),
     "not for this endpoint"),
    (lambda k: _token(k["ec"], "ES384", "ehr-ec", aud=["https://other.example"]),
     "not for this endpoint"),
    (lambda k: _token(k["ec"], "ES384", "ehr-ec", iat=int(time.time()) - 700,
                      exp=int(time.time()) - 400), "expired"),
    (lambda k: _token(k["ec"], "ES384", "ehr-ec", exp=int(time.time()) + 900),
     "lives more than 300 seconds"),
    (lambda k: _token(k["ec"], "ES384", "ehr-ec", iss="https://evil.example"), "not trusted"),
    (lambda k: _token(k["other"], "ES384", "ehr-ec"), "signature does not verify"),
    (lambda k: _token(k["ec"], "ES384", "ehr-ec", jti=None), "no jti claim"),
    (lambda k: jwt.encode({"iss": "https://ehr.example"}, "a-shared-secret-of-32-bytes-long!",
                          algorithm="HS256"),
     "not signed ES384 or RS384"),
    (lambda k: jwt.encode({"iss": "https://ehr.example", "aud": PUBLIC + HOOK,
                           "iat": int(time.time()), "exp": int(time.time()) + 60,
                           "jti": "x1"}, k["ec"], algorithm="ES384",
                          headers={"kid": "ehr-ec", "jku": "https://evil.example/jwks"}),
     "jku"),
])
def test_every_bad_token_is_a_401_naming_no_key(secured: TestClient, keys: dict[str, Any],
                                                make: Any, reason: str) -> None:
    token = make(keys)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = _call(secured, REQUEST, **headers)
    assert answer.status_code == 401 and reason in answer.json()["reason"]
    assert "ehr-ec" not in answer.text and "BEGIN" not in answer.text


def test_a_token_is_used_once(secured: TestClient, keys: dict[str, Any]) -> None:
    token = _token(keys["ec"], "ES384", "ehr-ec")
    assert _call(secured, REQUEST, Authorization=f"Bearer {token}").status_code == 200
    again = _call(secured, REQUEST, Authorization=f"Bearer {token}")
    assert again.status_code == 401 and "used before" in again.json()["reason"]


def test_health_docs_and_openapi_need_no_token(secured: TestClient) -> None:
    for path in ("/healthz", "/openapi.json", "/docs"):
        assert secured.get(path).status_code == 200
    assert secured.get("/cds-services").status_code == 401


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kapcheck.cli", "serve", *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_a_service_beyond_loopback_needs_trust(tmp_path: Path) -> None:
    done = _serve("--host", "0.0.0.0", "--port", "18999")
    assert done.returncode == 2 and "needs --trust" in done.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = _serve("--host", "0.0.0.0", "--trust", f"https://ehr.example={bad}")
    assert done.returncode == 2 and "the JWKS does not parse" in done.stderr


def test_overridden_cards_become_waivers_for_review(tmp_path: Path) -> None:
    import yaml
    from typer.testing import CliRunner

    from kapcheck.cli import app

    log = tmp_path / "audit.jsonl"
    client = TestClient(create_app(audit_log=str(log)))
    card = _call(client, REQUEST).json()["cards"][0]
    client.post(f"{HOOK}/feedback", content=json.dumps({"feedback": [
        {"card": card["uuid"], "outcome": "overridden",
         "overrideReason": {"reason": {"code": "waiver-to-follow"},
                            "userComment": "Spacing approved by dr-lee"}}]}))
    out = tmp_path / "waivers.yaml"
    result = CliRunner().invoke(app, ["waivers", "from-audit", str(log), "--output", str(out)])
    assert result.exit_code == 0, result.output
    waiver = yaml.safe_load(out.read_text())["waivers"][0]
    assert (waiver["rule"], waiver["session"]) == ("KAP-DOSE-001", "new-dose-1")
    assert waiver["approved_by"] == "PractitionerRole/role-front-desk"
    assert waiver["reason"].startswith("Spacing approved by dr-lee")


def test_docs_work_offline_and_openapi_describes_bodies_and_problems(
        client: TestClient) -> None:
    page = client.get("/docs").text
    assert "/docs/assets/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200
    spec = client.get("/openapi.json").json()
    for path in ("/validate", "/propose", HOOK, HOOK + "/feedback"):
        operation = spec["paths"][path]["post"]
        assert "application/json" in operation["requestBody"]["content"]
        problems = operation["responses"]["422"]["content"]["application/json"]["schema"]
        assert "problems" in problems["properties"]
        assert "401" in operation["responses"]
    assert "412" in spec["paths"][HOOK]["post"]["responses"]


def test_validate_takes_a_calendar_with_its_roster_and_mapping_in_one_request(
        client: TestClient) -> None:
    google = ROOT / "examples" / "exports" / "google"
    body = {"documents": [
        {"name": "roster.yaml", "content": (google / "roster.yaml").read_text()},
        {"name": "calendar.ics", "content": (google / "calendar.ics").read_text()}],
        "mapping": {"name": "mapping.toml", "content": (google / "mapping.toml").read_text()}}
    answer = client.post("/validate", content=json.dumps(body))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["summary"]["sessions"] == 7 and len(report["skipped"]) == 2
    assert all(f["source"].startswith("<request>: documents[1] (calendar.ics)")
               for f in report["findings"])
    assert "/tmp" not in answer.text
    body["documents"][1]["content"] = body["documents"][1]["content"].replace(
        "SUMMARY:KAP dosing #2", "SUMMARY:KAP dozing #2")
    answer = client.post("/validate", content=json.dumps(body))
    assert answer.status_code == 422
    problem = answer.json()["problems"][0]
    assert problem["file"] == "<request>: documents[1] (calendar.ics)"
    assert "did you mean 'dosing'?" in problem["message"]


def test_a_group_booking_checks_the_prefetched_patient_and_names_the_others(
        client: TestClient) -> None:
    """A group Appointment (SPEC §11) names patients the prefetch does not hold: kapcheck
    checks only the prefetched patient's schedule, so it answers a 422 naming the others,
    not a verdict that leaves them out. With a co-therapist and a room it is read."""
    body = copy.deepcopy(REQUEST)
    appointment = body["context"]["appointments"]["entry"][0]["resource"]
    appointment["participant"].append({"actor": {"reference": "Patient/P-777"}})
    answer = _call(client, body)
    assert answer.status_code == 422
    assert "P-777" in json.dumps(answer.json())
    body = copy.deepcopy(REQUEST)
    appointment = body["context"]["appointments"]["entry"][0]["resource"]
    appointment["participant"] += [
        {"actor": {"reference": "PractitionerRole/role-dr-lee"}},
        {"actor": {"reference": "Location/room-1", "display": "Room 1"}}]
    answer = _call(client, body)
    assert answer.status_code == 200
    assert [c["summary"] for c in answer.json()["cards"]] == \
        [c["summary"] for c in _call(client, REQUEST).json()["cards"]]
