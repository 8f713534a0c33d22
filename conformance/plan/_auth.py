"""The auth cases: a valid request sent without the key and with a wrong one."""

from __future__ import annotations

from ._case import Case

__all__ = ["auth_cases"]


def auth_cases(model: str) -> list[Case]:
    """The auth cases: a valid request sent with no key and with a wrong key (each must get 401)."""
    hi = [{"role": "user", "content": "Hi"}]
    body = {"model": model, "messages": hi, "max_tokens": 8}
    return [
        Case(
            name="auth-missing", body=body, auth="none", expectation="unauthorized", source="auth"
        ),
        Case(name="auth-wrong", body=body, auth="wrong", expectation="unauthorized", source="auth"),
    ]
