"""One taxonomy from ccxt's classes and venue codes; the code decides before the class."""

from __future__ import annotations

import aiohttp
import ccxt.async_support as ccxt
import pytest

from bot.venues.binance.venue import BINANCE_ERRORS
from bot.venues.errors import ErrorKind, classify

BODY = 'binance {"code":%s,"msg":"%s"}'


def connector_error() -> BaseException:
    """What ccxt raises when the connection is refused: nothing left the machine."""
    cause = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 9, False, True, None, None, None),
        ConnectionRefusedError(111, "Connection refused"),
    )
    error = ccxt.ExchangeNotAvailable("binance POST http://127.0.0.1:9/sapi/v1/asset/transfer")
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("exc", "state_changing", "kind"),
    [
        # ccxt gives a plain ExchangeError for -5013 on any host but binance.com
        (
            ccxt.ExchangeError(BODY % (-5013, "Asset transfer failed: insufficient balance")),
            True,
            ErrorKind.INSUFFICIENT,
        ),
        (ccxt.InsufficientFunds("binance insufficient"), True, ErrorKind.INSUFFICIENT),
        (
            ccxt.ExchangeError(BODY % (-2019, "Margin is insufficient.")),
            True,
            ErrorKind.INSUFFICIENT,
        ),
        # after a successful signed call ccxt turns -2015 into DDoSProtection (a NetworkError)
        (
            ccxt.DDoSProtection(BODY % (-2015, "Invalid API-key, IP, or permissions for action.")),
            True,
            ErrorKind.FATAL,
        ),
        (
            ccxt.AuthenticationError(BODY % (-1022, "Signature for this request is not valid.")),
            False,
            ErrorKind.FATAL,
        ),
        (ccxt.PermissionDenied("binance no"), True, ErrorKind.FATAL),
        (
            ccxt.ExchangeError(BODY % (-1006, "Unexpected response; execution status unknown.")),
            True,
            ErrorKind.UNKNOWN,
        ),
        (
            ccxt.ExchangeError(BODY % (-1007, "Timeout waiting for response; status unknown.")),
            False,
            ErrorKind.TRANSIENT,
        ),
        (ccxt.InvalidNonce(BODY % (-1021, "Timestamp outside recvWindow.")), True, ErrorKind.CLOCK),
        (
            ccxt.ExchangeError(BODY % (-1021, "Timestamp outside recvWindow.")),
            False,
            ErrorKind.CLOCK,
        ),
        (ccxt.RateLimitExceeded("binance 429"), True, ErrorKind.TRANSIENT),
        (ccxt.DDoSProtection("binance 418 I'm a teapot"), False, ErrorKind.TRANSIENT),
        (
            ccxt.RequestTimeout("binance POST http://x/sapi/v1/asset/transfer"),
            True,
            ErrorKind.UNKNOWN,
        ),
        (ccxt.RequestTimeout("binance GET http://x/api/v3/account"), False, ErrorKind.TRANSIENT),
        (ccxt.ExchangeNotAvailable("binance POST http://x 500"), True, ErrorKind.UNKNOWN),
        (ccxt.ExchangeNotAvailable("binance GET http://x 500"), False, ErrorKind.TRANSIENT),
        (connector_error(), True, ErrorKind.TRANSIENT),  # refused: never sent
        (ccxt.BadRequest("binance bad"), True, ErrorKind.FATAL),
        (
            ccxt.ExchangeError(
                BODY % (-1111, "Precision is over the maximum defined for this asset.")
            ),
            True,
            ErrorKind.FATAL,
        ),
    ],
)
def test_classify(exc: BaseException, state_changing: bool, kind: ErrorKind) -> None:
    error = classify(exc, venue="binance", state_changing=state_changing, table=BINANCE_ERRORS)
    assert error.kind is kind
    assert "\n" not in str(error) and str(error).startswith("binance: ")


def test_fatal_errors_say_what_to_fix() -> None:
    error = classify(
        ccxt.ExchangeError(BODY % (-2015, "Invalid API-key")),
        venue="b",
        state_changing=True,
        table=BINANCE_ERRORS,
    )
    assert "enable Universal Transfer" in str(error) and "whitelist" in str(error)


def test_messages_drop_signed_query_strings() -> None:
    exc = ccxt.RequestTimeout(
        "binance GET http://x/api/v3/account?timestamp=1&signature=abcdef0123"
    )
    assert "abcdef0123" not in str(classify(exc, venue="b", state_changing=False))


UNKNOWN_CODES = ("-1000", "-1001", "-1006", "-1007", "-1008", "-1016", "-9000")


def answered(status: int, code: str | None, cls: type[ccxt.BaseError]) -> ccxt.BaseError:
    """An exception as the client raises it for an HTTP answer: the status attached."""
    body = BODY % (code, "whatever the venue says") if code else "binance <html>busy</html>"
    error = cls(body)
    error.http_status = status  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("code", [*UNKNOWN_CODES, "-5013", "-2015", "-1111", None])
@pytest.mark.parametrize("cls", [ccxt.ExchangeError, ccxt.BadRequest, ccxt.ExchangeNotAvailable])
def test_any_5xx_on_a_transfer_is_unknown_and_on_a_read_transient(
    status: int, code: str | None, cls: type[ccxt.BaseError]
) -> None:
    """Binance: a 5XX means the execution status is UNKNOWN and could have been a success,
    whatever the body says (ccxt maps -1016 to BadRequest, -1000 to OperationFailed)."""
    error = answered(status, code, cls)
    sent = classify(error, venue="b", state_changing=True, table=BINANCE_ERRORS)
    read = classify(error, venue="b", state_changing=False, table=BINANCE_ERRORS)
    assert (sent.kind, read.kind) == (ErrorKind.UNKNOWN, ErrorKind.TRANSIENT)
    assert f"HTTP {status}" in str(sent) or code is None


@pytest.mark.parametrize("status", [200, 400, 403])
@pytest.mark.parametrize("code", UNKNOWN_CODES)
def test_a_status_unknown_code_under_any_status_is_unknown(status: int, code: str) -> None:
    error = answered(status, code, ccxt.ExchangeError)
    sent = classify(error, venue="b", state_changing=True, table=BINANCE_ERRORS)
    read = classify(error, venue="b", state_changing=False, table=BINANCE_ERRORS)
    assert (sent.kind, read.kind) == (ErrorKind.UNKNOWN, ErrorKind.TRANSIENT)


def test_the_status_is_found_on_a_cause() -> None:
    outer = ccxt.ExchangeError(BODY % ("-5013", "insufficient"))
    outer.__cause__ = answered(503, None, ccxt.ExchangeNotAvailable)
    assert classify(outer, venue="b", state_changing=True, table=BINANCE_ERRORS).kind is (
        ErrorKind.UNKNOWN
    )


def test_a_4xx_definite_refusal_stays_definite() -> None:
    error = answered(400, "-5013", ccxt.ExchangeError)
    assert classify(error, venue="b", state_changing=True, table=BINANCE_ERRORS).kind is (
        ErrorKind.INSUFFICIENT
    )
