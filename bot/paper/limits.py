"""Request weight per minute, counted in the buckets Binance keeps apart, and the answer when one
is exceeded. Pure: the caller passes the time.

Binance's "LIMITS" rules (Spot API General Info, https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits,
and Binance's rate-limit summary, https://developers.binance.com/docs/products/caas/basics/4.rate-limits):
- /api/*: every endpoint shares one IP limit of 6000 weight per minute; answers carry
  X-MBX-USED-WEIGHT-1M, the weight the IP has used.
- /sapi/*: each endpoint is marked IP or UID limited, with its own weight. "Each endpoint with
  IP limits has an independent 12000 per minute limit"; "each endpoint with UID limits has an
  independent 180000 per minute limit". Answers carry X-SAPI-USED-IP-WEIGHT-1M (IP endpoints)
  or X-SAPI-USED-UID-WEIGHT-1M (UID endpoints), and no X-MBX-USED-WEIGHT-1M.
- Breaking a limit answers HTTP 429 (-1003) with a Retry-After header.
/fapi and /dapi keep their own per-family IP counts, reported in X-MBX-USED-WEIGHT-1M as before
(not refused here: their limits are outside this module's brief).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.paper.wire import BinanceError

MINUTE_MS = 60_000
API_IP_LIMIT = 6000
SAPI_IP_LIMIT = 12000
SAPI_UID_LIMIT = 180000
API_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
SAPI_IP_WEIGHT_HEADER = "X-SAPI-USED-IP-WEIGHT-1M"
SAPI_UID_WEIGHT_HEADER = "X-SAPI-USED-UID-WEIGHT-1M"


class LimitKind(StrEnum):
    """What an endpoint's weight counts against: the caller's IP or its account (UID)."""

    IP = "ip"
    UID = "uid"


@dataclass(frozen=True)
class Usage:
    """One request's accounting: the header to answer with, and the refusal if over a limit."""

    header: str
    used: int
    refusal: BinanceError | None
    retry_after_seconds: int

    def headers(self) -> dict[str, str]:
        """The weight header every answer carries (a refusal adds Retry-After)."""
        return {self.header: str(self.used)}


def _too_many_ip(limit: int) -> BinanceError:
    # The wording Binance sends for an IP limit (the paper's -1003 fault uses it too).
    return BinanceError(
        429,
        -1003,
        f"Too many requests; current limit of IP(127.0.0.1) is {limit} requests per minute. "
        "Please use the websocket for live updates to avoid polling the API.",
    )


def _too_many_uid(limit: int) -> BinanceError:
    # The -1003 message template of Binance's error list, filled in for the UID limit.
    return BinanceError(
        429,
        -1003,
        f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
    )


class WeightMeter:
    """Weight used in the current minute (Binance's limits are per calendar minute), per bucket:
    the /api IP bucket, one IP bucket per sapi endpoint, one UID bucket per sapi endpoint (the
    paper has one account), and /fapi and /dapi per family."""

    def __init__(self) -> None:
        self._minute = -1
        self._used: dict[tuple[str, ...], int] = {}

    def add(self, method: str, path: str, weight: int, kind: LimitKind, now: int) -> Usage:
        minute = now // MINUTE_MS
        if minute != self._minute:
            self._minute, self._used = minute, {}
        bucket, header, limit, refusal = _bucket(method, path, kind)
        used = self._used.get(bucket, 0) + weight
        self._used[bucket] = used
        retry_after = max(1, -(-((minute + 1) * MINUTE_MS - now) // 1000))
        over = limit is not None and used > limit
        return Usage(
            header=header,
            used=used,
            refusal=refusal if over else None,
            retry_after_seconds=retry_after,
        )


def _bucket(
    method: str, path: str, kind: LimitKind
) -> tuple[tuple[str, ...], str, int | None, BinanceError | None]:
    if path.startswith("/sapi/"):
        if kind == LimitKind.UID:
            return (
                ("sapi", "uid", method, path),
                SAPI_UID_WEIGHT_HEADER,
                SAPI_UID_LIMIT,
                _too_many_uid(SAPI_UID_LIMIT),
            )
        return (
            ("sapi", "ip", method, path),
            SAPI_IP_WEIGHT_HEADER,
            SAPI_IP_LIMIT,
            _too_many_ip(SAPI_IP_LIMIT),
        )
    if path.startswith("/fapi/"):
        return ("fapi",), API_WEIGHT_HEADER, None, None
    if path.startswith("/dapi/"):
        return ("dapi",), API_WEIGHT_HEADER, None, None
    return ("api",), API_WEIGHT_HEADER, API_IP_LIMIT, _too_many_ip(API_IP_LIMIT)
