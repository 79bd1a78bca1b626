"""Our transfer id goes where the venue takes one, so that a re-send can never become a second
transfer; the amount goes as a string already rounded down. Checked over HTTP with the real
ccxt clients against a recording server, and against ccxt's own recorded requests."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import ccxt.async_support as ccxt

from bot.venues.registry import venue_class
from tests.fakes.loopback import on_loopback
from tests.fakes.recording_server import RecordingServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt-static"
CLIENT_ID = uuid.uuid4().hex


def offline_client(cls: type[ccxt.Exchange], base_url: str) -> ccxt.Exchange:
    client = cls(
        {"apiKey": "key", "secret": "secret", "password": "pass", "enableRateLimit": False}
    )
    client.urls["api"] = {key: base_url for key in client.urls["api"]}
    on_loopback(client)
    usdt = {"id": "USDT", "code": "USDT", "precision": 1e-8, "numericId": None}
    client.set_markets([], {"USDT": usdt})
    client.options["timeDifference"] = 0
    return client


async def test_bybit_gets_our_id_as_a_uuid() -> None:
    replies = {
        "/v5/asset/transfer/inter-transfer": {
            "retCode": 0,
            "retMsg": "success",
            "result": {"transferId": str(uuid.UUID(CLIENT_ID))},
            "time": 1700000000000,
        },
        # ccxt's recorded answer says no status: the bot reads the transfer's own record
        "/v5/asset/transfer/query-inter-transfer-list": {
            "retCode": 0,
            "retMsg": "success",
            "result": {
                "list": [
                    {
                        "transferId": str(uuid.UUID(CLIENT_ID)),
                        "coin": "USDT",
                        "amount": "12.34567891",
                        "fromAccountType": "UNIFIED",
                        "toAccountType": "FUND",
                        "timestamp": "1700000000000",
                        "status": "SUCCESS",
                    }
                ],
                "nextPageCursor": "",
            },
            "time": 1700000000000,
        },
    }
    async with RecordingServer(replies) as server:
        client = offline_client(ccxt.bybit, server.base_url)
        venue = venue_class("bybit")("bybit", client, {})
        receipt = await venue.transfer(
            "USDT", Decimal("12.34567891"), "unified", "funding", CLIENT_ID
        )
        await client.close()
    request, _ = server.requests  # the transfer, then its record
    body = request.json()
    assert body["transferId"] == str(uuid.UUID(CLIENT_ID))
    assert body["amount"] == "12.34567891"
    assert receipt.exchange_id == str(uuid.UUID(CLIENT_ID))
    # the same request shape as ccxt's own recorded one, but with our id instead of a fresh one
    recorded = json.loads((FIXTURES / "bybit_request_fixtures.json").read_text())
    (case,) = recorded["bybit"]["methods"]["transfer"]
    expected = json.loads(case["output"])
    assert set(body) == set(expected)
    assert (body["fromAccountType"], body["toAccountType"]) == ("UNIFIED", "FUND")


async def test_okx_gets_our_id_as_32_alphanumerics() -> None:
    replies = {
        "/api/v5/asset/transfer": {
            "code": "0",
            "msg": "",
            "data": [
                {
                    "transId": "754147",
                    "ccy": "USDT",
                    "clientId": CLIENT_ID,
                    "from": "6",
                    "amt": "1",
                    "to": "18",
                }
            ],
        },
        # the transfer's state settles it
        "/api/v5/asset/transfer-state": {
            "code": "0",
            "msg": "",
            "data": [
                {
                    "transId": "754147",
                    "clientId": CLIENT_ID,
                    "ccy": "USDT",
                    "amt": "1",
                    "type": "0",
                    "from": "6",
                    "to": "18",
                    "state": "success",
                }
            ],
        },
    }
    async with RecordingServer(replies) as server:
        client = offline_client(ccxt.okx, server.base_url)
        client.options["accountsByType"] = {"funding": "6", "trading": "18"}
        venue = venue_class("okx")("okx", client, {})
        receipt = await venue.transfer("USDT", Decimal("1"), "funding", "trading", CLIENT_ID)
        await client.close()
    request, state = server.requests  # the transfer, then its state
    assert state.query == {"transId": "754147"}
    body = request.json()
    assert body["clientId"] == CLIENT_ID and len(CLIENT_ID) == 32 and CLIENT_ID.isalnum()
    assert body["amt"] == "1"
    assert receipt.exchange_id == "754147"


def test_binance_takes_no_client_id() -> None:
    venue = venue_class("binance")("b", ccxt.binance(), {})
    assert venue.transfer_params(CLIENT_ID) == {} and venue.client_ids is None
