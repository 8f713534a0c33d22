"""Failures stay found: generated cases that failed are kept in a small JSON file and replayed
first by the next run (Hypothesis' example database, for live runs), until they pass.

The file holds request bodies only (never a key: bodies carry none) and is rewritten after each
run with the generated cases that failed in it, replayed ones included.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import UsageError
from .._util import write_text_atomic
from ..plan import Case, body_key

if TYPE_CHECKING:
    from ..checks import ExchangeResult

__all__ = ["REPLAY_PREFIX", "load_examples", "save_examples"]

#: The name of a replayed case starts with this (then the name it failed under).
REPLAY_PREFIX = "replay-"
#: The most cases the database keeps (the first failures of a run).
MAX_EXAMPLES = 50
_GENERATED = ("property", "negative")


def load_examples(path: Path) -> list[Case]:
    """The cases kept in ``path`` (none when it does not exist yet)."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise UsageError(f"examples database {path}: not readable ({exc})") from None
    entries = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UsageError(f"examples database {path}: expected an 'examples' list")
    cases = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("source") not in _GENERATED:
            continue
        name = str(entry.get("name", "case")).removeprefix(REPLAY_PREFIX)
        cases.append(
            Case(
                name=REPLAY_PREFIX + name,
                body=entry.get("body"),
                expectation="reject" if entry["source"] == "negative" else "accept",
                source=entry["source"],
                # where it was sent (files of version 1 kept no operation: chat completions)
                method=str(entry.get("method", "POST")),
                path=str(entry.get("path", "/chat/completions")),
                family=str(entry.get("family", "chat")),
                path_values=_pairs(entry.get("path_values")),
                query=_pairs(entry.get("query")),
            )
        )
    return cases


def _pairs(value: Any) -> tuple[tuple[str, Any], ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        (str(item[0]), item[1]) for item in value if isinstance(item, list) and len(item) == 2
    )


def save_examples(
    path: Path,
    cases: list[Case],
    results: list[ExchangeResult],
    *,
    operations: frozenset[str] | None = None,
) -> int:
    """Keep in ``path`` the generated cases that failed (replayed ones too), and, when the run
    chose its ``operations``, the cases kept for the others (it did not try them again);
    returns how many."""
    failed = {r.exchange_id for r in results if r.failures}
    seen: set[str] = set()
    others = [
        (dataclasses.replace(c, name=c.name.removeprefix(REPLAY_PREFIX)), True)
        for c in (load_examples(path) if operations is not None else [])
        if f"{c.method.upper()} {c.path}" not in (operations or ())
    ]
    # each operation's failures in their order, the operations taken in turn: a run whose
    # chat cases fail by the hundred still keeps the failures of its other operations
    queues: dict[str, list[dict[str, Any]]] = {}
    for case, kept_before in [*others, *((c, False) for c in cases)]:
        if case.source not in _GENERATED or case.raw is not None:
            continue
        if not kept_before and case.name not in failed:
            continue
        key = body_key(case.body)
        if key in seen:
            continue
        seen.add(key)
        queues.setdefault(f"{case.method.upper()} {case.path}", []).append(
            {
                "name": case.name,
                "source": case.source,
                "method": case.method,
                "path": case.path,
                "family": case.family,
                "path_values": [list(p) for p in case.path_values],
                "query": [list(p) for p in case.query],
                "body": case.body,
            }
        )
    kept: list[dict[str, Any]] = []
    while len(kept) < MAX_EXAMPLES and any(queues.values()):
        for queue in queues.values():
            if queue and len(kept) < MAX_EXAMPLES:
                kept.append(queue.pop(0))
    if not kept and not path.exists():
        return 0  # nothing failed, nothing to clear: no file
    # ASCII: a lone surrogate in a kept body replays as it was sent (UTF-8 cannot hold it)
    text = json.dumps({"version": 2, "examples": kept}, indent=2) + "\n"
    write_text_atomic(path, text)
    return len(kept)
