"""Profiles: every shipped one valid against ``profile.schema.json`` and smoke-run with no
target; a misspelt key is an error that names the key and the file."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from conformance._resources import spec_dir
from conformance.contract import available_profiles, load_profile, profile_schema, read_document
from tests.helpers import cli, load_report


@pytest.mark.parametrize("name", available_profiles())
def test_every_shipped_profile_follows_the_schema(name: str) -> None:
    data = read_document(spec_dir() / "profiles" / f"{name}.yaml").data
    jsonschema.validate(data, profile_schema())
    assert load_profile(name).name == name


@pytest.mark.parametrize("name", available_profiles())
def test_every_shipped_profile_runs_against_its_embedded_server(tmp_path: Path, name: str) -> None:
    code, out, err = cli(
        "run",
        *("--profile", name, "--phases", "examples", "--max-requests", "8"),
        *("--report-dir", str(tmp_path)),
    )
    assert code in (0, 1), err  # a failure of the document's own defects, never an error
    report = load_report(tmp_path)
    assert report["contract"]["profile"] == name and report["summary"]["exchanges"] > 0, out


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "stream:\n  usage_placment: usage_chunk\n",
            "unknown key 'usage_placment' at /stream (the keys there: selector, sentinels, "
            "usage_placement)",
        ),
        ("operations:\n  - path: /x\n    famly: chat\n", "unknown key 'famly' at /operations/0"),
        (
            "operation:\n  path: /x\n  family: chatt\n",
            "at /operation/family: 'chatt' is not one of",
        ),
        ("stream:\n  sentinels: '[DONE]'\n", "at /stream/sentinels: '[DONE]' is not of type"),
        ("embeded: mock\n", "unknown key 'embeded' at /"),
    ],
)
def test_a_misspelt_profile_key_is_an_error_naming_the_key_and_the_file(
    tmp_path: Path, text: str, said: str
) -> None:
    profile = tmp_path / "mine.yaml"
    profile.write_text("spec: doc.yaml\n" + text, encoding="utf-8")
    code, _, err = cli("run", "--profile", str(profile), "--dry-run")
    assert code == 2
    assert err.startswith(f"conformance: error: profile '{profile}': {said}"), err
    assert "docs/profiles.md" in err and "Traceback" not in err


def test_the_main_operation_is_the_first_of_the_list_like_the_others(tmp_path: Path) -> None:
    """One `operations:` list: the first is the main operation, with the others' defaults
    (family generic, no stream unless said); the first form (`operation:` and `stream:`)
    still loads, to the same profile."""
    listed = tmp_path / "listed.yaml"
    listed.write_text(
        "spec: doc.yaml\noperations:\n"
        "  - {method: post, path: /v1/chat/completions, family: chat,\n"
        "     stream: {selector: /stream, usage_placement: usage_chunk}}\n"
        "  - {method: get, path: /v1/models, family: models}\n",
        encoding="utf-8",
    )
    first_form = tmp_path / "first.yaml"
    first_form.write_text(
        "spec: doc.yaml\noperation: {method: post, path: /v1/chat/completions}\n"
        "stream: {selector: /stream, usage_placement: usage_chunk}\n"
        "operations:\n  - {method: get, path: /v1/models, family: models}\n",
        encoding="utf-8",
    )
    one, other = load_profile(str(listed)), load_profile(str(first_form))
    fields = ("path", "family", "stream_selector", "usage_placement", "sentinels", "operations")
    assert [getattr(one, f) for f in fields] == [getattr(other, f) for f in fields]
    bare = tmp_path / "bare.yaml"
    bare.write_text("spec: doc.yaml\noperations:\n  - {method: post, path: /embed}\n")
    main = load_profile(str(bare))
    assert (main.family, main.stream_selector, main.more_operations) == ("generic", None, ())


def test_the_deepseek_profile_takes_thinking_mode_and_deepseek_2025_does_not_name_it() -> None:
    """DeepSeek today (DSTHINK, DSV4): `thinking` and `reasoning_effort` are request fields of
    the default profile, each value checked; the 2025 reference stays reachable as written."""
    from conformance.contract import load_contract, request_errors

    today = load_contract()
    before = load_contract(profile="deepseek-2025")
    body = {
        "model": "deepseek-v4-flash",
        "messages": [{"role": "user", "content": "Hi"}],
        "thinking": {"type": "disabled"},
        "reasoning_effort": "max",
    }
    assert not list(request_errors(today, body))
    for bad in ({"thinking": {"type": "on"}}, {"reasoning_effort": "huge"}):
        assert list(request_errors(today, {**body, **bad})), bad
    assert today.names_property(today.operation().request_schema, "thinking")
    assert not before.names_property(before.operation().request_schema, "thinking")
    assert [Path(o).name for o in before.overlays] == ["deepseek-errata.overlay.yaml"]
