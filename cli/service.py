"""``kapcheck serve``: the HTTP JSON API, a thin shell like the command line.

Stateless: the caller sends the schedule (and proposal) with every request; the service
parses them with the same loaders, validates with the same engine and writes the same
JSON report the command line writes. Unusable input is a 422 with every problem, the
same ones the command line lists; a body over 32 MiB is a 413, one not sent within
BODY_TIMEOUT seconds a 408. Validation runs on a worker thread, never on the event loop,
so one large request does not stall the others or ``/healthz``. An engine failure is a
500; the service then reports itself unhealthy and exits with status 3, so that its
supervisor restarts it with a fresh engine.

Requests name protocols by their shipped name only (or the one the service was started
with): a request never makes the service read a file of its choosing.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import sys
import tempfile
import threading
from datetime import date
from pathlib import Path
from typing import Any

import attrs
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from kapcheck.protocol import (
    DEFAULT,
    InputError,
    Problem,
    Protocol,
    Schedule,
    Severity,
    load_protocol,
    load_schedule,
    shipped_protocols,
)
from kapcheck.protocol.documents import parse_structured
from kapcheck.protocol.errors import Problems, ScheduleError
from kapcheck.protocol.proposals import proposal_from
from kapcheck.protocol.times import parse_date
from kapcheck.rules import Checker, EngineError, check_protocol, validate

from . import cds, jwtauth, openapi, provenance, render

#: The largest request body the service reads.
MAX_BODY = 32 * 1024 * 1024
#: Seconds between answering a request the engine failed on and exiting.
EXIT_DELAY = 0.5
#: Seconds a client has to send a request's body (KAPCHECK_BODY_TIMEOUT).
BODY_TIMEOUT = float(os.environ.get("KAPCHECK_BODY_TIMEOUT") or 30.0)


class _State:
    def __init__(self, protocol: str) -> None:
        self.default = protocol
        self.protocols: dict[str, Protocol] = {}
        self.lock = threading.Lock()
        self.broken: str | None = None


#: Paths served without a token when the service trusts issuers.
OPEN_PATHS = ("/healthz", "/openapi.json", "/docs")


def create_app(protocol: str = DEFAULT, *, trust: Any = None, public_url: str = "",
               audit_log: str | None = None, clinicians: str | None = None) -> FastAPI:
    """The service's application; ``protocol`` is the default protocol (a shipped name
    or a file, read once at start). ``trust`` (a ``jwtauth.Trust``) makes every endpoint
    but /healthz, /docs and /openapi.json require a CDS Hooks JWT whose ``aud`` is
    ``public_url`` and the path; ``audit_log`` is the CDS Hooks feedback log;
    ``clinicians`` a roster giving practitioners' roles to hook requests."""
    state = _State(protocol)
    _protocol(state, protocol)  # fail at start, not on the first request
    app = FastAPI(title="kapcheck", version=render.installed_version(),
                  description="Validate ketamine-assisted psychotherapy schedules against a "
                              "session protocol, and ask what a booking change breaks; a "
                              "CDS Hooks 2.0 service for appointment-book.",
                  docs_url=None, redoc_url=None)
    _offline_docs(app)
    audit = cds.AuditLog(audit_log)

    if trust is not None:
        @app.middleware("http")
        async def authorize(request: Request, call_next: Any) -> Response:
            path = request.url.path
            if path in OPEN_PATHS or path.startswith("/docs/"):
                response: Response = await call_next(request)
                return response
            try:
                trust.check(request.headers.get("authorization"),
                            public_url.rstrip("/") + path)
            except jwtauth.Refused as exc:
                return JSONResponse({"error": "unauthorized", "reason": str(exc)},
                                    status_code=401,
                                    headers={"WWW-Authenticate": 'Bearer realm="kapcheck"'})
            answer: Response = await call_next(request)
            return answer

    @app.get("/cds-services")
    def cds_discovery() -> JSONResponse:
        """CDS Hooks discovery: the appointment-book service and its prefetch."""
        return JSONResponse(cds.discovery())

    @app.post(f"/cds-services/{cds.SERVICE_ID}",
              openapi_extra=openapi.body(openapi.HOOK_REQUEST, "An appointment-book call."),
              responses=openapi.answers(408, 412, 413))
    async def cds_hook(request: Request) -> Response:
        """A CDS Hooks appointment-book call -> cards (one per finding the proposed
        appointments introduce, and an info card for what could not be checked)."""
        body = await _body(request)
        if isinstance(body, Response):
            return body

        def work() -> Response:
            try:
                call = json.loads(body)
                answer = cds.answer(call, _protocol(state, None), clinicians)
            except json.JSONDecodeError:
                return JSONResponse(cds.problem(422, "the body is not JSON"), status_code=422)
            except cds.HookError as exc:
                return JSONResponse(cds.problem(exc.status, exc.message),
                                    status_code=exc.status)
            except EngineError as exc:
                return _engine_failed(state, exc)
            context = call.get("context") if isinstance(call, dict) else None
            audit.remember(answer["cards"], context.get("userId")
                           if isinstance(context, dict) else None)
            return JSONResponse(answer)

        return await run_in_threadpool(work)

    @app.post(f"/cds-services/{cds.SERVICE_ID}/feedback",
              openapi_extra=openapi.body(openapi.FEEDBACK, "Feedback on cards."),
              responses=openapi.answers(408, 413))
    async def cds_feedback(request: Request) -> Response:
        """Accepted and overridden cards, appended to the audit log before the answer."""
        body = await _body(request)
        if isinstance(body, Response):
            return body
        try:
            count = await run_in_threadpool(audit.record, json.loads(body))
        except json.JSONDecodeError:
            return JSONResponse(cds.problem(422, "the body is not JSON"), status_code=422)
        except cds.HookError as exc:
            return JSONResponse(cds.problem(exc.status, exc.message), status_code=exc.status)
        return JSONResponse({"recorded": count})

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """200 while the service can validate; 503 after an engine failure."""
        if state.broken:
            return JSONResponse({"status": "failed", "reason": state.broken}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/rules")
    def rules(protocol: str | None = Query(None, description="A shipped protocol's name.")
              ) -> Response:
        """The protocol's rules, as `kapcheck rules --format json` lists them."""
        try:
            proto = _protocol(state, protocol)
        except InputError as exc:
            return _problems(exc)
        return Response(render.catalog_json(proto), media_type="application/json")

    @app.post("/validate", openapi_extra=openapi.body(
        {"oneOf": [openapi.SCHEDULE, openapi.MULTI]},
        "A schedule document, or several documents read as one run."),
              responses=openapi.answers(408, 413))
    async def validate_endpoint(
        request: Request,
        protocol: str | None = Query(None, description="A shipped protocol's name."),
        as_of: str | None = Query(None, description="The day waivers are judged on."),
        fail_on: str = Query("error", description="error or warning: the header "
                                                  "X-Kapcheck-Fails says whether an unwaived "
                                                  "finding at or above it exists."),
    ) -> Response:
        """A schedule document (JSON), or several documents with their roster, waivers,
        mapping file and timezone -> the report of `kapcheck validate --format json`."""
        body = await _body(request)
        if isinstance(body, Response):
            return body
        return await run_in_threadpool(
            _answer, state, lambda: _validate(state, body, protocol, as_of, fail_on))

    @app.post("/propose", openapi_extra=openapi.body(
        {"type": "object", "required": ["schedule"], "additionalProperties": False,
         "properties": {"schedule": openapi.SCHEDULE, "proposal": openapi.PROPOSAL}},
        "The booked schedule and the proposal."), responses=openapi.answers(408, 413))
    async def propose_endpoint(
        request: Request,
        protocol: str | None = Query(None, description="A shipped protocol's name."),
        as_of: str | None = Query(None, description="The day waivers are judged on."),
    ) -> Response:
        """{"schedule": {...}, "proposal": {...}} -> the report of the proposed schedule
        with its `change` (introduced, resolved)."""
        body = await _body(request)
        if isinstance(body, Response):
            return body
        return await run_in_threadpool(
            _answer, state, lambda: _propose(state, body, protocol, as_of))

    return app


async def _body(request: Request) -> bytes | Response:
    """The request's body, read within BODY_TIMEOUT seconds and MAX_BODY bytes; else the
    answer to give (413, 408; a client gone mid-body is one line in the log)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        return _too_large()
    chunks: list[bytes] = []

    async def read() -> Response | None:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                return _too_large()
            chunks.append(chunk)
        return None

    try:
        refused = await asyncio.wait_for(read(), BODY_TIMEOUT)
    except TimeoutError:
        return JSONResponse({"problems": [{"file": "<request>", "path": "", "message":
                                           f"the body did not arrive within {BODY_TIMEOUT:g} s"}]},
                            status_code=408, headers={"Connection": "close"})
    except ClientDisconnect:
        sys.stderr.write(f"kapcheck: {request.method} {request.url.path}: the client went "
                         "away before its body arrived\n")
        return Response(status_code=400)
    return refused if refused is not None else b"".join(chunks)


def _too_large() -> Response:
    return JSONResponse({"problems": [{"file": "<request>", "path": "",
                                       "message": f"the body is over {MAX_BODY // 2**20} MiB"}]},
                        status_code=413)


def _problems(exc: InputError) -> Response:
    return JSONResponse({"problems": [p.as_json()
                                      for p in exc.problems]}, status_code=422)


def _answer(state: _State, work: Any) -> Response:
    if state.broken:
        return JSONResponse({"error": f"the rules engine failed earlier ({state.broken}); "
                                      "the service is restarting"}, status_code=503)
    try:
        text, fails = work()
        return Response(text, media_type="application/json",
                        headers={"X-Kapcheck-Fails": "true" if fails else "false"})
    except InputError as exc:
        return _problems(exc)
    except EngineError as exc:
        return _engine_failed(state, exc)


def _offline_docs(app: FastAPI) -> None:
    """/docs served whole by the service: Swagger UI's scripts and styles from the
    swagger-ui-bundle package, so the page works without the internet."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="kapcheck — API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png")


def _engine_failed(state: _State, exc: Exception) -> Response:
    state.broken = str(exc)
    # Answer this request, then leave: a supervisor starts a fresh engine.
    threading.Timer(EXIT_DELAY, os._exit, args=(3,)).start()
    return JSONResponse({"error": f"internal error: {exc}"}, status_code=500)


def _protocol(state: _State, name: str | None) -> Protocol:
    wanted = name or state.default
    if name is not None and name not in shipped_protocols() and name != state.default:
        raise InputError([Problem("protocol", "", f"expected a shipped protocol "
                                                  f"({', '.join(shipped_protocols())})")])
    with state.lock:
        proto = state.protocols.get(wanted)
        if proto is None:
            proto = load_protocol(wanted)
            check_protocol(proto)
            state.protocols[wanted] = proto
    return proto


def _day(as_of: str | None) -> date | None:
    if as_of is None:
        return None
    try:
        return parse_date(as_of)
    except ValueError as exc:
        raise InputError([Problem("as_of", "", str(exc))]) from None


def _schedule(data: bytes, name: str = "<request>") -> Any:
    """A schedule document sent in a request, its problems and sources naming it
    ``<request>`` (``<request>: schedule`` inside /propose), not standard input."""
    try:
        schedule = load_schedule("-", stdin=io.BytesIO(data))
    except InputError as exc:
        raise ScheduleError([attrs.evolve(p, file=name if p.file == "<stdin>" else p.file)
                             for p in exc.problems]) from None
    for session in schedule.sessions:
        if session.source and session.source.startswith("<stdin>"):
            object.__setattr__(session, "source", name + session.source[len("<stdin>"):])
    object.__setattr__(schedule, "sources", (name,))
    object.__setattr__(schedule, "inputs", tuple((name, d) for _, d in schedule.inputs))
    return schedule


def _validate(state: _State, body: bytes, protocol: str | None, as_of: str | None,
              fail_on: str) -> tuple[str, bool]:
    proto, day = _protocol(state, protocol), _day(as_of)
    try:
        level = Severity(fail_on)
    except ValueError:
        raise InputError([Problem("fail_on", "", 'expected "error" or "warning"')]) from None
    schedule, names = _request_schedule(body)
    report = validate(schedule, proto, as_of=day)
    meta = provenance.meta(report, proto, [*names, *proto.files], render.installed_version(),
                           schedule.inputs)
    return render.report_json(report, None, meta), report.fails(level)


#: The keys of a multi-document /validate request.
MULTI_KEYS = ("documents", "waivers", "mapping", "timezone")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _request_schedule(body: bytes) -> tuple[Schedule, list[str]]:
    """The schedule of a /validate body: a schedule document, or a multi-document
    request ``{"documents": [{"name", "content"}...], "waivers", "mapping", "timezone"}``
    (a calendar, a bundle or a CSV beside its roster), each part named in problems as
    ``<request>: documents[0] (clinic.ics)``."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict) or "documents" not in doc:
        return _schedule(body), ["<request>"]
    problems = []
    for key in doc:
        if key not in MULTI_KEYS:
            problems.append(Problem("<request>", str(key)[:64], "unknown key; expected one of "
                                    + ", ".join(MULTI_KEYS)))
    parts = doc.get("documents")
    if not isinstance(parts, list) or not parts:
        problems.append(Problem("<request>", "documents", "expected a list of "
                                '{"name": ..., "content": ...} documents'))
    timezone = doc.get("timezone")
    if timezone is not None and not isinstance(timezone, str):
        problems.append(Problem("<request>", "timezone", "expected an IANA timezone name"))
    if problems:
        raise ScheduleError(problems)
    with tempfile.TemporaryDirectory(prefix="kapcheck-request-") as folder:
        labels: dict[str, str] = {}

        def written(item: Any, where: str) -> str:
            if not isinstance(item, dict) or "content" not in item or set(item) - {"name",
                                                                                  "content"}:
                raise ScheduleError([Problem("<request>", where, 'expected {"name": ..., '
                                             '"content": ...}')])
            name = str(item.get("name") or where)[:64]
            content = item["content"]
            data = (content.encode() if isinstance(content, str)
                    else json.dumps(content).encode())
            path = Path(folder) / f"{len(labels)}-{_SAFE.sub('_', name)}"
            if not isinstance(content, str) and not path.suffix:
                path = path.with_suffix(".json")
            path.write_bytes(data)
            labels[str(path)] = f"<request>: {where} ({name})"
            return str(path)

        files = [written(item, f"documents[{i}]") for i, item in enumerate(parts or [])]
        waivers = written(doc["waivers"], "waivers") if doc.get("waivers") else None
        mapping = written(doc["mapping"], "mapping") if doc.get("mapping") else None
        try:
            schedule = load_schedule(files, waivers=waivers, mapping=mapping,
                                     timezone=timezone)
        except InputError as exc:
            raise ScheduleError([attrs.evolve(p, file=labels.get(p.file, p.file))
                                 for p in exc.problems]) from None
    def relabelled(text: str | None) -> str | None:
        if text is None:
            return None
        for path, label in labels.items():
            if text.startswith(path):
                return label + text[len(path):]
        return text

    for session in schedule.sessions:  # where each was written, as the request names it
        object.__setattr__(session, "source", relabelled(session.source))
    object.__setattr__(schedule, "sources",
                       tuple(labels.get(s, s) for s in schedule.sources))
    object.__setattr__(schedule, "skipped", tuple(
        attrs.evolve(k, source=relabelled(k.source) or k.source) for k in schedule.skipped))
    object.__setattr__(schedule, "inputs",
                       tuple((labels.get(n, n), d) for n, d in schedule.inputs))
    return schedule, [labels[f] for f in files] + (
        [labels[waivers]] if waivers else []) + ([labels[mapping]] if mapping else [])


def _propose(state: _State, body: bytes, protocol: str | None,
             as_of: str | None) -> tuple[str, bool]:
    proto, day = _protocol(state, protocol), _day(as_of)
    problems = Problems("<request>")
    doc = parse_structured(body, "json", problems)
    if doc is None:
        raise ScheduleError(problems.items)
    if not isinstance(doc, dict) or set(doc) - {"schedule", "proposal"} or "schedule" not in doc:
        raise ScheduleError([Problem("<request>", "", 'expected {"schedule": {...}, '
                                                      '"proposal": {...}}')])
    schedule = _schedule(json.dumps(doc["schedule"]).encode(), "<request>: schedule")
    proposal = doc.get("proposal") or {}
    if not isinstance(proposal, dict) or set(proposal) - {"schema", "add", "move", "cancel"}:
        raise ScheduleError([Problem("<request>", "proposal",
                                     "expected a proposal with add, move and cancel")])
    checker = Checker(schedule, proto, as_of=day)
    change = checker.propose(proposal_from(proposal.get("add"), proposal.get("move"),
                                           proposal.get("cancel"), schedule,
                                           file="<request>: proposal"))
    meta = provenance.meta(change.report, proto, ["<request>", *proto.files],
                           render.installed_version(), [("<request>", _sha256(body))])
    return (render.report_json(change.report,
                               render.change_json(change.introduced, change.resolved), meta),
            change.fails())


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()

