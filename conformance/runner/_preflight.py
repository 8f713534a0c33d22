"""The preflight: before any case, one or two cheap requests tell a target that cannot be
checked as configured (a refused key, an unknown model, a wrong base URL, not an API) from one
that does not conform, so the budget is not spent blaming the server for the user's settings.

Both requests go through the same bounded sender as the cases (limits, size cap, bounded
decoding): a server that drips its ``/models`` body forever, or serves a gzip bomb there,
cannot hang the run or fill its memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from .._errors import TargetRefused, TargetUnreachable, UsageError
from .._util import is_json_media_type, strict_json
from ..exchange import error_message, redact_url
from ..plan import Case
from ._send import Limits, Transport, join_url, send

if TYPE_CHECKING:
    from ..exchange import Exchange

__all__ = ["Preflight", "preflight"]


@dataclass(frozen=True, kw_only=True)
class Preflight:
    """What the preflight learned: the model to pin and the models the server lists."""

    model: str
    models: tuple[str, ...]


def _is_html(exchange: Exchange) -> bool:
    content_type = exchange.response.content_type or ""
    return "html" in content_type.lower() or (exchange.response.body or b"").lstrip()[
        :15
    ].lower().startswith((b"<!doctype", b"<html"))


def _refused(exchange: Exchange, url: str, *, keyless: bool) -> None:
    """Raise :class:`TargetRefused` when ``exchange`` shows the target cannot be checked."""
    status = exchange.response.status
    if status in (401, 403):
        hint = (
            "; no key was given: set $CONFORMANCE_API_KEY or --api-key"
            if keyless
            else "; check the key (and --base-url)"
        )
        raise TargetRefused(
            f"the key was refused ({status} at {redact_url(url)}): {error_message(exchange.response)}{hint}"
        )
    if _is_html(exchange):
        raise TargetRefused(
            f"{redact_url(url)} answered an HTML page (HTTP {status}), not an API; is --base-url the API's "
            "base (e.g. https://api.example.com/v1)?"
        )


async def preflight(
    client: httpx.AsyncClient,
    *,
    base_url: str,
    api_key: str | None,
    model: str | None,
    path: str,
    limits: Limits,
    on_request: Callable[[], None] | None = None,
    transport: Transport = Transport(),
    models_path: str = "/models",
    documented_model: str | None = None,
) -> Preflight:
    """``GET /models`` (the models, and whether the key is accepted), then a one-token
    completion of the pinned model at ``path``. Raises :class:`TargetRefused` with the
    server's message when the key, the model or the path is refused, :class:`UsageError`
    when no model can be chosen."""
    base = base_url
    models_case = Case(name="preflight-models", method="GET", path=models_path, body=None)

    def sent(case: Case) -> Awaitable[Exchange]:
        return send(
            client,
            case,
            base_url=base,
            api_key=api_key,
            limits=limits,
            on_request=on_request,
            transport=transport,
        )

    listed = await sent(models_case)
    models_url = join_url(base, models_path)
    _refused(listed, models_url, keyless=not api_key)
    models = _model_ids(listed)
    chosen = model or (models[0] if models else None)
    if chosen is None and listed.response.status == 404 and models_path == "/models":
        root = join_url(base, "").split("?")[0].rstrip("/")
        if not root.endswith("/v1"):
            # the most common mistake: the base URL without its /v1; say so at once, when
            # /v1/models answers, not after --model is added and the completion 404s too
            again = await sent(dataclasses.replace(models_case, path="/v1/models"))
            if again.response.status == 200 and _model_ids(again):
                raise TargetRefused(
                    f"{redact_url(models_url)} answered 404, and {redact_url(root)}/v1/models "
                    f"lists models: did you mean --base-url {redact_url(root)}/v1?"
                )
    if chosen is None and listed.response.status in (404, 405) and documented_model:
        # the target lists no models (a document without a models endpoint, served as
        # written): the model the document's own examples name
        chosen = documented_model
    if chosen is None:
        raise UsageError(
            f"{redact_url(models_url)} lists no model (HTTP {listed.response.status}); name one with --model"
        )
    probe = Case(
        name="preflight-completion",
        path=path,
        body={"model": chosen, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1},
    )
    try:
        answered = await sent(probe)
    except TargetUnreachable:
        # The server listens (it answered /models) but not here, or not in time: that is the
        # cases' to judge (HTTP-COMPLETE-001), not a reason to stop.
        return Preflight(model=chosen, models=tuple(models))
    url = join_url(base, path)
    _refused(answered, url, keyless=not api_key)
    status = answered.response.status
    if status == 404:
        root = join_url(base, "").split("?")[0]
        hint = "" if root.endswith("/v1") else f"; did you mean {root}/v1?"
        raise TargetRefused(f"404 at {redact_url(url)}: {error_message(answered.response)}{hint}")
    if status in (400, 404, 422) and "model" in error_message(answered.response).lower():
        listed_text = f" (GET /models lists: {', '.join(models[:10])})" if models else ""
        raise TargetRefused(
            f"the model {chosen!r} was refused ({status}): {error_message(answered.response)}"
            f"{listed_text}; name another with --model"
        )
    return Preflight(model=chosen, models=tuple(models))


def _model_ids(exchange: Exchange) -> list[str]:
    if exchange.response.status != 200 or not is_json_media_type(
        exchange.response.content_type or "application/json"
    ):
        return []
    try:
        data = strict_json(exchange.response.body or b"")
    except ValueError:
        return []
    # {"data": [...]} as OpenAI's, or a bare array (several gateways): of objects with an id,
    # or of names
    items = data.get("data") if isinstance(data, dict) else data
    if isinstance(data, dict) and isinstance(data.get("id"), str) and items is None:
        return [data["id"]]  # one model object, as a single-model server answers (TGI)
    if not isinstance(items, list):
        return []
    return [
        m if isinstance(m, str) else m["id"]
        for m in items
        if isinstance(m, str) or (isinstance(m, dict) and isinstance(m.get("id"), str))
    ]
