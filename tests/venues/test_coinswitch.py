"""The `coinswitch` ccxt client and `CoinSwitchVenue`, driven over HTTP against the fake venue.

Signing is checked against the published vector and by an independent Ed25519 verify; every
request in these tests goes through ccxt's throttler, scaled with the fake's windows.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import pytest
from ccxt.base.decimal_to_precision import TICK_SIZE
from cryptography.hazmat.primitives.asymmetric import ed25519

from bot.config import HedgeConfig
from bot.model import SPOT
from bot.money import to_decimal
from bot.venues.coinswitch.exchange import (
    COST_20_PER_MINUTE,
    EXCHANGE_ID,
    FUTURES,
    RATE_LIMIT_MS,
    ImplicitAPI,
    coinswitch,
    seed_from_secret,
    sign_hex,
    signed_path,
    signing_message,
)
from bot.venues.coinswitch.venue import CoinSwitchVenue
from bot.venues.errors import ErrorKind, VenueError
from tests.fakes.coinswitch_server import (
    FUTURES_PREFIX,
    SEED_WALLET_BALANCE,
    SPOT_PREFIX,
    CoinSwitchServer,
    Number,
    dumps,
    new_key_pair,
)
from tests.fakes.loopback import on_loopback

D = Decimal
TIME_SCALE = 0.01  # the fake's "20 per 60 s" becomes "20 per 0.6 s"; rateLimit scales alike
API_KEY, SECRET = new_key_pair()
SEED_USDT = SEED_WALLET_BALANCE["base_asset_balances"][0]["balances"]

ClientFactory = Callable[..., coinswitch]


@pytest.fixture
async def server() -> AsyncIterator[CoinSwitchServer]:
    async with CoinSwitchServer(api_keys=[API_KEY], time_scale=TIME_SCALE) as running:
        yield running


@pytest.fixture
async def make_client(server: CoinSwitchServer) -> AsyncIterator[ClientFactory]:
    clients: list[coinswitch] = []

    def factory(**config: Any) -> coinswitch:
        settings: dict[str, Any] = {
            "apiKey": API_KEY,
            "secret": SECRET,
            "enableRateLimit": True,
            "rateLimit": RATE_LIMIT_MS * TIME_SCALE,
            "timeout": 5000,
        }
        settings.update(config)
        client = coinswitch(settings)
        client.urls["api"] = server.api_urls()
        on_loopback(client)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> coinswitch:
    return make_client()


def d(value: Any) -> Decimal:
    """A unified figure of the standalone ccxt class (floats, as ccxt's default), as a Decimal
    for comparison in a test; the bot's clients use `number = str` and never meet a float."""
    return to_decimal(repr(value) if isinstance(value, float) else value)


# signing, without the network ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        (
            "GET",
            "/trade/api/v2/orders?open=true&exchanges=coinswitchx%2Cc2c1",
            "GET/trade/api/v2/orders?open=true&exchanges=coinswitchx,c2c11719905777483",
        ),
        ("GET", "/trade/api/v2/time", "GET/trade/api/v2/time1719905777483"),
    ],
)
def test_signing_message_matches_the_published_vector(method: str, path: str, expected: str):
    assert signing_message(method, path, "1719905777483") == expected


def test_signing_message_decodes_like_the_reference_client():
    # "+ decoded back to space, %2C decoded to ," (Authentication); the method is uppercased
    assert signing_message("get", "/x?a=b+c%2Bd%2Ce", "1") == "GET/x?a=b c+d,e1"


def test_signature_is_hex_ed25519_of_the_message_with_the_hex_seed():
    message = "GET/trade/api/v2/orders?open=true&exchanges=coinswitchx,c2c11719905777483"
    signature = sign_hex(message, bytes.fromhex(SECRET))
    assert len(signature) == 128 and signature == signature.lower()
    public = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(API_KEY))
    public.verify(bytes.fromhex(signature), message.encode("utf-8"))  # raises if wrong
    # Ed25519 is deterministic: the same seed through `cryptography` gives the same bytes
    private = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SECRET))
    assert signature == private.sign(message.encode("utf-8")).hex()


def test_signed_path_keeps_query_and_drops_host():
    url = "http://127.0.0.1:5/trade/api/v2/futures/ticker?symbol=ETHUSDT&exchange=EXCHANGE_2"
    assert signed_path(url) == "/trade/api/v2/futures/ticker?symbol=ETHUSDT&exchange=EXCHANGE_2"
    assert signed_path("https://coinswitch.co/trade/api/v2/time") == "/trade/api/v2/time"


@pytest.mark.parametrize("secret", ["zz" * 32, "ab" * 31, "", None])
def test_a_malformed_secret_is_refused_without_being_repeated(secret: str | None):
    with pytest.raises(ccxt_async.AuthenticationError) as caught:
        seed_from_secret(secret)
    if secret:
        assert secret not in str(caught.value)


def test_implicit_methods_are_generated_with_their_rate_limit_cost():
    wallet = ImplicitAPI.__dict__["futures_get_wallet_balance"]
    assert wallet is ImplicitAPI.__dict__["futuresGetWalletBalance"]
    assert (wallet.path, wallet.api, wallet.method) == ("wallet_balance", ["futures"], "GET")
    assert wallet.config["cost"] == COST_20_PER_MINUTE
    assert ImplicitAPI.__dict__["futures_get_positions"].config["cost"] == COST_20_PER_MINUTE
    assert ImplicitAPI.__dict__["futures_get_ticker"].config["cost"] == 1
    assert ImplicitAPI.__dict__["futures_get_all_pairs_ticker"].path == "all-pairs/ticker"
    assert ImplicitAPI.__dict__["spot_post_exchangeprecision"].method == "POST"
    # 20 per 60 s and 100 per 60 s, with headroom, at the unscaled rateLimit
    assert COST_20_PER_MINUTE * RATE_LIMIT_MS >= 60_000 / 20
    assert RATE_LIMIT_MS >= 60_000 / 100


def test_capabilities():
    exchange = coinswitch()
    assert exchange.id == EXCHANGE_ID
    assert exchange.has["transfer"] is False and exchange.has["fetchTransfers"] is False
    for capability in ("fetchBalance", "fetchPositions", "fetchFundingRate", "swap", "spot"):
        assert exchange.has[capability] is True
    assert exchange.precisionMode == TICK_SIZE


# the client over HTTP -------------------------------------------------------------------------


async def test_load_markets_gives_spot_pairs_and_linear_perpetuals(client: coinswitch):
    markets = await client.load_markets()
    spot = markets["ETH/USDT"]
    assert spot["spot"] and not spot["contract"] and spot["id"] == "ETH/USDT"
    assert spot["precision"]["amount"] == 0.0001 and spot["precision"]["price"] == 0.01
    perp = markets["ETH/USDT:USDT"]
    assert perp["swap"] and perp["linear"] and not perp["inverse"] and perp["active"]
    assert perp["id"] == "ETHUSDT" and perp["settle"] == "USDT" and perp["contractSize"] == 1
    assert perp["precision"]["amount"] == 0.001 and perp["precision"]["price"] == 0.01
    assert perp["limits"]["leverage"]["max"] == 25 and perp["taker"] == 0.0005
    assert "BTC/INR" not in markets  # only the USDT venue (options['spotExchange'])


async def test_futures_balance_is_the_seed_decimal_exact(client: coinswitch):
    for account in ("swap", "futures", "future"):
        balance = await client.fetch_balance({"type": account})
        usdt = balance["USDT"]
        assert d(usdt["free"]) == D(SEED_USDT["total_available_balance"])
        assert d(usdt["used"]) == D(SEED_USDT["total_blocked_balance"])
        assert d(usdt["total"]) == D(SEED_USDT["total_balance"])
        # the per-symbol locked margin stays reachable, as the venue sent it
        assert balance["info"]["data"]["asset"] == SEED_WALLET_BALANCE["asset"]


async def test_spot_balance_from_the_portfolio(client: coinswitch):
    balance = await client.fetch_balance({"type": "spot"})
    assert d(balance["ETH"]["free"]) == D("0.00008393")
    assert d(balance["ETH"]["used"]) == D("0.0019")
    assert d(balance["ETH"]["total"]) == D("0.00198393")
    assert d(balance["USDT"]["free"]) == D("1500.12345678")
    assert d(balance["INR"]["free"]) == D("802.33")  # the INR row carries numbers
    assert (await client.fetch_balance())["USDT"]["free"] == balance["USDT"]["free"]


async def test_fetch_balance_names_the_accepted_types(client: coinswitch):
    with pytest.raises(ccxt_async.BadRequest, match="'spot', 'futures' or 'hft'"):
        await client.fetch_balance({"type": "delivery"})


async def test_positions_are_unified(client: coinswitch):
    positions = await client.fetch_positions(["ETH/USDT:USDT"])
    assert len(positions) == 1
    short = positions[0]
    assert short["symbol"] == "ETH/USDT:USDT" and short["side"] == "short"
    assert d(short["contracts"]) == D("1.5") and short["contractSize"] == 1
    assert d(short["notional"]) == D("5273.2845")
    assert d(short["entryPrice"]) == D("3498.27") and d(short["markPrice"]) == D("3515.523")
    assert d(short["unrealizedPnl"]) == D("-25.8795")
    assert d(short["liquidationPrice"]) == D("4183.50")
    assert d(short["initialMargin"]) == D("1054.6569")
    assert short["marginMode"] == "isolated" and short["leverage"] == 5


async def test_positions_without_symbols_are_those_the_wallet_lists(
    client: coinswitch, server: CoinSwitchServer
):
    """The wallet's `asset` list names the symbols holding margin: one wallet request, then
    Get Positions for each listed symbol only (the seed wallet lists DOGEUSDT alone)."""
    positions = await client.fetch_positions()
    assert [p["symbol"] for p in positions] == ["DOGE/USDT:USDT"]
    asked = [path for _, path, _ in server.received if path.startswith(FUTURES_PREFIX + "/pos")]
    assert len(asked) == 1 and "symbol=DOGEUSDT" in asked[0]


async def test_funding_rate_from_the_ticker(client: coinswitch):
    funding = await client.fetch_funding_rate("BTC/USDT:USDT")
    assert funding["symbol"] == "BTC/USDT:USDT"
    assert d(funding["fundingRate"]) == D("0.00039681")
    assert d(funding["markPrice"]) == D("95136.7") and d(funding["indexPrice"]) == D("95046.53")
    assert funding["nextFundingTimestamp"] == 1732838400000
    assert funding["fundingTimestamp"] == 1732838400000
    rates = await client.fetch_funding_rates(["ETH/USDT:USDT"])
    assert set(rates) == {"ETH/USDT:USDT"} and d(rates["ETH/USDT:USDT"]["fundingRate"]) == D(
        "0.000125"
    )


async def test_fetch_time(client: coinswitch, server: CoinSwitchServer):
    assert await client.fetch_time() == server.served_times[-1]
    assert server.count(200, "/trade/api/v2/time") == 1


# errors ---------------------------------------------------------------------------------------


async def test_a_wrong_secret_is_an_authentication_error_that_does_not_leak_it(
    make_client: ClientFactory,
):
    _, other_secret = new_key_pair()
    client = make_client(secret=other_secret)
    with pytest.raises(ccxt_async.AuthenticationError) as caught:
        await client.fetch_balance({"type": "futures"})
    assert "signature" in str(caught.value)
    assert other_secret not in str(caught.value) and SECRET not in str(caught.value)


async def test_an_unknown_key_is_an_authentication_error(make_client: ClientFactory):
    other_key, other_secret = new_key_pair()
    with pytest.raises(ccxt_async.AuthenticationError, match="X-AUTH-APIKEY"):
        await make_client(apiKey=other_key, secret=other_secret).fetch_balance()


async def test_epoch_skew_is_refused_until_the_clock_difference_is_loaded(
    make_client: ClientFactory, server: CoinSwitchServer
):
    server.state.clock_offset_ms = 90_000
    with pytest.raises(ccxt_async.AuthenticationError, match="60 s"):
        await make_client().fetch_balance()
    synced = make_client(options={"adjustForTimeDifference": True})
    await synced.load_markets()  # /time is unsigned, so the offset can be learned first
    assert synced.options["timeDifference"] < 0  # our clock is behind the venue's
    assert "ETH/USDT:USDT" in synced.markets
    assert server.count(401) == 1  # only the unsynced request was refused


async def test_validation_errors_are_bad_requests_naming_the_field(client: coinswitch):
    with pytest.raises(ccxt_async.BadRequest, match="symbol"):
        await client.futures_get_ticker({"exchange": "EXCHANGE_2"})
    with pytest.raises(ccxt_async.BadRequest, match="exchange"):
        await client.futuresGetPositions({"exchange": "EXCHANGE_9", "symbol": "ETHUSDT"})


async def test_server_errors_are_exchange_not_available(
    client: coinswitch, server: CoinSwitchServer
):
    server.fail_next(f"{FUTURES_PREFIX}/wallet_balance", 503, "Service unavailable")
    with pytest.raises(ccxt_async.ExchangeNotAvailable):
        await client.fetch_balance({"type": "futures"})


# rate limits ----------------------------------------------------------------------------------


async def test_a_throttled_burst_never_exceeds_the_venue_limit(
    client: coinswitch, server: CoinSwitchServer
):
    burst = 25  # the venue allows 20 per (scaled) window
    # Connect first, as Venue.connect() does: at this time scale the 5 % headroom is 30 ms,
    # less than a cold connection can take on a busy machine (at full scale it is 3 s).
    await client.load_markets()
    costs = throttle_costs(client)
    balances = await asyncio.gather(
        *(client.fetch_balance({"type": "futures"}) for _ in range(burst))
    )
    assert all(d(b["USDT"]["total"]) == D(SEED_USDT["total_balance"]) for b in balances)
    # every call asked ccxt's throttler for wallet_balance's cost (nobody slept by hand), and
    # the venue, counting arrivals against its 20 per window, refused none of the 25
    assert costs == [COST_20_PER_MINUTE] * burst
    assert server.count(429) == 0
    assert server.count(200, f"{FUTURES_PREFIX}/wallet_balance") == burst


def throttle_costs(client: coinswitch) -> list[float]:
    """The cost of every call, as handed to ccxt's throttler (which still paces them)."""
    costs: list[float] = []
    throttle = client.throttle

    async def recording(cost: float | None = None) -> Any:
        costs.append(cost)
        return await throttle(cost)

    client.throttle = recording  # type: ignore[method-assign]
    return costs


async def test_without_the_throttler_the_venue_answers_429(
    make_client: ClientFactory, server: CoinSwitchServer
):
    client = make_client(enableRateLimit=False)
    await client.load_markets()
    results = await asyncio.gather(
        *(client.fetch_balance({"type": "futures"}) for _ in range(25)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert refused and all(isinstance(r, ccxt_async.RateLimitExceeded) for r in refused)
    assert server.count(200, f"{FUTURES_PREFIX}/wallet_balance") == 20
    assert server.count(429, f"{FUTURES_PREFIX}/wallet_balance") == 5


# the venue ------------------------------------------------------------------------------------


def hedge() -> HedgeConfig:
    return HedgeConfig(
        venue="coinswitch",
        spot="ETH/USDT",
        perp="ETH/USDT:USDT",
        target_margin_ratio=D("0.5"),
        band=(D("0.4"), D("0.6")),
    )


async def test_venue_reads_wallets_position_and_funding(client: coinswitch):
    venue = CoinSwitchVenue("coinswitch-main", client, {"eth": hedge()})
    await venue.connect()
    assert venue.can_transfer is False
    state = await venue.read_state()
    assert state.can_transfer is False
    assert state.markets["ETH/USDT:USDT"].futures_account == FUTURES

    futures = state.wallets[(FUTURES, "USDT")]
    assert futures.transferable == D("60910.77418715")
    assert futures.free == D("60910.77418715") and futures.used == D("50.05180873")
    assert futures.balance == D("60960.82599588")
    assert futures.unrealized_pnl == D("-25.8795")  # from the position: the wallet omits it
    assert futures.equity == D("60934.94649588")

    spot = state.wallets[(SPOT, "USDT")]
    assert spot.transferable == D("1500.12345678") and spot.used == D("12.5")
    assert state.wallets[(SPOT, "INR")].transferable == D("802.33")

    position = state.positions["ETH/USDT:USDT"]
    assert position.side == "short" and position.contracts == D("1.5")
    assert position.notional == D("5273.2845") and position.mark_price == D("3515.523")
    assert position.initial_margin == D("1054.6569")

    funding = state.funding["ETH/USDT:USDT"]
    assert funding.rate == D("0.000125") and funding.mark_price == D("3515.523")
    assert funding.next_funding_at is not None
    assert int(funding.next_funding_at.timestamp() * 1000) == 1732838400000


async def test_venue_accepts_ccxt_account_names(client: coinswitch):
    venue = CoinSwitchVenue("coinswitch-main", client, {"eth": hedge()})
    await venue.connect()
    for account in ("futures", "swap", "future"):
        assert await venue.read_transferable(account, "USDT") == D("60910.77418715")
    assert venue.balance_params("swap") == {"type": FUTURES}
    assert await venue.read_transferable("main", "USDT") == D("1500.12345678")


async def test_venue_classifies_a_bad_secret_as_fatal(make_client: ClientFactory):
    _, other_secret = new_key_pair()
    venue = CoinSwitchVenue("coinswitch-main", make_client(secret=other_secret), {})
    with pytest.raises(VenueError) as caught:
        await venue.read_wallets(FUTURES)
    assert caught.value.kind is ErrorKind.FATAL
    assert other_secret not in str(caught.value)


# exact figures --------------------------------------------------------------------------------


@pytest.fixture
async def venue(client: coinswitch) -> CoinSwitchVenue:
    venue = CoinSwitchVenue("coinswitch-main", client, {"eth": hedge()})
    await venue.connect()
    return venue


def exact(value: Decimal | None, literal: str) -> bool:
    """Equal to the literal digit for digit, exponent included (not merely numerically)."""
    return value is not None and value.as_tuple() == D(literal).as_tuple()


async def test_numbers_with_many_digits_served_as_json_numbers_reach_the_bot_exactly(
    venue: CoinSwitchVenue, server: CoinSwitchServer
):
    # 18+ significant digits: a float keeps 17 at most, so any float on the way would show
    usdt = server.state.wallet_balance["base_asset_balances"][0]["balances"]
    usdt["total_balance"] = D("60960.825995880000000001")
    usdt["total_available_balance"] = D("60910.774187150000000001")
    usdt["total_blocked_balance"] = D("50.051808730000000001")
    server.state.portfolio[1]["main_balance"] = D("1500.123456780000000001")
    eth = server.state.positions[0]
    eth["unrealised_pnl"] = D("-25.879512345678901234567")
    eth["avg_entry_price"] = D("3498.2700000000000000001")
    server.state.tickers["ETHUSDT"]["funding_rate"] = "0.000125000000000000000001"
    server.state.tickers["ETHUSDT"]["mark_price"] = "3515.5230000000000000001"
    assert '"total_balance": 60960.825995880000000001' in dumps(server.state.wallet_balance)

    state = await venue.read_state()
    futures = state.wallets[(FUTURES, "USDT")]
    assert exact(futures.balance, "60960.825995880000000001")
    assert exact(futures.free, "60910.774187150000000001")
    assert exact(futures.transferable, "60910.774187150000000001")
    assert exact(futures.used, "50.051808730000000001")
    assert exact(state.wallets[(SPOT, "USDT")].free, "1500.123456780000000001")
    position = state.positions["ETH/USDT:USDT"]
    assert exact(position.unrealized_pnl, "-25.879512345678901234567")
    assert exact(position.entry_price, "3498.2700000000000000001")
    funding = state.funding["ETH/USDT:USDT"]  # Get Ticker sends these as JSON numbers
    assert exact(funding.rate, "0.000125000000000000000001")
    assert exact(funding.mark_price, "3515.5230000000000000001")


async def test_the_client_keeps_json_numbers_as_their_text(client: coinswitch):
    funding = await client.fetch_funding_rate("ETH/USDT:USDT")
    assert funding["info"]["funding_rate"] == "0.000125"  # a JSON number on the wire
    assert funding["info"]["mark_price"] == "3515.523"
    portfolio = await client.fetch_balance({"type": "spot"})
    inr = next(row for row in portfolio["info"]["data"] if row["currency"] == "INR")
    assert inr["main_balance"] == "802.33" and inr["blocked_balance_order"] == 0


async def test_a_row_of_size_zero_is_flat(venue: CoinSwitchVenue, server: CoinSwitchServer):
    server.state.positions[0]["position_size"] = "0"
    assert await venue.read_positions(["ETH/USDT:USDT"]) == []


# strict decoding: table-driven against the fake -----------------------------------------------

MISSING = object()
WALLET = "GET /trade/api/v2/futures/wallet_balance"
PORTFOLIO = "GET /trade/api/v2/user/portfolio"
POSITIONS = "GET /trade/api/v2/futures/positions"
TICKER = "GET /trade/api/v2/futures/ticker"
USDT_AT = "data.base_asset_balances[USDT]"

Change = Callable[[CoinSwitchServer], None]


def _set(target: dict[str, Any], key: str, value: object) -> None:
    if value is MISSING:
        del target[key]
    else:
        target[key] = value


def balances(key: str, value: object) -> Change:
    return lambda server: _set(
        server.state.wallet_balance["base_asset_balances"][0]["balances"], key, value
    )


def usdt_entry(key: str, value: object) -> Change:
    return lambda server: _set(server.state.wallet_balance["base_asset_balances"][0], key, value)


def portfolio(index: int, key: str, value: object) -> Change:
    return lambda server: _set(server.state.portfolio[index], key, value)


def eth_position(key: str, value: object) -> Change:
    return lambda server: _set(server.state.positions[0], key, value)


def ticker(key: str, value: object) -> Change:
    return lambda server: _set(server.state.tickers["ETHUSDT"], key, value)


def raw(path: str, body: str) -> Change:
    return lambda server: server.serve_raw(path, body)


def _second_usdt_entry(server: CoinSwitchServer) -> None:
    entries = server.state.wallet_balance["base_asset_balances"]
    entries.append(copy.deepcopy(entries[0]))


def _second_usdt_row(server: CoinSwitchServer) -> None:
    server.state.portfolio.append(dict(server.state.portfolio[1], currency="usdt"))


def _second_short(server: CoinSwitchServer) -> None:
    server.state.positions.append(dict(server.state.positions[0]))


def _long_and_short(server: CoinSwitchServer) -> None:
    server.state.positions.append(dict(server.state.positions[0], position_side="LONG"))


#: (what to read, a change to the fake, the one-line error after "coinswitch-main: ")
STRICT_CASES = [
    pytest.param(
        "futures",
        balances("total_balance", "NaN"),
        f"{WALLET}: {USDT_AT}.balances.total_balance is 'NaN', not a finite number",
    ),
    pytest.param(
        "futures",
        balances("total_balance", Number("Infinity")),
        f"{WALLET}: {USDT_AT}.balances.total_balance is 'Infinity', not a finite number",
    ),
    pytest.param(
        "futures",
        balances("total_available_balance", MISSING),
        f"{WALLET}: {USDT_AT}.balances.total_available_balance is missing",
    ),
    pytest.param(
        "futures",
        balances("total_blocked_balance", "-1"),
        f"{WALLET}: {USDT_AT}.balances.total_blocked_balance is '-1'; it cannot be negative",
    ),
    pytest.param(
        "futures",
        balances("total_balance", D("1e300")),
        f"{WALLET}: {USDT_AT}.balances.total_balance is '1E+300', absurdly large (beyond ±1e15)",
    ),
    pytest.param(
        "futures",
        usdt_entry("base_asset", None),
        f"{WALLET}: data.base_asset_balances[0].base_asset is null",
    ),
    pytest.param(
        "futures",
        usdt_entry("balances", MISSING),
        f"{WALLET}: {USDT_AT}.balances is missing",
    ),
    pytest.param(
        "futures",
        _second_usdt_entry,
        f"{WALLET}: {USDT_AT}.base_asset is 'USDT' twice",
    ),
    pytest.param(
        "futures",
        raw(f"{FUTURES_PREFIX}/wallet_balance", '{"data": null}'),
        f"{WALLET}: data is null",
    ),
    pytest.param(
        "futures",
        raw(f"{FUTURES_PREFIX}/wallet_balance", "{}"),
        f"{WALLET}: data is missing",
    ),
    pytest.param(
        "futures",
        raw(f"{FUTURES_PREFIX}/wallet_balance", '{"data": {"base_asset_balances": {}}}'),
        f"{WALLET}: data.base_asset_balances is {{}}, not a list",
    ),
    pytest.param(
        "spot",
        portfolio(1, "main_balance", MISSING),
        f"{PORTFOLIO}: data[USDT].main_balance is missing",
    ),
    pytest.param(
        "spot",
        portfolio(1, "blocked_balance_order", None),
        f"{PORTFOLIO}: data[USDT].blocked_balance_order is null",
    ),
    pytest.param(
        "spot",
        portfolio(1, "main_balance", "-5"),
        f"{PORTFOLIO}: data[USDT].main_balance is '-5'; it cannot be negative",
    ),
    pytest.param(
        "spot",
        portfolio(2, "main_balance", Number("NaN")),
        f"{PORTFOLIO}: data[INR].main_balance is 'NaN', not a finite number",
    ),
    pytest.param(
        "spot",
        portfolio(0, "currency", None),
        f"{PORTFOLIO}: data[0].currency is null",
    ),
    pytest.param(
        "spot",
        _second_usdt_row,
        f"{PORTFOLIO}: data[USDT].currency is 'usdt' on two rows",
    ),
    pytest.param(
        "spot",
        raw(f"{SPOT_PREFIX}/user/portfolio", '{"data": [], "data": []}'),
        f"{PORTFOLIO}: key 'data' appears twice in one object",
    ),
    pytest.param(
        "positions",
        eth_position("unrealised_pnl", Number("NaN")),
        f"{POSITIONS}: data[ETHUSDT].unrealised_pnl is 'NaN', not a finite number",
    ),
    pytest.param(
        "positions",
        eth_position("unrealised_pnl", MISSING),
        f"{POSITIONS}: data[ETHUSDT].unrealised_pnl is missing",
    ),
    pytest.param(
        "positions",
        eth_position("position_size", MISSING),
        f"{POSITIONS}: data[ETHUSDT].position_size is missing",
    ),
    pytest.param(
        "positions",
        eth_position("position_size", "-1.5"),
        f"{POSITIONS}: data[ETHUSDT].position_size is '-1.5'; it cannot be negative",
    ),
    pytest.param(
        "positions",
        eth_position("position_side", "BOTH"),
        f"{POSITIONS}: data[ETHUSDT].position_side is 'BOTH', not LONG or SHORT",
    ),
    pytest.param(
        "positions",
        eth_position("mark_price", "0"),
        f"{POSITIONS}: data[ETHUSDT].mark_price is '0'; it must be above 0",
    ),
    pytest.param(
        "positions",
        eth_position("avg_entry_price", None),
        f"{POSITIONS}: data[ETHUSDT].avg_entry_price is null",
    ),
    pytest.param(
        "positions",
        eth_position("position_value", "1e16"),
        f"{POSITIONS}: data[ETHUSDT].position_value is '1e16', absurdly large (beyond ±1e15)",
    ),
    pytest.param(
        "positions",
        _second_short,
        f"{POSITIONS}: data[ETHUSDT].position_side is 'SHORT' on two rows",
    ),
    pytest.param(
        "positions",
        _long_and_short,
        f"{POSITIONS}: data[ETHUSDT].position_side is open both LONG and SHORT; the bot hedges "
        "one short per perpetual, so close one side first",
    ),
    pytest.param(
        "positions",
        raw(f"{FUTURES_PREFIX}/positions", '{"data": null}'),
        f"{POSITIONS}: data is null, not a list of positions",
    ),
    pytest.param(
        "positions",
        raw(f"{FUTURES_PREFIX}/positions", '{"data": [{"position_side": "SHORT"}]}'),
        f"{POSITIONS}: data[0].symbol is null, not a name",
    ),
    pytest.param(
        "funding",
        ticker("funding_rate", Number("NaN")),
        f"{TICKER}: data.EXCHANGE_2.funding_rate is 'NaN', not a finite number",
    ),
    pytest.param(
        "funding",
        ticker("funding_rate", "1.5"),
        f"{TICKER}: data.EXCHANGE_2.funding_rate is '1.5', absurdly large (beyond ±1)",
    ),
    pytest.param(
        "funding",
        ticker("mark_price", MISSING),
        f"{TICKER}: data.EXCHANGE_2.mark_price is missing",
    ),
]


@pytest.mark.parametrize(
    ("read", "change", "message"), STRICT_CASES, ids=[case.values[2] for case in STRICT_CASES]
)
async def test_a_malformed_figure_is_refused_naming_the_endpoint_and_field(
    venue: CoinSwitchVenue, server: CoinSwitchServer, read: str, change: Change, message: str
):
    change(server)
    with pytest.raises(VenueError) as raised:
        if read == "positions":
            await venue.read_positions(["ETH/USDT:USDT"])
        elif read == "funding":
            await venue.read_funding("ETH/USDT:USDT")
        else:
            await venue.read_wallets(read)
    assert raised.value.kind is ErrorKind.UNTRUSTED
    assert str(raised.value) == f"coinswitch-main: {message}"
    assert "\n" not in str(raised.value)


async def test_a_malformed_position_read_is_never_flat(
    venue: CoinSwitchVenue, server: CoinSwitchServer
):
    server.state.positions[0]["position_size"] = "1,5"
    with pytest.raises(VenueError, match="position_size is '1,5', not a number"):
        await venue.read_state()


async def test_a_gain_on_one_hedge_does_not_hide_a_loss_on_another(
    client: coinswitch, server: CoinSwitchServer
):
    server.state.tickers["DOGEUSDT"] = dict(
        server.state.tickers["ETHUSDT"], symbol="DOGEUSDT", mark_price="0.38231"
    )
    # the DOGE short (the fake's long, turned) gains more than the ETH short loses
    server.state.positions[1].update(position_side="SHORT", unrealised_pnl="30.5")
    doge = HedgeConfig(
        venue="coinswitch",
        spot="DOGE/USDT",
        perp="DOGE/USDT:USDT",
        target_margin_ratio=D("0.5"),
        band=(D("0.4"), D("0.6")),
    )
    venue = CoinSwitchVenue("coinswitch-main", client, {"eth": hedge(), "doge": doge})
    await venue.connect()
    state = await venue.read_state()
    assert state.positions["DOGE/USDT:USDT"].unrealized_pnl == D("30.5")
    assert state.positions["ETH/USDT:USDT"].unrealized_pnl == D("-25.8795")
    assert state.wallets[(FUTURES, "USDT")].unrealized_pnl == D("-25.8795")  # the gain is left out
