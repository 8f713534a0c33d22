"""The checks' side of the proxy: the worker (a process of its own, on idle CPU, that dies
with the proxy) that judges batches of exchanges, builds each from its plain parts, and
writes the running reports."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..checks import check_exchange
from ..exchange import (
    Exchange,
    Request,
    Scrubber,
    Timings,
    build_exchange,
    redact_url,
)
from ..report import Tally
from ..runner import Case, Transport, curl_command
from ._state import ProxyState, _new_tally

if TYPE_CHECKING:
    from ..checks import ExchangeResult
    from ..contract import Contract, Profile


__all__ = ["FULL_EVIDENCE_PASSING", "MAX_KEPT_REQUEST_BYTES"]


#: Passing exchanges kept with all their evidence (a stream's first 40 events and last 5) by
#: each checks' process; after these, a passing stream keeps its first two events and its
#: last: a proxy in front of live traffic for days must not hold every good answer (34 KiB an
#: exchange before, in memory, and 15-20 KiB in each of report.json and report.html). A
#: failing exchange always keeps all its evidence.
FULL_EVIDENCE_PASSING = 100


#: The worker's contract (its process's own copy, or the proxy's in thread mode).
_WORKER: dict[str, Any] = {}


def _load_worker(
    source: str, profile: Profile, parent: int | None = None, overlays: Sequence[str] = ()
) -> None:
    from ..contract import load_contract

    _idle_priority()
    if parent is not None:
        _die_with_parent(parent)
    _WORKER["contract"] = load_contract(source, profile=profile, overlays=overlays)


def _die_with_parent(parent: int) -> None:
    """The checks' process ends when the proxy (``parent``, its pid) does, however the proxy
    ended: a SIGKILLed proxy left its worker (and, through it, multiprocessing's resource
    tracker) running for minutes. Linux: the kernel sends SIGKILL when the parent dies
    (``PR_SET_PDEATHSIG``); everywhere: a thread that sees the process reparented exits it.
    The pid is the proxy's own, passed in: one read here could already be init's."""
    if os.getppid() != parent:  # the proxy died while this process was starting
        os._exit(0)
    with contextlib.suppress(OSError, AttributeError):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the call
            os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="conformance-parent-watch", daemon=True).start()


def _idle_priority() -> None:
    """The checks can wait; the bytes the clients wait for cannot. On Linux the worker runs
    under SCHED_IDLE: on the CPU time no other process wants, and off it as soon as one does.
    At nice 10 it still took the proxy's CPU in slices of a millisecond or two, most of the
    proxy's p99 at 16 streams, and a fifth of its throughput under saturation (nice 19 was no
    better; benchmarks/RESULTS.md). The checks then lag a busy machine, the backlog of kept
    copies bounded (``MAX_BACKLOG_BYTES``), and catch up when it eases. Elsewhere: nice 10."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (OSError, AttributeError):
        with contextlib.suppress(OSError, AttributeError):
            os.nice(10)


def _judge_all(
    batch: list[tuple[dict[str, Any], tuple[str, str]]],
    token: str = "",
    snapshot: dict[str, Any] | None = None,
    known: Tally | None = None,
) -> tuple[list[ExchangeResult | None], bool]:
    """Check each exchange of a batch (in the worker): its parts are plain data, so they cross
    a process boundary as they are. None for one the checks crashed on.

    Given the proxy's ``snapshot`` (``flush_every`` set), the worker keeps its own tally of the
    results (``known``: the proxy's, for a worker that replaces a dead one) and writes the
    report when the results cross a multiple of ``flush_every``: here, not in the proxy, whose
    event loop stalled for hundreds of milliseconds while it built a report of thousands of
    exchanges (the GIL; benchmarks/RESULTS.md). Also says whether that write failed."""
    contract: Contract = _WORKER["contract"]
    # a tally of its own only when there are running reports to write
    key = f"tally {token}"
    if known is not None:
        _WORKER[key] = known
    kept: Tally | None = _WORKER.setdefault(key, _new_tally()) if snapshot else None
    before = kept.seen if kept is not None else 0
    out: list[ExchangeResult | None] = []
    for parts, operation in batch:
        try:
            op = contract.operation(*operation)
            exchange = _exchange(
                **parts, asks_stream=functools.partial(contract.wants_stream, operation=op)
            )
            result = check_exchange(contract, exchange, operation=op)
        except Exception:
            out.append(None)
            continue
        _cut_request(result, parts["body"], Scrubber(parts["secrets"]))
        if not any(o.status in ("fail", "error") for o in result.outcomes.values()):
            _WORKER["passing"] = _WORKER.get("passing", 0) + 1
            events = result.evidence["response"].get("events")
            if _WORKER["passing"] > FULL_EVIDENCE_PASSING and events and len(events) > 3:
                result.evidence["response"]["events"] = events[:2] + events[-1:]
        out.append(result)
        if kept is not None:
            kept.add(result)
    every = snapshot["flush_every"] if snapshot else 0
    if snapshot is None or kept is None or kept.seen // every == before // every:
        return out, False
    elapsed = snapshot.pop("elapsed")
    state = ProxyState(
        contract=contract, clock=time.perf_counter() - elapsed, tally=kept, **snapshot
    )
    try:
        state.flush()
    except OSError:
        return out, True
    return out, False


#: The largest request body an exchange's evidence keeps (its report entry and replay): a
#: client's 16 MiB bodies were written twice each into report.json (755 MB for 15 of them).
MAX_KEPT_REQUEST_BYTES = 64 * 1024


def _cut_request(result: ExchangeResult, body: bytes, scrubber: Scrubber) -> None:
    """A large request body is judged whole and kept cut: its length, its sha256 and its
    first bytes (scrubbed of the client's secrets); the replay says what it left out."""
    if len(body) <= MAX_KEPT_REQUEST_BYTES:
        return
    digest = hashlib.sha256(body).hexdigest()
    request = result.evidence.get("request")
    if isinstance(request, dict):
        request["body"] = {
            "cut": f"{len(body)} bytes, not kept (more than {MAX_KEPT_REQUEST_BYTES})",
            "sha256": digest,
            "head": scrubber.scrub_bytes(body[:1024]).decode("utf-8", "replace"),
        }
    replay = (
        f"# the request body ({len(body)} bytes, sha256 {digest}) was not kept; "
        "replay it from the client's own log"
    )
    result.evidence["reproduce"] = replay
    for outcome in result.outcomes.values():
        outcome.failures[:] = [
            dataclasses.replace(f, reproduce=replay) if f.reproduce else f for f in outcome.failures
        ]


def _exchange(
    *,
    number: int,
    replica: str,
    method: str,
    url: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    status: int,
    response_headers: tuple[tuple[str, str], ...],
    kept: bytes,
    secrets: tuple[str, ...],
    timings: Timings,
    interrupted: str | None,
    transport: Transport,
    asks_stream: Callable[[Any], bool] = lambda body: False,
) -> Exchange:
    # a key in the query (``?key=...``) is kept out of the URL and the replay too
    scrubber = Scrubber(secrets)
    url, path = scrubber.scrub_text(url), redact_url(scrubber.scrub_text(path))
    try:
        parsed: Any = json.loads(body) if body else None
    except (ValueError, RecursionError):  # deep nesting: kept as text
        parsed = body.decode("utf-8", "replace")
    name = f"proxy-{replica}-{number}"
    case = Case(name=name, body=parsed, method=method, path=path)
    return build_exchange(
        id=name,
        request=Request.create(
            method=method,
            url=url,
            headers=[(k, scrubber.scrub_text(v)) for k, v in headers],
            body=parsed,
        ),
        status=status,
        headers=response_headers,
        body=kept,
        asked_stream=asks_stream(parsed),
        scrubber=scrubber,
        timings=timings,
        case=name,
        interrupted=interrupted,
        reproduce=curl_command(case, url, transport),
    )
