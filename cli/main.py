"""The ``kapcheck`` command line: parse, call kapcheck.protocol and kapcheck.rules, render.

Results go to stdout (``--format json`` prints only JSON); diagnostics to stderr.
"""

from __future__ import annotations

import enum
import functools
import gc
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Optional

import typer

from kapcheck.protocol import (
    DEFAULT,
    InputError,
    Protocol,
    RuleSettings,
    Schedule,
    Severity,
    gcpause,
    load_protocol,
    load_schedule,
    shipped_protocols,
)
from kapcheck.protocol.limits import shown
from kapcheck.protocol.proposals import load_proposal
from kapcheck.protocol.templates import show
from kapcheck.protocol.times import parse_date
from kapcheck.rules import (
    WAIVER_RULE,
    Change,
    Checker,
    EngineError,
    Finding,
    Report,
    check_protocol,
    validate,
)
from kapcheck.rules.baseline import load_baseline
from kapcheck.rules.report import count

from . import output as output_files
from . import outputs, provenance, render
from .specs import scenarios_for

if TYPE_CHECKING:
    from rich.console import Console


class Exit(enum.IntEnum):
    OK = 0
    FINDINGS = 1
    UNUSABLE = 2
    INTERNAL = 3


class Format(str, enum.Enum):
    TABLE = "table"
    JSON = "json"
    JUNIT = "junit"
    SARIF = "sarif"
    CSV = "csv"
    XLSX = "xlsx"


class CatalogFormat(str, enum.Enum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


class FailOn(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


app = typer.Typer(
    name="kapcheck",
    help="Validate ketamine-assisted psychotherapy schedules against a session protocol.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help, as click writes it: option metavars such as FILE or DATE, not the
    # Python types (<list[str]>, <bool>) that the rich help shows.
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        print(f"kapcheck {render.installed_version()}")
        raise typer.Exit(0)


@app.callback()
def main(
    version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_show_version, is_eager=True,
        help="Print kapcheck's version and exit.")] = None,
) -> None:
    """Validate ketamine-assisted psychotherapy schedules against a session protocol."""
    _MACHINE_FORMAT.clear()  # set by the command that prints machine output, if any


@functools.cache
def _err() -> Console:
    """Standard error, as rich writes it; made when first written to (a run that
    writes JSON does without rich)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def _fail(lines: list[str], code: Exit = Exit.UNUSABLE) -> NoReturn:
    for line in lines:
        _err().print(f"kapcheck: {line}", markup=False)
    raise typer.Exit(int(code))


#: The output format of the running `validate`: unusable input is also told on stdout in
#: it, so that a CI consumer of `-f json` or `-f junit` never reads an empty file.
_MACHINE_FORMAT: list[str] = []


def _input_error(exc: InputError) -> NoReturn:
    head = f"error: {count(len(exc.problems), 'problem')} in the input; nothing was validated"
    if _MACHINE_FORMAT == ["json"]:
        sys.stdout.write(render.problems_json(exc.problems))
    elif _MACHINE_FORMAT == ["junit"]:
        sys.stdout.write(render.problems_junit(exc.problems))
    _fail([head] + [f"  {p}" for p in exc.problems])


def _as_of(value: Optional[str], option: str = "--as-of") -> Optional[date]:
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _stdout() -> Console:
    """Standard output, as wide as COLUMNS says, else the terminal, else 120 columns."""
    from rich.console import Console

    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdecimal() and 20 <= int(columns) <= 1000 else (
        None if sys.stdout.isatty() else 120)
    return Console(highlight=False, emoji=False, width=width)


FilesArg = Annotated[list[str], typer.Argument(
    help="Schedule files (YAML, JSON, CSV, iCalendar or FHIR R4 JSON); '-' reads standard input. Several files "
         "are validated together as one run.", show_default=False, metavar="FILE...")]
ProtocolOpt = Annotated[str, typer.Option(
    "--protocol", "-p", metavar="NAME|FILE",
    help="A shipped protocol's name or a protocol TOML file.")]
WaiversOpt = Annotated[Optional[str], typer.Option(
    metavar="FILE",
    help="A file of waivers (documented exceptions) to apply.")]
AsOfOpt = Annotated[Optional[str], typer.Option(
    "--as-of", metavar="DATE", help="The day waivers are judged on (YYYY-MM-DD); default today.")]
TimezoneOpt = Annotated[Optional[str], typer.Option(
    metavar="ZONE",
    help="IANA timezone for naive times in documents that name none.")]
JobsOpt = Annotated[Optional[int], typer.Option(
    metavar="N",
    help="Worker processes (default: one; more are faster on free cores, and each holds much "
         "of the schedule again in memory).",
    min=1)]
PatientsOpt = Annotated[Optional[str], typer.Option(
    metavar="FILE",
    help="CSV roster of patients (id, diagnoses) for CSV sessions.")]
CliniciansOpt = Annotated[Optional[str], typer.Option(
    metavar="FILE",
    help="CSV roster of clinicians (id, roles) for CSV sessions.")]


def _protocol(ref: str) -> Protocol:
    """The protocol kapcheck can run, or exit 2 naming the file and key."""
    try:
        proto = load_protocol(ref)
        check_protocol(proto)
    except InputError as exc:
        _input_error(exc)
    return proto


def _run(files: list[str], protocol: str, waivers: Optional[str], as_of: Optional[str],
         timezone: Optional[str], jobs: Optional[int], patients: Optional[str],
         clinicians: Optional[str], propose: Optional[str] = None,
         until: Optional[str] = None, mapping: Optional[str] = None,
         ) -> tuple[Report, Schedule, Protocol, Optional[Change]]:
    """Load, validate (the schedule a proposal leaves, with ``propose``); input problems
    exit 2, an engine failure exits 3."""
    day = _as_of(as_of)
    if sum(1 for f in [*files, waivers, propose] if f == "-") > 1:
        _fail(["error: standard input ('-') can be read only once"])
    proto = _protocol(protocol)
    change = None
    try:
        with gcpause.paused():
            schedule = load_schedule(files, timezone=timezone, waivers=waivers,
                                     patients=patients, clinicians=clinicians,
                                     until=_as_of(until, "--until"), mapping=mapping)
            if propose is not None:
                checker = Checker(schedule, proto, as_of=day)
                change = checker.propose(load_proposal(propose, schedule))
                report = change.report
            else:
                report = validate(schedule, proto, as_of=day, jobs=jobs)
            # A command is one run: what it built lives until the process exits, so the
            # cyclic collector is told not to walk it (resuming after a pause, it would
            # walk everything built during it: about 0.1 s for 100k sessions).
            gc.freeze()
    except InputError as exc:
        _input_error(exc)
    except EngineError as exc:
        _fail([f"internal error: {exc}"], Exit.INTERNAL)
    return report, schedule, proto, change


ProposeOpt = Annotated[Optional[str], typer.Option(
    "--propose", metavar="FILE", help="A proposal file (add, move, cancel sessions): validate the schedule as "
                      "it would leave it and list what it introduces and resolves.")]
UntilOpt = Annotated[Optional[str], typer.Option(
    "--until", metavar="DATE", help="The last day (YYYY-MM-DD) recurring calendar events are expanded to; "
                    "default 180 days after the calendar's first event.")]
MappingOpt = Annotated[Optional[str], typer.Option(
    "--mapping", metavar="FILE", help="A mapping file (kapcheck/mapping@1, TOML): how calendar, FHIR "
                      "and practice-system CSV exports name kinds, people and columns.")]
OutputOpt = Annotated[Optional[Path], typer.Option(
    "--output", "-o", metavar="FILE", help="Write the report to this file instead of standard output "
                      "(a regular file or a new path: never through a link or onto a device).")]
BaselineOpt = Annotated[Optional[str], typer.Option(
    "--baseline", metavar="REPORT.json", help="An earlier JSON report: list what this run introduces and resolves "
                       "since then, and exit 1 only for introduced findings.")]


@app.command("validate")
def validate_command(
    files: FilesArg,
    protocol: ProtocolOpt = "kap",
    waivers: WaiversOpt = None,
    as_of: AsOfOpt = None,
    format: Annotated[Format, typer.Option(
        "--format", "-f", case_sensitive=False, metavar="table|json|junit|sarif|csv|xlsx",
        help="table for people; json, junit or sarif for machines; csv or xlsx for "
             "spreadsheets.")] = Format.TABLE,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", case_sensitive=False, metavar="error|warning",
        help="Exit 1 when an unwaived finding of this severity or above exists.")]
        = FailOn.ERROR,
    timezone: TimezoneOpt = None,
    jobs: JobsOpt = None,
    patients: PatientsOpt = None,
    clinicians: CliniciansOpt = None,
    propose: ProposeOpt = None,
    baseline: BaselineOpt = None,
    baseline_any: Annotated[bool, typer.Option(
        "--baseline-any", help="Compare with a baseline of another clinic or protocol too.")]
        = False,
    until: UntilOpt = None,
    mapping: MappingOpt = None,
    output: OutputOpt = None,
) -> None:
    """Validate schedules; exit 0 compliant, 1 findings at or above --fail-on, 2 unusable input.

    With --propose or --baseline, exit 1 only for findings the change introduces."""
    _MACHINE_FORMAT[:] = [format.value] if format is not Format.TABLE else []
    if propose is not None and baseline is not None:
        _fail(["error: give --propose or --baseline, not both"])
    target = _output_target(output)
    report, schedule, proto, change = _run(files, protocol, waivers, as_of, timezone, jobs,
                                           patients, clinicians, propose, until, mapping)
    inputs = [*_read_inputs(files, patients, clinicians, waivers, propose, mapping), *proto.files]
    level = Severity(fail_on.value)
    introduced: Sequence[Finding] = ()
    resolved: Sequence[Finding | dict[str, Any]] = ()
    if change is not None:
        introduced, resolved = change.introduced, change.resolved
    elif baseline is not None:
        try:
            earlier = load_baseline(baseline)
        except InputError as exc:
            _input_error(exc)
        if not baseline_any and (why := earlier.differs(report.clinic, proto.name)):
            _fail([f"error: --baseline {baseline} {why}; give --baseline-any to compare "
                   "anyway"])
        introduced, resolved = earlier.compare(report.findings)
    compared = change is not None or baseline is not None
    shown = change.schedule if change is not None else schedule
    text: str | bytes
    if format is Format.JSON:
        section = render.change_json(introduced, resolved) if compared else None
        text = render.report_json_bytes(report, section, provenance.meta(
            report, proto, inputs, render.installed_version(), schedule.inputs))
    elif format is Format.JUNIT:
        text = render.report_junit(report, [r.id for r in proto.rules if r.enabled], level)
    elif format is Format.SARIF:
        text = render.pretty_json(outputs.sarif(report, proto, render.installed_version()))
    elif format is Format.CSV:
        text = outputs.to_csv(report, _zone_of(shown))
    elif format is Format.XLSX:
        text = outputs.to_xlsx(report, proto, _zone_of(shown))
    else:
        console = _stdout() if target is None else _file_console()
        if compared:
            moves, touched = _proposal_lines(change, schedule)
            render.change_table(report, introduced, resolved, console, moves, touched)
        else:
            render.report_table(report, console)
        text = console.export_text() if target is not None else ""
    _emit(text, target, binary=format is Format.XLSX)
    if compared:
        fails = any(f.severity.rank >= level.rank and not f.waived for f in introduced)
    else:
        fails = report.fails(level)
    raise typer.Exit(int(Exit.FINDINGS if fails else Exit.OK))


def _proposal_lines(change: Optional[Change], booked: Schedule,
                    ) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """Each moved session's old and new start, and each session the proposal touches
    with the entry that touches it (``move S-105``), for the change table."""
    if change is None:
        return [], {}
    from kapcheck.protocol.times import local_text

    moves = []
    touched: dict[str, str] = {}
    for s in change.proposal.move:
        old = booked.session_by_id[s.id]
        moves.append((s.id, local_text(old.start, old.zone), local_text(s.start, s.zone)))
        touched[s.id] = f"move {s.id}"
    for s in change.proposal.add:
        touched[s.id] = f"add {s.id}"
    for sid in change.proposal.cancel:
        touched[sid] = f"cancel {sid}"
    return moves, touched


def _read_inputs(files: Sequence[str], *others: Optional[str]) -> list[str]:
    """The files a run read, in the order given (standard input once)."""
    return [f for f in [*files, *others] if f]


def _zone_of(schedule: Schedule) -> Any:
    """A finding's zone for showing its start: its session's, else the schedule's."""
    def zone_of(f: Finding) -> Optional[str]:
        session = schedule.session_by_id.get(f.session) if f.session else None
        return session.zone if session is not None else schedule.timezone

    return zone_of


def _output_target(output: Optional[Path]) -> Optional[Path]:
    """The --output file, refused at once (exit 2) if it is a link, a device or the like."""
    if output is None:
        return None
    target = Path(os.path.abspath(output))  # the final component is not followed
    try:
        output_files.check_target(target)
    except OSError as exc:
        _fail([f"error: --output {exc}"])
    return target


def _file_console() -> Console:
    """A console that records the table for a file: no colours, 120 columns."""
    from rich.console import Console

    return Console(record=True, file=open(os.devnull, "w"), width=120, color_system=None,
                   highlight=False, emoji=False)


def _emit(text: str | bytes, target: Optional[Path], binary: bool = False) -> None:
    """The report on standard output, or written safely to the --output file."""
    if target is not None:
        try:
            output_files.write_safely(target, text)
        except OSError as exc:
            _fail([f"error: cannot write {target}: {exc.strerror or exc}"])
        return
    if isinstance(text, bytes):
        if binary and sys.stdout.isatty():
            _fail(["error: --format xlsx writes a binary file: give --output FILE"])
        sys.stdout.flush()
        sys.stdout.buffer.write(text)
    elif text:
        sys.stdout.write(text)


@app.command("report")
def report_command(
    files: FilesArg,
    html_out: Annotated[Path, typer.Option(
        "--html", metavar="FILE", help="Where to write the self-contained HTML audit report.")],
    protocol: ProtocolOpt = "kap",
    waivers: WaiversOpt = None,
    as_of: AsOfOpt = None,
    timezone: TimezoneOpt = None,
    jobs: JobsOpt = None,
    patients: PatientsOpt = None,
    clinicians: CliniciansOpt = None,
    propose: ProposeOpt = None,
    until: UntilOpt = None,
    mapping: MappingOpt = None,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", case_sensitive=False, metavar="error|warning",
        help="Exit 1 when an unwaived finding of this severity or above exists (introduced "
             "by the change, with --propose), as validate does.")] = FailOn.ERROR,
) -> None:
    """Write an HTML audit report: summary, protocol, timelines, findings.

    Each patient's course is drawn with its sessions listed under it. With --propose,
    the schedule as the proposal leaves it: proposed sessions marked, what the change
    introduces and resolves listed first."""
    target = Path(os.path.abspath(html_out))  # the final component is not followed
    try:
        output_files.check_target(target)
    except OSError as exc:
        _fail([f"error: --html {exc}"])
    report, schedule, proto, change = _run(files, protocol, waivers, as_of, timezone, jobs,
                                           patients, clinicians, propose, until, mapping)
    read = [f for f in [*files, patients, clinicians, waivers, propose, mapping] if f]
    if any(f != "-" and _same_file(Path(f), html_out) for f in read) or any(
            not f.endswith("(shipped)") and _same_file(Path(f), html_out) for f in proto.files):
        _fail([f"error: --html {html_out} is one of the input files (schedule, roster, "
               "waivers, proposal or protocol); choose another name"])
    inputs = [*read, *proto.files]
    from . import html  # only this command writes HTML: other runs do not import it

    if change is None:
        page = html.render(report, schedule, proto, files, inputs=inputs)
    else:
        page = html.render(report, change.schedule, proto, files, inputs=inputs,
                           proposed=frozenset(s.id for s in change.proposal.added),
                           cancelled=[schedule.session_by_id[i] for i in change.proposal.cancel],
                           change=(change.introduced, change.resolved))
    try:
        output_files.write_safely(target, page)
    except OSError as exc:
        _fail([f"error: cannot write {html_out}: {exc.strerror or exc}"])
    _err().print(f"kapcheck: wrote {html_out} ({count(report.errors, 'error')}, "
               f"{count(report.warnings, 'warning')}, {report.waived} waived)", markup=False)
    level = Severity(fail_on.value)
    fails = change.fails(level) if change is not None else report.fails(level)
    raise typer.Exit(int(Exit.FINDINGS if fails else Exit.OK))


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same path, a link to it, or a hard link."""
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to listen on.", min=1, max=65535)] = 8080,
    protocol: ProtocolOpt = "kap",
    trust: Annotated[Optional[list[str]], typer.Option(
        "--trust", metavar="ISSUER=JWKS",
        help="A CDS Hooks client to trust: its issuer and its JWKS (a file or an https URL). "
             "Repeatable. With it, every endpoint but /healthz, /docs and /openapi.json needs "
             "the client's signed JWT; without it, the service listens on loopback only.")]
        = None,
    public_url: Annotated[Optional[str], typer.Option(
        "--public-url", metavar="URL",
        help="The URL clients reach the service at (the JWT audience); default "
             "http://HOST:PORT.")] = None,
    audit_log: Annotated[Optional[str], typer.Option(
        "--audit-log", metavar="FILE",
        help="Where CDS Hooks feedback (accepted and overridden cards) is appended.")] = None,
    clinicians: CliniciansOpt = None,
) -> None:
    """Serve the HTTP JSON API for scheduling systems.

    POST /validate, POST /propose, GET /rules, GET /healthz; OpenAPI at /openapi.json,
    browsable docs at /docs."""
    import ipaddress

    from . import jwtauth, serving
    from .service import create_app

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not trust and not loopback:
        _fail([f"error: --host {host} is not a loopback address: a service other machines "
               "can reach needs --trust ISSUER=JWKS for its callers' tokens"])
    try:
        verifier = jwtauth.Trust(trust) if trust else None
    except jwtauth.TrustError as exc:
        _fail([f"error: {exc}"])
    try:
        application = create_app(protocol, trust=verifier,
                                 public_url=public_url or f"http://{host}:{port}",
                                 audit_log=audit_log, clinicians=clinicians)
    except InputError as exc:
        _input_error(exc)
    try:
        sock = serving.bind(host, port)
    except OSError as exc:
        _fail([f"error: {exc}"])
    _err().print(f"kapcheck: serving on http://{host}:{port} (protocol {protocol})", markup=False)
    serving.run(application, sock)


class TestFormat(str, enum.Enum):
    TEXT = "text"
    JUNIT = "junit"


@app.command("test")
def test_command(
    paths: Annotated[list[str], typer.Argument(
        help="Feature files, or folders of them (every .feature below).",
        show_default=False, metavar="PATH...")],
    protocol: Annotated[str, typer.Option(
        "--protocol", "-p", metavar="NAME|FILE",
        help="The protocol the scenarios run against, unless a scenario names its own.")]
        = "kap",
    format: Annotated[TestFormat, typer.Option(
        "--format", "-f", case_sensitive=False, metavar="text|junit",
        help="text for people, junit for pipelines (one testcase per scenario).")]
        = TestFormat.TEXT,
    output: OutputOpt = None,
) -> None:
    """Run Gherkin scenarios written in kapcheck's step vocabulary against a protocol.

    Exit 0 when every scenario passes, 1 when one fails (its file:line, step and what
    kapcheck found instead), 2 for an undefined step or unusable input."""
    from . import acceptance

    target = _output_target(output)
    _protocol(protocol)  # an unusable protocol is exit 2 before any scenario runs
    files, problems = acceptance.collect(paths)
    features, unreadable = acceptance.read(files)
    problems += unreadable
    outcomes = acceptance.run(features, protocol)
    text = (acceptance.junit_report(outcomes, problems) if format is TestFormat.JUNIT
            else acceptance.text_report(outcomes, problems))
    _emit(text, target)
    raise typer.Exit(acceptance.exit_code(outcomes, problems))


waivers_app = typer.Typer(help="Waivers: documented exceptions.", no_args_is_help=True,
                          rich_markup_mode=None)
app.add_typer(waivers_app, name="waivers")


@waivers_app.command("from-audit")
def waivers_from_audit_command(
    log: Annotated[str, typer.Argument(help="The CDS Hooks audit log (--audit-log of serve).",
                                       metavar="LOG")],
    output: OutputOpt = None,
) -> None:
    """Draft a waivers file from the cards users overrode in the EHR, for review."""
    from . import cds

    target = _output_target(output)
    try:
        lines = Path(log).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        _fail([f"error: {log}: cannot be read: {getattr(exc, 'strerror', None) or exc}"])
    text, problems = cds.waivers_from_audit(lines, log)
    for problem in problems:
        _err().print(f"kapcheck: {problem}", markup=False)
    _emit(text, target)
    raise typer.Exit(int(Exit.UNUSABLE if problems else Exit.OK))


@app.command("rules")
def rules_command(
    protocol: Annotated[str, typer.Option(
        "--protocol", "-p", metavar="NAME|FILE",
        help="A shipped protocol's name or a protocol TOML file.")] = "kap",
    format: Annotated[CatalogFormat, typer.Option(
        "--format", "-f", metavar="table|json|markdown", help="table, json, or markdown (a catalog to file).")]
        = CatalogFormat.TABLE,
) -> None:
    """List the protocol's rules: ID, severity, parameters (and where each was set)."""
    proto = _protocol(protocol)
    if format is CatalogFormat.JSON:
        sys.stdout.write(render.catalog_json(proto))
    elif format is CatalogFormat.MARKDOWN:
        titles = {r.id: [s.title for s in scenarios_for(r.id)] for r in proto.rules}
        sys.stdout.write(render.catalog_markdown(proto, titles))
    else:
        render.catalog_table(proto, _stdout())


@app.command("explain")
def explain_command(
    rule_id: Annotated[str, typer.Argument(help="A rule ID such as KAP-INT-001.",
                                           metavar="RULE-ID")],
    protocol: Annotated[Optional[str], typer.Option(
        "--protocol", "-p", metavar="NAME|FILE", help="A shipped protocol's name or a protocol TOML file "
                                 "(default: kap, else the shipped protocol that has the rule).")]
        = None,
) -> None:
    """Print one rule in full and the feature scenarios that specify it."""
    wanted = rule_id.strip().upper()
    out = _stdout()
    if wanted == WAIVER_RULE:
        _explain_waiver_rule(out)
        return
    settings, proto = _find_rule(wanted, protocol)
    out.print(f"{settings.id} — {settings.title}", style="bold", markup=False)
    out.print()
    out.print(settings.requirement_text(), markup=False)
    out.print()
    state = "enabled" if settings.enabled else "disabled"
    out.print(f"Severity: {settings.severity.value} ({state} in protocol "
              f"{proto.name} {proto.version})", markup=False)
    out.print(f"Template: {settings.template}", markup=False)
    out.print(f"Finding attached to: {settings.anchor_text}", markup=False)
    if settings.parameters:
        out.print("Parameters:")
        for key, value in settings.parameters.items():
            where = settings.provenance.get(key, "")
            out.print(f"  {key} = {show(value)}" + (f"   (set in {where})" if where else ""),
                      markup=False)
    if settings.template == "modality-map" or settings.template == "diagnosis-covered":
        out.print("Diagnosis map (ICD-10-CM prefix: modalities):")
        for line in render.diagnosis_map_lines(proto):
            out.print(line, markup=False)
    out.print()
    out.print("[bold]Why[/]")
    out.print(settings.rationale or "(the protocol gives no rationale)", markup=False)
    out.print()
    out.print("[bold]Source[/]")
    out.print(settings.source or "(the protocol cites no source)", markup=False)
    out.print()
    out.print("[bold]Evidence[/]")
    out.print(render.evidence_text(settings.evidence), markup=False)
    _print_scenarios(out, settings.id)


def _find_rule(wanted: str, protocol: Optional[str]) -> tuple[RuleSettings, Protocol]:
    """The rule in the protocol named, else in kap, else in the first shipped protocol
    that has it; exit 2 naming the rules there are."""
    names = [protocol] if protocol is not None else \
        [DEFAULT] + [p for p in shipped_protocols() if p != DEFAULT]
    known: list[str] = []
    for name in names:
        proto = _protocol(name)
        for settings in proto.rules:
            if settings.id == wanted:
                return settings, proto
            known.append(settings.id)
    _fail([f"error: no rule {shown(wanted)} in {'protocol ' + protocol if protocol else 'the shipped protocols'}; "
           f"the rules are {', '.join(dict.fromkeys(known))}, and {WAIVER_RULE}"])


def _explain_waiver_rule(out: Console) -> None:
    out.print(f"[bold]{WAIVER_RULE} — A waiver that documents nothing[/]")
    out.print()
    out.print("Every waiver names a finding the schedule has: a waiver that matches no "
              "finding, or names a rule the protocol lacks or has disabled, is reported.",
              markup=False)
    out.print()
    out.print("Severity: warning (in every protocol)", markup=False)
    out.print("Finding attached to: the waiver's session, or none for a patient waiver",
              markup=False)
    out.print()
    out.print("[bold]Why[/]")
    out.print("A stale or mistyped waiver looks like documentation but excuses nothing; "
              "an auditor should see it.", markup=False)
    _print_scenarios(out, WAIVER_RULE)


def _print_scenarios(out: Console, rule_id: str) -> None:
    specs = scenarios_for(rule_id)
    out.print()
    out.print("[bold]Specified by these scenarios[/]")
    features: dict[tuple[str, str], list[str]] = {}
    for s in specs:
        features.setdefault((s.file, s.feature), []).append(s.title)
    for (file, feature), titles in features.items():
        out.print(f"  {feature} ({file}):", markup=False)
        for title in titles:
            out.print(f"    - {title}", markup=False)
    if not specs:
        out.print("  (none)")
