"""How the watch turns stream events into guard checks: merged while one runs, at most one per
`min_gap`, a failing stream retried on a new listen key, and a stop that lets a check finish.

The streams here are a scripted stand-in for `MarginStreams` (the bot's own interface, fed by
a queue); the real ccxt.pro streams against the paper exchange are in
tests/unattended/test_guard_stream.py."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from bot.config import Config
from bot.guard.watch import MarginWatch
from bot.model import State
from bot.venues.streams import AccountChanged, MarksMoved, StreamEvent
from tests.markets import ETH_PERP
from tests.unit.test_guard_estimate import NOW, hedge, short, venue
from tests.waiting import DEADLINE
from tests.waiting import until as wait_until

ETH = ETH_PERP.symbol


class ScriptedStreams:
    """One venue's channels, each delivering what the test puts on its queue (an exception
    is raised from the watch call, as a dropped socket would)."""

    def __init__(self) -> None:
        self.families = {"linear": [ETH]}
        self.queues: dict[str, asyncio.Queue[StreamEvent | Exception]] = {
            "linear balance": asyncio.Queue(),
            "linear positions": asyncio.Queue(),
            "linear mark prices": asyncio.Queue(),
        }
        self.resets: list[str] = []

    def channels(self):  # type: ignore[no-untyped-def]
        def channel(queue):  # type: ignore[no-untyped-def]
            async def next_event() -> StreamEvent:
                item = await queue.get()
                if isinstance(item, Exception):
                    raise item
                return item

            return next_event

        return {name: channel(queue) for name, queue in self.queues.items()}

    def reset(self, family: str) -> None:
        self.resets.append(family)


def config() -> Config:
    return Config.model_validate(
        {
            "venues": {"paper": {"exchange": "binance", "paper": True}},
            "hedges": {"eth": hedge(ETH).model_dump(mode="json")},
            "alerts": {"danger_margin_ratio": "0.25"},
        }
    )


class Checks:
    def __init__(self, hold: asyncio.Event | None = None) -> None:
        self.reasons: list[str] = []
        self.hold = hold
        self.running = asyncio.Event()

    async def __call__(self, venue: str, why: str) -> None:
        self.reasons.append(why)
        self.running.set()
        if self.hold is not None:
            await self.hold.wait()


async def until(condition) -> None:  # type: ignore[no-untyped-def]
    await wait_until(condition, "the watch reached the expected state")


def trusted_at_ratio_030() -> State:
    """A short of 1 ETH at 2000 with 600 USDT of margin (ratio 0.30), as last read."""
    return State(
        read_at=NOW, venues={"paper": venue(ETH_PERP, short(ETH_PERP, "1", "2000"), "600")}
    )


async def test_a_mark_past_the_line_wakes_one_check_and_ticks_in_between_are_merged() -> None:
    streams = ScriptedStreams()
    checks = Checks()
    watch = MarginWatch(config(), lambda: {"paper": streams}, checks, min_gap=0.3)
    watch.observe(trusted_at_ratio_030())
    runner = asyncio.create_task(watch.run())
    await until(lambda: watch.following() == ["paper"])
    marks = streams.queues["linear mark prices"]
    await marks.put(MarksMoved("paper", {ETH: D("2010")}))  # 0.2935: nothing to do
    await asyncio.sleep(0.05)
    assert checks.reasons == []
    await marks.put(MarksMoved("paper", {ETH: D("2100")}))  # 0.2381: under 0.25
    await until(lambda: len(checks.reasons) == 1)
    assert "under 0.25" in checks.reasons[0]
    # an account change right after: within min_gap, so it waits, then one check covers it
    await streams.queues["linear balance"].put(AccountChanged("paper", "linear", "balance"))
    await streams.queues["linear positions"].put(AccountChanged("paper", "linear", "positions"))
    await until(lambda: len(checks.reasons) == 2)
    assert "linear balance changed" in checks.reasons[1]
    await asyncio.sleep(0.4)
    assert len(checks.reasons) == 2  # the second change was merged into that check
    await watch.stop()
    runner.cancel()


async def test_a_failing_stream_asks_for_a_new_listen_key_and_rereads_when_back() -> None:
    streams = ScriptedStreams()
    checks = Checks()
    watch = MarginWatch(
        config(), lambda: {"paper": streams}, checks, min_gap=0.0, backoff=(0.01, 0.05)
    )
    watch.observe(trusted_at_ratio_030())
    runner = asyncio.create_task(watch.run())
    await until(lambda: watch.following() == ["paper"])
    balance = streams.queues["linear balance"]
    await balance.put(ConnectionResetError("socket closed"))
    await balance.put(ConnectionResetError("socket closed"))
    await until(lambda: streams.resets == ["linear", "linear"])
    assert checks.reasons == []
    await balance.put(AccountChanged("paper", "linear", "balance"))
    await until(lambda: len(checks.reasons) >= 1)
    assert "stream back" in checks.reasons[0]
    # the mark stream failing needs no new key
    await streams.queues["linear mark prices"].put(ConnectionResetError("gone"))
    await asyncio.sleep(0.05)
    assert streams.resets == ["linear", "linear"]
    await watch.stop()
    runner.cancel()


async def test_stop_lets_a_running_check_finish_and_starts_no_other() -> None:
    streams = ScriptedStreams()
    hold = asyncio.Event()
    checks = Checks(hold)
    watch = MarginWatch(config(), lambda: {"paper": streams}, checks, min_gap=0.0)
    watch.observe(trusted_at_ratio_030())
    runner = asyncio.create_task(watch.run())
    await until(lambda: watch.following() == ["paper"])
    await streams.queues["linear balance"].put(AccountChanged("paper", "linear", "balance"))
    await checks.running.wait()
    busy = await watch.stop()
    assert len(busy) == 1  # the check under way, for the caller's bounded wait
    await streams.queues["linear positions"].put(AccountChanged("paper", "linear", "positions"))
    hold.set()
    await asyncio.wait(busy, timeout=DEADLINE)
    assert all(task.done() for task in busy)
    assert len(checks.reasons) == 1
    runner.cancel()


async def test_without_a_trusted_read_the_first_mark_asks_for_one_and_not_at_every_tick() -> None:
    streams = ScriptedStreams()
    checks = Checks()
    watch = MarginWatch(config(), lambda: {"paper": streams}, checks, min_gap=0.0)
    runner = asyncio.create_task(watch.run())
    await until(lambda: watch.following() == ["paper"])
    marks = streams.queues["linear mark prices"]
    for price in ("2000", "2001", "2002"):
        await marks.put(MarksMoved("paper", {ETH: D(price)}))
    await until(lambda: len(checks.reasons) == 1)
    await asyncio.sleep(0.05)
    assert checks.reasons == ["no trusted read yet"]
    await watch.stop()
    runner.cancel()
