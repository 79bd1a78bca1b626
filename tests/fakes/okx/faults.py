"""Faults the OKX fake answers instead of (or after) serving a request, by METHOD + path: the
venue-neutral kinds and `Faults` hooks of tests/fakes/faults.py, shared with the Bybit fake, so a
venue integration can drive both alike.

- `FAIL_BEFORE`: an HTTP 5xx with a plain-text body, nothing applied (a gateway in front of
  the API: ccxt sees no `code`).
- `FAIL_AFTER`: the request is applied, then an HTTP 5xx is answered instead of its reply.
- `TIMEOUT_AFTER`: the request is applied, then the answer is held past the client's timeout.
- `RATE_LIMITED`: OKX's rate limit, nothing applied: HTTP 429 with
  `{"msg": "Too Many Requests", "code": "50011"}` (Error Code > Public > General Class lists
  50011 with HTTP 429 "Too Many Requests"; Rate Limits: "... will receive error code 50011").
- `RAW`: a body served verbatim (status 200 unless given), nothing applied: a garbage answer.
"""

from __future__ import annotations

from tests.fakes.faults import (
    FAIL_AFTER,
    FAIL_BEFORE,
    GATEWAY_BODY,
    KINDS,
    RATE_LIMITED,
    RAW,
    TIMEOUT_AFTER,
    Fault,
    Faults,
)

RATE_LIMIT_CODE = "50011"
RATE_LIMIT_MSG = "Too Many Requests"

__all__ = [
    "FAIL_AFTER",
    "FAIL_BEFORE",
    "GATEWAY_BODY",
    "KINDS",
    "RATE_LIMITED",
    "RATE_LIMIT_CODE",
    "RATE_LIMIT_MSG",
    "RAW",
    "TIMEOUT_AFTER",
    "Fault",
    "Faults",
]
