"""Named events (OAS 3.2 ``itemSchema``): the ``event:`` field selects the schema of an event's
data; an event the document does not name fails; the mock streams each named event."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.contract import load_contract
from conformance.reference import DEFAULT_API_KEY, create_mock_app, serve_in_thread
from tests.helpers import CHAT_PATH, cli, load_report

#: A job whose progress streams as named events (written for these tests), beside chat.
DOCUMENT = (
    """
openapi: 3.2.0
info: {title: jobs, version: "1"}
paths:
"""
    + CHAT_PATH
    + """  /jobs/{job_id}/events:
    get:
      parameters:
        - {name: job_id, in: path, required: true, schema: {type: string}, example: job-1}
      responses:
        "200":
          description: the job's events
          content:
            text/event-stream:
              itemSchema:
                type: object
                required: [event, data]
                oneOf:
                  - properties:
                      event: {const: progress}
                      data:
                        type: string
                        contentMediaType: application/json
                        contentSchema: {$ref: "#/components/schemas/Progress"}
                  - properties:
                      event: {const: done}
                      data:
                        type: string
                        contentMediaType: application/json
                        contentSchema: {$ref: "#/components/schemas/Done"}
components:
  schemas:
    Progress:
      type: object
      required: [percent]
      properties: {percent: {type: integer}}
    Done:
      type: object
      required: [result]
      properties: {result: {type: string}}
"""
)
EVENTS = "GET /jobs/{job_id}/events"


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jobs") / "jobs.yaml"
    path.write_text(DOCUMENT)
    return path


def test_each_named_branch_of_the_item_schema_is_read(document: Path) -> None:
    stream = load_contract(str(document)).operation("get", "/jobs/{job_id}/events")
    spec = stream.responses["200"][0].stream
    assert spec is not None
    names = [name for name, _ in spec.named_events]
    assert names == ["progress", "done"]
    assert spec.data_schema_for("done") != spec.data_schema_for("progress")
    assert spec.data_schema_for("other") is None  # the document names its events


def test_the_mock_streams_the_named_events_and_the_run_passes(
    document: Path, tmp_path: Path
) -> None:
    contract = load_contract(str(document))
    with serve_in_thread(create_mock_app(contract=contract)) as url:
        code, out, _ = cli(
            "run",
            *("--spec", str(document), "--base-url", url, "--api-key", DEFAULT_API_KEY),
            *("--model", "m", "--operation", EVENTS, "--report-dir", str(tmp_path)),
        )
    assert code == 0, out
    report = load_report(tmp_path)
    assert {e["request"]["url"].split("/", 3)[3] for e in report["exchanges"]} == {
        "jobs/job-1/events"
    }
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["STREAM-CHUNK-SCHEMA-001"] == "pass"


@pytest.mark.parametrize(
    ("events", "failure"),
    [
        (b'event: progress\ndata: {"percent": 5}\n\nevent: done\ndata: {"result": "ok"}\n\n', None),
        (b'event: done\ndata: {"percent": 5}\n\n', "'result' is a required property"),
        (
            b'event: other\ndata: {"percent": 5}\n\n',
            "event 'other' is not an event the document describes ('progress', 'done')",
        ),
        (
            b'data: {"percent": 5}\n\n',
            "event 'message' is not an event the document describes",
        ),
    ],
)
def test_the_event_field_selects_the_schema(
    document: Path, tmp_path: Path, events: bytes, failure: str | None
) -> None:
    recording = tmp_path / "events.http"
    recording.write_bytes(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n" + events)
    code, out, _ = cli(
        "validate",
        str(recording),
        *("--spec", str(document), "--operation", EVENTS),
        *("--report-dir", str(tmp_path / "report")),
    )
    if failure is None:
        assert code == 0, out
    else:
        assert code == 1 and "FAIL STREAM-CHUNK-SCHEMA-001" in out and failure in out, out
