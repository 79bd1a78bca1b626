"""Every futures answer has exactly the shape of Binance's documented example for that endpoint
and version: the same field names at every level and the same JSON types (strings for figures,
booleans, integers for times), nothing more, nothing less. The examples are stored in
tests/fixtures/binance-docs/response_examples.json with the page each one comes from.

And the figures in it are written as Binance writes them: a position amount at its symbol's
quantityPrecision (as the paper's own exchangeInfo states it), USD-M entry and break-even prices
in Binance's shortest form, COIN-M prices in 8 decimals, and a break-even price that counts the
fees the position paid to open.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.paper import PAPER_API_KEY, routes_ws
from bot.paper.accounting import break_even_price, fees_paid
from bot.paper.model import MarketKind, PaperState, Position
from tests.paper.test_paper_ws import WAIT, _signed

D = Decimal
LINEAR, INVERSE = MarketKind.LINEAR, MarketKind.INVERSE
EXAMPLES_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "binance-docs"
EXAMPLES: dict[str, Any] = json.loads(
    (EXAMPLES_FILE / "response_examples.json").read_text(encoding="utf-8")
)


def shape(value: Any) -> Any:
    """Field names and JSON types, recursively; a list's shape is its first element's."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, str):
        return "str"
    return type(value).__name__  # a float or null would be a difference worth seeing


def assert_shaped_like(answer: Any, example: Any, where: str = "") -> None:
    """`answer` has `example`'s fields and types; every element of a list has its first
    element's."""
    if isinstance(example, list):
        assert isinstance(answer, list) and answer, f"{where}: not a non-empty list"
        for index, item in enumerate(answer):
            assert_shaped_like(item, example[0], f"{where}[{index}]")
        return
    if isinstance(example, dict):
        assert isinstance(answer, dict), f"{where}: not an object"
        missing, extra = set(example) - set(answer), set(answer) - set(example)
        assert not missing and not extra, f"{where}: missing {missing}, not documented {extra}"
        for key in example:
            assert_shaped_like(answer[key], example[key], f"{where}.{key}")
        return
    assert shape(answer) == shape(example), f"{where}: {answer!r} is not like {example!r}"


REST_CASES = [
    ("GET /fapi/v3/account", "fapiPrivateV3GetAccount"),
    ("GET /fapi/v2/account", "fapiPrivateV2GetAccount"),
    ("GET /fapi/v2/balance", "fapiPrivateV2GetBalance"),
    ("GET /fapi/v3/balance", "fapiPrivateV3GetBalance"),
    ("GET /fapi/v3/positionRisk", "fapiPrivateV3GetPositionRisk"),
    ("GET /fapi/v2/positionRisk", "fapiPrivateV2GetPositionRisk"),
    ("GET /dapi/v1/account", "dapiPrivateGetAccount"),
    ("GET /dapi/v1/balance", "dapiPrivateGetBalance"),
]


@pytest.mark.parametrize(("endpoint", "method"), REST_CASES, ids=[c[0] for c in REST_CASES])
async def test_rest_answer_has_the_documented_shape(client, endpoint, method):
    answer = await getattr(client, method)()
    assert_shaped_like(answer, EXAMPLES[endpoint]["example"], endpoint)


async def test_fields_binance_does_not_send_are_absent(client):
    """The fields the paper used to add: each belongs to another endpoint or version."""
    (coinm_balance,) = await client.dapiPrivateGetBalance()
    assert "maxWithdrawAmount" not in coinm_balance and "withdrawAvailable" in coinm_balance
    v2_positions = (await client.fapiPrivateV2GetAccount())["positions"]
    for gone in ("isolatedMargin", "notional", "isolatedWallet", "breakEvenPrice"):
        assert all(gone not in p for p in v2_positions), gone
    v3_positions = (await client.fapiPrivateV3GetAccount())["positions"]
    assert all({"isolatedMargin", "notional", "isolatedWallet"} <= set(p) for p in v3_positions)
    coinm_positions = (await client.dapiPrivateGetAccount())["positions"]
    for gone in ("isolatedWallet", "notionalValue"):
        assert all(gone not in p for p in coinm_positions), gone
    v2_risk = await client.fapiPrivateV2GetPositionRisk()
    assert all("isolated" not in p and "adlQuantile" not in p for p in v2_risk)


async def test_coinm_position_risk_is_the_live_answer_s_shape(client, response_fixtures):
    """Binance's example for /dapi/v1/positionRisk has no notionalValue or isolatedWallet; ccxt's
    recording of the live answer has both (and the bot sizes COIN-M hedges by notionalValue).
    The paper follows the live answer: the documented fields with the documented types, plus
    exactly those two."""
    answer = await client.dapiPrivateGetPositionRisk()
    recorded = response_fixtures["fetchPositions"][3]["httpResponse"]
    documented = EXAMPLES["GET /dapi/v1/positionRisk"]["example"][0]
    for row in answer:
        assert set(row) == set(recorded[0])
        assert set(row) - set(documented) == {"notionalValue", "isolatedWallet"}
        assert_shaped_like({k: row[k] for k in documented}, documented, row["symbol"])
        assert isinstance(row["notionalValue"], str) and row["isolatedWallet"] == "0"


async def test_premium_index_has_the_documented_shape(client):
    linear = await client.fapiPublicGetPremiumIndex({"symbol": "ETHUSDT"})
    assert_shaped_like(linear, EXAMPLES["GET /fapi/v1/premiumIndex"]["example"], "fapi")
    assert_shaped_like(
        await client.fapiPublicGetPremiumIndex(),
        [EXAMPLES["GET /fapi/v1/premiumIndex"]["example"]],
        "fapi, every symbol",
    )
    inverse = await client.dapiPublicGetPremiumIndex()
    assert_shaped_like(inverse, EXAMPLES["GET /dapi/v1/premiumIndex"]["example"], "dapi")


async def _ws_ask(exchange: Any, method: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(exchange.base_url + routes_ws.WS_DAPI_PATH) as ws,
    ):
        params = _signed(apiKey=PAPER_API_KEY, timestamp=exchange.server_time())
        await ws.send_str(json.dumps({"id": "shape", "method": method, "params": params}))
        return json.loads(await asyncio.wait_for(ws.receive_str(), WAIT))


@pytest.mark.parametrize("method", ["account.balance", "account.status"])
async def test_websocket_answer_has_the_documented_shape(exchange, method):
    frame = await _ws_ask(exchange, method)
    assert_shaped_like(frame, EXAMPLES[f"WS {method}"]["example"], method)


# --- figures written as Binance writes them ---------------------------------------------------


def _with_position(state: PaperState, position: Position) -> PaperState:
    others = tuple(
        p for p in state.positions if (p.kind, p.symbol) != (position.kind, position.symbol)
    )
    return dataclasses.replace(state, positions=(*others, position))


def _at_quantity_precision(state: PaperState, symbol: str, places: int) -> PaperState:
    markets = tuple(
        dataclasses.replace(m, quantity_precision=places, step_size=D(1).scaleb(-places))
        if (m.kind, m.symbol) == (LINEAR, symbol)
        else m
        for m in state.markets
    )
    return dataclasses.replace(state, markets=markets)


def _decimals(text: str) -> int:
    return len(text.partition(".")[2])


async def test_amounts_have_each_symbol_s_quantity_precision_from_exchange_info(client, exchange):
    """ETHUSDT at 2 decimals, BTCUSDT at 3, BTCUSD_PERP in whole contracts: each row as its
    symbol's quantityPrecision in the paper's own exchangeInfo says."""
    state = _at_quantity_precision(exchange.state, "ETHUSDT", 2)
    btc = Position(
        kind=LINEAR, symbol="BTCUSDT", amount=D("0.009"), entry_price=D("67445.9"), update_time=1
    )
    exchange.store.commit(_with_position(state, btc))
    precision = {
        s["symbol"]: s["quantityPrecision"]
        for s in (await client.fapiPublicGetExchangeInfo())["symbols"]
    }
    assert {s: p for s, p in precision.items() if "_" not in s} == {"ETHUSDT": 2, "BTCUSDT": 3}
    v3 = {p["symbol"]: p for p in await client.fapiPrivateV3GetPositionRisk()}
    assert (v3["ETHUSDT"]["positionAmt"], v3["BTCUSDT"]["positionAmt"]) == ("-5.00", "0.009")
    rows = [
        *v3.values(),
        *await client.fapiPrivateV2GetPositionRisk(),
        *(await client.fapiPrivateV3GetAccount())["positions"],
        *(await client.fapiPrivateV2GetAccount())["positions"],
    ]
    for row in rows:
        assert _decimals(row["positionAmt"]) == precision[row["symbol"]], row

    inverse_precision = {
        s["symbol"]: s["quantityPrecision"]
        for s in (await client.dapiPublicGetExchangeInfo())["symbols"]
    }
    coinm = {p["symbol"]: p for p in await client.dapiPrivateGetPositionRisk()}
    assert (
        coinm["BTCUSD_PERP"]["positionAmt"] == "-300" and coinm["ETHUSD_PERP"]["positionAmt"] == "0"
    )
    for row in [*coinm.values(), *(await client.dapiPrivateGetAccount())["positions"]]:
        assert _decimals(row["positionAmt"]) == inverse_precision[row["symbol"]] == 0


async def test_usdm_prices_are_written_as_binance_writes_them(client):
    """Entry and break-even in Binance's shortest form ("3000.0", never "3000" nor the
    pricePrecision-padded "3000.00"), mark and liquidation in 8 decimals, flat rows "0.0"."""
    (eth,) = await client.fapiPrivateV3GetPositionRisk()
    assert (eth["positionAmt"], eth["entryPrice"], eth["breakEvenPrice"]) == (
        "-5.000",
        "3000.0",
        "2998.5",  # a short paid 0.05 % of 15000 USDT to open: 7.5 USDT, 1.5 per ETH
    )
    assert (eth["markPrice"], eth["liquidationPrice"]) == ("3000.00000000", "3880.59701492")
    v2 = {p["symbol"]: p for p in await client.fapiPrivateV2GetPositionRisk()}
    assert (v2["ETHUSDT"]["entryPrice"], v2["ETHUSDT"]["breakEvenPrice"]) == ("3000.0", "2998.5")
    flat = v2["BTCUSDT"]
    assert (flat["positionAmt"], flat["entryPrice"], flat["breakEvenPrice"]) == (
        "0.000",
        "0.0",
        "0.0",
    )
    account = {p["symbol"]: p for p in (await client.fapiPrivateV2GetAccount())["positions"]}
    assert (account["ETHUSDT"]["entryPrice"], account["BTCUSDT"]["entryPrice"]) == ("3000.0", "0.0")


async def test_coinm_prices_are_eight_decimals_as_live_answers_are(client):
    rows = {p["symbol"]: p for p in await client.dapiPrivateGetPositionRisk()}
    btc, eth = rows["BTCUSD_PERP"], rows["ETHUSD_PERP"]
    assert (btc["entryPrice"], btc["breakEvenPrice"]) == ("60000.00000000", "59970.00000000")
    assert (eth["entryPrice"], eth["breakEvenPrice"]) == ("0.00000000", "0.00000000")
    account = {p["symbol"]: p for p in (await client.dapiPrivateGetAccount())["positions"]}
    assert account["BTCUSD_PERP"]["breakEvenPrice"] == "59970.00000000"


@pytest.mark.parametrize(
    ("symbol", "amount", "entry", "rate", "shown"),
    [
        # ccxt's recorded /fapi/v3/positionRisk: a 0.009 BTC long, 0.05 % taker
        ("BTCUSDT", "0.009", "67445.9", "0.0005", ("0.009", "67445.9", "67479.62295")),
        # Binance's Position Information V3 example: a 30 ADA long at 0.02 % maker, on ETHUSDT
        ("ETHUSDT", "30", "0.385", "0.0002", ("30.000", "0.385", "0.385077")),
        ("ETHUSDT", "-5", "3000", "0", ("-5.000", "3000.0", "3000.0")),  # no fee: the entry
    ],
)
async def test_break_even_counts_the_fees_paid(
    client, exchange, symbol, amount, entry, rate, shown
):
    position = Position(
        kind=LINEAR,
        symbol=symbol,
        amount=D(amount),
        entry_price=D(entry),
        commission_rate=D(rate),
        update_time=1,
    )
    exchange.store.commit(_with_position(exchange.state, position))
    row = {p["symbol"]: p for p in await client.fapiPrivateV3GetPositionRisk()}[symbol]
    assert (row["positionAmt"], row["entryPrice"], row["breakEvenPrice"]) == shown


async def test_coinm_break_even_counts_the_fees_paid(client, exchange):
    """ccxt's recorded /dapi/v1/positionRisk: 3 BTCUSD_PERP short at 68911.00000037 breaks even at
    68876.54450033, entry x (1 - 0.05 %) to 7 decimals (Binance's entry has more digits than
    the 8 it shows)."""
    position = Position(
        kind=INVERSE,
        symbol="BTCUSD_PERP",
        amount=D(-3),
        entry_price=D("68911.00000037"),
        update_time=1,
    )
    exchange.store.commit(_with_position(exchange.state, position))
    rows = {p["symbol"]: p for p in await client.dapiPrivateGetPositionRisk()}
    shown = D(rows["BTCUSD_PERP"]["breakEvenPrice"])
    assert shown == D("68876.54450036")  # 68911.00000037 x 0.9995, 8 decimals toward zero
    assert abs(shown - D("68876.54450033")) < D("1E-7")


def test_break_even_formula_per_kind():
    """BE = entry + fees / amount (linear); inverse converts the coin fees at entry: both are
    entry x (1 + side x rate) for fees = rate x the notional at entry."""
    for kind, size in ((LINEAR, D(1)), (INVERSE, D(100))):
        for amount in (D("2"), D("-2")):
            fees = fees_paid(kind, amount, D(50000), D("0.0004"), size)
            side = 1 if amount > 0 else -1
            assert break_even_price(kind, amount, D(50000), fees, size) == D(50000) * (
                1 + side * D("0.0004")
            )
    assert fees_paid(LINEAR, D("-5"), D(3000), D("0.0005")) == D("7.5")  # USDT
    assert fees_paid(INVERSE, D(-300), D(60000), D("0.0005"), D(100)) == D("0.00025")  # BTC
    assert break_even_price(LINEAR, D(0), D(0), D(0)) == 0
