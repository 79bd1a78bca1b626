"""Binance's request signing rules: API key header, HMAC-SHA256 signature, timestamp window.

Pure: given the raw request parts and the server's time, return the request's parameters or
raise the `BinanceError` Binance would answer with.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from bot.paper.wire import BinanceError, illegal_characters, mandatory_missing

# Fixed, public and obviously fake: the paper exchange guards nothing of value.
PAPER_API_KEY = "paper-api-key"
PAPER_SECRET = "paper-secret"

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000
FUTURE_TOLERANCE_MS = 1000

API_KEY_FORMAT_INVALID = BinanceError(401, -2014, "API-key format invalid.")
INVALID_API_KEY = BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
INVALID_SIGNATURE = BinanceError(400, -1022, "Signature for this request is not valid.")
OUTSIDE_RECV_WINDOW = BinanceError(
    400, -1021, "Timestamp for this request is outside of the recvWindow."
)
BAD_RECV_WINDOW = BinanceError(400, -1131, "recvWindow must be less than 60000")


@dataclass(frozen=True)
class Credentials:
    api_key: str = PAPER_API_KEY
    secret: str = PAPER_SECRET


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def parse_params(raw_query: str, raw_body: str) -> dict[str, str]:
    """Query string and form body merged (body wins), as Binance reads parameters."""
    params = dict(parse_qsl(raw_query, keep_blank_values=True))
    params.update(parse_qsl(raw_body, keep_blank_values=True))
    return params


def _strip_signature(raw: str) -> tuple[str, str | None]:
    kept: list[str] = []
    signature = None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def signed_payload(raw_query: str, raw_body: str) -> tuple[str, str | None]:
    """What the client signed, and the signature it sent. Binance signs totalParams = query
    string concatenated with the body (no separator), minus the signature parameter."""
    query, query_signature = _strip_signature(raw_query)
    body, body_signature = _strip_signature(raw_body)
    return query + body, body_signature if body_signature is not None else query_signature


def verify_api_key(api_key: str | None, credentials: Credentials) -> None:
    """USER_STREAM security (listen keys): the key header alone, no signature or timestamp."""
    if not api_key:
        raise API_KEY_FORMAT_INVALID
    if not hmac.compare_digest(api_key, credentials.api_key):
        raise INVALID_API_KEY


def verify_signed_request(
    *,
    api_key: str | None,
    raw_query: str,
    raw_body: str,
    credentials: Credentials,
    server_time: int,
) -> dict[str, str]:
    """Check key, signature and timestamp in that order; return the parameters without the
    signature."""
    verify_api_key(api_key, credentials)
    payload, signature = signed_payload(raw_query, raw_body)
    if not signature:
        raise mandatory_missing("signature")
    expected = sign(credentials.secret, payload)
    if not hmac.compare_digest(signature.lower(), expected):
        raise INVALID_SIGNATURE
    params = parse_params(raw_query, raw_body)
    params.pop("signature", None)
    check_timestamp(params, server_time)
    return params


def check_timestamp(params: Mapping[str, str], server_time: int) -> None:
    """server_time - recvWindow <= timestamp < server_time + 1000."""
    raw_timestamp = params.get("timestamp")
    if not raw_timestamp:
        raise mandatory_missing("timestamp")
    try:
        timestamp = int(raw_timestamp)
    except ValueError as error:
        raise illegal_characters("timestamp", "^[0-9]{1,20}$") from error
    recv_window = DEFAULT_RECV_WINDOW_MS
    raw_window = params.get("recvWindow")
    if raw_window:
        try:
            recv_window = int(raw_window)
        except ValueError as error:
            raise illegal_characters("recvWindow", "^[0-9]{1,20}$") from error
        if recv_window > MAX_RECV_WINDOW_MS or recv_window < 0:
            raise BAD_RECV_WINDOW
    if not server_time - recv_window <= timestamp < server_time + FUTURE_TOLERANCE_MS:
        raise OUTSIDE_RECV_WINDOW
