"""A lint finding, and its severities (shared by the lint rules' modules)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ERROR", "WARNING", "Finding"]

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    """One lint finding: the rule, its severity, where in the document, and what is wrong."""

    rule: str
    severity: str  # "error" | "warning"
    pointer: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "pointer": self.pointer,
            "message": self.message,
        }
