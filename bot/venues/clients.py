"""Building ccxt clients from config: class by id, keys from the environment, URL overrides.

In a dry run the client class itself refuses every state-changing call, so no code path can
move money by forgetting to check a flag (design invariant 6).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ccxt.async_support as ccxt_async

from bot.config import VenueConfig
from bot.errors import ConfigError, DryRunRefusal
from bot.redact import register_secret
from bot.venues.decode import json_keeping_text
from bot.venues.registry import exchange_class

# Calls that change state on a venue; a dry-run client raises instead of sending them.
STATE_CHANGING_METHODS = (
    "transfer",
    "withdraw",
    "create_order",
    "create_orders",
    "edit_order",
    "cancel_order",
    "cancel_orders",
    "cancel_all_orders",
    "set_leverage",
    "set_margin_mode",
    "set_position_mode",
    "add_margin",
    "reduce_margin",
    "set_margin",
    "sapiPostAssetTransfer",  # the raw endpoint BinanceVenue.transfer calls
    "sapi_post_asset_transfer",
)

DEFAULT_CCXT_CONFIG: dict[str, Any] = {
    "enableRateLimit": True,
    "timeout": 10_000,
}


class DryRunRefused(DryRunRefusal):
    """A dry-run client was asked to change state on the venue."""


@dataclass(frozen=True)
class Credentials:
    api_key: str | None
    secret: str | None
    password: str | None = None


def credentials_from_env(name: str, venue: VenueConfig) -> Credentials:
    """Read the venue's secrets from the environment variables that config names."""
    if not venue.api_key_env or not venue.secret_env:
        raise ConfigError(
            f"venues.{name}: api_key_env and secret_env are required for a live venue "
            "(the names of environment variables holding the key and secret), or set paper: true"
        )
    values = {}
    for field, var in (
        ("api_key_env", venue.api_key_env),
        ("secret_env", venue.secret_env),
        ("password_env", venue.password_env),
    ):
        if var is None:
            values[field] = None
            continue
        value = os.environ.get(var)
        if not value:
            raise ConfigError(
                f"venues.{name}.{field}: environment variable {var} is not set; export it first"
            )
        register_secret(value)
        values[field] = value
    return Credentials(values["api_key_env"], values["secret_env"], values["password_env"])


UrlRewrite = Callable[[dict[str, Any]], dict[str, Any]]

WS_PREFIX = "ws."  # urls keys under urls['api']['ws'], for the ccxt.pro client

# Venues whose balances the bot also reads over a WebSocket API, and the ccxt.pro class for it.
WS_BALANCE_CLASSES = {"binance": "binancecoinm", "binancecoinm": "binancecoinm"}


def build_client(
    name: str,
    venue: VenueConfig,
    credentials: Credentials,
    *,
    dry_run: bool,
    rewrite_api_urls: UrlRewrite | None = None,
) -> ccxt_async.Exchange:
    """A ccxt async client for the venue.

    `rewrite_api_urls` (used to point a client at the paper exchange) sees ccxt's own
    urls['api'] and returns the ones to use; config's `urls` are merged on top by key.
    """
    cls = exchange_class(name, venue.exchange)
    for key in venue.urls:
        if key.startswith(WS_PREFIX) and venue.exchange not in WS_BALANCE_CLASSES:
            raise ConfigError(
                f"venues.{name}.urls.{key}: {venue.exchange} is read over REST only; "
                "drop the ws.* key"
            )
    return _construct(cls, name, venue, credentials, dry_run, rewrite_api_urls, {})


def build_ws_client(
    name: str,
    venue: VenueConfig,
    credentials: Credentials,
    *,
    dry_run: bool,
    rewrite_api_urls: UrlRewrite | None = None,
) -> ccxt_async.Exchange | None:
    """A ccxt.pro client for the COIN-M balance over Binance's WebSocket API `account.balance`
    (ccxt's default method is `account.status`), or None where the bot reads only REST."""
    pro_id = WS_BALANCE_CLASSES.get(venue.exchange)
    if pro_id is None or not venue.websocket:
        return None
    import ccxt.pro as ccxt_pro  # only venues with a WebSocket read pay for importing ccxt.pro

    options = {"fetchBalanceWs": {"method": "account.balance"}}
    cls = getattr(ccxt_pro, pro_id)
    return _construct(cls, name, venue, credentials, dry_run, rewrite_api_urls, options)


def _construct(
    cls: type[ccxt_async.Exchange],
    name: str,
    venue: VenueConfig,
    credentials: Credentials,
    dry_run: bool,
    rewrite_api_urls: UrlRewrite | None,
    options: dict[str, Any],
) -> ccxt_async.Exchange:
    if dry_run:
        cls = _refusing_state_changes(cls)
    options = {**venue.ccxt.get("options", {}), **options}
    settings: dict[str, Any] = {**DEFAULT_CCXT_CONFIG, **venue.ccxt, "options": options}
    if credentials.api_key:
        settings["apiKey"] = credentials.api_key
    if credentials.secret:
        settings["secret"] = credentials.secret
    if credentials.password:
        settings["password"] = credentials.password
    client = cls(settings)
    # Figures stay the venue's own text end to end (decode.py): ccxt's unified numbers as
    # strings (ccxt supports `number = str`), JSON numbers in `info` as their literal text.
    client.number = str
    client.on_json_response = json_keeping_text
    urls = copy.deepcopy(client.urls)
    api = urls.get("api")
    if not isinstance(api, dict):
        api = {"rest": api} if api else {}
    if rewrite_api_urls is not None:
        api = rewrite_api_urls(api)
    for key, url in venue.urls.items():
        if key.startswith(WS_PREFIX) and not isinstance(api.get("ws"), dict):
            continue  # a WebSocket URL: it belongs to the venue's ccxt.pro client
        _set_url(api, key, url, name, venue.exchange)
    urls["api"] = api
    client.urls = urls
    return client


def _set_url(api: dict[str, Any], key: str, url: str, name: str, exchange_id: str) -> None:
    """Set urls['api'][key]; a dotted key reaches into nested maps (`ws.ws-api.inverse`)."""
    *parents, leaf = key.split(".")
    node: Any = api
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or leaf not in node or isinstance(node[leaf], dict):
        known = ", ".join(sorted(k for k, v in api.items() if isinstance(v, str)))
        raise ConfigError(
            f"venues.{name}.urls.{key}: not a key of {exchange_id}'s urls['api'] (known: {known})"
        )
    node[leaf] = url


def _refusing_state_changes(cls: type[ccxt_async.Exchange]) -> type[ccxt_async.Exchange]:
    def refuse(method: str):  # type: ignore[no-untyped-def]
        async def refused(self, *args: Any, **kwargs: Any) -> Any:
            raise DryRunRefused(f"dry run: {method}() was not sent")

        return refused

    body = {method: refuse(method) for method in STATE_CHANGING_METHODS}
    return type(f"DryRun{cls.__name__}", (cls,), body)
