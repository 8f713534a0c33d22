"""What a plan costs and how it is named: the token budget, the fingerprint, the plan line."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from .._util import is_int
from ._case import Case, body_key
from ._thinking import thinks

__all__ = ["TokenBudget", "describe_plan", "plan_fingerprint", "token_budget"]


@dataclass(frozen=True, kw_only=True, slots=True)
class TokenBudget:
    """What a plan may spend on a server that answers the valid cases and rejects the others:
    completion tokens (each valid case's ``max_tokens`` times its ``n``), an estimate of prompt
    tokens (a token per 4 bytes of message text), the cases with no cap, and the reasoning
    cases (a reasoning model's, or thinking mode asked for: a chain of thought ``max_tokens``
    may not bound, DSR1)."""

    completion: int
    prompt: int
    uncapped: int
    reasoning: int


#: The fields that cap what a request may generate (chat's, its newer name, the Responses API's).
OUTPUT_LIMITS = ("max_tokens", "max_completion_tokens", "max_output_tokens")


def token_budget(
    cases: list[Case],
    *,
    model: str,
    reasoner: str | None = None,
    unlimited: frozenset[str] = frozenset(),
) -> TokenBudget:
    """The :class:`TokenBudget` of ``cases`` (sent with ``model``; those of ``reasoner`` are
    the reasoning cases). A case without an output limit is counted as uncapped only when its
    operation documents one (``unlimited``: the "METHOD /path" of those that document none,
    an embedding's, which generate no text)."""
    completion = prompt = uncapped = reasoning = 0
    for case in cases:
        body = case.body
        if not isinstance(body, dict) or case.expectation != "accept":
            continue
        limit = next((body[k] for k in OUTPUT_LIMITS if is_int(body.get(k))), None)
        n = body.get("n")
        if limit is not None and limit > 0:
            completion += limit * (n if is_int(n) and n > 0 else 1)
        elif f"{case.method.upper()} {case.path}" not in unlimited:
            uncapped += 1
        if (reasoner is not None and body.get("model") == reasoner) or thinks(body):
            reasoning += 1
        prompt += len(json.dumps(body.get("messages"), ensure_ascii=False).encode()) // 4
    return TokenBudget(completion=completion, prompt=prompt, uncapped=uncapped, reasoning=reasoning)


def plan_fingerprint(cases: list[Case]) -> str:
    """A short hash of every case's method, target and body, in order: two runs that print the
    same fingerprint sent the same requests (the model and the key aside: the model is part of
    the bodies, the key never is)."""
    digest = hashlib.sha256()
    for case in cases:
        body = case.raw if case.raw is not None else body_key(case.body).encode()
        for part in (case.method.upper().encode(), case.target.encode(), body, case.auth.encode()):
            digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()[:16]


def describe_plan(
    cases: list[Case],
    *,
    model: str,
    seed: int,
    reasoner: str | None = None,
    unlimited: frozenset[str] = frozenset(),
) -> str:
    """One line: how many cases of each source, the model, the seed (to draw them again) and
    what the run may spend (:func:`token_budget`)."""
    sources: dict[str, int] = {}
    for case in cases:
        sources[case.source] = sources.get(case.source, 0) + 1
    parts = ", ".join(f"{source} {n}" for source, n in sources.items())
    budget = token_budget(cases, model=model, reasoner=reasoner, unlimited=unlimited)
    spend = f"at most {budget.completion:,} completion token(s)"
    if budget.uncapped:
        spend += f" (and {budget.uncapped} case(s) without max_tokens)"
    if budget.reasoning:
        spend += f", plus the reasoning of {budget.reasoning} reasoning-model case(s)"
    spend += f", about {budget.prompt:,} prompt token(s)"
    return (
        f"{len(cases)} case(s) planned ({parts}), model {model}, seed {seed}, plan "
        f"{plan_fingerprint(cases)}; {spend}"
    )
