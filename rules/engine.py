"""The durable_rules runner: one ruleset per rule, compiled once per process; one state
per partition per run, only the facts a rule reads, the state deleted after.

durable_rules 2.0.28 is fast and treacherous (see DEVELOPERS.md): it crashed when two
threads drove it, dropped a batch holding an unhandled fact, and changed verdicts
with binding names. So every call into it happens on one dedicated engine thread,
where the rulesets are also created and registered; every fact asserted is handled by
a condition of its ruleset; an exception from the engine fails the run loudly; and
the differential tests hold each ruleset to the plain-Python reference evaluator.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any, TypeVar

from kapcheck.protocol import KapcheckError

from .base import Hit, Params, View

T = TypeVar("T")


class EngineError(KapcheckError):
    """The rules engine failed; no verdict can be given."""


class _Engine:
    """Owns the durable_rules host; every method runs on the engine thread."""

    def __init__(self) -> None:
        self.host: Any = None
        self.rulesets: dict[str, tuple[str, list[Any]]] = {}
        self.sids = itertools.count(1)

    def start(self) -> None:
        """Define every rule's ruleset and register them all in one go."""
        if self.host is not None:
            return
        from durable import lang

        from .catalog import MODULES

        for module in MODULES:
            sink: list[Any] = []
            name = module.RULE.id
            module.define(name, sink.append)
            self.rulesets[name] = (name, sink)
        self.host = lang.get_host()

    def run(self, module: ModuleType, params: Params, views: Sequence[View]) -> list[Hit]:
        self.start()
        name, sink = self.rulesets[module.RULE.id]
        hits: list[Hit] = []
        for view in views:
            facts = module.facts(view, params)
            marks: set[Any] = set()
            if facts:
                sid = str(next(self.sids))
                batch = [dict(fact, sid=sid) for fact in facts]
                sink.clear()
                try:
                    self.host.assert_facts(name, batch)
                except Exception as exc:  # any engine failure is a failed run, never a pass
                    raise EngineError(
                        f"the rules engine failed on {module.RULE.id} for {view.key}: {exc}"
                    ) from exc
                finally:
                    try:
                        self.host.delete_state(name, sid)
                    except Exception:  # noqa: S110 - an absent state has nothing to delete
                        pass
                marks = set(sink)
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


