"""Stock ccxt against the Hyperliquid fake: the fake answers what ccxt's hyperliquid class asks
for, applies a signed usdClassTransfer, and refuses what Hyperliquid refuses (another signer,
a replayed nonce, an amount finer than USDC's 6 decimals); the bot's ccxt options keep ccxt
from signing any action of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal as D

import ccxt.async_support as ccxt_async
import pytest

from bot.venues.hyperliquid.venue import HyperliquidVenue
from bot.venues.hyperliquid.wallet_key import address_of
from tests.fakes.faults import FAIL_AFTER, FAIL_BEFORE, RATE_LIMITED
from tests.fakes.hyperliquid_server import AGENT, AGENT_KEY, PRIVATE_KEY, WALLET, HyperliquidFake
from tests.fakes.loopback import on_loopback


@pytest.fixture
async def fake() -> AsyncIterator[HyperliquidFake]:
    async with HyperliquidFake() as running:
        yield running


def client(
    fake: HyperliquidFake, key: str = PRIVATE_KEY, **options: object
) -> ccxt_async.hyperliquid:
    exchange = ccxt_async.hyperliquid(
        {
            "privateKey": key,
            "walletAddress": WALLET,
            "enableRateLimit": False,
            "timeout": 1000,
            "options": {**HyperliquidVenue.ccxt_options({}), **options},
        }
    )
    exchange.urls = {**exchange.urls, "api": fake.client_urls()}
    return on_loopback(exchange)


def test_a_key_signs_for_its_own_address() -> None:
    assert address_of(PRIVATE_KEY) == WALLET and address_of(AGENT_KEY) == AGENT
    assert address_of("not a key") is None


async def test_markets_balances_and_a_transfer_with_stock_ccxt(fake: HyperliquidFake) -> None:
    exchange = client(fake)
    try:
        await exchange.load_markets()
        assert {"ETH/USDC", "ETH/USDC:USDC"} <= set(exchange.markets)
        spot = await exchange.fetch_balance({"type": "spot"})
        assert spot["info"]["balances"][0] == {
            "coin": "USDC", "token": 0, "hold": "0.0", "total": "20000", "entryNtl": "0.0"
        }  # fmt: skip
        answer = await exchange.transfer("USDC", "100.5", "spot", "swap")
        assert answer["info"] == {"status": "ok", "response": {"type": "default"}}
        with fake.account.lock:
            assert fake.account.perp_usdc == D("4100.5")
            assert fake.account.spot["USDC"] == D("19899.5")
        (update,) = fake.account.applied_transfers()
        assert update.delta == {"type": "accountClassTransfer", "usdc": "100.5", "toPerp": True}
        rate = await exchange.fetch_funding_rate("ETH/USDC:USDC")
        assert rate["info"]["funding"] == "0.0000125"
    finally:
        await exchange.close()
    # the bot's options: no approveBuilderFee, no setReferrer, no userAbstraction probe
    assert [a["type"] for a in fake.actions] == ["usdClassTransfer"]
    assert all(r["type"] != "userAbstraction" for r in fake.info_requests)


async def test_without_the_bots_options_ccxt_signs_actions_of_its_own(
    fake: HyperliquidFake,
) -> None:
    exchange = client(fake, approvedBuilderFee=False, refSet=False)
    try:
        await exchange.load_markets()
    finally:
        await exchange.close()
    assert {"approveBuilderFee", "setReferrer"} <= {a["type"] for a in fake.actions}
    assert fake.account.applied_transfers() == []


async def test_what_hyperliquid_refuses_is_refused(fake: HyperliquidFake) -> None:
    agent = client(fake, AGENT_KEY)
    exchange = client(fake)
    try:
        with pytest.raises(ccxt_async.InvalidOrder, match=f"User or API Wallet {AGENT}"):
            await agent.transfer("USDC", "1", "spot", "swap")
        with pytest.raises(ccxt_async.ExchangeError, match="at most 6 decimals"):
            await exchange.transfer("USDC", "1.0000001", "spot", "swap")
        with pytest.raises(ccxt_async.ExchangeError, match="Insufficient balance"):
            await exchange.transfer("USDC", "2500.000001", "swap", "spot")  # withdrawable 2500
        assert fake.account.applied_transfers() == []
        await exchange.transfer("USDC", "2500", "swap", "spot")
        exchange.options["lastNonce"] = fake.actions[-1]["nonce"] - 1  # would sign it again
        exchange.nonce = lambda: fake.actions[-1]["nonce"]  # type: ignore[method-assign]
        with pytest.raises(ccxt_async.ExchangeError, match="duplicate nonce"):
            await exchange.transfer("USDC", "1", "spot", "swap")
        assert len(fake.account.applied_transfers()) == 1
    finally:
        await agent.close()
        await exchange.close()


async def test_fault_modes_do_what_they_say(fake: HyperliquidFake) -> None:
    exchange = client(fake)
    try:
        await exchange.load_markets()
        fake.faults.add("POST", "/exchange", FAIL_BEFORE)
        with pytest.raises(ccxt_async.ExchangeNotAvailable):
            await exchange.transfer("USDC", "1", "spot", "swap")
        assert fake.account.applied_transfers() == []
        fake.faults.add("POST", "/exchange", FAIL_AFTER)
        with pytest.raises(ccxt_async.ExchangeNotAvailable):
            await exchange.transfer("USDC", "1", "spot", "swap")
        assert len(fake.account.applied_transfers()) == 1
        fake.faults.add("POST", "/exchange", RATE_LIMITED)
        with pytest.raises(ccxt_async.RateLimitExceeded):
            await exchange.transfer("USDC", "1", "spot", "swap")
        assert len(fake.account.applied_transfers()) == 1
        fake.page_size = 1
        first = await exchange.publicPostInfo(
            {"type": "userNonFundingLedgerUpdates", "user": WALLET, "startTime": 0}
        )
        assert len(first) == 1
    finally:
        await exchange.close()
