"""Override faults: any endpoint answers a queued raw body, or its real answer mutated; through
the in-process FaultPlan, the /_paper/fault admin route, plain HTTP and the real ccxt client."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt
import ccxt.async_support as ccxt_async
import pytest

from bot.paper import PaperExchange, StateStore
from bot.paper.faults import FaultPlan, Mutation, MutationError, mutate
from bot.paper.wire import RawNumber, dumps

D = Decimal
LINEAR = {"type": "swap", "subType": "linear"}
READ_ENDPOINTS = [
    ("GET", "/fapi/v3/account"),
    ("GET", "/fapi/v3/positionRisk"),
    ("GET", "/api/v3/account"),
    ("GET", "/dapi/v1/account"),
    ("GET", "/fapi/v1/premiumIndex"),
    ("POST", "/sapi/v1/asset/transfer"),
    ("GET", "/sapi/v1/asset/transfer"),
]
BAD_BODIES = [
    (200, "", "text/html"),
    (200, "<html>oops</html>", "text/html"),
    (200, '{"assets": [', "application/json"),
    (200, "{}", "application/json"),
    (200, "[]", "application/json"),
    (502, "Bad Gateway", "text/plain"),
]


@pytest.fixture
async def ready(hooked_exchange: PaperExchange, client_factory) -> ccxt_async.binance:
    client = client_factory(hooked_exchange.base_url)
    await client.load_markets()
    return client


async def _plain(exchange: PaperExchange, method: str, path: str) -> tuple[int, str | None, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, exchange.base_url + path) as response,
    ):
        return response.status, response.headers.get("Content-Type"), await response.read()


async def _admin(
    exchange: PaperExchange, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, exchange.base_url + path, json=body) as response,
    ):
        return response.status, await response.json()


# --- raw answers ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), READ_ENDPOINTS)
@pytest.mark.parametrize(("status", "body", "content_type"), BAD_BODIES)
async def test_any_endpoint_answers_exactly_the_queued_body(
    hooked_exchange, method, path, status, body, content_type
):
    hooked_exchange.faults.add(
        "override", method=method, path=path, status=status, body=body, content_type=content_type
    )
    assert await _plain(hooked_exchange, method, path) == (
        status,
        content_type,
        body.encode(),
    )
    assert hooked_exchange.faults.fired == {"override": 1}
    assert hooked_exchange.faults.pending() == []


async def test_raw_answer_keeps_the_weight_header_and_adds_given_headers(hooked_exchange):
    hooked_exchange.faults.add(
        "override",
        method="GET",
        path="/api/v3/time",
        status=418,
        body="",
        content_type="",
        headers={"Retry-After": "7"},
    )
    async with (
        aiohttp.ClientSession() as session,
        session.get(hooked_exchange.base_url + "/api/v3/time") as response,
    ):
        assert response.status == 418 and await response.read() == b""
        assert response.headers["Retry-After"] == "7"
        assert response.headers["X-MBX-USED-WEIGHT-1M"] == "1"
        assert "Content-Type" not in response.headers  # content_type="" sends none


async def test_without_apply_a_transfer_is_not_applied(ready, hooked_exchange, state_path):
    before = hooked_exchange.state
    hooked_exchange.faults.add("override", body="<html>oops</html>", content_type="text/html")
    answer = await ready.transfer("USDT", 100, "spot", "linear")
    assert (answer["info"], answer["id"]) == ("<html>oops</html>", None)  # ccxt's reading
    assert hooked_exchange.state == before
    assert StateStore.load(state_path) == before
    assert hooked_exchange.state.transfers == ()


async def test_with_apply_the_transfer_is_applied_and_persisted_then_the_answer_replaced(
    ready, hooked_exchange, state_path
):
    hooked_exchange.faults.add("override", body="{}", apply=True)
    answer = await ready.sapiPostAssetTransfer(  # the raw endpoint: the body as served
        {"type": "MAIN_UMFUTURE", "asset": "USDT", "amount": "100"}
    )
    assert answer == {}
    (record,) = hooked_exchange.state.transfers
    assert (record.type, record.amount) == ("MAIN_UMFUTURE", D(100))
    assert StateStore.load(state_path).usdm["USDT"].wallet_balance == D(4600)


async def test_times_is_respected_and_none_means_until_cleared(hooked_exchange):
    faults = hooked_exchange.faults
    faults.add("override", method="GET", path="/api/v3/time", body="[]", times=2)
    answers = [await _plain(hooked_exchange, "GET", "/api/v3/time") for _ in range(3)]
    assert [body for _, _, body in answers[:2]] == [b"[]", b"[]"]
    assert json.loads(answers[2][2])["serverTime"] > 0
    faults.add("override", method="GET", path="*", body="", times=None)
    for _ in range(3):
        assert (await _plain(hooked_exchange, "GET", "/fapi/v1/time"))[2] == b""
    faults.clear()
    assert json.loads((await _plain(hooked_exchange, "GET", "/fapi/v1/time"))[2])["serverTime"]
    assert faults.fired == {"override": 5}


async def test_a_real_client_reading_through_a_broken_answer(ready, hooked_exchange):
    """Whatever ccxt makes of it, it is what the server was told to send."""
    hooked_exchange.faults.add(
        "override", method="GET", path="/fapi/v3/account", body='{"assets": ['
    )
    balance = await ready.fetch_balance(LINEAR)
    assert balance["info"] == '{"assets": ['  # ccxt hands back text it cannot parse
    assert balance.get("USDT") is None


# --- mutated answers --------------------------------------------------------------------------


async def test_set_delete_and_duplicate_change_exactly_the_named_part(ready, hooked_exchange):
    real = await ready.fapiPrivateV3GetAccount()
    hooked_exchange.faults.add(
        "override",
        method="GET",
        path="/fapi/v3/account",
        mutations=[
            {"op": "set", "path": "assets.0.maxWithdrawAmount", "value": "NaN"},
            {"op": "duplicate", "path": "assets.0"},
            {"op": "delete", "path": "positions"},
            {"op": "set", "path": "extra", "value": {"nested": [1, None, "x"]}},
        ],
    )
    changed = await ready.fapiPrivateV3GetAccount()
    broken_asset = {**real["assets"][0], "maxWithdrawAmount": "NaN"}
    expected = {k: v for k, v in real.items() if k != "positions"}
    expected.update(assets=[broken_asset, broken_asset], extra={"nested": [1, None, "x"]})
    assert changed == expected
    assert await ready.fapiPrivateV3GetAccount() == real  # one request only


async def test_delete_a_whole_field_seen_by_fetch_balance(ready, hooked_exchange):
    hooked_exchange.faults.add(
        "override",
        method="GET",
        path="/fapi/v3/account",
        mutations=[{"op": "delete", "path": "assets"}],
    )
    balance = await ready.fetch_balance(LINEAR)
    assert "assets" not in balance["info"] and balance.get("USDT") is None


async def test_a_null_position_amount_and_a_wildcard_over_a_list(ready, hooked_exchange):
    hooked_exchange.faults.add(
        "override",
        method="GET",
        path="/fapi/v3/positionRisk",
        mutations=[{"op": "set", "path": "0.positionAmt", "value": None}],
    )
    (position,) = await ready.fapiPrivateV3GetPositionRisk()
    assert position["positionAmt"] is None and position["symbol"] == "ETHUSDT"

    hooked_exchange.faults.add(
        "override",
        method="GET",
        path="/fapi/v1/premiumIndex",
        mutations=[{"op": "set", "path": "*.markPrice", "value": 0}],
    )
    premiums = await ready.fapiPublicGetPremiumIndex()
    # the two perpetuals and the two quarterly futures
    assert len(premiums) == 4 and [p["markPrice"] for p in premiums] == [0, 0, 0, 0]


async def test_raw_numbers_are_written_unquoted(hooked_exchange):
    hooked_exchange.faults.add(
        "override",
        method="GET",
        path="/fapi/v1/premiumIndex",
        mutations=[
            {"op": "set", "path": "0.markPrice", "value": "1e30", "raw_number": True},
            {"op": "set", "path": "1.markPrice", "value": "NaN", "raw_number": True},
        ],
    )
    _, content_type, body = await _plain(hooked_exchange, "GET", "/fapi/v1/premiumIndex")
    text = body.decode()
    assert content_type == "application/json"
    assert '"markPrice":1e30,' in text and '"markPrice":NaN,' in text
    first, second, *_dated = json.loads(text)  # Python's json (ccxt's) reads both
    assert first["markPrice"] == 1e30 and second["markPrice"] != second["markPrice"]


async def test_mutations_change_error_answers_and_may_replace_the_status(ready, hooked_exchange):
    hooked_exchange.faults.add(
        "override",
        status=200,
        mutations=[{"op": "set", "path": "msg", "value": "changed"}],
    )
    with pytest.raises(ccxt.ExchangeError, match="changed"):  # the real -5013, answered as 200
        await ready.transfer("USDT", 10**9, "spot", "linear")
    assert hooked_exchange.state.transfers == ()


async def test_a_path_that_does_not_resolve_is_loud(hooked_exchange):
    hooked_exchange.faults.add(
        "override",
        method="GET",
        path="/fapi/v1/premiumIndex",
        mutations=[{"op": "delete", "path": "9.markPrice"}],
    )
    status, content_type, body = await _plain(hooked_exchange, "GET", "/fapi/v1/premiumIndex")
    assert (status, content_type) == (500, "text/plain")
    assert b"index 9 is outside a list of 4" in body  # perpetuals and quarterly futures
    (error,) = hooked_exchange.faults.report()["errors"]
    assert "/fapi/v1/premiumIndex" in error and "9.markPrice" in error


# --- through the admin route ------------------------------------------------------------------


async def test_admin_route_queues_a_raw_override_in_one_post(hooked_exchange, ready):
    status, answer = await _admin(
        hooked_exchange,
        "POST",
        "/_paper/fault",
        {
            "kind": "override",
            "method": "POST",
            "path": "/sapi/v1/asset/transfer",
            "status": 200,
            "body": "<html>oops</html>",
            "content_type": "text/html",
            "apply": True,
            "times": 1,
        },
    )
    assert (status, answer) == (200, {"ok": True, "pending": 1})
    answer = await ready.transfer("USDT", 5, "spot", "linear")
    assert (answer["info"], answer["id"]) == ("<html>oops</html>", None)
    assert [t.amount for t in hooked_exchange.state.transfers] == [D(5)]  # applied anyway
    _, report = await _admin(hooked_exchange, "GET", "/_paper/faults")
    assert report["fired"] == {"override": 1} and report["errors"] == []


async def test_admin_route_queues_mutations_with_exact_numbers(hooked_exchange, ready):
    # sent as text: a JSON encoder on the test's side would round the number through float
    request = """{"kind": "override", "method": "GET", "path": "/dapi/v1/account", "mutations": [
        {"op": "set", "path": "assets.0.walletBalance", "value": 0.1000000000000000055511},
        {"op": "set", "path": "assets.0.crossUnPnl", "value": "-Infinity", "raw_number": true}
    ]}"""
    async with (
        aiohttp.ClientSession() as session,
        session.post(hooked_exchange.base_url + "/_paper/fault", data=request) as response,
    ):
        status = response.status
    assert status == 200
    _, body = await _signed_get(ready, "dapiPrivate", "account")
    assert '"walletBalance":0.1000000000000000055511,' in body
    assert '"crossUnPnl":-Infinity,' in body


async def _signed_get(client: ccxt_async.binance, api: str, path: str) -> tuple[int, str]:
    """A GET signed by ccxt itself, read as raw text (its implicit API would parse it)."""
    request = client.sign(path, [api], "GET", {})
    async with (
        aiohttp.ClientSession() as session,
        session.get(request["url"], headers=request["headers"]) as response,
    ):
        return response.status, await response.text()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, "either body"),
        ({"body": "", "mutations": [{"op": "delete", "path": "a"}]}, "either body"),
        ({"mutations": [{"op": "delete", "path": "a"}], "apply": False}, "always runs"),
        ({"mutations": [{"op": "move", "path": "a"}]}, "'op' must be one of"),
        ({"mutations": [{"op": "set", "path": "a"}]}, "needs a 'value'"),
        ({"mutations": [{"op": "delete", "path": ""}]}, "needs a path"),
        ({"mutations": [{"op": "set", "path": "a..b", "value": 1}]}, "empty segment"),
        ({"mutations": [{"op": "set", "path": "a", "value": "x", "raw_number": True}]}, "number"),
        ({"mutations": [{"op": "set", "path": "a", "value": "1.", "raw_number": True}]}, "number"),
        (
            {"mutations": [{"op": "set", "path": "a", "value": "true", "raw_number": True}]},
            "number",
        ),
        ({"mutations": [{"op": "set", "path": "a", "value": 1, "to": 2}]}, "unknown mutation"),
        ({"mutations": {"op": "delete", "path": "a"}}, "a list"),
        ({"body": "", "status": 99}, "HTTP status"),
        ({"body": "", "headers": ["Retry-After"]}, "headers"),
        ({"body": "", "apply": "yes"}, "true or false"),
        ({"body": 5}, "text"),
    ],
)
async def test_admin_route_refuses_bad_overrides_with_the_reason(hooked_exchange, fields, reason):
    status, answer = await _admin(
        hooked_exchange, "POST", "/_paper/fault", {"kind": "override", "path": "*", **fields}
    )
    assert status == 400 and reason in answer["error"]
    assert hooked_exchange.faults.pending() == []


def test_override_fields_belong_to_override_and_ws_has_no_status():
    plan = FaultPlan()
    with pytest.raises(ValueError, match=r"\['body', 'mutations'\] are for kind override"):
        plan.add("error", body="x", mutations=[{"op": "delete", "path": "a"}])
    with pytest.raises(ValueError, match="text frame"):
        plan.add("override", method="WS", path="account.balance", body="x", status=500)
    with pytest.raises(ValueError, match="raw_number"):
        plan.add("override", mutations=[{"op": "set", "path": "a", "value": float("nan")}])
    fault = plan.add("override", body="")
    assert fault.override is not None and fault.override.status == 200
    assert not fault.override.apply and fault.override.content_type == "application/json"
    fault = plan.add("override", mutations=[{"op": "set", "path": "a", "value": 1.5}])
    assert fault.override is not None and fault.override.apply
    assert fault.override.status is None  # the real status
    assert fault.override.mutations[0].value == D("1.5")  # never a float on the wire


# --- the mutation rules, without a server -----------------------------------------------------


def _mutate(payload: Any, *specs: dict[str, Any]) -> Any:
    return mutate(payload, [Mutation.parse(spec) for spec in specs])


def test_mutate_addresses_keys_indexes_and_wildcards():
    payload = {"rows": [{"a": "1", "b": [1, 2]}, {"a": "2", "b": []}], "total": 2}
    assert _mutate(payload, {"op": "set", "path": "rows.*.a", "value": None}) == {
        "rows": [{"a": None, "b": [1, 2]}, {"a": None, "b": []}],
        "total": 2,
    }
    assert _mutate(payload, {"op": "delete", "path": "rows.-1"}) == {
        "rows": [{"a": "1", "b": [1, 2]}],
        "total": 2,
    }
    assert _mutate(payload, {"op": "duplicate", "path": "rows.0.b.*"})["rows"][0]["b"] == [
        1,
        2,
        1,
        2,
    ]
    assert _mutate(payload, {"op": "delete", "path": "rows.*.b.*"})["rows"][0]["b"] == []
    assert _mutate(payload, {"op": "set", "path": "*", "value": "x"}) == {
        "rows": "x",
        "total": "x",
    }
    assert _mutate(payload, {"op": "set", "path": "", "value": []}) == []
    assert payload["rows"][0]["a"] == "1"  # the handler's answer is never changed in place


def test_duplicated_elements_are_independent_copies():
    changed = _mutate(
        [{"x": 1}],
        {"op": "duplicate", "path": "0"},
        {"op": "set", "path": "1.x", "value": 2},
    )
    assert changed == [{"x": 1}, {"x": 2}]


def test_wildcard_sets_do_not_share_one_value():
    changed = _mutate(
        [{}, {}],
        {"op": "set", "path": "*.v", "value": {"n": 1}},
        {"op": "set", "path": "0.v.n", "value": 9},
    )
    assert changed == [{"v": {"n": 9}}, {"v": {"n": 1}}]


def test_raw_number_is_written_as_given():
    mutation = Mutation.parse({"op": "set", "path": "p", "value": "1E+30", "raw_number": True})
    assert mutation.value == RawNumber("1E+30")
    assert dumps(mutate({"p": "1", "q": D("2.50")}, [mutation])) == '{"p":1E+30,"q":2.5}'


@pytest.mark.parametrize(
    ("payload", "spec", "message"),
    [
        ({"a": 1}, {"op": "delete", "path": "b"}, "no key 'b'"),
        ({"a": 1}, {"op": "set", "path": "b.c", "value": 1}, "no key 'b'"),
        ([1], {"op": "set", "path": "1", "value": 0}, "outside a list of 1"),
        ([1], {"op": "set", "path": "x", "value": 0}, "does not index a list"),
        ({"a": 1}, {"op": "set", "path": "a.b", "value": 0}, "inside int"),
        ({"a": "s"}, {"op": "set", "path": "a.b.c", "value": 0}, "steps into str"),
        ({"a": {}}, {"op": "duplicate", "path": "a"}, "copies a list element"),
    ],
)
def test_a_path_that_does_not_resolve_raises(payload, spec, message):
    with pytest.raises(MutationError, match=message):
        _mutate(payload, spec)
