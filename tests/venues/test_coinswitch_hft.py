"""The stock `coinswitch` ccxt client in HFT mode (`options.surface: hft`) against the HFT
fake over HTTP, and `CoinSwitchHftVenue`'s strict reading of the HFT answers.

The fake verifies every request's Ed25519 signature independently (METHOD + path?query +
epoch: the Authentication page signs no body, so a POST's body is outside the signature)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal as D
from typing import Any

import ccxt.async_support as ccxt_async
import pytest

from bot.config import HedgeConfig
from bot.errors import ErrorKind, VenueError, VenueUnusable
from bot.model import SPOT
from bot.venues.coinswitch import hft
from bot.venues.coinswitch.exchange import (
    DuplicateClientTxnId,
    coinswitch,
    hft_refusal,
    json_body,
)
from bot.venues.coinswitch.hft_venue import CoinSwitchHftVenue
from bot.venues.coinswitch.venue import CoinSwitchVenue
from bot.venues.decode import Decoder, Untrusted
from tests.fakes.coinswitch_hft_server import (
    TRANSFER_PATH,
    WALLET_PATH,
    CoinSwitchHftServer,
    HftBook,
    short_eth,
)
from tests.fakes.coinswitch_server import new_key_pair
from tests.fakes.loopback import on_loopback

API_KEY, SECRET = new_key_pair()


@pytest.fixture
async def server() -> AsyncIterator[CoinSwitchHftServer]:
    async with CoinSwitchHftServer(api_keys=[API_KEY], time_scale=0.01) as running:
        yield running


@pytest.fixture
async def client(server: CoinSwitchHftServer) -> AsyncIterator[coinswitch]:
    exchange = coinswitch(
        {
            "apiKey": API_KEY,
            "secret": SECRET,
            "enableRateLimit": False,
            "timeout": 5000,
            "options": {"surface": "hft"},
        }
    )
    exchange.urls["api"] = server.hft_urls()
    on_loopback(exchange)
    yield exchange
    await exchange.close()


def hedge() -> HedgeConfig:
    return HedgeConfig(
        venue="coinswitch",
        spot="ETH/USDT",
        perp="ETH/USDT:USDT",
        target_margin_ratio=D("0.5"),
        band=(D("0.4"), D("0.6")),
    )


# the stock client -----------------------------------------------------------------------------


def test_the_hft_surface_claims_transfer_and_the_futures_surface_does_not() -> None:
    assert coinswitch({"options": {"surface": "hft"}}).has["transfer"] is True
    assert coinswitch().has["transfer"] is False
    assert coinswitch().urls["api"]["dma"] == "https://dma.coinswitch.co/dma/api/v1"


async def test_hft_balance_is_the_hft_accounts_coins(client: coinswitch) -> None:
    balance = await client.fetch_balance({"type": "hft"})
    assert balance["USDT"]["total"] == 800 and balance["USDT"]["used"] == 1054.6569
    (account,) = balance["info"]["result"]["list"]
    assert account["coin"][0]["walletBalance"] == "800"  # the venue's digits stay in info
    futures = await client.fetch_balance({"type": "swap"})  # HFT mode: the HFT account
    assert futures["info"] == balance["info"] | {"time": futures["info"]["time"]}


async def test_hft_positions_read_the_v5_position_list(
    client: coinswitch, server: CoinSwitchHftServer
) -> None:
    (position,) = await client.fetch_positions(["ETH/USDT:USDT"])
    assert position["side"] == "short" and position["contracts"] == 1.5
    assert position["symbol"] == "ETH/USDT:USDT" and position["info"]["liqPrice"] == "4183.50"
    paths = [raw for method, raw, _ in server.received if raw.startswith("/v5/position/list")]
    assert paths == ["/v5/position/list?category=linear&symbol=ETHUSDT"]


async def test_transfer_funds_sends_the_documented_body_with_the_exact_amount(
    client: coinswitch, server: CoinSwitchHftServer
) -> None:
    txn_id = str(uuid.uuid4())
    answer = await client.transfer(
        "USDT", "100.000000015", "spot", "hft", {"client_txn_id": txn_id}
    )
    (applied,) = server.book.transfers
    assert applied.amount == D("100.000000015")  # a JSON number, never through a float
    assert applied.client_txn_id == txn_id and applied.direction == "IN"
    assert answer["id"] == applied.txn_id and answer["status"] == "ok"
    assert answer["info"]["result"]["amount"] == "100.000000015"  # kept as its text
    (body,) = server.transfer_bodies
    assert set(body) == {"direction", "amount", "quote_asset", "client_txn_id"}
    server.book.coins["USDT"]["walletBalance"] = D("5000")  # room for a sweep
    await client.transfer("USDT", "50", "hft", "spot", {"client_txn_id": str(uuid.uuid4())})
    assert [t.direction for t in server.book.transfers] == ["IN", "OUT"]


async def test_a_repeated_client_txn_id_is_a_duplicate_refusal(client: coinswitch) -> None:
    txn_id = str(uuid.uuid4())
    await client.transfer("USDT", "10", "spot", "hft", {"client_txn_id": txn_id})
    with pytest.raises(DuplicateClientTxnId):
        await client.transfer("USDT", "10", "spot", "hft", {"client_txn_id": txn_id})


async def test_refusals_in_the_envelope_are_ccxt_errors(
    client: coinswitch, server: CoinSwitchHftServer
) -> None:
    with pytest.raises(ccxt_async.InsufficientFunds):
        await client.transfer("USDT", "1000000", "spot", "hft", {"client_txn_id": "a"})
    with pytest.raises(ccxt_async.BadRequest, match="settlement currency USDT"):
        await client.transfer("INR", "10", "spot", "hft", {"client_txn_id": "b"})
    server.serve_raw(WALLET_PATH, json.dumps({"retCode": 10002, "retMsg": "bad", "result": {}}))
    with pytest.raises(ccxt_async.BadRequest):  # a 200 that is not retCode 0
        await client.fetch_balance({"type": "hft"})
    server.fail_next(TRANSFER_PATH, 503)
    with pytest.raises(ccxt_async.ExchangeNotAvailable):
        await client.transfer("USDT", "10", "spot", "hft", {"client_txn_id": "c"})
    assert server.book.transfers == []


async def test_transfer_refuses_other_accounts_assets_and_the_futures_surface() -> None:
    hft_client = coinswitch({"options": {"surface": "hft"}})
    with pytest.raises(ccxt_async.BadRequest, match="between 'spot' and 'hft'"):
        await hft_client.transfer("USDT", "1", "spot", "margin")
    with pytest.raises(ccxt_async.BadRequest, match="USDT or INR"):
        await hft_client.transfer("BTC", "1", "spot", "hft")
    with pytest.raises(ccxt_async.BadRequest, match="HFT surface"):
        await coinswitch().transfer("USDT", "1", "spot", "hft")
    await hft_client.close()


def test_the_body_writes_the_amount_as_a_number_of_its_own_digits() -> None:
    body = json_body({"direction": "IN", "amount": "0.1", "client_txn_id": "x"})
    assert body == '{"direction":"IN","amount":0.1,"client_txn_id":"x"}'
    with pytest.raises(ccxt_async.BadRequest):
        json_body({"amount": "1e5"})


def test_hft_refusals_by_their_words() -> None:
    assert hft_refusal("duplicate client_txn_id") is DuplicateClientTxnId
    assert hft_refusal("Insufficient balance") is ccxt_async.InsufficientFunds
    assert hft_refusal("symbol invalid") is None


# the venue ------------------------------------------------------------------------------------


def test_surface_hft_picks_the_hft_venue_and_futures_the_read_only_one() -> None:
    assert CoinSwitchVenue.for_options({"surface": "hft"}) is CoinSwitchHftVenue
    assert CoinSwitchVenue.for_options({"surface": "futures"}) is CoinSwitchVenue
    assert CoinSwitchVenue.for_options({}) is CoinSwitchVenue


async def test_the_venue_reads_the_hft_account_and_the_wallet(client: coinswitch) -> None:
    venue = CoinSwitchHftVenue("coinswitch", client, {"eth": hedge()})
    await venue.connect()
    assert venue.locked_settlement == "USDT"
    state = await venue.read_state()
    account = state.wallets[("hft", "USDT")]
    assert (account.balance, account.used, account.unrealized_pnl) == (
        D("800"),
        D("1054.6569"),
        D("-25.8795"),
    )
    assert account.transferable == 0  # the margin held is more than the balance
    assert state.wallets[(SPOT, "USDT")].transferable == D("20000")
    position = state.positions["ETH/USDT:USDT"]
    assert (position.side, position.contracts, position.notional) == (
        "short",
        D("1.5"),
        D("5273.2845"),
    )
    assert state.markets["ETH/USDT:USDT"].futures_account == "hft"
    caps = venue.capabilities()
    assert caps.transfer and not caps.transfer_history and caps.deduped_client_ids
    assert caps.client_ids == "client_txn_id (deduped)"


async def test_a_hedge_settling_in_the_other_currency_is_refused_at_connect(
    server: CoinSwitchHftServer, client: coinswitch
) -> None:
    server.book.coins = {"INR": dict(server.book.coins["USDT"])}
    server.book.preset_lock = "INR"
    venue = CoinSwitchHftVenue("coinswitch", client, {"eth": hedge()})
    with pytest.raises(VenueUnusable, match=r"settles in USDT, but .* locked to INR"):
        await venue.connect()


async def test_a_transfer_the_lock_refuses_is_never_sent(
    server: CoinSwitchHftServer, client: coinswitch
) -> None:
    venue = CoinSwitchHftVenue("coinswitch", client, {"eth": hedge()})
    await venue.connect()
    with pytest.raises(VenueError) as caught:
        await venue.transfer("INR", D("10"), "spot", "hft", uuid.uuid4().hex)
    assert caught.value.kind is ErrorKind.FATAL and "locked to USDT" in str(caught.value)
    assert server.transfer_bodies == []


async def test_a_duplicate_answer_confirms_the_first_send(
    server: CoinSwitchHftServer, client: coinswitch
) -> None:
    venue = CoinSwitchHftVenue("coinswitch", client, {"eth": hedge()})
    await venue.connect()
    client_id = uuid.uuid4().hex
    first = await venue.transfer("USDT", D("12.5"), "spot", "futures", client_id)
    again = await venue.transfer("USDT", D("12.5"), "spot", "futures", client_id)
    (applied,) = server.book.transfers
    assert first.exchange_id == applied.txn_id and first.status == "ok"
    assert again.exchange_id is None and again.status == "ok"
    assert applied.client_txn_id == str(uuid.UUID(hex=client_id))


@pytest.mark.parametrize(
    "result",
    [
        {"amount": 13, "client_txn_id": "ID", "direction": "IN", "txn_id": "t"},
        {"amount": 12.5, "client_txn_id": "other", "direction": "IN", "txn_id": "t"},
        {"amount": 12.5, "client_txn_id": "ID", "direction": "OUT", "txn_id": "t"},
        {"amount": 12.5, "client_txn_id": "ID", "direction": "IN"},
    ],
)
async def test_a_success_that_does_not_echo_the_send_is_unknown(
    server: CoinSwitchHftServer, client: coinswitch, result: dict[str, Any]
) -> None:
    venue = CoinSwitchHftVenue("coinswitch", client, {"eth": hedge()})
    await venue.connect()
    client_id = uuid.uuid4().hex
    echoed = {k: str(uuid.UUID(hex=client_id)) if v == "ID" else v for k, v in result.items()}
    server.serve_raw(TRANSFER_PATH, json.dumps({"retCode": 0, "retMsg": "OK", "result": echoed}))
    with pytest.raises(VenueError) as caught:
        await venue.transfer("USDT", D("12.5"), "spot", "hft", client_id)
    assert caught.value.kind is ErrorKind.UNKNOWN


# strict decoding ------------------------------------------------------------------------------


def wallet(*coins: dict[str, Any], kind: str = "UNIFIED") -> dict[str, Any]:
    return {
        "retCode": 0,
        "retMsg": "OK",
        "result": {"list": [{"accountType": kind, "coin": list(coins)}]},
    }


def coin(name: str = "USDT", **figures: str) -> dict[str, Any]:
    row = {
        "coin": name,
        "walletBalance": "100",
        "unrealisedPnl": "-5",
        "totalPositionIM": "20",
        "totalOrderIM": "1",
    }
    return {**row, **figures}


def test_what_may_leave_is_the_balance_less_margin_held_and_any_loss() -> None:
    (usdt,) = hft.hft_wallets(Decoder("cs", hft.WALLET_BALANCE), wallet(coin()))
    assert (usdt.free, usdt.used, usdt.transferable) == (D("79"), D("21"), D("74"))
    (gain,) = hft.hft_wallets(Decoder("cs", hft.WALLET_BALANCE), wallet(coin(unrealisedPnl="9")))
    assert gain.transferable == D("79")  # an unrealized gain is not cash


@pytest.mark.parametrize(
    "answer",
    [
        {"retCode": 10001, "retMsg": "x", "result": {"list": []}},
        {"retCode": "0", "result": None},
        {"retCode": 0, "result": {"list": "garbage"}},
        wallet(coin(), kind="CONTRACT"),
        wallet(coin(), coin()),
        wallet(coin(walletBalance="-1")),
        wallet(coin(totalPositionIM="NaN")),
        wallet({"coin": "USDT", "walletBalance": "1"}),
        {"retCode": 0, "result": {"list": [wallet(coin())["result"]["list"][0]] * 2}},
    ],
)
def test_a_wallet_answer_the_bot_cannot_vouch_for_is_refused(answer: dict[str, Any]) -> None:
    with pytest.raises(Untrusted):
        hft.hft_wallets(Decoder("cs", hft.WALLET_BALANCE), answer)


def test_an_account_never_funded_lists_nothing_and_is_not_locked() -> None:
    empty = {"retCode": 0, "retMsg": "OK", "result": {"list": []}}
    assert hft.hft_wallets(Decoder("cs", hft.WALLET_BALANCE), empty) == []
    assert hft.locked_settlement([]) is None


def test_the_settlement_lock_is_read_from_the_coins_and_checked_before_a_transfer() -> None:
    decoder = Decoder("cs", hft.WALLET_BALANCE)
    assert hft.locked_settlement(hft.hft_wallets(decoder, wallet(coin("INR")))) == "INR"
    with pytest.raises(ValueError, match="both INR and USDT"):
        hft.locked_settlement(hft.hft_wallets(decoder, wallet(coin("INR"), coin("USDT"))))
    assert hft.settlement_refusal(None, "USDT") is None
    assert hft.settlement_refusal("USDT", "USDT") is None
    assert "locked to INR" in (hft.settlement_refusal("INR", "USDT") or "")
    assert "USDT or INR only" in (hft.settlement_refusal(None, "BTC") or "")


def test_positions_are_read_strictly() -> None:
    decoder = Decoder("cs", hft.POSITION_LIST)

    class Market:  # what hft_positions reads of a PerpMarket
        symbol = "ETH/USDT:USDT"
        contract_size = D(1)

    markets = {"ETHUSDT": Market()}
    flat = {**short_eth(), "size": "0", "side": ""}
    assert hft.hft_positions(decoder, [flat], markets) == []
    (short,) = hft.hft_positions(decoder, [short_eth()], markets)
    assert short.side == "short" and short.liquidation_price == D("4183.50")
    for bad in ({**short_eth(), "side": "Long"}, {**short_eth(), "size": "-1"}):
        with pytest.raises(Untrusted):
            hft.hft_positions(decoder, [bad], markets)
    with pytest.raises(Untrusted, match="two rows"):
        hft.hft_positions(decoder, [short_eth(), short_eth()], markets)


def test_a_book_without_transfers_is_locked_by_its_preset() -> None:
    assert HftBook(preset_lock="INR").settlement == "INR"


async def test_a_5xx_naming_a_duplicate_is_still_the_servers_error(
    client: coinswitch, server: CoinSwitchHftServer
) -> None:
    """A 5xx leaves the outcome unknown whatever its body says: never read as proof."""
    body = json.dumps({"retCode": 500, "retMsg": "duplicate client_txn_id", "result": {}})
    server.faults.add("POST", TRANSFER_PATH, "raw", status=502, body=body)
    with pytest.raises(ccxt_async.ExchangeNotAvailable):
        await client.transfer("USDT", "10", "spot", "hft", {"client_txn_id": "d"})
