"""The tally: a report of any number of exchanges in bounded memory, and merges of replicas'
reports that equal one report of the same traffic."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.checks import CheckOutcome, ExchangeResult, Failure
from conformance.contract import Contract
from conformance.report import (
    ProxyCounts,
    Spread,
    Tally,
    build_report,
    dumps,
    merge_reports,
    proxy_note,
    report_of,
    report_schema,
)
from conformance.report._tally import EXACT_TIMINGS

OPERATION = "POST /chat/completions"


def _result(n: int, *, fail: bool = False, where: int = 0, error: bool = False) -> ExchangeResult:
    """A judged exchange: STREAM-DONE-001 passes or fails (at choice ``where``: choices 0 and 1
    fail alike, choice 2 against another keyword), BODY-SCHEMA-001 skips, FINISH-LENGTH-001
    errs."""
    done = CheckOutcome(status="pass")
    if fail:
        done = CheckOutcome(
            status="fail",
            failures=[
                Failure(
                    message=f"the stream of exchange {n} ended without [DONE]",
                    check_id="STREAM-DONE-001",
                    instance_path=f"/choices/{where}/finish_reason",
                    schema_path="/x" if where < 2 else "/y",
                    exchange=f"x-{n}",
                )
            ],
        )
    outcomes = {
        "STREAM-DONE-001": done,
        "BODY-SCHEMA-001": CheckOutcome(status="skip", reason="a stream has no body"),
    }
    if error:
        outcomes["FINISH-LENGTH-001"] = CheckOutcome(status="error", reason="boom")
    total = 0.001 * (1 + (n * 7919) % 997)  # spread over a millisecond to a second
    return ExchangeResult(
        exchange_id=f"x-{n}",
        status=200,
        stream=True,
        outcomes=outcomes,
        chunks=3,
        tokens=10,
        operation=OPERATION,
        evidence={
            "request": {"method": "POST", "url": "http://u/c", "headers": [], "body": {"n": n}},
            "response": {"status": 200, "headers": []},
            "interrupted": None,
            "reproduce": "curl ...",
            "violations": [],
            "timings": {
                "to_headers": total / 4,
                "to_first_event": None,
                "to_first_content": total / 2,
                "max_event_gap": None,
                "total": total,
            },
        },
    )


def _traffic(count: int, seed: int = 1) -> list[ExchangeResult]:
    draw = random.Random(seed)
    return [
        _result(n, fail=draw.random() < 0.2, where=draw.randrange(3), error=draw.random() < 0.01)
        for n in range(count)
    ]


def _bounded() -> Tally:
    return Tally(keep_passing=20, keep_failures=3)


def _report(contract: Contract, tally: Tally, replica: str = "a") -> Any:
    counts: ProxyCounts = {
        "replica": replica,
        "forwarded": tally.seen,
        "judged": tally.seen,
        "unclassified": 0,
        "upstream_errors": 0,
        "truncated": 0,
        "check_errors": 0,
        "restarts": 0,
        "behind": 0,
        "abandoned": 0,
        "stalled": 0,
        "cut_at_shutdown": 0,
        "unjudged_at_shutdown": 0,
        "in_flight": 0,
        "sample": 1.0,
        "sampled_out": 0,
    }
    return report_of(
        contract,
        tally,
        started_at="2026-12-02T00:00:00Z",
        duration_s=1.0,
        base_url="http://upstream",
        run={
            "requests_sent": tally.seen,
            "tokens_spent": tally.tokens,
            "cases_planned": tally.seen,
            "cases_skipped": [],
            "embedded_server": False,
            "shard": None,
            "notes": [proxy_note(counts, "http://upstream")],
            "proxy": counts,
        },
    )


def test_an_unbounded_tally_keeps_everything(deepseek: Contract) -> None:
    results = _traffic(300)
    report = build_report(deepseek, results, started_at="t", duration_s=0.0)
    assert [e["id"] for e in report["exchanges"]] == [r.exchange_id for r in results]
    done = next(c for c in report["checks"] if c["id"] == "STREAM-DONE-001")
    assert len(done["failures"]) == sum(
        r.outcomes["STREAM-DONE-001"].status == "fail" for r in results
    )
    assert "exchanges_omitted" not in report


def test_a_bounded_tally_keeps_a_fixed_amount_whatever_it_sees(deepseek: Contract) -> None:
    sizes = {}
    for count in (2_000, 20_000):
        tally = _bounded()
        for result in _traffic(count):
            tally.add(result)
        report = _report(deepseek, tally)
        done = next(c for c in report["checks"] if c["id"] == "STREAM-DONE-001")
        failed = sum(1 for r in _traffic(count) if r.outcomes["STREAM-DONE-001"].status == "fail")
        # every failure is counted; three are kept per deviation (the index does not count)
        assert len(done["failures"]) == 6
        assert len(done["failures"]) + done["suppressed_failures"] == failed
        assert done["exchanges"] == count and done["status"] == "fail"
        assert report["summary"]["exchanges"] == count
        assert len(report["exchanges"]) + report["exchanges_omitted"] == count
        assert len(report["exchanges"]) <= 20 + 6 + 3  # the sample, the failures, the errors
        assert {e["id"] for e in report["exchanges"]} >= {f["exchange"] for f in done["failures"]}
        assert report["run"]["timings"]["total"]["count"] == count
        import jsonschema

        jsonschema.validate(report, report_schema())
        sizes[count] = len(dumps(report))
    # ten times the traffic, the same report (within what the numbers' digits add)
    assert sizes[20_000] < sizes[2_000] * 1.5 and sizes[20_000] < 200_000


def test_the_sample_is_the_same_for_the_same_traffic(deepseek: Contract) -> None:
    kept = []
    for _ in range(2):
        tally = _bounded()
        for result in _traffic(3000):
            tally.add(result)
        kept.append([e["id"] for e in tally.exchanges()])
    assert kept[0] == kept[1] and len(set(kept[0])) == len(kept[0])


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(0, 100, allow_nan=False), max_size=2 * EXACT_TIMINGS + 50),
    cut=st.integers(0, 2 * EXACT_TIMINGS + 50),
)
def test_spreads_merge_into_the_spread_of_all_their_values(values: list[float], cut: int) -> None:
    whole, left, right = Spread(), Spread(), Spread()
    for v in values:
        whole.add(v)
    for v in values[:cut]:
        left.add(v)
    for v in values[cut:]:
        right.add(v)
    left.merge(Spread.from_data(json.loads(json.dumps(right.as_data()))))
    if values:
        assert left.percentiles() == whole.percentiles()


def test_percentiles_from_buckets_are_within_one_percent() -> None:
    draw = random.Random(3)
    values = [draw.lognormvariate(-3, 1) for _ in range(20_000)]
    spread = Spread()
    for v in values:
        spread.add(v)
    assert spread.values is None  # a histogram by now
    ordered = sorted(values)
    got = spread.percentiles()
    for p, name in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99")):
        exact = ordered[int(p * len(ordered)) - 1]
        assert abs(got[name] - exact) <= 0.01 * exact  # type: ignore[literal-required]
    assert got["max"] == max(values) and got["count"] == 20_000


def test_two_replicas_merged_equal_one_proxy_of_the_same_traffic(deepseek: Contract) -> None:
    traffic = _traffic(5_000)
    one, a, b = _bounded(), _bounded(), _bounded()
    for n, result in enumerate(traffic):
        one.add(result)
        (a if n % 3 else b).add(result)
    single = _report(deepseek, one, "one")
    merged = merge_reports([_report(deepseek, a, "a"), _report(deepseek, b, "b")])
    assert _counted(merged) == _counted(single)
    assert merged["run"]["proxy"]["replicas"] == ["a", "b"]
    assert merged["run"]["notes"][0].startswith("5000 request(s) forwarded")


def _counted(report: Any) -> Any:
    """Everything a report counts (not which evidence it kept)."""
    return {
        "verdict": report["verdict"],
        "level": report["level"],
        "summary": report["summary"],
        "total": len(report["exchanges"]) + report.get("exchanges_omitted", 0),
        "timings": report["run"]["timings"],
        "tokens": report["run"]["tokens_spent"],
        "proxy": {k: v for k, v in report["run"]["proxy"].items() if "replica" not in k},
        "checks": [
            {
                "id": c["id"],
                "status": c["status"],
                "exchanges": c["exchanges"],
                "exercised": c["exercised"],
                "failures": len(c["failures"]) + c["suppressed_failures"],
                "skips": c["skip_reasons"],
                "errors": c["errors"],
                "operations": c["operations"],
                "time_s": round(c["time_s"], 3),
            }
            for c in report["checks"]
        ],
    }
