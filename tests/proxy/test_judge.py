"""The checks' side of the proxy (conformance/proxy/_judge.py): what a batch brings back is
taken in on the event loop one result at a time, with the loop's other work between them."""

from __future__ import annotations

import asyncio
import json
import pickle
from concurrent.futures import Future
from typing import Any

from conformance.contract import load_contract
from conformance.exchange import Timings
from conformance.proxy import create_proxy_app
from conformance.runner import Transport


def _parts(number: int) -> dict[str, Any]:
    """A relayed exchange as the relay hands it over: a short, good DeepSeek stream."""
    base = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    frames = []
    for i in range(3):
        delta = {"role": "assistant", "content": "hi"} if i == 0 else {"content": "hi"}
        choice = {"index": 0, "delta": delta, "finish_reason": "stop" if i == 2 else None}
        chunk = {**base, "system_fingerprint": "fp", "choices": [choice]}
        frames.append(f"data: {json.dumps(chunk)}\n\n")
    frames.append("data: [DONE]\n\n")
    body = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "Hi"}]}
    return {
        "number": number,
        "replica": "r",
        "method": "POST",
        "url": "http://upstream/chat/completions",
        "path": "/chat/completions",
        "headers": [("content-type", "application/json")],
        "body": json.dumps({**body, "stream": True}).encode(),
        "status": 200,
        "response_headers": (("content-type", "text/event-stream"),),
        "kept": "".join(frames).encode(),
        "secrets": (),
        "timings": Timings(to_headers=0.01, to_first_event=0.02, max_event_gap=0.01, total=0.1),
        "interrupted": None,
        "transport": Transport(),
    }


def test_a_batch_is_taken_in_one_result_at_a_time_with_other_work_between() -> None:
    """A batch of 64 taken in at once held the proxy's GIL for milliseconds, when no chunk
    moved; now the loop runs its other callbacks between two results."""
    app = create_proxy_app(
        contract=load_contract(), upstream="http://127.0.0.1:9", judge_in="thread"
    )
    judge, state = app.judge, app.state
    assert judge.worker is not None
    batch = [(_parts(n), ("POST", "/chat/completions")) for n in range(5)]
    packed, failed = judge.worker.judge_all(batch)
    assert all(isinstance(one, bytes) for one in packed) and not failed
    one = pickle.loads(packed[0])  # each result on its own, its equal outcomes shared
    assert len({id(o) for o in one.outcomes.values()}) < len(one.outcomes)
    done: Future[Any] = Future()
    done.set_result((packed, failed))
    accounted: Future[None] = Future()
    judge.handed[done] = (["deepseek-chat"] * 5, 5000, accounted)
    state.backlog_bytes = 5000
    seen_between: list[int] = []

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(judge._account(done))
        await asyncio.sleep(0)  # the task takes its first result in, then lets the loop go
        seen_between.append(state.tally.seen)
        await task

    asyncio.run(main())
    judge.executor.shutdown()
    assert seen_between == [1] and state.tally.seen == 5 and accounted.done()
    assert state.backlog_bytes == 0 and state.models["deepseek-chat"] == 5
    assert not judge.handed  # accounted once: a late call finds nothing to count again
