"""How the watch turns stream events into guard checks: merged while one runs, at most one per
`min_gap`, a failing stream retried on a new listen key, and a stop that lets a check finish.

The streams here are a scripted stand-in for `MarginStreams` (the bot's own interface, fed by
a queue); the real ccxt.pro streams against the paper exchange are in
tests/unattended/test_guard_stream.py."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from typing import Any

import pytest

from bot.config import Config
from bot.guard.watch import JOIN_EVERY_SECONDS, MarginWatch
from bot.model import State
from bot.venues.streams import AccountChanged, MarksMoved, StreamDown, StreamEvent, Subscribed
from tests.guard.test_estimate import NOW, hedge, short, venue
from tests.markets import ETH_PERP
from tests.waiting import DEADLINE
from tests.waiting import until as wait_until

ETH = ETH_PERP.symbol


class ScriptedStreams:
    """One venue's channels, each delivering what the test puts on its queue (an exception
    is raised from the watch call, as a dropped socket would). Each channel counts the items
    put and the times the watch asked for the next one: when it asks again, it has handled
    everything before."""

    def __init__(self) -> None:
        self.families = {"linear": [ETH]}
        self.queues: dict[str, asyncio.Queue[StreamEvent | Exception]] = {
            "linear balance": asyncio.Queue(),
            "linear positions": asyncio.Queue(),
            "linear mark prices": asyncio.Queue(),
        }
        self.put_count = dict.fromkeys(self.queues, 0)
        self.asked = dict.fromkeys(self.queues, 0)
        self.resets: list[str] = []

    def channels(self):  # type: ignore[no-untyped-def]
        def channel(name):  # type: ignore[no-untyped-def]
            async def next_event() -> StreamEvent:
                self.asked[name] += 1
                item = await self.queues[name].get()
                if isinstance(item, Exception):
                    raise item
                return item

            return next_event

        return {name: channel(name) for name in self.queues}

    def put(self, name: str, item: StreamEvent | Exception) -> None:
        self.put_count[name] += 1
        self.queues[name].put_nowait(item)

    async def handled(self) -> None:
        """Until the watch has taken and handled every item put on every channel."""
        await wait_until(
            lambda: all(self.asked[n] == self.put_count[n] + 1 for n in self.queues),
            f"the watch handled every streamed item ({self.put_count}, asked {self.asked})",
        )

    def reset(self, family: str) -> None:
        self.resets.append(family)


class FakeTime:
    """The watch's clock and sleep: time moves only when the watch sleeps, and a sleep takes
    no wall time (one turn of the event loop)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def settled() -> None:
    """Let every task that can run, run: the watch's way from a handled item to a check is a
    few turns of the loop, and with `FakeTime` none of them waits on the wall clock. So what
    has not happened after this would not happen later either."""
    for _ in range(50):
        await asyncio.sleep(0)


def watching(
    streams: ScriptedStreams, checks: Checks, time: FakeTime, **timing: Any
) -> MarginWatch:
    return MarginWatch(
        config(),
        lambda: {"paper": streams},
        checks,
        clock=time.clock,
        sleep=time.sleep,
        **timing,
    )


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
    streams, checks, time = ScriptedStreams(), Checks(), FakeTime()
    watch = watching(streams, checks, time, min_gap=0.3)
    watch.observe(trusted_at_ratio_030())
    runner = asyncio.create_task(watch.run())
    await until(lambda: watch.following() == ["paper"])
    streams.put("linear mark prices", MarksMoved("paper", {ETH: D("2010")}))  # 0.2935: nothing
    await streams.handled()
    await settled()
    assert checks.reasons == []
    streams.put("linear mark prices", MarksMoved("paper", {ETH: D("2100")}))  # 0.2381: < 0.25
    await until(lambda: len(checks.reasons) == 1)
    assert "under 0.25" in checks.reasons[0]
    assert time.sleeps == []  # the first check of a venue waits for nothing
    # an account change right after: within min_gap, so it waits, then one check covers it
    streams.put("linear balance", AccountChanged("paper", "linear", "balance"))
    streams.put("linear positions", AccountChanged("paper", "linear", "positions"))
    await until(lambda: len(checks.reasons) == 2)
    assert "linear balance changed" in checks.reasons[1]
    assert time.sleeps == [pytest.approx(0.3)]  # the rest of min_gap, on the watch's clock
    await streams.handled()
    await settled()
    assert len(checks.reasons) == 2  # the second change was merged into that check
    await watch.stop()
    runner.cancel()


async def test_a_failing_stream_asks_for_a_new_listen_key_and_rereads_when_back() -> None:
    streams, checks, time = ScriptedStreams(), Checks(), FakeTime()
    watch = watching(streams, checks, time, min_gap=0.0, backoff=(0.01, 0.05))
    watch.observe(trusted_at_ratio_030())
    runner = asyncio.create_task(watch.run())
    await until(lambda: watch.following() == ["paper"])
    streams.put("linear balance", ConnectionResetError("socket closed"))
    streams.put("linear balance", ConnectionResetError("socket closed"))
    await until(lambda: streams.resets == ["linear", "linear"])
    await streams.handled()
    assert time.sleeps == [0.0, 0.01]  # at once, then backoff[0]
    assert checks.reasons == []
    streams.put("linear balance", AccountChanged("paper", "linear", "balance"))
    await until(lambda: len(checks.reasons) >= 1)
    assert "stream back" in checks.reasons[0]
    # the mark stream failing needs no new key
    streams.put("linear mark prices", ConnectionResetError("gone"))
    await streams.handled()
    assert streams.resets == ["linear", "linear"]
    await watch.stop()
    runner.cancel()


async def test_stop_lets_a_running_check_finish_and_starts_no_other() -> None:
    streams, hold, time = ScriptedStreams(), asyncio.Event(), FakeTime()
    checks = Checks(hold)
    watch = watching(streams, checks, time, min_gap=0.0)
    watch.observe(trusted_at_ratio_030())
    runner = asyncio.create_task(watch.run())
    await until(lambda: watch.following() == ["paper"])
    streams.put("linear balance", AccountChanged("paper", "linear", "balance"))
    await checks.running.wait()
    busy = await watch.stop()
    assert len(busy) == 1  # the check under way, for the caller's bounded wait
    streams.put("linear positions", AccountChanged("paper", "linear", "positions"))
    hold.set()
    await asyncio.wait(busy, timeout=DEADLINE)
    assert all(task.done() for task in busy)
    await settled()
    assert len(checks.reasons) == 1
    runner.cancel()


async def test_without_a_trusted_read_the_first_mark_asks_for_one_and_not_at_every_tick() -> None:
    streams, checks, time = ScriptedStreams(), Checks(), FakeTime()
    watch = watching(streams, checks, time, min_gap=0.0)
    runner = asyncio.create_task(watch.run())
    await until(lambda: watch.following() == ["paper"])
    for price in ("2000", "2001", "2002"):
        streams.put("linear mark prices", MarksMoved("paper", {ETH: D(price)}))
    await until(lambda: len(checks.reasons) == 1)
    await streams.handled()
    await settled()
    assert checks.reasons == ["no trusted read yet"]
    # a venue whose reads fail is asked again once JOIN_EVERY_SECONDS have passed
    time.now += JOIN_EVERY_SECONDS
    streams.put("linear mark prices", MarksMoved("paper", {ETH: D("2003")}))
    await until(lambda: len(checks.reasons) == 2)
    assert checks.reasons == ["no trusted read yet"] * 2
    await watch.stop()
    runner.cancel()


async def test_a_stream_down_is_shown_with_its_reason_and_a_new_key_reads_again() -> None:
    """`StreamDown` (a silent stream, an expired key) is a failure like a dropped socket: shown
    down with its reason on the board `bot status` reads; `Subscribed` (a new listen key) is
    the stream back, so the venue is read again at once, before any change is pushed."""
    streams, checks, time = ScriptedStreams(), Checks(), FakeTime()
    watch = watching(streams, checks, time, min_gap=0.0)
    watch.observe(trusted_at_ratio_030())
    runner = asyncio.create_task(watch.run())
    await until(lambda: watch.following() == ["paper"])
    streams.put("linear balance", StreamDown("linear listen key expired (listenKeyExpired)"))
    await until(lambda: streams.resets == ["linear"])
    shown = watch.board.states["paper"]["linear balance"]
    assert not shown.up and shown.why == "linear listen key expired (listenKeyExpired)"
    assert time.sleeps == [0.0]  # a new key at once
    streams.put("linear balance", Subscribed("paper", "linear"))
    await until(lambda: len(checks.reasons) == 1)
    assert checks.reasons == ["linear balance stream back: read again"]
    assert watch.board.states["paper"]["linear balance"].up
    await watch.stop()
    runner.cancel()
