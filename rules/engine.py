"""The durable_rules runner: the rulesets of every template, compiled once per process;
each partition's facts (only those the rule reads) asserted into a ruleset's one state
in a single batch and retracted after, so the state is empty between partitions and
rules of one template take turns on its rulesets.

durable_rules 2.0.28 is fast and treacherous (see DEVELOPERS.md): it crashed when two
threads drove it, dropped a batch holding an unhandled fact, and changed verdicts
with binding names. So every call into it happens on one dedicated engine thread,
where the rulesets are also created and registered; every fact asserted is handled by
a condition of its ruleset; an exception from the engine fails the run loudly; and
the differential tests hold each ruleset to the plain-Python reference evaluator.

Every fact is asserted under a positional id the engine owns (``#0``, ``#1``, ...), never
under text made of the input: durable_rules identifies a fact by a 32-bit FNV-1a hash of
its id, so two different ids with one hash would be one fact (``assert_facts`` answers 2
and the run fails). The positions of a batch are distinct in that hash up to
``MAX_BATCH_FACTS`` (``tests/test_engine_ids.py`` proves it). Partitions whose facts are
alike make one batch, and each distinct batch is answered by the engine once per rule's
run (``_Memo``), its marks read back into each partition's own ids.

States are never deleted: ``delete_state`` frees pointers it never set (valgrind: an
invalid free in ``deleteStateNode``, whose action context is left uninitialised), and a
ruleset holds at most 1,024 states. One state per ruleset, emptied by retracting the
batch, keeps memory flat however many patients a run validates.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType, SimpleNamespace
from typing import Any, NoReturn, TypeVar

import orjson

from kapcheck.protocol import KapcheckError, RuleSettings

from .base import Fact, Hit, Part, Row, View

T = TypeVar("T")

#: The one engine state of each ruleset.
STATE = "kapcheck"


class EngineError(KapcheckError):
    """The rules engine failed; no verdict can be given."""


def _match(bindings: dict[str, dict[str, Any]]) -> SimpleNamespace:
    """What an action sees: each binding's fact, its fields read as attributes
    (``c.dose.id``); made in C, without a Python call per attribute read."""
    return SimpleNamespace(**{name: SimpleNamespace(**fact) for name, fact in bindings.items()})


class _Engine:
    """Owns the durable_rules rulesets; every method runs on the engine thread.

    It drives durable_rules' C engine directly: assert a batch, run the actions its
    matches queue (``start_action_for_state`` / ``complete_and_start_action``), retract
    the batch. durable_rules' Python host adds, per match, a closure, a timer check and
    a JSON round trip of the state, and starts dispatch timers that call into the C
    engine from other threads; kapcheck needs none of it.
    """

    def __init__(self) -> None:
        self.handles: dict[str, int] = {}
        self.actions: dict[str, dict[str, Callable[[Any], None]]] = {}
        self.sinks: dict[str, list[Any]] = {}
        #: The rulesets asserted into during the rule being run (their states are
        #: looked at once it has run, to confirm they are empty).
        self.asserted: set[str] = set()
        #: Set once the engine failed: its states can no longer be trusted to be empty.
        self.broken: str | None = None
        #: Work done since the engine started, for the tests that count it: batches
        #: asserted, facts asserted, and the most facts of one batch.
        self.batches = 0
        self.facts = 0
        self.largest = 0

    def start(self) -> None:
        """Define every template's rulesets and create them all, before any fact is
        asserted."""
        if self.broken is not None:
            raise EngineError(f"the rules engine failed earlier ({self.broken}); restart")
        if self.handles:
            return
        import durable_rules_engine as dre
        from durable import lang

        from .templates import MODULES

        for module in MODULES.values():
            for part in module.PARTS:
                sink: list[Any] = []
                part.define(part.name, sink.append)
                self.sinks[part.name] = sink
        definitions = dict(rs.define() for rs in lang._rulesets.values())
        lang._rulesets.clear()  # defined here, created below, registered with no host
        for name, definition in definitions.items():
            self.actions[name] = {rule: body.pop("run") for rule, body in definition.items()}
            self.handles[name] = dre.create_ruleset(name, json.dumps(definition))

    def _fail(self, what: str) -> NoReturn:
        self.broken = what
        raise EngineError(f"the rules engine failed on {what}")

    def _assert(self, name: str, batch: str, where: str) -> None:
        import durable_rules_engine as dre

        handle = self.handles[name]
        code, state = dre.assert_facts(handle, batch)
        if code != 0:  # not handled (1), already observed (2), deferred (3)
            self._fail(f"{where}: assert_facts answered {code}")
        actions = self.actions[name]
        started = dre.start_action_for_state(handle, state)
        pending = started[1] if started else None
        while pending:
            for rule, bindings in orjson.loads(pending).items():
                try:
                    actions[rule](_match(bindings))
                except Exception as exc:
                    dre.abandon_action(handle, state)
                    self._fail(f"{where}: action {rule} raised {exc!r}")
            pending = dre.complete_and_start_action(handle, state)

    def run(self, module: ModuleType, rule: RuleSettings, views: Sequence[View]) -> list[Hit]:
        """The rule's hits over its partitions.

        A ``rows`` part's batch is looked up in the memo first, and its marks read back
        into the partition's own ids (``_learn`` asks the engine for a batch not seen
        before). The answer is the engine's all the same: it is a function of the batch
        alone (every batch meets an empty state).
        """
        import durable_rules_engine as dre

        self.start()
        self.asserted.clear()
        hits: list[Hit] = []
        params = rule.parameters
        parts = [(part, _Memo()) for part in module.PARTS]
        for view in views:
            marks: set[Any] = set()
            for part, memo in parts:
                for ids, rows in part.rows(view, params):
                    if not rows:
                        continue
                    known = memo.answers.get(rows) if memo.open else None
                    if known is None:
                        known = self._learn(part, rows, f"{rule.id} for {view.key}", memo)
                    else:
                        memo.found += 1
                    for mark in known:
                        marks.add(ids[mark] if type(mark) is int
                                  else tuple([ids[p] if type(p) is int else p for p in mark]))
            hits.extend(module.verdict(view, rule, marks))
        # Each partition's batch was retracted as it finished; one look at each state
        # confirms it (a leftover fact fails the run here, before any verdict is given).
        for name in sorted(self.asserted):
            if dre.get_facts(self.handles[name], STATE) != "[]":
                self._fail(f"{rule.id}: facts were left in the {name} state after retraction")
        return hits

    def _learn(self, part: Part, rows: tuple[Row, ...], where: str,
               memo: _Memo) -> tuple[Any, ...]:
        """The engine's answer to a batch the memo does not hold, as positions to read
        back into the partition's ids (``_positions``), kept while the memo is open.

        Its facts are asserted under positional ids, so that two partitions whose facts
        are alike (the same kinds, the same times from their origins, the same
        parameters: the same rows) make the same batch, and so that no fact's identity
        in the engine is made of the input's text.
        """
        if len(rows) > MAX_BATCH_FACTS:
            self._fail(f"{where}: a batch of {len(rows)} facts, more than the "
                       f"{MAX_BATCH_FACTS} whose ids are distinct in the engine")
        try:
            facts = part.facts_of(_ids(len(rows)), rows)
        except (TypeError, ValueError, KeyError) as exc:
            self._fail(f"{where}: {exc}")
        known = _positions(self._asserted(part.name, facts, where), len(rows), part)
        memo.keep(rows, known)
        return known

    def _asserted(self, name: str, facts: Sequence[Fact], where: str) -> set[Any]:
        """Assert one partition's facts into the ruleset's state, run the actions their
        matches queue, retract them (by id: durable_rules identifies a fact by its id);
        the marks the actions made. ``where`` names the rule and partition if the engine
        fails."""
        import durable_rules_engine as dre

        sink = self.sinks[name]
        handle = self.handles[name]
        self.asserted.add(name)
        self.batches += 1
        self.facts += len(facts)
        self.largest = max(self.largest, len(facts))
        for fact in facts:  # built for this call alone: tagged in place, not copied
            fact["sid"] = STATE
        batch = orjson.dumps(facts).decode()
        sink.clear()
        try:
            self._assert(name, batch, where)
            marks = set(sink)
            ids = orjson.dumps([{"id": fact["id"], "sid": STATE} for fact in facts]).decode()
            code, _ = dre.retract_facts(handle, ids)
            if code != 0:
                self._fail(f"{where}: retracting the facts answered {code}")
        except EngineError:
            raise
        except Exception as exc:  # any engine failure is a failed run, never a pass
            self._fail(f"{where}: {exc!r}")
        finally:
            sink.clear()
        return marks


#: The most facts one batch may hold: the positional ids ``#0`` to ``#1279191`` have
#: distinct FNV-1a hashes (``#1279192`` is the first to share one), and no template
#: makes a batch near this size within the limits of ``kapcheck.protocol.limits``.
MAX_BATCH_FACTS = 1_000_000

#: Positional ids: ``#0``, ``#1``, ...
_POSITIONS: list[str] = []


def _ids(count: int) -> list[str]:
    """The first ``count`` positional ids."""
    while len(_POSITIONS) < count:
        _POSITIONS.append(f"#{len(_POSITIONS)}")
    return _POSITIONS[:count]


class _Memo:
    """The engine's answers to the distinct batches of one part in one rule's run.

    It closes when it holds MEMO_BATCHES, or when few batches repeat (fewer than one in
    four of the first MEMO_TRIAL): patients' integration windows seldom repeat to the
    second, and such a part's batches would only be held, never read. The rest of the
    part's batches are then asserted each alone, as if there were no memo."""

    __slots__ = ("answers", "missed", "found", "open")

    def __init__(self) -> None:
        self.answers: dict[tuple[Row, ...], tuple[Any, ...]] = {}
        #: Batches looked up and not found (then asserted), and found.
        self.missed = 0
        self.found = 0
        self.open = True

    def keep(self, batch: tuple[Row, ...], answer: tuple[Any, ...]) -> None:
        self.missed += 1
        if self.open:
            self.answers[batch] = answer
            if len(self.answers) >= MEMO_BATCHES or (
                    self.missed + self.found >= MEMO_TRIAL and self.found * 3 < self.missed):
                self.open = False


#: The most answers one part keeps in one rule's run (about 1 KB each).
MEMO_BATCHES = 100_000
#: Batches looked at before a part whose batches seldom repeat stops keeping answers.
MEMO_TRIAL = 2_000


def _positions(marks: set[Any], count: int, part: Part) -> tuple[Any, ...]:
    """Marks made on positional ids, with each id (``#3``) as its position (3): a mark is
    an id, or a tuple of ids and constants (text that is no id). Anything else is a
    template that should not give rows, and fails the run."""
    def position(value: Any) -> Any:
        if type(value) is str and value.startswith("#"):
            if value[1:].isdecimal() and int(value[1:]) < count:
                return int(value[1:])
        elif type(value) is str:
            return value
        raise EngineError(f"the {part.name} ruleset marked {value!r}, not a fact id: it "
                          "cannot share answers between partitions")

    return tuple(tuple(position(v) for v in m) if type(m) is tuple else position(m)
                 for m in marks)


_engine = _Engine()
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _on_engine_thread(fn: Callable[..., T], *args: Any) -> T:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kapcheck-engine")
        executor = _executor
    return executor.submit(fn, *args).result()


def _fresh_after_fork() -> None:
    """A forked worker gets an engine of its own: the parent's engine thread does not
    exist in the child, and the parent may have been mid-assertion when it forked."""
    global _engine, _executor, _executor_lock
    _engine = _Engine()
    _executor = None
    _executor_lock = threading.Lock()


os.register_at_fork(after_in_child=_fresh_after_fork)


def work_done() -> tuple[int, int, int]:
    """The engine's work so far (batches, facts, the largest batch), read on its thread."""
    return _on_engine_thread(lambda: (_engine.batches, _engine.facts, _engine.largest))


def run_rules(work: Sequence[tuple[ModuleType, RuleSettings, Sequence[View]]]) -> list[list[Hit]]:
    """The hits of each rule over its partitions, all computed in one visit to the engine
    thread (a proposal's few partitions would otherwise wait on eleven hand-overs)."""
    def all_rules() -> list[list[Hit]]:
        return [_engine.run(module, rule, views) for module, rule, views in work]

    return _on_engine_thread(all_rules)


