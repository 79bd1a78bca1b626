"""One error taxonomy for every venue, mapped once from the whole answer: HTTP status, the
venue's own code, then ccxt's exception class.

- The HTTP status decides first: a 5xx on a call that moves money means the venue may have
  applied it (Binance: "the execution status is UNKNOWN and could have been a success"), so it
  is `unknown`, whatever code the body carries; on a read it is transient.
- Then the venue's code (each venue keeps its table, `ErrorTable`): "status unknown" and
  "internal error" codes are `unknown` on a state-changing call and transient on a read.
- An answer that cannot be read (ccxt's `BadResponse`: our exact JSON loader refusing a key
  named twice, our ccxt classes refusing a body of the wrong shape) is `untrusted` on a read
  and `unknown` after a send, in its own words.
- ccxt's class decides the rest. ccxt's Binance picks exception classes by hostname, so against
  any URL but binance.com a `-5013` arrives as a plain `ExchangeError`; and once a signed call
  has succeeded it turns `-2015` (bad key) into `DDoSProtection`, a `NetworkError`. Both are
  why the code is read from the message and decides before the class does.

The status reaches the exception through the client (`clients.py` attaches `http_status` to
whatever ccxt raises while handling an answer); `http_status_of` finds it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import aiohttp
import ccxt.async_support as ccxt

from bot.errors import ErrorKind, VenueError
from bot.runtime.redact import redact
from bot.venues.base import ErrorTable

NO_CODES = ErrorTable()

__all__ = ["ErrorKind", "VenueError", "classify", "error_code", "http_body_of", "http_status_of"]


_CODE_IN_BODY = re.compile(r'"code"\s*:\s*"?(-?\d+)"?')
_MSG_IN_BODY = re.compile(r'"msg"\s*:\s*"([^"]*)"')
_REQUEST_IN_TEXT = re.compile(r"^\S+ (GET|POST|PUT|DELETE) (\S+)")


def error_code(exc: BaseException) -> str | None:
    """The venue's error code carried in a ccxt exception's message, if any."""
    match = _CODE_IN_BODY.search(str(exc))
    return match.group(1) if match else None


def http_status_of(exc: BaseException | None) -> int | None:
    """The HTTP status of the answer an exception was raised for: on `exc` itself or on any
    exception in its `__cause__`/`__context__` chain; None when no answer came back."""
    for link in _chain(exc):
        status = getattr(link, "http_status", None)
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    return None


def http_body_of(exc: BaseException | None) -> str | None:
    """The (first `clients.HTTP_BODY_LIMIT` characters of the) body beside `http_status_of`."""
    for link in _chain(exc):
        if isinstance(getattr(link, "http_status", None), int):
            body = getattr(link, "http_body", None)
            return body if isinstance(body, str) else None
    return None


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending = [exc] if exc is not None else []
    while pending:
        link = pending.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        pending += [e for e in (link.__cause__, link.__context__) if e is not None]


def classify(
    exc: BaseException, *, venue: str, state_changing: bool, table: ErrorTable = NO_CODES
) -> VenueError:
    """Map any exception raised by a ccxt call to a `VenueError` of one kind.

    `state_changing` is True for calls that move money: there a lost answer means the outcome
    is unknown, while for reads it only means "try again". `table` is the venue's own codes
    (each venue keeps its table in its module); ccxt's classes decide the rest.
    """
    if isinstance(exc, VenueError):
        return exc
    code = error_code(exc)
    status = http_status_of(exc)
    message = _short_message(exc, code, status)

    server_error = status is not None and status >= 500
    if server_error or code in table.unknown:
        if not state_changing:
            return VenueError(ErrorKind.TRANSIENT, venue, message, code=code)
        why = "a 5xx answer" if server_error else "the venue's code"
        return VenueError(
            ErrorKind.UNKNOWN,
            venue,
            message,
            code=code,
            hint=f"{why} leaves the outcome unknown; reconciling before anything else",
        )
    if isinstance(exc, ccxt.BadResponse):
        # an answer that cannot be read as what the endpoint documents (a duplicated key, a
        # list that is not one): a read the bot cannot trust, or a send whose outcome it
        # cannot know. Its own words name the request and the field.
        words = message if code is not None else redact(" ".join(str(exc).split()))[:500]
        if not state_changing:
            return VenueError(ErrorKind.UNTRUSTED, venue, words, code=code)
        return VenueError(
            ErrorKind.UNKNOWN,
            venue,
            words,
            code=code,
            hint="the answer could not be read; reconciling before anything else",
        )
    if code in table.insufficient or isinstance(exc, ccxt.InsufficientFunds):
        return VenueError(ErrorKind.INSUFFICIENT, venue, message, code=code)
    if code in table.clock or isinstance(exc, ccxt.InvalidNonce):
        return VenueError(
            ErrorKind.CLOCK, venue, message, code=code, hint="the local clock is off; resyncing"
        )
    if code in table.fatal_hints:
        hint = table.fatal_hints[code]
        return VenueError(ErrorKind.FATAL, venue, message, code=code, hint=hint)
    if code in table.rate_limited or isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return VenueError(ErrorKind.TRANSIENT, venue, message, code=code)
    if isinstance(exc, ccxt.AuthenticationError | ccxt.PermissionDenied | ccxt.AccountSuspended):
        return VenueError(
            ErrorKind.FATAL,
            venue,
            message,
            code=code,
            hint="check the API key and secret, their permissions, and the IP whitelist",
        )
    if isinstance(exc, ccxt.NetworkError | asyncio.TimeoutError | aiohttp.ClientError):
        if not state_changing or _never_sent(exc):
            return VenueError(ErrorKind.TRANSIENT, venue, message, code=code)
        return VenueError(
            ErrorKind.UNKNOWN,
            venue,
            message,
            code=code,
            hint="the request was sent but no answer came back; reconcile before retrying",
        )
    if isinstance(
        exc, ccxt.BadRequest | ccxt.BadSymbol | ccxt.ArgumentsRequired | ccxt.NotSupported
    ):
        return VenueError(ErrorKind.FATAL, venue, message, code=code, hint="a bad request")
    if isinstance(exc, ccxt.ExchangeError):
        # A definite answer from the venue: nothing was applied, and repeating will not help.
        return VenueError(ErrorKind.FATAL, venue, message, code=code)
    return VenueError(ErrorKind.FATAL, venue, f"{type(exc).__name__}: {message}", code=code)


def _never_sent(exc: BaseException) -> bool:
    """True when the failure happened before the request reached the venue."""
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            return True
        if isinstance(cause, OSError) and getattr(cause, "errno", None) in {111, 113, -2, -3}:
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _short_message(exc: BaseException, code: str | None, status: int | None = None) -> str:
    """One line: the venue's code and message when there is one, else what failed and why,
    without query strings (they carry signatures) and with secrets masked."""
    text = str(exc)
    msg = _MSG_IN_BODY.search(text)
    request = _REQUEST_IN_TEXT.match(text)
    if code and msg:
        line = f"{code} {msg.group(1)}"
        if status is not None and status != 200:
            line = f"HTTP {status}: {line}"
    elif request is not None:
        method, url = request.group(1), request.group(2).split("?", 1)[0]
        cause = exc.__cause__ or exc.__context__
        why = f": {type(cause).__name__} {cause}" if cause is not None else ""
        line = f"{type(exc).__name__} on {method} {url}{why}"
    else:
        line = f"{type(exc).__name__}: {text}"
    return redact(" ".join(line.split()))[:500]
