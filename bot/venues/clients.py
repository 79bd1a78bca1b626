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
from bot.errors import ConfigError
from bot.redact import register_secret

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
)

DEFAULT_CCXT_CONFIG: dict[str, Any] = {
    "enableRateLimit": True,
    "timeout": 10_000,
}


class DryRunRefused(Exception):
    """A dry-run client was asked to change state on the venue."""


@dataclass(frozen=True)
class Credentials:
    api_key: str | None
    secret: str | None
    password: str | None = None


_custom_classes: dict[str, type[ccxt_async.Exchange]] = {}


def register_exchange_class(exchange_id: str, cls: type[ccxt_async.Exchange]) -> None:
    """Make an in-house ccxt `Exchange` subclass buildable by id, like ccxt's own."""
    _custom_classes[exchange_id] = cls


def known_exchange_ids() -> list[str]:
    return sorted({*ccxt_async.exchanges, *_custom_classes})


def exchange_class(name: str, exchange_id: str) -> type[ccxt_async.Exchange]:
    if exchange_id in _custom_classes:
        return _custom_classes[exchange_id]
    cls = getattr(ccxt_async, exchange_id, None) if exchange_id in ccxt_async.exchanges else None
    if cls is None:
        raise ConfigError(
            f"venues.{name}.exchange: unknown exchange id {exchange_id!r}; use a ccxt id such as "
            "binance, bybit or okx (see `python -c 'import ccxt; print(ccxt.exchanges)'`)"
        )
    return cls


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


def build_client(
    name: str,
    venue: VenueConfig,
    credentials: Credentials,
    *,
    dry_run: bool,
    rewrite_api_urls: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> ccxt_async.Exchange:
    """A ccxt async client for the venue.

    `rewrite_api_urls` (used to point a client at the paper exchange) sees ccxt's own
    urls['api'] and returns the ones to use; config's `urls` are merged on top by key.
    """
    cls = exchange_class(name, venue.exchange)
    if dry_run:
        cls = _refusing_state_changes(cls)
    options = {**venue.ccxt.get("options", {})}
    settings: dict[str, Any] = {**DEFAULT_CCXT_CONFIG, **venue.ccxt, "options": options}
    if credentials.api_key:
        settings["apiKey"] = credentials.api_key
    if credentials.secret:
        settings["secret"] = credentials.secret
    if credentials.password:
        settings["password"] = credentials.password
    client = cls(settings)
    urls = copy.deepcopy(client.urls)
    api = urls.get("api")
    if not isinstance(api, dict):
        api = {"rest": api} if api else {}
    if rewrite_api_urls is not None:
        api = rewrite_api_urls(api)
    for key, url in venue.urls.items():
        if key not in api:
            known = ", ".join(sorted(k for k, v in api.items() if isinstance(v, str)))
            raise ConfigError(
                f"venues.{name}.urls.{key}: not a key of {venue.exchange}'s urls['api'] "
                f"(known: {known})"
            )
        api[key] = url
    urls["api"] = api
    client.urls = urls
    return client


def _refusing_state_changes(cls: type[ccxt_async.Exchange]) -> type[ccxt_async.Exchange]:
    def refuse(method: str):  # type: ignore[no-untyped-def]
        async def refused(self, *args: Any, **kwargs: Any) -> Any:
            raise DryRunRefused(f"dry run: {method}() was not sent")

        return refused

    body = {method: refuse(method) for method in STATE_CHANGING_METHODS}
    return type(f"DryRun{cls.__name__}", (cls,), body)
