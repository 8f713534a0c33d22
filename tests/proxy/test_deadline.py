"""The one timer of an exchange (:class:`conformance.proxy._relay._Deadline`): a wait that runs
out cuts the exchange, progress keeps it alive, and the server stopping is never taken for a
wait that ran out."""

from __future__ import annotations

import asyncio

import pytest

from conformance.proxy._relay import _Deadline


def test_a_wait_that_runs_out_cuts_the_exchange_and_is_caught() -> None:
    async def exchange() -> tuple[str, int | None]:
        deadline = _Deadline(upstream_s=30, client_s=0.05)
        deadline.wait(_Deadline.CLIENT)
        try:
            await asyncio.sleep(30)  # a client that takes nothing
        except asyncio.CancelledError:
            assert deadline.caught()
            return "cut", deadline.expired
        finally:
            deadline.stop()
        return "not cut", None

    assert asyncio.run(exchange()) == ("cut", _Deadline.CLIENT)


def test_progress_keeps_an_exchange_alive_past_its_limits() -> None:
    """Each piece restarts the wait: an answer longer than both limits, never silent for
    either, is never cut (the timer ticks at most every min of them, and re-arms)."""

    async def exchange() -> int:
        deadline = _Deadline(upstream_s=0.5, client_s=0.4)
        pieces = 0
        try:
            for _ in range(100):  # a second in all, twice the limits
                deadline.wait(_Deadline.UPSTREAM)
                await asyncio.sleep(0.005)
                deadline.wait(_Deadline.CLIENT)
                await asyncio.sleep(0.005)
                pieces += 1
        finally:
            deadline.stop()
        return pieces

    assert asyncio.run(exchange()) == 100


@pytest.mark.parametrize("first", ["server", "deadline"])
def test_the_server_stopping_is_never_taken_for_a_wait_that_ran_out(first: str) -> None:
    """The server's cancellation goes on up, whether it came before the deadline ran out or
    after (as asyncio.timeout, the count of cancellations is taken at the start)."""

    async def exchange(deadline_box: list[_Deadline]) -> None:
        deadline = _Deadline(upstream_s=30, client_s=30)
        deadline_box.append(deadline)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            if not deadline.caught():
                raise
        finally:
            deadline.stop()

    async def main() -> bool:
        box: list[_Deadline] = []
        task = asyncio.ensure_future(exchange(box))
        await asyncio.sleep(0)  # the exchange starts and waits
        deadline = box[0]
        deadline.since -= 60  # its wait ran out...
        if first == "server":
            task.cancel()
            deadline._tick()
        else:
            deadline._tick()
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(main()), "the server's cancellation was swallowed"
