"""The shape of report.json as Python types: the TypedDicts the report stage builds and reads.

``report.schema.json`` (beside this module) is the public contract of the same data; a test
validates every report the suite writes against it. Fields may be added, never renamed.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from .._vocab import Level, Severity, Status

__all__ = [
    "BaselineInfo",
    "CheckEntry",
    "ContractInfo",
    "ExchangeEntry",
    "FailureEntry",
    "LevelBlocker",
    "ProxyCounts",
    "Report",
    "ReportSummary",
    "RunInfo",
    "SpreadData",
    "SuiteInfo",
    "Target",
    "Verdict",
    "ViolationEntry",
    "WaiverEntry",
    "WaiverState",
]

#: ``none``: nothing was judged (a proxy that saw no traffic): no verdict of pass or fail.
Verdict = Literal["pass", "fail", "error", "none"]


class SuiteInfo(TypedDict):
    name: str
    version: str


class Target(TypedDict):
    base_url: str | None  # None: the embedded reference server, or recorded traffic
    model: str | None


class ContractInfo(TypedDict):
    spec: str
    sha256: str
    profile: str
    overlays: list[str]


class ReportSummary(TypedDict):
    checks_passed: int
    checks_failed: int
    checks_skipped: int
    checks_errored: int
    checks_waived: int
    checks_not_exercised: int  # applicable, but no exchange gave them anything to judge
    checks_not_applicable: int  # the contract does not describe what they judge
    checks_not_selected: NotRequired[int]  # left out of the run (--checks): not looked for
    checks_exercised: int
    exchanges: int


class FailureEntry(TypedDict):
    """A failure: the fields of :class:`~conformance.checks.Failure` (but the check id, which
    is its check's) and the schema excerpt."""

    message: str
    exchange: str
    instance_path: str | None
    schema_path: str | None
    chunk_index: int | None
    reproduce: str | None
    value: Any
    schema_excerpt: str | None


class WaiverState(TypedDict):
    reason: str
    expires: str  # an ISO date
    expired: bool


class CheckEntry(TypedDict):
    """One check in report.json: its metadata, its status over the exchanges, its failures."""

    id: str
    title: str
    severity: Severity
    category: str
    level: Level
    source: str
    status: Status
    exchanges: int  # exchanges the check looked at
    exercised: int  # of those, the ones in which it found what it judges (pass or fail)
    applicable: bool  # False: the contract does not describe what it judges
    failures: list[FailureEntry]
    suppressed_failures: int
    skip_reasons: list[str]
    errors: list[str]
    waiver: NotRequired[WaiverState]
    #: seconds spent on the exchanges it judged (their total times): JUnit's testcase time
    time_s: NotRequired[float]
    #: the check on each operation it looked at
    operations: NotRequired[list[OperationEntry]]
    #: False: left out of the run (``--checks``, ``--exclude-checks``, ``-k``): no evidence was
    #: sought, which is neither a pass nor "not exercised" (absent: selected)
    selected: NotRequired[bool]


class OperationEntry(TypedDict):
    """A check on one operation: the exchanges it looked at, judged, and failed."""

    operation: str
    exchanges: int
    exercised: int
    failed: int


class TimingsEntry(TypedDict):
    """Seconds from sending the request; None when not measured (recorded traffic)."""

    to_headers: float | None
    to_first_event: float | None
    to_first_content: float | None
    max_event_gap: float | None
    total: float | None


class Percentiles(TypedDict):
    """A timing over a run's exchanges (seconds): how many measured it, and its spread."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float


class ExchangeEntry(TypedDict):
    id: str
    operation: NotRequired[str | None]  # "POST /chat/completions"
    status: int
    stream: bool
    chunks: int
    tokens: int
    failed_checks: list[str]
    request: dict[str, Any] | None
    response: dict[str, Any]
    interrupted: str | None
    reproduce: str | None
    #: what the request breaks in the contract (a negative case), else empty
    violations: list[ViolationEntry]
    #: a failing generated case made smaller against the target: the same check still fails
    shrunk_body: NotRequired[dict[str, Any]]
    timings: NotRequired[TimingsEntry]


class ViolationEntry(TypedDict):
    instance_path: str
    keyword: str
    message: str
    schema_path: str | None


class RunInfo(TypedDict):
    requests_sent: int
    tokens_spent: int
    cases_planned: int
    cases_skipped: list[str]
    embedded_server: bool
    shard: str | None
    merged_shards: NotRequired[list[str | None]]
    replayed: NotRequired[int]  # cases replayed first from the examples database
    examples_kept: NotRequired[int]  # failing generated cases kept there for the next run
    #: what the user should know that is not a failure (an operation not exercised, ...)
    notes: NotRequired[list[str]]
    #: operations every case of which got 404/405/501: left out, their checks not applicable
    not_served: NotRequired[list[str]]
    #: a hash of every case sent (method, target, body): equal in two runs that sent the same
    plan_fingerprint: NotRequired[str]
    #: what stopped the sending before every case was sent ("--max-failures 3", the budget)
    stopped_by: NotRequired[str]
    #: the embedded server checked: "reference" (the reference server) or "mock" (the
    #: document's schema-driven mock)
    embedded: NotRequired[str]
    #: each timing of the exchanges (to_headers, to_first_content, total...) over the run
    timings: NotRequired[dict[str, Percentiles]]
    #: the timings' values (or histograms) when ``exchanges`` does not hold every exchange: what
    #: a merge adds up
    timing_data: NotRequired[dict[str, SpreadData]]
    #: a proxy's counts of the traffic it saw (``conformance proxy``)
    proxy: NotRequired[ProxyCounts]


class SpreadData(TypedDict):
    """A timing over many exchanges: its exact values, or its histogram (1 % buckets)."""

    count: int
    max: float
    values: NotRequired[list[float]]
    buckets: NotRequired[dict[str, int]]


class ProxyCounts(TypedDict):
    """What a proxy saw: every request it forwarded, and what became of each."""

    replica: str  # the proxy's name: the prefix of its exchange ids
    forwarded: int
    judged: int
    unclassified: int  # of no operation of the contract: forwarded, not judged
    upstream_errors: int  # answered 502 by the proxy
    truncated: int  # kept only in part (the size limit)
    check_errors: int
    restarts: int  # the checks' process died and another took over
    behind: int  # not judged: the checks fell behind the traffic
    abandoned: int  # the client left before the answer ended
    stalled: int  # the client stopped reading the answer
    cut_at_shutdown: int  # in flight when the proxy stopped
    unjudged_at_shutdown: int  # read whole, still waiting for the checks when it stopped
    in_flight: int  # in flight when the report was written (a running report, or at a signal)
    sample: float  # the fraction judged (--sample)
    sampled_out: int
    replicas: NotRequired[list[str]]  # a merge's replicas


class WaiverEntry(TypedDict):
    check: str
    reason: str
    expires: str
    state: Literal["active", "expired", "unused"]


class BaselineInfo(TypedDict):
    source: str
    waivers: list[WaiverEntry]


class LevelBlocker(TypedDict):
    """What kept a level from being granted: a check (failed, not exercised) or the run."""

    level: Level
    check: str | None
    reason: str


class Report(TypedDict):
    """report.json: the verdict, the level, every check, the evidence of every exchange."""

    report_version: int
    suite: SuiteInfo
    target: Target
    contract: ContractInfo
    verdict: Verdict
    level: Level | None
    level_blockers: list[LevelBlocker]
    summary: ReportSummary
    checks: list[CheckEntry]
    exchanges: list[ExchangeEntry]
    started_at: str
    duration_s: float
    seed: int | None
    fail_on: Severity
    run: NotRequired[RunInfo]
    baseline: NotRequired[BaselineInfo]
    partial: NotRequired[bool]  # a merge of some shards only (--allow-partial)
    #: exchanges judged (counted in every check and in ``summary.exchanges``) whose evidence
    #: was not kept: a long proxy run keeps a bounded sample
    exchanges_omitted: NotRequired[int]
