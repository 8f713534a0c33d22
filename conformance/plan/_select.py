"""Choosing what runs: phases (where cases come from), checks (by id or category), and the
cases a selection of checks needs, so that ``--checks STREAM-DONE-001`` sends streams only.

A case is needed when one selected check can judge it: the check judges what the case's
request expects (``Check.judges``), reads its kind of response (a stream rule needs a stream,
a JSON-body check a body), and the request asks for the feature the check is about. The last
is read from the response property names a check ``requires``; a property a request turns on
by another name is mapped below. Selecting more than needed is harmless (a check that finds
nothing to judge says "not exercised"); selecting less would starve it, so the mapping errs on
the side of sending.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._errors import UsageError
from .._vocab import LEVELS, CaseSource

if TYPE_CHECKING:
    from ..checks import Check
    from ._case import Case

__all__ = ["PHASES", "needed_by", "parse_phases", "select_checks", "select_operations"]

#: ``--phases`` names, and the cases (by source) each one plans (schemathesis' spirit).
PHASES: dict[str, CaseSource] = {
    "examples": "example",
    "scenarios": "scenario",
    "property": "property",
    "negative": "negative",
    "auth": "auth",
}
#: The request property a case carries when the response property a check requires can
#: appear (chat completions: a tool call needs ``tools``...). Properties not listed (usage
#: counters, reasoning) can appear in any answer.
_ASKED_BY = {
    "tool_calls": "tools",
    "logprobs": "logprobs",
    "stop": "stop",
    "response_format": "response_format",
}


def parse_phases(text: str) -> frozenset[CaseSource]:
    """``--phases a,b`` as the case sources they plan; :class:`UsageError` on an unknown one."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PHASES]
    if unknown or not names:
        raise UsageError(
            f"--phases {text!r}: "
            + (f"unknown {', '.join(unknown)}; " if unknown else "")
            + f"give a comma-separated list of {', '.join(PHASES)}"
        )
    return frozenset(PHASES[n] for n in names)


def select_checks(
    include: Iterable[str], exclude: Iterable[str], checks: dict[str, Check]
) -> frozenset[str] | None:
    """The check ids ``--checks`` and ``--exclude-checks`` leave (ids, categories or levels,
    comma separated, case-insensitive: what ``conformance checks`` lists); None when neither
    was given (every check)."""
    include, exclude = list(include), list(exclude)
    if not include and not exclude:
        return None
    categories = sorted({c.category for c in checks.values()})

    def resolve(values: list[str], flag: str) -> set[str]:
        out: set[str] = set()
        for value in (v.strip() for text in values for v in text.split(",")):
            if not value:
                continue
            matched = {
                i
                for i, c in checks.items()
                if value.upper() == i or value.lower() in (c.category, c.level)
            }
            if not matched:
                raise UsageError(
                    f"{flag} {value!r} is not a check id, a category or a level (categories: "
                    f"{', '.join(categories)}; levels: {', '.join(LEVELS)}; the ids: "
                    "'conformance checks')"
                )
            out |= matched
        return out

    chosen = resolve(include, "--checks") if include else set(checks)
    chosen -= resolve(exclude, "--exclude-checks")
    if not chosen:
        raise UsageError("--checks and --exclude-checks leave no check to run")
    return frozenset(chosen)


def select_operations(
    certified: Iterable[str],
    operations: Iterable[str],
    include_paths: Iterable[str],
    exclude_paths: Iterable[str],
) -> frozenset[str] | None:
    """The operations (``GET /models``) ``--operation``, ``--include-path`` and
    ``--exclude-path`` leave of the ``certified`` ones; None when none was given (all)."""
    certified = list(certified)
    operations, include, exclude = list(operations), list(include_paths), list(exclude_paths)
    if not operations and not include and not exclude:
        return None
    known = ", ".join(repr(label) for label in certified)
    chosen = set(certified)
    if operations:
        wanted = set()
        for text in operations:
            method, _, path = text.strip().partition(" ")
            label = f"{method.upper()} {path.strip()}"
            if label not in certified:
                raise UsageError(
                    f"--operation {text!r} is not an operation the profile certifies ({known})"
                )
            wanted.add(label)
        chosen = wanted
    paths = {label.split(" ", 1)[1] for label in certified}
    for flag, values in (("--include-path", include), ("--exclude-path", exclude)):
        unknown = sorted(set(values) - paths)
        if unknown:
            raise UsageError(f"{flag} {unknown[0]!r} is not a path the profile certifies ({known})")
    if include:
        chosen = {label for label in chosen if label.split(" ", 1)[1] in include}
    chosen = {label for label in chosen if label.split(" ", 1)[1] not in exclude}
    if not chosen:
        raise UsageError("--operation, --include-path and --exclude-path leave no operation")
    return frozenset(chosen)


def _asks(body: Any, name: str) -> bool:
    request_name = _ASKED_BY.get(name)
    if request_name is None:
        return True
    return isinstance(body, dict) and body.get(request_name) not in (None, False, [], "")


def needed_by(case: Case, checks: Iterable[Check]) -> bool:
    """Whether one of ``checks`` can judge the answer to ``case``."""
    for check in checks:
        if case.expectation not in check.judges:
            continue
        if check.families is not None and case.family not in check.families:
            continue
        if case.stream and check.rule is None and check.run_on == "json":
            continue  # it reads a JSON body, a stream has none
        if not case.stream and check.run is None:
            continue  # a stream rule
        if all(_asks(case.body, name) for name in check.requires):
            return True
    return False
