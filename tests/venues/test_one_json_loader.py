"""Every client the bot builds reads JSON through one exact loader (`decode.loads_exact`): a
body with one key twice in an object is refused, never read as its last value. Checked on the
clients as the bot builds them from config (`session.open_venues`, `clients.build_client`,
`clients.build_ws_client`), for Binance, CoinW, CoinSwitch and the generic ccxt venues, each
against a loopback server that answers every request with such a body.

(A bot-built CoinW or CoinSwitch client once parsed `{"a":"1","a":"2"}` as `{'a': '2'}`: the
client builder set ccxt's plain JSON hook on the instance, over the classes' own.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from ccxt.base.errors import BadResponse

from bot.config import VenueConfig, parse_config
from bot.errors import ErrorKind, VenueError
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore, binance_urls
from bot.venues.clients import Credentials, build_client, build_ws_client
from bot.venues.decode import AmbiguousBody
from bot.venues.registry import exchange_class
from bot.venues.session import open_venues
from tests.fakes.coinswitch_server import new_key_pair
from tests.fakes.coinw_server import API_KEY as COINW_KEY
from tests.fakes.coinw_server import SECRET as COINW_SECRET

TWICE = '{"code": "0", "data": {"free": "1", "free": "2"}}'
VENUES = ("binance", "coinw", "coinswitch", "bybit", "okx")


class Twice:
    """A loopback server answering every request, on any path, with a body naming a key
    twice; it notes what reached it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Twice:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.Response:
        self.seen.append((request.method, request.path))
        return web.Response(text=TWICE, content_type="application/json")


def rest_urls(exchange_id: str, base_url: str) -> dict[str, str]:
    """Every REST URL of the exchange's ccxt class, pointed at `base_url` (config's `urls`)."""
    api = exchange_class("v", exchange_id)().urls["api"]
    api = api if isinstance(api, dict) else {"rest": api}
    return {key: base_url for key, url in api.items() if isinstance(url, str)}


def secrets(exchange_id: str) -> tuple[str, str]:
    if exchange_id == "coinw":
        return COINW_KEY, COINW_SECRET
    if exchange_id == "coinswitch":
        return new_key_pair()
    return "key-0123456789", "secret-0123456789"


@pytest.fixture
async def servers() -> AsyncIterator[dict[str, Twice]]:
    opened = {name: Twice() for name in VENUES}
    for server in opened.values():
        await server.__aenter__()
    try:
        yield opened
    finally:
        for server in opened.values():
            await server.__aexit__()


async def test_every_venue_the_bot_opens_refuses_a_key_named_twice(
    servers: dict[str, Twice], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venues: dict[str, Any] = {}
    for name in VENUES:
        key, secret = secrets(name)
        monkeypatch.setenv(f"{name.upper()}_KEY", key)
        monkeypatch.setenv(f"{name.upper()}_SECRET", secret)
        monkeypatch.setenv(f"{name.upper()}_PASSWORD", "password")
        venues[name] = {
            "exchange": name,
            "api_key_env": f"{name.upper()}_KEY",
            "secret_env": f"{name.upper()}_SECRET",
            "password_env": f"{name.upper()}_PASSWORD",
            "urls": rest_urls(name, servers[name].base_url),
            "ccxt": {"enableRateLimit": False, "timeout": 3000},
            "websocket": False,
        }
    config = parse_config({"venues": venues}, base_dir=tmp_path)
    failures: dict[str, Exception] = {}

    async with open_venues(config, dry_run=False, failures=failures, cache=False) as opened:
        assert opened == {}  # connecting loads markets: every venue's first answer is refused

    assert set(failures) == set(VENUES)
    for name, failure in failures.items():
        assert servers[name].seen, name  # the answer came from its server
        assert isinstance(failure, VenueError), (name, failure)
        assert failure.kind is ErrorKind.UNTRUSTED, (name, failure)
        assert "key 'free' appears twice in one object" in str(failure), (name, failure)
        assert "\n" not in str(failure)


@pytest.mark.parametrize("exchange_id", VENUES)
async def test_every_client_built_parses_json_with_the_one_loader(
    exchange_id: str, servers: dict[str, Twice]
) -> None:
    server = servers[exchange_id]
    venue = VenueConfig(
        exchange=exchange_id,
        api_key_env="K",
        secret_env="S",
        password_env="P",
        urls=rest_urls(exchange_id, server.base_url),
        ccxt={"enableRateLimit": False, "timeout": 3000},
    )
    key, secret = secrets(exchange_id)
    for dry_run in (False, True):
        client = build_client(
            exchange_id, venue, Credentials(key, secret, "password"), dry_run=dry_run
        )
        client.timeout_on_exit = 0
        try:
            with pytest.raises(AmbiguousBody, match="key 'a' appears twice"):
                client.on_json_response('{"a":"1","a":"2"}')
            assert client.on_json_response('{"a": 0.1, "b": 7}') == {"a": "0.1", "b": 7}
            with pytest.raises(BadResponse, match="key 'free' appears twice") as refused:
                await client.load_markets()
        finally:
            await client.close()
        assert "\n" not in str(refused.value)


async def test_the_websocket_client_refuses_a_message_naming_a_key_twice(tmp_path: Path) -> None:
    async with PaperExchange(StateStore(tmp_path / "paper.json")) as paper:
        venue = VenueConfig(exchange="binance", paper=True)
        client = build_ws_client(
            "paper",
            venue,
            Credentials(PAPER_API_KEY, PAPER_SECRET),
            dry_run=False,
            rewrite_api_urls=lambda api: binance_urls(paper.base_url, api, ws=True),
        )
        assert client is not None
        try:
            socket = client.client(paper.base_url.replace("http", "ws") + "/ws-dapi/v1")
            waiting = socket.future("an answer")
            socket.handle_text_or_binary_message('{"id": "1", "result": [], "result": []}')
            with pytest.raises(BadResponse, match="key 'result' appears twice"):
                await waiting
            # a well-formed message is read exactly, numbers as their text
            received: list[Any] = []
            socket.on_message_callback = lambda _, message: received.append(message)
            socket.handle_text_or_binary_message('{"p": 2650.10, "E": 1}')
            assert received == [{"p": "2650.10", "E": 1}]
        finally:
            await client.close()
