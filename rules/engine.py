"""The durable_rules runner: one ruleset per rule, compiled once per process; each
partition's facts (only those the rule reads) asserted into the ruleset's one state in
a single batch and retracted after, so the state is empty between partitions.

durable_rules 2.0.28 is fast and treacherous (see DEVELOPERS.md): it crashed when two
threads drove it, dropped a batch holding an unhandled fact, and changed verdicts
with binding names. So every call into it happens on one dedicated engine thread,
where the rulesets are also created and registered; every fact asserted is handled by
a condition of its ruleset; an exception from the engine fails the run loudly; and
the differential tests hold each ruleset to the plain-Python reference evaluator.

States are never deleted: ``delete_state`` frees pointers it never set (valgrind: an
invalid free in ``deleteStateNode``, whose action context is left uninitialised), and a
ruleset holds at most 1,024 states. One state per ruleset, emptied by retracting the
batch, keeps memory flat however many patients a run validates.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any, TypeVar

from kapcheck.protocol import KapcheckError

from .base import Hit, Params, View

T = TypeVar("T")

#: The one engine state of each ruleset.
STATE = "kapcheck"


class EngineError(KapcheckError):
    """The rules engine failed; no verdict can be given."""


class _Engine:
    """Owns the durable_rules host; every method runs on the engine thread."""

    def __init__(self) -> None:
        self.host: Any = None
        self.rulesets: dict[str, tuple[str, list[Any]]] = {}
        self.rules: dict[str, Any] = {}
        #: Set once the engine failed: its states can no longer be trusted to be empty.
        self.broken: str | None = None

    def start(self) -> None:
        """Define every rule's ruleset and register them all in one go."""
        if self.broken is not None:
            raise EngineError(f"the rules engine failed earlier ({self.broken}); restart")
        if self.host is not None:
            return
        from durable import engine, lang

        from .catalog import MODULES

        class QuietHost(engine.Host):  # type: ignore[misc]
            """A host without the dispatch timers that durable_rules starts by default:
            they call into the C engine from timer threads, racing the engine thread.
            kapcheck posts no events and sets no timers, so there is nothing to dispatch."""

            def _run(self) -> None:
                pass

        for module in MODULES:
            sink: list[Any] = []
            name = module.RULE.id
            module.define(name, sink.append)
            self.rulesets[name] = (name, sink)
        definitions = dict(rs.define() for rs in lang._rulesets.values())
        lang._rulesets.clear()  # defined here, registered with our host only
        host = QuietHost()
        host.register_rulesets(definitions)
        self.host = host
        self.rules = {name: host.get_ruleset(name) for name in self.rulesets}

    def run(self, module: ModuleType, params: Params, views: Sequence[View]) -> list[Hit]:
        self.start()
        name, sink = self.rulesets[module.RULE.id]
        hits: list[Hit] = []
        for view in views:
            facts = module.facts(view, params)
            marks: set[Any] = set()
            if facts:
                batch = [dict(fact, sid=STATE) for fact in facts]
                sink.clear()
                try:
                    self.host.assert_facts(name, batch)
                    marks = set(sink)
                    self.host.retract_facts(name, batch)
                    if self.rules[name].get_facts(STATE):
                        raise EngineError("facts were left in the engine state after retraction")
                except Exception as exc:  # any engine failure is a failed run, never a pass
                    self.broken = f"{module.RULE.id} for {view.key}: {exc}"
                    raise EngineError(f"the rules engine failed on {self.broken}") from exc
                finally:
                    sink.clear()
            hits.extend(module.verdict(view, params, marks))
        return hits


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


def run_rule(module: ModuleType, params: Params, views: Sequence[View]) -> list[Hit]:
    """The hits of one rule over the partitions, computed on the engine thread."""
    return _on_engine_thread(_engine.run, module, params, views)


