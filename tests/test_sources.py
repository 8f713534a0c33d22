"""Every source a check or an erratum cites is an entry of docs/sources.md."""

from __future__ import annotations

import fnmatch
import re

import pytest
import yaml

from conformance import CHECKS
from tests.helpers import CAPTURES, ROOT

SOURCES = ROOT / "docs" / "sources.md"
#: The shapes of a source id: document keys (DS25, OAI, WHATWG, ...), numbered seed defects
#: (B#N) and real-world bugs (D2#N).
ID = re.compile(
    r"\b(?:DS[A-Z0-9]+|OAI[A-Z]*|ANT[A-Z]*|OAS|SPEC|SEED|PROFILE|WHATWG|RFC ?\d+|D1)\b"
    r"|\bB#\d+\b|\bD2#\d+\b"
)
#: ``capture NAME`` or ``captures NAME, NAME`` (NAME* for every capture that starts so).
CAPTURE = re.compile(r"\bcaptures? ([a-z0-9][a-z0-9*-]*(?:, [a-z0-9][a-z0-9*-]*)*)")


def _entries() -> set[str]:
    return set(re.findall(r"^\| `([^`]+)` \|", SOURCES.read_text(encoding="utf-8"), re.M))


def _unresolved(text: str, entries: set[str]) -> list[str]:
    missing = [i.replace(" ", "") for i in ID.findall(text) if i.replace(" ", "") not in entries]
    for group in CAPTURE.findall(text):
        for name in group.split(", "):
            listed = fnmatch.filter(entries, name)
            if not listed or not all((CAPTURES / f"{n}.response.http").exists() for n in listed):
                missing.append(f"capture {name}")
    return missing


def _cited(text: str) -> bool:
    return bool(ID.search(text) or CAPTURE.search(text))


@pytest.mark.parametrize("check_id", list(CHECKS))
def test_every_check_source_resolves(check_id: str) -> None:
    source = CHECKS[check_id].source
    assert not _unresolved(source, _entries()), f"{check_id}: {source}"
    for part in source.split("; "):
        assert ID.match(part) or CAPTURE.match(part), (
            f"{check_id}: each '; '-separated citation starts with a source id: {part!r}"
        )


def _erratum_sources() -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "spec").glob("*.overlay.yaml")):
        for i, action in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))["actions"]):
            out.append((f"{path.name} action {i}", " ".join(action["description"].split())))
    return out


@pytest.mark.parametrize(("where", "description"), _erratum_sources())
def test_every_erratum_cites_sources_that_resolve(where: str, description: str) -> None:
    _, found, source = description.partition("Source")
    assert found and _cited(source), f"{where} has no 'Source:' with a source id"
    assert not _unresolved(description, _entries()), where


def test_every_capture_is_listed() -> None:
    entries = _entries()
    names = {p.name.removesuffix(".response.http") for p in CAPTURES.glob("*.response.http")}
    assert names and names <= entries


def test_an_unknown_id_does_not_resolve() -> None:
    entries = _entries()
    assert _unresolved("DS99 (nowhere); D2#999; capture no-such-capture", entries) == [
        "DS99",
        "D2#999",
        "capture no-such-capture",
    ]
    assert not _unresolved("DS25 stop; D2#7; captures deepseek-chat-stream*", entries)
