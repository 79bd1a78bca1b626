"""CoinW: the signing rules by hand-computed values, the `coinw` ccxt class over HTTP against the
fake server (markets, balances, positions, funding, errors, ccxt's throttler against the
venue's rate limit), and `CoinWVenue` reading state exactly in Decimal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import pytest
from ccxt.base.decimal_to_precision import TICK_SIZE

from bot.config import HedgeConfig
from bot.errors import VenueUnusable
from bot.model import SPOT, Position
from bot.venues.coinw.exchange import (
    API,
    DOCS,
    ENDPOINTS,
    EXCHANGE_ID,
    FUTURES,
    RATE_LIMIT_MS,
    coinw,
    envelope_failure,
    futures_figures,
    futures_sign_payload,
    futures_signature,
    position_figures,
    spot_query,
    spot_signature,
    throttle_cost,
)
from bot.venues.coinw.venue import CoinWVenue, merge_positions
from bot.venues.errors import ErrorKind, VenueError, classify
from tests.fakes.coinw_server import (
    API_KEY,
    DOC_TRANSFERABLE,
    SECRET,
    SEED_USER_ASSETS,
    CoinWFakeServer,
    CoinWFakeState,
    Number,
    dumps,
)
from tests.fakes.loopback import on_loopback

D = Decimal
SCALE = 0.1  # the fake's windows and the client's rateLimit shrink together
PERP = "ETH/USDT:USDT"
GET_USER_ASSETS = "/v1/perpum/account/getUserAssets"


# fixtures -------------------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[CoinWFakeServer]:
    async with CoinWFakeServer(time_scale=SCALE) as server:
        yield server


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., coinw]]:
    clients: list[coinw] = []

    def factory(base_url: str, **config: Any) -> coinw:
        settings: dict[str, Any] = {
            "apiKey": API_KEY,
            "secret": SECRET,
            "urls": {"api": {"rest": base_url}},
            "rateLimit": RATE_LIMIT_MS * SCALE,
            "timeout": 5000,
        }
        settings.update(config)
        client = coinw(settings)
        on_loopback(client)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture
def client(fake: CoinWFakeServer, make_client: Callable[..., coinw]) -> coinw:
    return make_client(fake.base_url)


def hedge(perp: str = PERP, spot: str = "ETH/USDT") -> HedgeConfig:
    return HedgeConfig(
        venue="coinw",
        spot=spot,
        perp=perp,
        target_margin_ratio=D("0.5"),
        band=(D("0.3"), D("0.7")),
    )


@pytest.fixture
async def venue(client: coinw) -> CoinWVenue:
    venue = CoinWVenue("coinw", client, {"eth": hedge()})
    await venue.connect()
    return venue


# signing (pure) -------------------------------------------------------------------------------


def test_futures_signature_matches_hand_computed_values() -> None:
    # expected values from `openssl dgst -sha256 -hmac s3cr3t -binary | openssl base64`
    get = futures_sign_payload("1742374984772", "get", "/v1/perpum/positions", "instrument=ETH", "")
    assert get == "1742374984772GET/v1/perpum/positions?instrument=ETH"
    assert futures_signature("s3cr3t", get) == "T2p3Cxd0pNXOkdpmQACUYS0cnw5FKqUL0ORvCqWq4+U="

    bare = futures_sign_payload("1742374984772", "GET", GET_USER_ASSETS, "", "")
    assert bare == "1742374984772GET/v1/perpum/account/getUserAssets"  # no "?" without a query
    assert futures_signature("s3cr3t", bare) == "Tc3jv1Hsltw40ro5N/0u/YGLi8Hc17+pF0qkqbIF1qs="

    body = '{"instrument":"ETH","leverage":"5"}'
    post = futures_sign_payload("1701945494169", "POST", "/v1/perpum/order", "", body)
    assert post == '1701945494169POST/v1/perpum/order{"instrument":"ETH","leverage":"5"}'
    assert futures_signature("s3cr3t", post) == "qSZVU4xjLQez8ENDNAdIn7liTFVvibjbhpeZDhLUi8U="


def test_spot_signature_matches_hand_computed_values() -> None:
    # expected values from `openssl dgst -md5`, upper-cased
    query = spot_query({"symbol": "ETH_USDT", "api_key": "abc", "amount": "1.0"})
    assert query == "amount=1.0&api_key=abc&symbol=ETH_USDT"  # sorted by name
    assert spot_signature(query, "s3cr3t") == "D7DD766156F78B7FE9325A0713E620D6"
    assert spot_signature(spot_query({"api_key": "abc"}), "s3cr3t") == (
        "21A547F8A546A05A1E2E440C86D7D97D"
    )


# rules (pure) ---------------------------------------------------------------------------------


def test_throttle_costs_keep_every_endpoint_under_its_own_limit() -> None:
    for endpoint in ENDPOINTS:
        cost = throttle_cost(endpoint)
        assert API[endpoint.section][endpoint.access][endpoint.method.lower()][endpoint.path] == (
            cost
        )
        # ccxt's leaky bucket (capacity 1) admits call k no earlier than k*cost*rateLimit minus
        # one rateLimit of credit: call `requests` (the first over the limit) must fall outside
        # the window that began with call 0
        earliest_extra_call_ms = endpoint.requests * cost * RATE_LIMIT_MS - RATE_LIMIT_MS
        assert earliest_extra_call_ms > endpoint.window_ms, endpoint.path
        assert endpoint.doc.startswith(DOCS)
    by_path = {e.path: throttle_cost(e) for e in ENDPOINTS}
    assert by_path["v1/perpum/account/getUserAssets"] == 10  # 5 per 2 s, 25% headroom
    assert by_path["returnCompleteBalances"] == 10


def test_futures_free_money_excludes_coupons_and_held_margin() -> None:
    figures = futures_figures({key: str(value) for key, value in SEED_USER_ASSETS.items()})
    assert figures is not None
    assert figures.available_margin == D("499.71964459000003")
    # availableMargin = availableUsdt + almightyGold in the seed; alMargin is held by fills
    assert figures.free == D("495.07556766") - D("0.14311") == D("494.93245766")
    assert figures.free != figures.available_margin
    assert figures.used == D("0.14311")
    assert figures.total == D("495.07556766")


def test_futures_free_money_never_negative() -> None:
    figures = futures_figures(
        {
            "availableMargin": "10",
            "availableUsdt": "10",
            "alMargin": "25",
            "alFreeze": 0,
            "almightyGold": "0",
        }
    )
    assert figures is not None and figures.free == 0


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ({"code": 0, "data": {}, "msg": ""}, None),
        ({"code": "200", "data": {}, "success": True, "failed": False}, None),
        ({"code": 29001, "msg": "API access frequently"}, ("29001", "API access frequently")),
        ({"code": 6003, "message": "require more permission"}, ("6003", "require more permission")),
        ({"code": "200", "msg": "nope", "success": False}, ("200", "nope")),
        ([1, 2], None),
        ({"data": 1}, None),
    ],
)
def test_envelope_failure(response: object, expected: tuple[str, str] | None) -> None:
    assert envelope_failure(response) == expected


def test_position_figures_are_decimal_from_the_row() -> None:
    row = {
        "direction": "SHORT",
        "currentPiece": "-3",
        "openPrice": "100.1",
        "indexPrice": "101.3",
        "profitUnreal": "-0.036",
        "positionMargin": "3.003",
    }
    figures = position_figures(row, D("0.01"))
    assert figures.side == "short" and figures.contracts == D(3)
    assert figures.notional == D("3.039")  # 3 x 0.01 x 101.3
    assert figures.initial_margin == D("3.003") and figures.liquidation_price is None


def _position(**changes: Any) -> Position:
    values: dict[str, Any] = {
        "symbol": PERP,
        "side": "short",
        "contracts": D(100),
        "contract_size": D("0.01"),
        "notional": D(3000),
        "entry_price": D(2900),
        "mark_price": D(3000),
        "unrealized_pnl": D(-100),
        "initial_margin": D(300),
        "liquidation_price": D(3300),
    }
    values.update(changes)
    return Position(**values)


def test_split_positions_merge_into_one_per_symbol() -> None:
    merged = merge_positions(
        [
            _position(),
            _position(
                contracts=D(300),
                notional=D(9000),
                entry_price=D(2700),
                unrealized_pnl=D(-900),
                liquidation_price=D(3200),
            ),
        ],
        venue="coinw",
    )
    assert len(merged) == 1
    one = merged[0]
    assert one.contracts == D(400) and one.notional == D(12000)
    assert one.unrealized_pnl == D(-1000) and one.initial_margin == D(600)
    assert one.entry_price == D(2750)  # contract-weighted
    assert one.liquidation_price == D(3200)  # a short's nearest liquidation is the lowest


def test_both_sides_on_one_symbol_is_refused() -> None:
    with pytest.raises(VenueError) as raised:
        merge_positions([_position(), _position(side="long")], venue="coinw")
    assert raised.value.kind is ErrorKind.UNTRUSTED


# the ccxt class over HTTP ---------------------------------------------------------------------


def test_describe_is_a_read_only_ccxt_exchange() -> None:
    exchange = coinw({})
    assert exchange.id == EXCHANGE_ID == "coinw"
    assert exchange.has["transfer"] is False and exchange.has["fetchTransfers"] is False
    for capability in ("fetchBalance", "fetchPositions", "fetchFundingRate", "swap", "spot"):
        assert exchange.has[capability] is True
    assert exchange.precisionMode == TICK_SIZE
    assert exchange.rateLimit == RATE_LIMIT_MS
    assert exchange.urls["api"]["rest"] == "https://api.coinw.com"


async def test_load_markets(client: coinw) -> None:
    markets = await client.load_markets()
    assert set(markets) == {"ETH/USDT", "BTC/USDT", "ETH/USDT:USDT", "BTC/USDT:USDT"}
    spot = markets["ETH/USDT"]
    assert spot["spot"] and not spot["contract"] and spot["active"] and spot["id"] == "ETH_USDT"
    assert spot["precision"]["amount"] == 0.0001 and spot["precision"]["price"] == 0.01
    perp = markets[PERP]
    assert perp["swap"] and perp["linear"] and not perp["inverse"] and perp["contract"]
    assert perp["settle"] == "USDT" and perp["id"] == "ETH" and perp["active"]
    assert perp["contractSize"] == 0.01 and perp["precision"]["price"] == 0.01
    assert perp["limits"]["amount"]["min"] == 1 and perp["taker"] == 0.0006


async def test_futures_balance_is_the_seed_exactly_and_free_is_not_available_margin(
    client: coinw, fake: CoinWFakeServer
) -> None:
    balance = await client.fetch_balance({"type": "swap"})
    info = balance["info"]
    for key, value in SEED_USER_ASSETS.items():
        assert D(str(info[key])) == value, key  # the venue's digits, not a float's
    assert info["availableMargin"] == "499.71964459000003"
    assert info["transferable"] == DOC_TRANSFERABLE
    assert balance["USDT"]["free"] == 494.93245766
    assert balance["USDT"]["free"] != float(SEED_USER_ASSETS["availableMargin"])
    assert balance["USDT"]["used"] == 0.14311 and balance["USDT"]["total"] == 495.07556766
    assert fake.state.hits[GET_USER_ASSETS] == 1
    assert fake.state.hits["/v1/perpum/account/available"] == 1


@pytest.mark.parametrize("kind", ["future", "futures", "FUTURES"])
async def test_futures_balance_aliases(client: coinw, kind: str) -> None:
    balance = await client.fetch_balance({"type": kind})
    assert balance["free"] == {"USDT": 494.93245766}


async def test_spot_balance(client: coinw) -> None:
    balance = await client.fetch_balance({"type": "spot"})
    assert balance["free"] == {"USDT": 1500.25, "ETH": 1.5}
    assert balance["used"] == {"USDT": 0.0, "ETH": 0.25}
    assert balance["info"]["code"] == "200"
    assert balance["info"]["data"]["ETH"] == {"available": "1.5", "onOrders": "0.25"}
    assert (await client.fetch_balance())["free"] == balance["free"]  # spot is the default


async def test_unknown_balance_type_is_refused(client: coinw) -> None:
    with pytest.raises(ccxt_async.BadRequest, match="margin"):
        await client.fetch_balance({"type": "margin"})


async def test_positions(client: coinw) -> None:
    (position,) = await client.fetch_positions([PERP])
    assert position["symbol"] == PERP and position["side"] == "short"
    assert position["contracts"] == 150 and position["contractSize"] == 0.01
    assert position["notional"] == 4650.375  # 150 x 0.01 x 3100.25
    assert position["entryPrice"] == 3000.5 and position["markPrice"] == 3100.25
    assert position["unrealizedPnl"] == -149.625 and position["liquidationPrice"] == 3290.4
    assert position["initialMargin"] == 450.075 and position["marginMode"] == "cross"
    assert position["info"]["currentPiece"] == "150"
    every = await client.fetch_positions()
    assert [p["symbol"] for p in every] == [PERP]
    assert await client.fetch_positions(["BTC/USDT:USDT"]) == []


async def test_funding_rate(client: coinw) -> None:
    rate = await client.fetch_funding_rate(PERP)
    # the last settled rate: CoinW gives no current one, so fundingRate stays empty
    assert rate["symbol"] == PERP and rate["previousFundingRate"] == 0.00010937
    assert rate["fundingRate"] is None
    assert rate["info"] == {"value": "0.00010937"} and rate["interval"] == "8h"
    btc = await client.fetch_funding_rate("BTC/USDT:USDT")
    assert btc["info"] == {"value": "4.926e-05"}


@pytest.mark.parametrize("kind", ["swap", "spot"])
async def test_wrong_secret_is_an_authentication_error_without_the_secret(
    fake: CoinWFakeServer, make_client: Callable[..., coinw], kind: str
) -> None:
    wrong = "not-the-secret-for-this-key"
    client = make_client(fake.base_url, secret=wrong)
    with pytest.raises(ccxt_async.AuthenticationError) as raised:
        await client.fetch_balance({"type": kind})
    message = str(raised.value)
    assert "6001" in message and wrong not in message and SECRET not in message
    assert "sign=" not in message and API_KEY not in message
    classified = classify(raised.value, venue="coinw", state_changing=False)
    assert classified.kind is ErrorKind.FATAL and classified.code == "6001"


async def test_http_5xx_is_exchange_not_available(client: coinw, fake: CoinWFakeServer) -> None:
    fake.state.fail_next = [503]
    with pytest.raises(ccxt_async.ExchangeNotAvailable) as raised:
        await client.fetch_balance({"type": "spot"})
    message = str(raised.value)
    assert "503" in message and "returnCompleteBalances" in message
    assert API_KEY not in message and "sign=" not in message and SECRET not in message


async def test_unknown_contract_and_unknown_codes(client: coinw, fake: CoinWFakeServer) -> None:
    await client.load_markets()
    del fake.state.funding_rates["BTC"]
    with pytest.raises(ccxt_async.BadSymbol, match="9001"):
        await client.fetch_funding_rate("BTC/USDT:USDT")
    body = '{"code": 7777, "msg": "something else"}'
    with pytest.raises(ccxt_async.ExchangeError) as raised:
        client.handle_errors(
            200,
            "OK",
            "http://x/v1/p?a=1",
            "GET",
            {},
            body,
            {"code": 7777, "msg": "something else"},
            {},
            None,
        )
    assert type(raised.value) is ccxt_async.ExchangeError
    assert '"code": "7777"' in str(raised.value) and "something else" in str(raised.value)
    assert "a=1" not in str(raised.value)


async def test_throttled_burst_stays_under_the_venue_limit(
    make_client: Callable[..., coinw],
) -> None:
    # windows twice the venue's: the throttler's margin (25% of the window) must absorb the
    # scheduling jitter of client and server sharing one event loop on a machine busy with the
    # rest of the suite and CI's busy processes (refused once at 0.25 under four xdist workers,
    # once at 0.5 at a load average of 6, once at 0.75 at 12); at 2.0 the margin is a second,
    # and the test waits (no CPU) about 6 s
    scale = 2.0
    burst = 7  # the venue allows 5 per (scaled) 2 s window
    async with CoinWFakeServer(time_scale=scale) as fake:
        client = make_client(fake.base_url, rateLimit=RATE_LIMIT_MS * scale)
        costs = throttle_costs(client)
        await asyncio.gather(
            *(client.futures_private_get_v1_perpum_account_getuserassets() for _ in range(burst))
        )
    # every call asked ccxt's throttler for the endpoint's own cost, and the venue, counting
    # arrivals against its limit, refused none of the burst
    assert costs == [API["futures"]["private"]["get"]["v1/perpum/account/getUserAssets"]] * burst
    assert costs[0] == 10
    assert fake.state.hits[GET_USER_ASSETS] == burst
    assert fake.state.refused[GET_USER_ASSETS] == 0


def throttle_costs(client: coinw) -> list[float]:
    """The cost of every call, as handed to ccxt's throttler (which still paces them)."""
    costs: list[float] = []
    throttle = client.throttle

    async def recording(cost: float | None = None) -> Any:
        costs.append(cost)
        return await throttle(cost)

    client.throttle = recording  # type: ignore[method-assign]
    return costs


async def test_unthrottled_burst_is_refused_as_rate_limit_exceeded(
    fake: CoinWFakeServer, make_client: Callable[..., coinw]
) -> None:
    client = make_client(fake.base_url, enableRateLimit=False)
    results = await asyncio.gather(
        *(client.futures_private_get_v1_perpum_account_getuserassets() for _ in range(8)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert refused and all(isinstance(r, ccxt_async.RateLimitExceeded) for r in refused)
    assert len(refused) == fake.state.refused[GET_USER_ASSETS]
    classified = classify(refused[0], venue="coinw", state_changing=False)
    assert classified.kind is ErrorKind.TRANSIENT and classified.code == "29001"


# the venue ------------------------------------------------------------------------------------


async def test_venue_reads_exact_state(venue: CoinWVenue) -> None:
    assert venue.can_transfer is False
    state = await venue.read_state()
    futures = state.wallets[(FUTURES, "USDT")]
    assert futures.transferable == D("438.799142390000018")  # account/available, not free
    assert futures.free == D("494.93245766")
    assert futures.used == D("0.14311") and futures.balance == D("495.07556766")
    assert futures.unrealized_pnl == D("-149.625")  # the open short's loss counts
    spot = state.wallets[(SPOT, "USDT")]
    assert spot.free == spot.transferable == D("1500.25") and spot.used == 0
    assert state.wallets[(SPOT, "ETH")].balance == D("1.75")
    position = state.positions[PERP]
    assert position.side == "short" and position.contracts == D(150)
    assert position.notional == D("4650.375") and position.entry_price == D("3000.5")
    assert state.funding[PERP].rate == D("0.00010937")
    assert state.markets[PERP].futures_account == FUTURES
    assert state.markets[PERP].contract_size == D("0.01")
    assert state.transfer_steps == {"USDT": D("0.01")}
    assert state.can_transfer is False


async def test_venue_counts_losses_but_not_gains(venue: CoinWVenue, fake: CoinWFakeServer) -> None:
    fake.state.positions[0]["profitUnreal"] = "75.5"
    state = await venue.read_state()
    assert state.positions[PERP].unrealized_pnl == D("75.5")
    assert state.wallets[(FUTURES, "USDT")].unrealized_pnl == 0


@pytest.mark.parametrize("account", ["swap", "future", "futures"])
async def test_venue_fresh_transferable(
    venue: CoinWVenue, fake: CoinWFakeServer, account: str
) -> None:
    fake.state.transferable = "12.345678901234567"
    assert await venue.read_transferable(account, "USDT") == D("12.345678901234567")
    assert venue.balance_params(account) == {"type": FUTURES}


async def test_venue_merges_a_split_position(venue: CoinWVenue, fake: CoinWFakeServer) -> None:
    second = dict(fake.state.positions[0], id="2", currentPiece="50", profitUnreal="-49.875")
    fake.state.positions.append(second)
    state = await venue.read_state()
    position = state.positions[PERP]
    assert position.contracts == D(200) and position.notional == D("6200.5")
    assert position.unrealized_pnl == D("-199.5")


async def test_venue_refuses_a_perpetual_not_settled_in_usdt(
    fake: CoinWFakeServer, client: coinw
) -> None:
    usdc = dict(fake.state.instruments[1], name="BTC_USDC", quote="usdc")
    fake.state.instruments.append(usdc)
    venue = CoinWVenue("coinw", client, {"btc": hedge("BTC/USDC:USDC", "BTC/USDT")})
    with pytest.raises(VenueUnusable, match="USDT only"):
        await venue.connect()


# exact figures --------------------------------------------------------------------------------


async def test_a_documented_figure_served_as_a_json_number_reaches_the_bot_exactly(
    venue: CoinWVenue, fake: CoinWFakeServer
) -> None:
    # a float would make this 438.79914239000004: the digits must be the venue's
    fake.state.transferable = Number(DOC_TRANSFERABLE)
    fake.state.user_assets["availableUsdt"] = Number("438.799142390000018")
    fake.state.positions[0]["openPrice"] = Number("3000.500000000000000001")
    fake.state.positions[0]["profitUnreal"] = Number("-149.625000000000000001")
    fake.state.funding_rates["ETH"] = Number("0.000109370000000000001")
    assert '"value": 438.799142390000018' in dumps({"value": fake.state.transferable})
    state = await venue.read_state()
    futures = state.wallets[(FUTURES, "USDT")]
    assert exact(futures.transferable, "438.799142390000018")
    assert exact(futures.free, "438.656032390000018")  # availableUsdt - alMargin
    position = state.positions[PERP]
    assert exact(position.entry_price, "3000.500000000000000001")
    assert exact(position.unrealized_pnl, "-149.625000000000000001")
    assert exact(state.funding[PERP].rate, "0.000109370000000000001")
    assert exact(state.markets[PERP].contract_size, "0.01")  # oneLotSize, not ccxt's float


def exact(value: Decimal | None, literal: str) -> bool:
    """Equal to the literal digit for digit, exponent included (not merely numerically)."""
    return value is not None and value.as_tuple() == D(literal).as_tuple()


async def test_a_row_of_zero_contracts_is_flat(venue: CoinWVenue, fake: CoinWFakeServer) -> None:
    fake.state.positions[0]["currentPiece"] = "0"
    assert await venue.read_positions([PERP]) == []


# strict decoding: table-driven against the fake -----------------------------------------------

MISSING = object()


def assets(key: str, value: object) -> Callable[[CoinWFakeState], None]:
    return lambda state: _set(state.user_assets, key, value)


def position(key: str, value: object) -> Callable[[CoinWFakeState], None]:
    return lambda state: _set(state.positions[0], key, value)


def spot(asset: str, key: str, value: object) -> Callable[[CoinWFakeState], None]:
    return lambda state: _set(state.spot_balances[asset], key, value)


def raw(endpoint: str, body: str) -> Callable[[CoinWFakeState], None]:
    return lambda state: state.raw_bodies.__setitem__(endpoint, body)


def _set(target: dict[str, Any], key: str, value: object) -> None:
    if value is MISSING:
        del target[key]
    else:
        target[key] = value


def _set_transferable(value: object) -> Callable[[CoinWFakeState], None]:
    return lambda state: setattr(state, "transferable", value)


def _add_spot(asset: str) -> Callable[[CoinWFakeState], None]:
    return lambda state: state.spot_balances.__setitem__(asset, {"available": "1", "onOrders": "0"})


def _duplicate_position(state: CoinWFakeState) -> None:
    state.positions.append(dict(state.positions[0]))


def _long_and_short(state: CoinWFakeState) -> None:
    state.positions.append(dict(state.positions[0], id="2", direction="long"))


ASSETS = "GET /v1/perpum/account/getUserAssets"
AVAILABLE = "GET /v1/perpum/account/available"
SPOT_BALANCES = "POST /api/v1/private?command=returnCompleteBalances"
POSITIONS = "GET /v1/perpum/positions"
FUNDING = "GET /v1/perpum/fundingRate"

#: (what to read, a change to the fake, the one-line error after "coinw: ")
STRICT_CASES = [
    pytest.param(
        "swap",
        assets("availableMargin", Number("NaN")),
        f"{ASSETS}: availableMargin is 'NaN', not a finite number",
    ),
    pytest.param(
        "swap",
        assets("availableUsdt", Number("-Infinity")),
        f"{ASSETS}: availableUsdt is '-Infinity', not a finite number",
    ),
    pytest.param("swap", assets("alMargin", MISSING), f"{ASSETS}: alMargin is missing"),
    pytest.param("swap", assets("alFreeze", None), f"{ASSETS}: alFreeze is null"),
    pytest.param(
        "swap",
        assets("almightyGold", D("-0.01")),
        f"{ASSETS}: almightyGold is '-0.01'; it cannot be negative",
    ),
    pytest.param(
        "swap",
        assets("availableUsdt", Number("1e16")),
        f"{ASSETS}: availableUsdt is '1e16', absurdly large (beyond ±1e15)",
    ),
    pytest.param(
        "swap",
        assets("availableUsdt", "12abc"),
        f"{ASSETS}: availableUsdt is '12abc', not a number",
    ),
    pytest.param(
        "swap", assets("availableUsdt", True), f"{ASSETS}: availableUsdt is true, not a number"
    ),
    pytest.param(
        "swap",
        _set_transferable("-0.5"),
        f"{AVAILABLE}: data.value is '-0.5'; it cannot be negative",
    ),
    pytest.param(
        "swap",
        _set_transferable(Number("NaN")),
        f"{AVAILABLE}: data.value is 'NaN', not a finite number",
    ),
    pytest.param(
        "swap",
        raw("/v1/perpum/account/available", '{"code": 0, "data": {}, "msg": ""}'),
        f"{AVAILABLE}: data.value is missing",
    ),
    pytest.param(
        "swap",
        raw("/v1/perpum/account/getUserAssets", '{"code": 0, "data": null, "msg": ""}'),
        f"{ASSETS}: data is null, not a JSON object",
    ),
    pytest.param(
        "spot", spot("ETH", "available", MISSING), f"{SPOT_BALANCES}: data.ETH.available is missing"
    ),
    pytest.param(
        "spot",
        spot("USDT", "onOrders", "NaN"),
        f"{SPOT_BALANCES}: data.USDT.onOrders is 'NaN', not a finite number",
    ),
    pytest.param(
        "spot",
        spot("USDT", "available", "-1"),
        f"{SPOT_BALANCES}: data.USDT.available is '-1'; it cannot be negative",
    ),
    pytest.param(
        "spot", _add_spot("usdt"), f"{SPOT_BALANCES}: data.usdt is a second entry for USDT"
    ),
    pytest.param(
        "spot", _add_spot(" "), f"{SPOT_BALANCES}: data[' '] is an entry without an asset name"
    ),
    pytest.param(
        "spot",
        raw(
            "returnCompleteBalances",
            '{"code": "200", "data": {"ETH": {"available": "1", "onOrders": "0"}, '
            '"ETH": {"available": "2", "onOrders": "0"}}}',
        ),
        f"{SPOT_BALANCES}: key 'ETH' appears twice in one object",
    ),
    pytest.param(
        "positions",
        position("profitUnreal", Number("NaN")),
        f"{POSITIONS}: data[ETH].profitUnreal is 'NaN', not a finite number",
    ),
    pytest.param(
        "positions",
        position("currentPiece", MISSING),
        f"{POSITIONS}: data[ETH].currentPiece is missing",
    ),
    pytest.param(
        "positions", position("currentPiece", None), f"{POSITIONS}: data[ETH].currentPiece is null"
    ),
    pytest.param(
        "positions",
        position("currentPiece", "-150"),
        f"{POSITIONS}: data[ETH].currentPiece is '-150'; it cannot be negative",
    ),
    pytest.param(
        "positions", position("direction", MISSING), f"{POSITIONS}: data[ETH].direction is missing"
    ),
    pytest.param(
        "positions",
        position("direction", "both"),
        f"{POSITIONS}: data[ETH].direction is 'both', not long or short",
    ),
    pytest.param(
        "positions", position("openPrice", MISSING), f"{POSITIONS}: data[ETH].openPrice is missing"
    ),
    pytest.param(
        "positions",
        position("indexPrice", MISSING),
        f"{POSITIONS}: data[ETH].indexPrice is missing",
    ),
    pytest.param(
        "positions",
        position("indexPrice", "0"),
        f"{POSITIONS}: data[ETH].indexPrice is '0'; it must be above 0",
    ),
    pytest.param(
        "positions",
        position("liquidationPrice", "Infinity"),
        f"{POSITIONS}: data[ETH].liquidationPrice is 'Infinity', not a finite number",
    ),
    pytest.param("positions", position("id", MISSING), f"{POSITIONS}: data[ETH].id is missing"),
    pytest.param(
        "positions",
        _duplicate_position,
        f"{POSITIONS}: data[ETH].id is '2435521222631981320' on two rows",
    ),
    pytest.param(
        "positions",
        _long_and_short,
        "ETH/USDT:USDT: both long and short positions are open; the bot hedges one short "
        "per perpetual, so close one side first",
    ),
    pytest.param(
        "positions",
        raw("/v1/perpum/positions", '{"code": 0, "data": [{"id": "1", "instrument": null}]}'),
        f"{POSITIONS}: data[0].instrument is null, not a name",
    ),
    pytest.param(
        "positions",
        raw("/v1/perpum/positions", '{"code": 0, "data": null, "msg": ""}'),
        f"{POSITIONS}: data is null, not a list of positions",
    ),
    pytest.param(
        "positions",
        raw("/v1/perpum/positions", '{"code": 0, "data": {}, "msg": ""}'),
        f"{POSITIONS}: data is {{}}, not a list of positions",
    ),
    pytest.param(
        "funding",
        lambda state: state.funding_rates.__setitem__("ETH", Number("NaN")),
        f"{FUNDING}: data.value is 'NaN', not a finite number",
    ),
    pytest.param(
        "funding",
        lambda state: state.funding_rates.__setitem__("ETH", 2),
        f"{FUNDING}: data.value is 2, absurdly large (beyond ±1)",
    ),
]


@pytest.mark.parametrize(
    ("read", "change", "message"), STRICT_CASES, ids=[case.values[2] for case in STRICT_CASES]
)
async def test_a_malformed_figure_is_refused_naming_the_endpoint_and_field(
    venue: CoinWVenue,
    fake: CoinWFakeServer,
    read: str,
    change: Callable[[CoinWFakeState], None],
    message: str,
) -> None:
    change(fake.state)
    with pytest.raises(VenueError) as raised:
        if read == "positions":
            await venue.read_positions([PERP])
        elif read == "funding":
            await venue.read_funding(PERP)
        else:
            await venue.read_wallets(read)
    assert raised.value.kind is ErrorKind.UNTRUSTED
    assert str(raised.value) == f"coinw: {message}"
    assert "\n" not in str(raised.value)


async def test_a_malformed_position_read_is_never_flat(
    venue: CoinWVenue, fake: CoinWFakeServer
) -> None:
    fake.state.positions[0]["currentPiece"] = "lots"
    with pytest.raises(VenueError, match="currentPiece is 'lots', not a number"):
        await venue.read_state()


async def test_a_gain_on_one_hedge_does_not_hide_a_loss_on_another(
    client: coinw, fake: CoinWFakeServer
) -> None:
    fake.state.positions.append(
        dict(
            fake.state.positions[0],
            id="9",
            instrument="BTC",
            direction="short",  # a short in profit: the price fell below its entry
            currentPiece="100",
            openPrice="62000",
            indexPrice="60000",
            profitUnreal="200",
        )
    )
    hedges = {"eth": hedge(), "btc": hedge("BTC/USDT:USDT", "BTC/USDT")}
    venue = CoinWVenue("coinw", client, hedges)
    await venue.connect()
    state = await venue.read_state()
    assert state.positions["BTC/USDT:USDT"].unrealized_pnl == D(200)
    assert state.positions[PERP].unrealized_pnl == D("-149.625")
    # min(0, 200 - 149.625) would be 0: the ETH short's loss must still count
    assert state.wallets[(FUTURES, "USDT")].unrealized_pnl == D("-149.625")
