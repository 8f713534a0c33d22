"""The checks' side of the proxy: the worker (a process of its own, on idle CPU, that dies
with the proxy) that judges batches of exchanges, builds each from its plain parts, and
writes the running reports."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import functools
import hashlib
import json
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import (
    BrokenExecutor,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
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
from ..plan import Case
from ..report import Tally
from ..runner import Transport, curl_command
from ._state import ProxyState, _new_tally

if TYPE_CHECKING:
    from ..checks import CheckOutcome, ExchangeResult
    from ..contract import Contract, Profile
    from ._observe import Observer


__all__ = ["FULL_EVIDENCE_PASSING", "MAX_KEPT_REQUEST_BYTES", "Judge"]


#: Passing exchanges kept with all their evidence (a stream's first 40 events and last 5) by
#: each checks' process; after these, a passing stream keeps its first two events and its
#: last: a proxy in front of live traffic for days must not hold every good answer (34 KiB an
#: exchange before, in memory, and 15-20 KiB in each of report.json and report.html). A
#: failing exchange always keeps all its evidence.
FULL_EVIDENCE_PASSING = 100


def _load_worker(
    source: str,
    profile: Profile,
    parent: int | None = None,
    overlays: Sequence[str] = (),
    idle: bool = True,
) -> None:
    """The initializer of a checks process: its own copy of the contract, on idle CPU (or at
    nice 10: ``idle`` False), and a death tied to the proxy's."""
    from ..contract import load_contract

    global _PROCESS_WORKER
    if idle:
        _idle_priority()
    else:
        with contextlib.suppress(OSError, AttributeError):
            os.nice(10)
    if parent is not None:
        _die_with_parent(parent)
    _PROCESS_WORKER = _Worker(load_contract(source, profile=profile, overlays=overlays))


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


class _Worker:
    """What the checks keep between batches: the contract, a tally per proxy (for the running
    reports) and how many passing exchanges kept all their evidence. A checks process has one
    (:data:`_PROCESS_WORKER`, made by its initializer); a thread judge has its own."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.tallies: dict[str, Tally] = {}
        self.passing = 0

    def judge_all(
        self,
        batch: list[tuple[dict[str, Any], tuple[str, str]]],
        token: str = "",
        snapshot: dict[str, Any] | None = None,
        known: Tally | None = None,
    ) -> tuple[list[bytes | None], bool]:
        """Check each exchange of a batch: its parts are plain data, so they cross a process
        boundary as they are. Each result comes back packed (:func:`_packed`); None for one the
        checks crashed on.

        Given the proxy's ``snapshot`` (``flush_every`` set), the worker keeps its own tally
        of the results (``known``: the proxy's, for a worker that replaces a dead one) and
        writes the report when the results cross a multiple of ``flush_every``: here, not in
        the proxy, whose event loop stalled for hundreds of milliseconds while it built a
        report of thousands of exchanges (the GIL; benchmarks/RESULTS.md). Also says whether
        that write failed."""
        contract = self.contract
        # a tally of its own only when there are running reports to write
        if known is not None:
            self.tallies[token] = known
        kept = self.tallies.setdefault(token, _new_tally()) if snapshot else None
        before = kept.seen if kept is not None else 0
        out: list[bytes | None] = []
        for parts, operation in batch:
            result = self._judged(parts, operation)
            out.append(None if result is None else _packed(result))
            if result is not None and kept is not None:
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

    def _judged(self, parts: dict[str, Any], operation: tuple[str, str]) -> ExchangeResult | None:
        contract = self.contract
        try:
            op = contract.operation(*operation)
            exchange = _exchange(
                **parts, asks_stream=functools.partial(contract.wants_stream, operation=op)
            )
            result = check_exchange(contract, exchange, operation=op)
        except Exception:
            return None
        _cut_request(result, parts["body"], Scrubber(parts["secrets"]))
        if not any(o.status in ("fail", "error") for o in result.outcomes.values()):
            self.passing += 1
            events = result.evidence["response"].get("events")
            if self.passing > FULL_EVIDENCE_PASSING and events and len(events) > 3:
                result.evidence["response"]["events"] = events[:2] + events[-1:]
        return result


#: The worker of a checks process (set by its initializer, :func:`_load_worker`): the one
#: piece of module state, since a process pool calls plain functions.
_PROCESS_WORKER: _Worker | None = None


def _judge_all(
    batch: list[tuple[dict[str, Any], tuple[str, str]]],
    token: str = "",
    snapshot: dict[str, Any] | None = None,
    known: Tally | None = None,
) -> tuple[list[bytes | None], bool]:
    """:meth:`_Worker.judge_all` of this checks process's worker."""
    assert _PROCESS_WORKER is not None, "a checks process is made by _load_worker"
    return _PROCESS_WORKER.judge_all(batch, token, snapshot, known)


def _packed(result: ExchangeResult) -> bytes:
    """A result as the proxy takes it back: pickled on its own, so the proxy's event loop
    unpickles one at a time between the chunks it forwards (a batch unpickled whole by the
    executor's thread held the proxy's GIL for 6-16 ms at 64 exchanges), and with the
    outcomes that carry no failure shared where they are equal (a chat exchange's 46 outcomes
    are a dozen distinct ones: unpickling takes a fifth of the time)."""
    shared: dict[tuple[str, str | None, int], CheckOutcome] = {}
    outcomes = result.outcomes
    for check_id, outcome in outcomes.items():
        if not outcome.failures:
            key = (outcome.status, outcome.reason, outcome.suppressed)
            outcomes[check_id] = shared.setdefault(key, outcome)
    return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)


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


#: An exchange waiting for its batch: its plain parts, its operation, its model, its weight.
Queued = tuple[dict[str, Any], tuple[str, str], str | None, int]
#: What a batch brings back: each result packed (None: the checks crashed on it), and whether
#: writing a running report failed.
Judged = tuple[list[bytes | None], bool]


class Judge:
    """The checks of a proxy: exchanges queued, handed over in batches to a worker (a process
    of its own by default: the checks never hold the proxy's GIL; ``in_thread``: a thread with
    a worker of its own on the proxy's contract, for tests), their results added to ``state``'s tally and told to ``observer``. A worker that
    dies is replaced (the new one gets the tally, for its running reports)."""

    def __init__(
        self,
        *,
        contract: Contract,
        state: ProxyState,
        observer: Observer,
        in_thread: bool = False,
        idle: bool = True,
    ) -> None:
        self.contract = contract
        #: whether the checks process runs on idle CPU only (SCHED_IDLE): a machine kept busy
        #: by other work starves it, by design; False: nice 10
        self.idle = idle
        self.state = state
        self.observer = observer
        #: the thread's worker (None: a checks process, with a worker of its own)
        self.worker = _Worker(contract) if in_thread else None
        self.queue: list[Queued] = []
        #: this proxy's tally in a worker
        self.token = os.urandom(8).hex()
        self.resync = False  # the next batch brings the tally to a new worker
        self.stopped = False  # drained at shutdown: what the worker had is not judged
        #: batches handed over and not accounted yet: (their models, weight, the future
        #: settle() waits for), by the executor's future
        self.handed: dict[Future[Any], tuple[list[str | None], int, Future[None]]] = {}
        #: batches being taken in on the event loop (:meth:`_account`)
        self.accounting: set[asyncio.Task[None]] = set()
        self.executor = self._new_executor()

    def _new_executor(self) -> Executor:
        if self.worker is None:
            contract = self.contract
            return ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_load_worker,
                # the overlays given beside the profile's (--overlay): the worker's contract
                # is the proxy's
                initargs=(
                    contract.source,
                    contract.profile,
                    os.getpid(),
                    contract.overlays[len(contract.profile.overlays) :],
                    self.idle,
                ),
            )
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="conformance-checks")

    def enqueue(
        self,
        parts: dict[str, Any],
        operation: tuple[str, str],
        model: str | None,
        weight: int,
        max_backlog_bytes: int,
    ) -> int:
        """Queue an exchange for the next batch; the queue's length then, or 0 when the
        backlog is full (counted: forwarded, not judged)."""
        state = self.state
        with state.lock:
            if state.backlog_bytes and state.backlog_bytes + weight > max_backlog_bytes:
                state.behind += 1  # the checks fell behind: forwarded, not judged
                self.observer.event("behind")
                return 0
            state.backlog_bytes += weight
            self.queue.append((parts, operation, model, weight))
            state.queued += 1
            return len(self.queue)

    def submit_queued(self) -> None:
        """Hand the queued exchanges to the checks, as one batch (on the event loop)."""
        state = self.state
        with state.lock:
            batch = list(self.queue)
            self.queue.clear()
        if not batch:
            return
        items = [(parts, op) for parts, op, _, _ in batch]
        weight = sum(w for *_, w in batch)
        due = state.flush_every > 0 and state.report_dir is not None

        def submit() -> Future[Judged]:
            with state.lock:
                known = copy.deepcopy(state.tally) if self.resync and due else None
                self.resync = False
            snapshot = state.snapshot() if due else None
            judge_all = _judge_all if self.worker is None else self.worker.judge_all
            return self.executor.submit(judge_all, items, self.token, snapshot, known)

        try:
            try:
                future = submit()
            except BrokenExecutor:  # the checks' process died (killed, out of memory...)
                self.executor.shutdown(wait=False)
                self.executor = self._new_executor()
                with state.lock:
                    state.restarts += 1
                self.resync = True
                future = submit()
        except RuntimeError:  # shutting down: these are not judged
            with state.lock:
                state.queued -= len(batch)
                state.backlog_bytes -= weight
            return
        models = [model for _, _, model, _ in batch]
        accounted: Future[None] = Future()  # what settle() waits for
        with state.lock:
            self.handed[future] = (models, weight, accounted)
        loop = asyncio.get_running_loop()
        future.add_done_callback(functools.partial(self._back, loop))
        with state.lock:
            state.queued -= len(batch)
            state.pending = [f for f in state.pending if not f.done()] + [accounted]

    def _back(self, loop: asyncio.AbstractEventLoop, future: Future[Judged]) -> None:
        """A batch came back (in the executor's thread): its results are taken in on the
        event loop, which never waits for this thread's GIL (a batch of 64 held it for the
        unpickling and the tally: milliseconds, in which no chunk was forwarded)."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: the drain accounted
            loop.call_soon_threadsafe(self._take, future)

    def _take(self, future: Future[Judged]) -> None:
        task = asyncio.get_running_loop().create_task(self._account(future))
        self.accounting.add(task)
        task.add_done_callback(self.accounting.discard)

    async def _account(self, future: Future[Judged], *, at_once: bool = False) -> None:
        """Add a batch's results to the tally and tell the observer, one result at a time with
        the loop's other work between them (``at_once``: at shutdown)."""
        state, observe = self.state, self.observer
        with state.lock:
            handed = self.handed.pop(future, None)
        if handed is None:  # accounted by the drain already
            return
        models, weight, accounted = handed
        try:
            if future.cancelled():  # the proxy stopped before the checks reached them
                self._unjudged(models, weight)
                return
            try:
                packed, flush_failed = future.result()
            except Exception:  # a crash of the checks' process never reaches a client
                if self.stopped:  # the worker was stopped at shutdown: not judged
                    self._unjudged(models, weight)
                    return
                packed, flush_failed = [None] * len(models), False
            with state.lock:
                state.backlog_bytes -= weight
                state.check_errors += flush_failed
                observe.backlog_bytes(state.backlog_bytes)
            for one, model in zip(packed, models, strict=True):
                result: ExchangeResult | None = None if one is None else pickle.loads(one)
                with state.lock:
                    if result is None:  # the checks crashed on this one
                        state.check_errors += 1
                        observe.event("check_error")
                        continue
                    state.tally.add(result)
                    if model:
                        state.models[model] += 1
                observe.judged(result)
                if not at_once:
                    await asyncio.sleep(0)
        finally:
            accounted.set_result(None)

    async def drain(self, seconds: float) -> None:
        """At shutdown: the batches handed over get ``seconds`` to be judged; the rest are
        cancelled (counted as not judged) and the worker let go."""
        with self.state.lock:
            pending = list(self.handed)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, functools.partial(wait, pending, timeout=seconds))
        self.stopped = True
        # a worker still judging is stopped: on a busy machine (it runs on idle CPU only) the
        # proxy's exit waited for it, unbounded, after the report was written (Python 3.14 has
        # terminate_workers(); before, the executor's own list of its processes, read before
        # shutdown() forgets it)
        processes = list((getattr(self.executor, "_processes", None) or {}).values())
        self.executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(Exception):
                process.terminate()
        # what the worker gave back by now is taken in; the rest is counted as not judged
        # (the report is written next; a result that comes later finds it accounted)
        await loop.run_in_executor(None, functools.partial(wait, pending, timeout=1))
        for future in pending:
            if future.done():
                await self._account(future, at_once=True)
        if self.accounting:
            await asyncio.wait(list(self.accounting))
        with self.state.lock:
            left = list(self.handed.values())
            self.handed.clear()
        for models, weight, accounted in left:
            self._unjudged(models, weight)
            accounted.set_result(None)

    def _unjudged(self, models: list[str | None], weight: int) -> None:
        """A batch the shutdown left unjudged: counted as such, its weight given back."""
        with self.state.lock:
            self.state.backlog_bytes -= weight
            self.state.unjudged_at_shutdown += len(models)
