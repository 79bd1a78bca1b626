"""Building ccxt clients from config: class by id, keys from the environment, URL overrides.

Every client is built from a generated subclass of its ccxt class (`transport_class`) that adds
three things at ccxt's transport, where no code path can go around them:

- **One exact JSON loader.** Every answer, REST or WebSocket, is parsed by
  `decode.loads_exact`: non-integer numbers stay the venue's literal text (with `number = str`
  for ccxt's unified figures, nothing becomes a float), and a body with one key twice in an
  object is refused as ccxt's `BadResponse` naming the request (`classify`: untrusted on a
  read, unknown after a send). Our own ccxt classes (CoinW's, CoinSwitch's) use the same one.

- **The HTTP answer on every exception.** Any exception raised while ccxt handles an HTTP answer
  (its `handle_errors`, its `handle_http_status_code`, decoding the body, or the ccxt method
  that asked for it, reading that answer) carries `exc.http_status` (the status code, an int)
  and `exc.http_body` (the first `HTTP_BODY_LIMIT` characters of the body).
  `errors.http_status_of(exc)` finds it on the exception or anything in its
  `__cause__`/`__context__` chain. An exception raised where no answer came back (a timeout, a
  reset, a refused connection, a dry-run refusal) has none.
- **Dry run refuses at the transport** (design invariant 6). A dry-run client raises
  `DryRunRefused` before a byte is sent for every REST request whose HTTP method is not GET,
  except the few reads a venue makes with POST, and for every WebSocket request whose method is
  not a read of that venue (both declared in the venue's `traits`). Raw implicit endpoints
  (`sapi_post_asset_transfer`) and WebSocket methods (`create_order_ws`) are refused like the
  unified ones, because they all leave through `fetch` or `watch`.

ccxt's own request printing is off on every client (`verbose` is refused in config and forced
off here), because it prints the API key and every signature.

What differs between venues (the POST reads, the WebSocket reads, which ccxt.pro classes read
balances or stream) is asked of the venue's class (`registry.venue_class(id).traits`), never of
a table here.
"""

from __future__ import annotations

import copy
import functools
import inspect
import os
import ssl
import types
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.errors import ConfigError, DryRunRefusal
from bot.runtime.redact import register_secret
from bot.venues.decode import AmbiguousBody, loads_exact
from bot.venues.ratelimit import Limiter

if TYPE_CHECKING:  # ccxt is imported by whoever builds a client, not by importing this module
    import ccxt.async_support as ccxt_async

    from bot.config import VenueConfig
    from bot.venues.base import VenueTraits

# ccxt's own limiter is off: it serialises a venue's concurrent reads and sleeps where the send
# must follow the fresh read at once. The venue's own limiter (`bot.venues.ratelimit`, attached
# as `client.bot_limiter`) waits only when a published limit is near. `enableRateLimit: true` in
# a venue's ccxt block brings ccxt's back (and then the bot's is not attached).
DEFAULT_CCXT_CONFIG: dict[str, Any] = {
    "enableRateLimit": False,
    "timeout": 10_000,
}

HTTP_BODY_LIMIT = 2000  # characters of an answer's body kept on its exception (`http_body`)


class DryRunRefused(DryRunRefusal):
    """A dry-run client was asked to send a request that is not a read."""


@dataclass(frozen=True)
class Credentials:
    api_key: str | None
    secret: str | None
    password: str | None = None
    #: a wallet-signing venue's key and address (ccxt's `privateKey`, `walletAddress`)
    private_key: str | None = None
    wallet_address: str | None = None

    @property
    def identity(self) -> str | None:
        """What names the account these credentials act on: the API key, or the wallet."""
        return self.api_key or self.wallet_address


def credentials_from_env(name: str, venue: VenueConfig) -> Credentials:
    """Read the venue's secrets from the environment variables that config names."""
    if venue.signs_with_wallet:
        return _wallet_credentials(name, venue)
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


def _wallet_credentials(name: str, venue: VenueConfig) -> Credentials:
    """A wallet-signing venue's private key and address, from the variables config names;
    both registered as secrets (with and without the 0x prefix) so that no log shows them."""
    values = {}
    for field, var in (
        ("private_key_env", venue.private_key_env),
        ("wallet_address_env", venue.wallet_address_env),
    ):
        value = os.environ.get(var or "")
        if not value:
            raise ConfigError(
                f"venues.{name}.{field}: environment variable {var} is not set; export it first"
            )
        value = value.strip()
        register_secret(value)
        register_secret(value.removeprefix("0x"))
        values[field] = value
    return Credentials(
        None,
        None,
        private_key=values["private_key_env"],
        wallet_address=values["wallet_address_env"],
    )


UrlRewrite = Callable[[dict[str, Any]], dict[str, Any]]

WS_PREFIX = "ws."  # urls keys under urls['api']['ws'], for the ccxt.pro client


def build_client(
    name: str,
    venue: VenueConfig,
    credentials: Credentials,
    *,
    dry_run: bool,
    rewrite_api_urls: UrlRewrite | None = None,
    options: Mapping[str, Any] | None = None,
    limiter: Limiter | None = None,
) -> ccxt_async.Exchange:
    """A ccxt async client for the venue.

    `rewrite_api_urls` (used to point a client at the paper exchange) sees ccxt's own
    urls['api'] and returns the ones to use; config's `urls` are merged on top by key.
    `options` are the venue class's ccxt option defaults (which markets to load), under the
    config's own; `limiter` is the venue's rate limiter (`bot.venues.ratelimit`).
    """
    from bot.venues.registry import exchange_class

    cls = exchange_class(name, venue.exchange)
    traits = _traits(venue)
    for key in venue.urls:
        if key.startswith(WS_PREFIX) and not traits.websocket:
            raise ConfigError(
                f"venues.{name}.urls.{key}: {venue.exchange} is read over REST only; "
                "drop the ws.* key"
            )
    client = _construct(
        cls, name, venue, credentials, dry_run, rewrite_api_urls, {}, defaults=options or {}
    )
    if limiter is not None and not client.enableRateLimit:
        client.bot_limiter = limiter
    return client


def build_ws_client(
    name: str,
    venue: VenueConfig,
    credentials: Credentials,
    *,
    dry_run: bool,
    rewrite_api_urls: UrlRewrite | None = None,
) -> ccxt_async.Exchange | None:
    """A ccxt.pro client for balances over the venue's WebSocket API, of the class and with the
    options its traits name (`ws_balance_classes`, `ws_balance_options`), or None where the bot
    reads only REST: also where config points the REST API elsewhere (a testnet, a proxy, a
    fake) and names no WebSocket URL, since the WebSocket API would still be the venue's own
    production endpoint, signed with keys meant for another."""
    traits = _traits(venue)
    pro_id = traits.ws_balance_classes.get(venue.exchange)
    if pro_id is None or not venue.websocket or _rest_moved_alone(venue):
        return None
    import ccxt.pro as ccxt_pro  # only venues with a WebSocket read pay for importing ccxt.pro

    options = copy.deepcopy(dict(traits.ws_balance_options))
    cls = getattr(ccxt_pro, pro_id)
    return _construct(cls, name, venue, credentials, dry_run, rewrite_api_urls, options)


def build_stream_clients(
    name: str,
    venue: VenueConfig,
    credentials: Credentials,
    families: Iterable[str],
    *,
    rewrite_api_urls: UrlRewrite | None = None,
) -> dict[str, ccxt_async.Exchange]:
    """ccxt.pro clients for the margin guard's streams (user data and mark prices), one per
    futures family (`linear`, `inverse`) of the class the venue's traits name
    (`stream_classes`); none where the venue is not followed that way (`websocket: false`, or
    no stream classes). They only listen: their one write is the listen key, which the venue
    takes with the API key alone. Positions come from the bot's own reads, not a snapshot."""
    stream_classes = _traits(venue).stream_classes
    if not stream_classes or not venue.websocket or _rest_moved_alone(venue):
        return {}
    import ccxt.pro as ccxt_pro

    options = {"watchPositions": {"fetchPositionsSnapshot": False}}
    clients = {}
    for family in sorted(set(families) & stream_classes.keys()):
        cls = getattr(ccxt_pro, stream_classes[family])
        clients[family] = _construct(
            cls, name, venue, credentials, False, rewrite_api_urls, options
        )
    return clients


def _traits(venue: VenueConfig) -> VenueTraits:
    from bot.venues.registry import venue_class

    return venue_class(venue.exchange).traits


def _rest_moved_alone(venue: VenueConfig) -> bool:
    """Config points the REST API elsewhere (a testnet, a proxy) but names no WebSocket URL:
    the streams and the WebSocket API would still be the venue's own, another account's view.
    The guard then polls, and balances are read over REST."""
    keys = list(venue.urls)
    return any(not k.startswith(WS_PREFIX) for k in keys) and not any(
        k.startswith(WS_PREFIX) for k in keys
    )


def _construct(
    cls: type[ccxt_async.Exchange],
    name: str,
    venue: VenueConfig,
    credentials: Credentials,
    dry_run: bool,
    rewrite_api_urls: UrlRewrite | None,
    options: dict[str, Any],
    *,
    defaults: Mapping[str, Any] | None = None,
) -> ccxt_async.Exchange:
    traits = _traits(venue)
    cls = transport_class(cls, dry_run, traits.dry_run_rest_reads, traits.dry_run_ws_reads)
    options = {**(defaults or {}), **venue.ccxt.get("options", {}), **options}
    settings: dict[str, Any] = {**DEFAULT_CCXT_CONFIG, **venue.ccxt, "options": options}
    if credentials.api_key:
        settings["apiKey"] = credentials.api_key
    if credentials.secret:
        settings["secret"] = credentials.secret
    if credentials.password:
        settings["password"] = credentials.password
    if credentials.private_key:
        settings["privateKey"] = credentials.private_key
    if credentials.wallet_address:
        settings["walletAddress"] = credentials.wallet_address
    client = cls(settings)
    client.verbose = False  # a backstop: config refuses `verbose` (it prints keys, signatures)
    # Figures stay the venue's own text end to end (decode.py): ccxt's unified numbers as
    # strings (ccxt supports `number = str`), JSON numbers in `info` as their literal text
    # (the transport class's `on_json_response`).
    client.number = str
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
    tls = speaks_tls(api)
    if client.verify is True and not client.options.get("include_OS_certificates"):
        # ccxt builds a new SSL context per client (~0.4 s CPU under load, even for http://);
        # one verifying context, with ccxt's own CA file, serves every client of the process,
        # and a client that speaks no TLS at all (the paper exchange) loads no CA file
        client.ssl_context = shared_ssl_context(client.cafile) if tls else no_ca_ssl_context()
    # ccxt's close() sleeps `timeout_on_exit` (250 ms) per client so that TLS transports can
    # finish closing: 5 s of a 20-venue one-shot. The venues' session waits once for all of
    # them instead (`session.TLS_CLOSE_GRACE_SECONDS`), and only where a client speaks TLS.
    client.timeout_on_exit = 0
    return client


def speaks_tls(api: Any) -> bool:
    """Whether any URL of a client's urls['api'] (nested maps included) is not plain http://
    or ws://: then its connections need the CA file."""
    if isinstance(api, dict):
        return any(speaks_tls(value) for value in api.values())
    return isinstance(api, str) and urlsplit(api).scheme not in ("http", "ws")


@functools.cache
def shared_ssl_context(cafile: str | None) -> ssl.SSLContext:
    """The verifying SSL context every client shares (what ccxt would build for each)."""
    return ssl.create_default_context(cafile=cafile)


@functools.cache
def no_ca_ssl_context() -> ssl.SSLContext:
    """The context of a client whose URLs are all plain: it still verifies (hostname and
    certificate required) but trusts no CA, so a redirect to https fails closed instead of
    going unverified. Building it reads no CA file (~50 ms of CPU spared per process)."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


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


# the transport ------------------------------------------------------------------------------


@dataclass
class _Answers:
    """The HTTP answer last received within one ccxt call (one asyncio task's context)."""

    last: tuple[int, str] | None = None


_ANSWERS: ContextVar[_Answers | None] = ContextVar("bot_http_answers", default=None)
# The implicit endpoint being sent, as fetch2 knows it: (sections, METHOD, path).
_ENDPOINT: ContextVar[tuple[tuple[str, ...], str, str] | None] = ContextVar(
    "bot_http_endpoint", default=None
)
# The request's cost in ccxt's units (its `api` cost table), for the bot's limiter.
_COST: ContextVar[float] = ContextVar("bot_request_cost", default=1.0)
# The headers of the answer to the request being sent (None until one arrives).
_HEADERS: ContextVar[list[Any] | None] = ContextVar("bot_answer_headers", default=None)

# ccxt's transport itself, overridden below; and methods that never handle an HTTP answer of
# their own (WebSocket requests and subscriptions: a REST answer read earlier in them, such as
# the markets, is not what they fail on).
_NOT_WRAPPED = frozenset({"fetch", "fetch2", "request", "throttle", "sleep", "close"})


def _attach(exc: BaseException, status: Any, body: Any) -> None:
    """Mark `exc` with the answer it was raised for, unless it already carries one."""
    if not isinstance(status, int) or isinstance(getattr(exc, "http_status", None), int):
        return
    try:
        exc.http_status = status  # type: ignore[attr-defined]
        text = body if isinstance(body, str) else "" if body is None else str(body)
        exc.http_body = text[:HTTP_BODY_LIMIT]  # type: ignore[attr-defined]
    except AttributeError:  # an exception class with __slots__: nothing to carry it on
        pass


def _sections(api: Any) -> tuple[str, ...]:
    if isinstance(api, str):
        return (api,)
    if isinstance(api, list | tuple):
        return tuple(str(part) for part in api)
    return (str(api),)


def _wraps_answers(name: str, function: Callable[..., Any]) -> bool:
    return (
        not name.startswith("_")
        and name not in _NOT_WRAPPED
        and not name.startswith(("watch", "un_watch", "unWatch"))
        and not name.endswith(("_ws", "Ws"))
        and inspect.iscoroutinefunction(function)
    )


@contextmanager
def _answers_on_exceptions(*, fresh: bool) -> Iterator[None]:
    """Attach the last HTTP answer received inside the block to any exception leaving it; the
    outermost block owns the record, and `fresh` forgets answers received before it."""
    answers = _ANSWERS.get()
    token = None
    if answers is None:
        answers = _Answers()
        token = _ANSWERS.set(answers)
    if fresh:
        answers.last = None
    try:
        yield
    except Exception as exc:
        if answers.last is not None:
            _attach(exc, *answers.last)
        raise
    finally:
        if token is not None:
            _ANSWERS.reset(token)


def _carrying_answer(function: Callable[..., Any]) -> Callable[..., Any]:
    """A ccxt method whose exceptions carry the last HTTP answer received inside it (one its
    parsing refused); the outermost wrapped call owns the record."""

    @functools.wraps(function)
    async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _answers_on_exceptions(fresh=False):
            return await function(self, *args, **kwargs)

    return method


@functools.cache
def transport_class(
    cls: type[ccxt_async.Exchange],
    dry_run: bool,
    rest_reads: frozenset[tuple[str, str]] = frozenset(),
    ws_reads: frozenset[str] = frozenset(),
) -> type[ccxt_async.Exchange]:
    """The generated subclass of `cls` that every client is built from (see the module doc).
    `rest_reads` and `ws_reads` are the venue's reads other than GET (its traits'
    `dry_run_rest_reads`, `dry_run_ws_reads`): a dry-run client sends those too."""
    base: Any = cls

    async def fetch(
        self: Any, url: str, method: str = "GET", headers: Any = None, body: Any = None
    ) -> Any:
        with _answers_on_exceptions(fresh=True):  # only this request's answer counts
            if dry_run:
                _refuse_unless_rest_read(self, url, method)
            limiter = getattr(self, "bot_limiter", None)
            if limiter is None:
                return await _exact(base.fetch(self, url, method, headers, body), url, method)
            cost = _COST.get()
            await limiter.before(method, url, cost, is_read=_is_rest_read(self, method))
            answer: list[Any] = []
            token = _HEADERS.set(answer)
            try:
                return await _exact(base.fetch(self, url, method, headers, body), url, method)
            finally:
                _HEADERS.reset(token)
                limiter.after(method, url, cost, answer[0] if answer else None)

    async def fetch2(
        self: Any, path: str, api: Any = "public", method: str = "GET", *args: Any, **kwargs: Any
    ) -> Any:
        token = _ENDPOINT.set((_sections(api), str(method).upper(), str(path)))
        cost_token = None
        if getattr(self, "bot_limiter", None) is not None:
            params = args[0] if args else kwargs.get("params", {})
            config = args[1] if len(args) > 1 else kwargs.get("config", {})
            cost = self.calculate_rate_limiter_cost(api, method, path, params, config)
            cost_token = _COST.set(float(cost or 1))
        try:
            return await base.fetch2(self, path, api, method, *args, **kwargs)
        finally:
            _ENDPOINT.reset(token)
            if cost_token is not None:
                _COST.reset(cost_token)

    def on_rest_response(
        self: Any,
        code: Any,
        reason: Any,
        url: str,
        method: str,
        response_headers: Any,
        response_body: Any,
        request_headers: Any,
        request_body: Any,
    ) -> Any:
        # the first moment ccxt holds a whole answer: record it for whatever fails on it next
        received = _HEADERS.get()
        if received is not None:
            received.append(response_headers)
        answers = _ANSWERS.get()
        if answers is not None and isinstance(code, int):
            answers.last = (code, str(response_body or "")[:HTTP_BODY_LIMIT])
        return base.on_rest_response(
            self,
            code,
            reason,
            url,
            method,
            response_headers,
            response_body,
            request_headers,
            request_body,
        )

    def handle_errors(
        self: Any,
        code: Any,
        reason: Any,
        url: str,
        method: str,
        headers: Any,
        body: Any,
        response: Any,
        request_headers: Any,
        request_body: Any,
    ) -> Any:
        try:
            return base.handle_errors(
                self,
                code,
                reason,
                url,
                method,
                headers,
                body,
                response,
                request_headers,
                request_body,
            )
        except Exception as exc:
            _attach(exc, code, body)
            raise

    def handle_http_status_code(
        self: Any, code: Any, reason: Any, url: str, method: str, body: Any
    ) -> Any:
        try:
            return base.handle_http_status_code(self, code, reason, url, method, body)
        except Exception as exc:
            _attach(exc, code, body)
            raise

    def watch(self: Any, url: str, message_hash: Any, message: Any = None, *args: Any) -> Any:
        if dry_run:
            _refuse_unless_ws_read(self, message)
        return base.watch(self, url, message_hash, message, *args)

    def watch_multiple(
        self: Any, url: str, message_hashes: Any, message: Any = None, *args: Any
    ) -> Any:
        if dry_run:
            _refuse_unless_ws_read(self, message)
        return base.watch_multiple(self, url, message_hashes, message, *args)

    def client(self: Any, url: str) -> Any:
        ws = base.client(self, url)
        ws.verbose = False  # ccxt.pro's socket prints every signed message it sends when verbose
        if "handle_text_or_binary_message" not in vars(ws):
            ws.handle_text_or_binary_message = types.MethodType(_exact_ws_message, ws)
        return ws

    body: dict[str, Any] = {
        "__module__": __name__,
        "__doc__": f"{cls.__name__} with the bot's transport (dry run: {dry_run})",
        "bot_dry_run": dry_run,
        "bot_rest_reads": rest_reads,
        "bot_ws_reads": ws_reads,
        # the one exact JSON loader (a plain function: ccxt calls `self.on_json_response(body)`)
        "on_json_response": staticmethod(loads_exact),
    }
    for klass in reversed(cls.__mro__):
        for name, function in vars(klass).items():
            if _wraps_answers(name, function):
                body[name] = _carrying_answer(function)
    body.update(
        fetch=fetch,
        fetch2=fetch2,
        on_rest_response=on_rest_response,
        handle_errors=handle_errors,
        handle_http_status_code=handle_http_status_code,
        watch=watch,
        watch_multiple=watch_multiple,
        client=client,
    )
    prefix = "DryRun" if dry_run else "Bot"
    return type(f"{prefix}{cls.__name__}", (cls,), body)


async def _exact(answer: Awaitable[Any], url: str, method: str) -> Any:
    """The answer of ccxt's `fetch`, with a body that names one key twice in an object refused
    as ccxt's `BadResponse` naming the request (the exception carries the answer)."""
    from ccxt.base.errors import BadResponse

    try:
        return await answer
    except AmbiguousBody as exc:
        path = urlsplit(url).path or "/"
        raise BadResponse(f"{str(method).upper()} {path}: {exc}") from None


def _exact_ws_message(ws: Any, data: Any) -> None:
    """ccxt.pro's `Client.handle_text_or_binary_message`, through the one exact JSON loader: a
    message with one key twice in an object fails the socket (`on_error`: every waiting call
    is rejected with `BadResponse`, and the next one connects again) instead of being read."""
    from ccxt.async_support.base.ws.functions import is_json_encoded_object
    from ccxt.base.errors import BadResponse

    if ws.decompressBinary and isinstance(data, bytes):
        data = data.decode()
    if not is_json_encoded_object(data):
        ws.on_message_callback(ws, data)
        return
    try:
        decoded = loads_exact(data)
    except AmbiguousBody as exc:
        ws.on_error(BadResponse(f"WebSocket {urlsplit(ws.url).path or '/'}: {exc}"))
        return
    ws.on_message_callback(ws, decoded)


def _is_rest_read(client: Any, method: str) -> bool:
    """GET, or one of the venue's named POST reads (its traits' `dry_run_rest_reads`)."""
    verb = str(method).upper()
    if verb == "GET":
        return True
    endpoint = _ENDPOINT.get()
    allowed = getattr(client, "bot_rest_reads", frozenset())
    sent = (verb, "/".join((*endpoint[0], endpoint[2]))) if endpoint is not None else None
    return endpoint is not None and endpoint[1] == verb and sent in allowed


def _refuse_unless_rest_read(client: Any, url: str, method: str) -> None:
    if _is_rest_read(client, method):
        return
    verb = str(method).upper()
    path = urlsplit(url).path or "/"
    raise DryRunRefused(f"dry run: {verb} {path} was not sent")


def _refuse_unless_ws_read(client: Any, message: Any) -> None:
    if message is None:
        return  # nothing is sent: the call only waits for what the venue pushes
    method = message.get("method") if isinstance(message, dict) else None
    if isinstance(method, str) and method in getattr(client, "bot_ws_reads", frozenset()):
        return
    shown = method if isinstance(method, str) else type(message).__name__
    raise DryRunRefused(f"dry run: WebSocket {shown} was not sent")
