"""The venue limiter waits only when the venue says a limit is near, and never before a send."""

from __future__ import annotations

from bot.venues.binance.venue import BINANCE_LIMITS
from bot.venues.ratelimit import BurstLimiter, UsageLimiter

ACCOUNT = "http://host/api/v3/account"
TRANSFER = "http://host/sapi/v1/asset/transfer"


class FakeTime:
    def __init__(self, now: float = 120.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(clock: FakeTime) -> UsageLimiter:
    return UsageLimiter(BINANCE_LIMITS, clock=clock, sleep=clock.sleep)


async def test_a_cycle_of_reads_goes_at_once() -> None:
    clock = FakeTime()
    limits = limiter(clock)
    for used in (20, 40, 60, 80, 100):
        await limits.before("GET", ACCOUNT, 20, is_read=True)
        limits.after("GET", ACCOUNT, 20, {"X-MBX-USED-WEIGHT-1M": str(used)})
    assert clock.slept == []


async def test_a_read_waits_for_the_next_minute_when_the_header_says_the_limit_is_near() -> None:
    clock = FakeTime(now=125.0)
    limits = limiter(clock)
    await limits.before("GET", ACCOUNT, 20, is_read=True)
    limits.after("GET", ACCOUNT, 20, {"x-mbx-used-weight-1m": "5990"})
    await limits.before("GET", ACCOUNT, 20, is_read=True)
    assert clock.slept == [55.0]  # until 180 s, when Binance's minute starts again
    await limits.before("GET", ACCOUNT, 20, is_read=True)
    assert clock.slept == [55.0]  # a new minute: the count starts again


async def test_a_send_never_waits_even_past_the_limit() -> None:
    clock = FakeTime()
    limits = limiter(clock)
    limits.after("POST", TRANSFER, 1, {"X-SAPI-USED-UID-WEIGHT-1M": "179999"})
    await limits.before("POST", TRANSFER, 900, is_read=False)
    assert clock.slept == []


async def test_sapi_endpoints_count_apart_and_uid_weight_has_its_own_limit() -> None:
    clock = FakeTime()
    limits = limiter(clock)
    limits.after("POST", TRANSFER, 1, {"X-SAPI-USED-UID-WEIGHT-1M": "100000"})  # far from 180000
    assert limits.delay("POST", TRANSFER, 900) == 0
    limits.after(
        "POST",
        "http://host/sapi/v1/asset/get-funding-asset",
        1,
        {"X-SAPI-USED-IP-WEIGHT-1M": "11990"},
    )
    assert limits.delay("POST", "http://host/sapi/v1/asset/get-funding-asset", 20) > 0
    assert limits.delay("GET", ACCOUNT, 20) == 0  # /api is another bucket


async def test_the_history_read_and_the_transfer_count_apart() -> None:
    clock = FakeTime()
    limits = limiter(clock)
    limits.after("POST", TRANSFER, 900, {"X-SAPI-USED-UID-WEIGHT-1M": "18000"})  # UID: far off
    limits.after("GET", TRANSFER, 1, {"X-SAPI-USED-IP-WEIGHT-1M": "30"})
    assert limits.delay("GET", TRANSFER, 1) == 0  # the history read is not held by UID weight


async def test_an_unreadable_header_is_ignored() -> None:
    clock = FakeTime()
    limits = limiter(clock)
    limits.after("GET", ACCOUNT, 20, {"X-MBX-USED-WEIGHT-1M": "lots"})
    assert limits.delay("GET", ACCOUNT, 20) == 0


async def test_burst_limiter_lets_a_cycle_through_then_holds_the_rate() -> None:
    clock = FakeTime()
    limits = BurstLimiter(0.5, capacity=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await limits.before("GET", ACCOUNT, 1, is_read=True)
    assert clock.slept == []
    await limits.before("POST", TRANSFER, 1, is_read=False)  # a send goes, even with no token left
    assert clock.slept == []
    await limits.before("GET", ACCOUNT, 1, is_read=True)
    assert clock.slept == [1.0]  # two tokens owed at one per 0.5 s
