"""Positives drawn by schemathesis (Hypothesis) from the request schema, made into requests a
client would send: documented properties only, short, frugal, keeping the cross-message
rules, valid.
"""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .._util import Kept, is_int
from ..contract import request_is_valid
from ._budget import OUTPUT_LIMITS
from ._case import MAX_BODY, MAX_CHOICES, MAX_CONTENT, Case, body_key, frugal, naming
from ._mutations import make_negative, mutations, object_schema, pick, schema_branches

if TYPE_CHECKING:
    from ..contract import Contract, Operation

__all__ = ["MODALITIES", "draw_positives", "generated_cases", "meaningful"]


#: The modalities ``--modalities`` names, and the content part types of each (a part of
#: another type, such as an assistant's ``refusal``, is text).
MODALITIES: dict[str, tuple[str, ...]] = {
    "text": ("text", "refusal"),
    "image": ("image_url",),
    "audio": ("input_audio",),
    "file": ("file",),
}

#: The most items a generated positive keeps in any array (messages, tool calls, tools...).
MAX_ITEMS = 3


def _documented_properties(contract: Contract, operation: Operation) -> list[str]:
    location = operation.request_schema
    return list(object_schema(contract, contract.schema(location))[1]) if location else []


def _allof_parts(node: Any, found: set[int]) -> None:
    """The ids of every allOf part, and of the schemas their ``$ref`` s point to."""
    if isinstance(node, dict):
        for part in node.get("allOf") or []:
            found.add(id(part))
        for value in node.values():
            _allof_parts(value, found)
    elif isinstance(node, list):
        for value in node:
            _allof_parts(value, found)


def _documented_only(document: dict[str, Any]) -> None:
    """In place: objects that list their properties take no others (for generation only), so
    positives carry no keys a strict server rejects ("Unrecognized request argument"). The
    parts of an allOf stay open: closing each would forbid the other parts' properties."""
    parts: set[int] = set()
    _allof_parts(document, parts)
    schemas = (document.get("components") or {}).get("schemas") or {}
    referenced = {
        id(schemas[ref.rsplit("/", 1)[-1]])
        for node in _walk(document)
        for part in node.get("allOf") or []
        if isinstance(part, dict)
        and isinstance(ref := part.get("$ref"), str)
        and ref.startswith("#/components/schemas/")
        and ref.rsplit("/", 1)[-1] in schemas
    }
    left_open = parts | referenced
    for node in _walk(document):
        if (
            isinstance(node.get("properties"), dict)
            and "additionalProperties" not in node
            and "allOf" not in node
            and id(node) not in left_open
        ):
            node["additionalProperties"] = False


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _within(body: Any, modalities: frozenset[str]) -> bool:
    """Whether every content part of ``body`` 's messages is of one of ``modalities`` (a
    text-only model rightly rejects image_url, input_audio and file parts)."""
    allowed = {kind for name in modalities for kind in MODALITIES.get(name, ())}
    known = {kind for kinds in MODALITIES.values() for kind in kinds}
    for message in body.get("messages") or [] if isinstance(body, dict) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind in known and kind not in allowed:
                return False
    return True


def _trimmed(value: Any) -> Any:
    """``value`` with every array cut to ``MAX_ITEMS``, every string to ``MAX_CONTENT``
    characters, and every integral float written as an integer (JSON Schema counts 6.0 as an
    integer, strict deserialisers do not): shallow, short bodies a person can replay, which a
    strict server accepts (the result is validated again)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _trimmed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trimmed(v) for v in value[:MAX_ITEMS]]
    if isinstance(value, str):
        return value[:MAX_CONTENT]
    return value


def _answer_tool_calls(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` made to keep the cross-message request rules, as a drawn positive must (a
    server that behaves like DeepSeek answered 400 to most drawn histories otherwise):

    - each assistant message's tool calls get distinct string ids, and are followed at once
      by one tool message per id (REQUEST-TOOL-ANSWERED-001): the drawn tool messages that
      follow it answer its calls in order, missing answers are added (content ``"{}"``),
      surplus ones dropped;
    - a tool message anywhere else answers no call (REQUEST-TOOL-ID-001): dropped;
    - a ``tool_choice`` that names a function names one of ``tools`` (REQUEST-TOOL-CHOICE-001):
      the first tool's, or ``tool_choice`` is left out when there is none to name.
    """
    messages = body.get("messages")
    if isinstance(messages, list):
        kept: list[Any] = []
        i = 0
        while i < len(messages):
            message = messages[i]
            i += 1
            if isinstance(message, dict) and message.get("role") == "tool":
                continue  # answers no call of the assistant message right before it
            kept.append(message)
            if not (isinstance(message, dict) and message.get("role") == "assistant"):
                continue
            calls = message.get("tool_calls")
            if not (isinstance(calls, list) and calls):
                continue
            ids: list[str] = []
            for n, call in enumerate(calls):
                if not isinstance(call, dict):
                    continue
                if not isinstance(call.get("id"), str) or call["id"] in ids:
                    call["id"] = f"call_{len(kept)}_{n}"
                ids.append(call["id"])
            answers = []
            while i < len(messages) and isinstance(messages[i], dict):
                if messages[i].get("role") != "tool":
                    break
                answers.append(messages[i])
                i += 1
            for n, ident in enumerate(ids):
                answer = answers[n] if n < len(answers) else {"role": "tool", "content": "{}"}
                kept.append({**answer, "tool_call_id": ident})
        body["messages"] = kept  # none left: the caller's base conversation (meaningful)
    choice = body.get("tool_choice")
    kinds = {t.get("type") for t in body.get("tools") or [] if isinstance(t, dict)}
    if isinstance(choice, dict) and choice.get("type") not in ("function", "allowed_tools", *kinds):
        del body["tool_choice"]  # a kind of tool that tools has none of
    elif isinstance(choice, dict) and choice.get("type") == "function":
        names = sorted(_tool_function_names(body.get("tools")))
        function = choice.get("function")
        named = function.get("name") if isinstance(function, dict) else choice.get("name")
        if names and named not in names:
            if isinstance(function, dict):
                body["tool_choice"] = {**choice, "function": {**function, "name": names[0]}}
            else:
                body["tool_choice"] = {**choice, "name": names[0]}
        elif not names:
            del body["tool_choice"]
    return body


def meaningful(
    body: dict[str, Any], base: dict[str, Any] | None, *, keep_nulls: bool = False
) -> dict[str, Any]:
    """A drawn ``body`` as a client would send it: optional fields left out rather than sent
    as null (``"name": null`` in a message, ``"prompt": null``: 400 on vLLM; the official SDKs
    omit what is not given; ``keep_nulls`` keeps them, for a body whose nulls are required),
    and ``base``'s inputs (the operation's example or smallest meaningful body) where the
    draw left them out or empty (``prompt: ""``: 400 or 500 on five servers; a ``/responses``
    body without ``input``). The result is validated by the caller."""
    out: dict[str, Any] = copy.deepcopy(body) if keep_nulls else _without_nulls(body)
    for name, value in (base or {}).items():
        if name == "messages" and out.get(name):
            continue  # drawn conversations are what chat positives explore
        if _degenerate(out.get(name)):
            out[name] = copy.deepcopy(value)
    return out


def _degenerate(value: Any) -> bool:
    """An input no client sends: nothing, an empty string or container, one holding an empty
    string, or token ids no vocabulary has (negative, or past a million)."""
    if value in (None, "", [], {}):
        return True
    if isinstance(value, list):
        return any(
            item == "" or (is_int(item) and not 0 <= item < 1_000_000) or _degenerate_list(item)
            for item in value
        )
    return False


def _degenerate_list(item: Any) -> bool:
    return isinstance(item, list) and (not item or _degenerate(item))


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _tool_function_names(tools: Any) -> list[str]:
    names = []
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if name is None and isinstance(tool, dict):
            name = tool.get("name")
        if isinstance(name, str):
            names.append(name)
    return names


#: schemathesis' schema of a contract's effective document, closed for generation: made once
#: per document and reused by every operation's draw (making it took 1.1 s of a 660 KB
#: document, for each of the 44 operations of Mistral's drawn from). A pure cache: the key is
#: what the document drawn from depends on.
_PREPARED: Kept[tuple[Any, ...], Any] = Kept(4)  # a few documents at a time (a session's)


def draw_positives(
    contract: Contract,
    count: int,
    seed: int,
    operation: Operation | None = None,
    part: str = "body",
    until: Callable[[Any], bool] | None = None,
) -> list[Any]:
    """Bodies (or the ``query`` dicts) schemathesis draws from the request schema and the
    parameters (repeatable by ``seed``), with every object closed to undocumented
    properties: up to ``count * 8`` of them, or fewer when ``until``, given each as it is
    drawn, says that is enough.

    Stopping early draws the same sequence, cut short (Hypothesis generates one example
    after the other from the seed and ``max_examples``, both unchanged): a caller that takes
    the first bodies it accepts gets the same ones, at the cost of what it needed.

    What a draw gave is kept for the process (by the contract's identity, the operation, the
    part, the seed and ``count``: all a draw depends on; the plan-fingerprint tests hold it
    across processes): planning again (a pytest session, ``conformance.run`` in a loop, the
    test suite) reads it back, copied, through ``until`` as a draw would, and draws again
    only when what is kept was cut short before ``until`` had enough."""
    operation = operation or contract.operation()
    key = (contract.identity, operation.label, part, seed, count)
    known = _DRAWN.get(key)  # read once: another thread may put a new one meanwhile
    taken: list[Any] = []
    if known is not None:
        kept, complete = known
        for value in kept:
            taken.append(_copied(value))
            if until is not None and until(taken[-1]):
                return taken
        if complete:
            return taken
    # drawn again from the start; ``until`` has seen the values read back, not again
    drawn, kept, complete = _draw(contract, count, seed, operation, part, until, len(taken))
    _DRAWN.put(key, (kept, complete))
    return taken + drawn[len(taken) :]


def _copied(value: Any) -> Any:
    """A drawn value that its taker can change (JSON; schemathesis' NOT_SET stays itself)."""
    return copy.deepcopy(value) if isinstance(value, (dict, list)) else value


#: Draws kept (:func:`draw_positives`): (the values as drawn, whether the draw ran to its
#: end), at most 20,000 values in all.
_DRAWN: Kept[tuple[Any, ...], tuple[list[Any], bool]] = Kept(
    20_000, weight=lambda draw: len(draw[0])
)


def _draw(
    contract: Contract,
    count: int,
    seed: int,
    operation: Operation,
    part: str,
    until: Callable[[Any], bool] | None,
    seen: int = 0,
) -> tuple[list[Any], list[Any], bool]:
    """Draw: the values (given to ``until``, but for the first ``seen``, and returned as they
    are), copies of them as drawn, and whether the draw ran to its end (``until`` never had
    enough)."""
    import warnings

    import schemathesis
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed
    from schemathesis import GenerationMode

    from ..contract import effective_document

    key = contract.identity
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = _PREPARED.get(key)
        if schema is None:
            document = effective_document(contract)
            _documented_only(document)
            schema = schemathesis.openapi.from_dict(document)
            _PREPARED.put(key, schema)
        api_operation = schema[operation.path][operation.method.upper()]
        strategy = api_operation.as_strategy(GenerationMode.POSITIVE)
    drawn: list[Any] = []
    kept: list[Any] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=count * 8,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,  # the stop below is no failure to report
    )
    @given(case=strategy)
    def draw(case: Any) -> None:
        if stopped:  # Hypothesis runs the example that "failed" once more: nothing to take
            raise _Enough
        value = getattr(case, part)
        drawn.append(value)
        kept.append(_copied(value))
        if until is not None and len(drawn) > seen and until(value):
            stopped.append(True)
            raise _Enough

    stopped: list[bool] = []
    with warnings.catch_warnings(), _no_local_constants():
        warnings.simplefilter("ignore")
        with contextlib.suppress(_Enough):
            draw()
    return drawn, kept, not stopped


class _Enough(Exception):
    """Raised in a draw to end it: the caller has what it needs."""


@contextlib.contextmanager
def _no_local_constants() -> Iterator[None]:
    """Draws that depend on the seed, the contract and the options only.

    Hypothesis mixes into what it draws constants it mines from the source of every "local"
    module loaded (one not in site-packages: an editable install of this package, the
    ``__main__`` script, the user's own code in a pytest session). The same ``--seed`` drew
    other bodies from ``pip install -e .`` than from ``pip install .``, and from
    ``python -m conformance._cli`` than from ``conformance``: a CI failure could not be
    replayed from a checkout. Hypothesis has no setting for it, so its private hook is
    replaced for the draw (and its cache of allowed constants cleared, before and after); a
    Hypothesis without that hook draws as it does, and the repeatability test says so."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:  # pragma: no cover - a Hypothesis without it mines nothing
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    cache = getattr(getattr(providers, "CONSTANTS_CACHE", None), "cache", None)
    if original is None or cache is None:  # pragma: no cover
        yield
        return
    empty = Constants()
    providers._get_local_constants = lambda: empty
    cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.clear()


def _output_capped(contract: Contract, operation: Operation, body: Any, max_tokens: int) -> Any:
    """``body`` with every other output limit its operation documents set to ``max_tokens``
    (or the schema's minimum for it, when higher): a drawn body without one lets a server
    write until its context is full."""
    if not isinstance(body, dict) or operation.request_schema is None:
        return body
    properties = object_schema(contract, contract.schema(operation.request_schema))[1]
    for name in OUTPUT_LIMITS[1:]:  # max_tokens is frugal's
        if name not in properties:
            continue
        floor = max(
            (
                b["minimum"]
                for b in schema_branches(contract, properties[name])
                if is_int(b.get("minimum"))
            ),
            default=0,
        )
        limit = max(max_tokens, floor)
        given = body.get(name)
        body = {**body, name: min(given, limit) if is_int(given) and given >= floor else limit}
    return body


def generated_cases(
    contract: Contract,
    *,
    count: int,
    seed: int,
    model: str,
    max_tokens: int,
    negative: bool = False,
    exclude: set[str] | None = None,
    modalities: frozenset[str] = frozenset({"text"}),
    operation: Operation | None = None,
    base: dict[str, Any] | None = None,
) -> list[Case]:
    """Bodies drawn by schemathesis from the effective request schema of ``operation``
    (default: the main one; repeatable by ``seed``), made meaningful (:func:`meaningful`:
    ``base``'s inputs where the draw left them out or empty, optional fields left out rather
    than null) and keeping the cross-message rules (:func:`_answer_tool_calls`).

    Positives (:func:`_positive`): documented properties, parts of ``modalities``, at most
    ``MAX_CHOICES`` choices, the model pinned, ``max_tokens`` capped, at most ``MAX_BODY``
    bytes, valid. Negatives: such a positive with one documented constraint broken (a
    mutation of :func:`mutations`, drawn by ``seed``), kept only when that is the one thing the
    contract rejects. Bodies whose :func:`body_key` is in ``exclude`` are not drawn again."""
    if count <= 0:
        return []
    main = contract.operation()
    operation = operation or main
    stamp = naming(contract, operation)
    catalogue = mutations(contract, operation)
    rng = random.Random(seed)
    cases: list[Case] = []
    seen: set[str] = set(exclude or ())
    documented = set(_documented_properties(contract, operation))

    def take(body: Any) -> bool:
        """Keep ``body`` as a case if it makes one; whether there are enough."""
        case = considered(body)
        if case is not None:
            cases.append(case)
        return len(cases) >= count

    def considered(drawn: Any) -> Case | None:
        body = _positive(
            contract,
            operation,
            drawn,
            base=base,
            model=model,
            max_tokens=max_tokens,
            documented=documented,
            modalities=modalities,
        )
        if body is None:
            return None
        name = f"{stamp['prefix']}property-{len(cases) + 1}"
        if negative:
            mutation = pick(catalogue, rng)
            negated = make_negative(contract, body, mutation, operation)
            if negated is None:
                return None
            body = negated
            name = f"{stamp['prefix']}negative-{len(cases) + 1}-{mutation.name}"
        key = body_key(body)
        if key in seen or len(key.encode()) > MAX_BODY:
            return None
        seen.add(key)
        return Case(
            name=name,
            body=body,
            expectation="reject" if negative else "accept",
            source="negative" if negative else "property",
            method=operation.method.upper(),
            path=operation.path,
            family=str(stamp["family"]),
        )

    if negative and not catalogue:
        return []
    draw_positives(contract, count, seed, operation, until=take)
    return cases


def _positive(
    contract: Contract,
    operation: Operation,
    drawn: Any,
    *,
    base: dict[str, Any] | None,
    model: str,
    max_tokens: int,
    documented: set[str],
    modalities: frozenset[str],
) -> dict[str, Any] | None:
    """The positive a drawn body makes (see :func:`generated_cases`), or None."""
    if not isinstance(drawn, dict) or not _within(drawn, modalities):
        return None
    # only documented properties (the schema's allOf parts cannot all be closed)
    documented_only = {k: _trimmed(v) for k, v in drawn.items() if k in documented}
    # optional fields left out rather than null; a required one (an assistant message's
    # nullable content) kept null when leaving it out is what the contract refuses
    for keep_nulls in (False, True):
        # the conversation made to keep the cross-message rules first: one left with no
        # message at all is then the base's (a lone tool message answers no call)
        body = _answer_tool_calls(copy.deepcopy(documented_only))
        body = meaningful(body, base, keep_nulls=keep_nulls)
        body = _answer_tool_calls(
            frugal(body, model=model, max_tokens=max_tokens, documented=documented)
        )
        capped: dict[str, Any] = _output_capped(contract, operation, body, max_tokens)
        if is_int(capped.get("n")) and capped["n"] > MAX_CHOICES:
            capped["n"] = MAX_CHOICES
        if request_is_valid(contract, capped, operation):
            return capped
    return None
