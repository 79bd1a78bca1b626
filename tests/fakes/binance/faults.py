"""Fault injection by endpoint (METHOD + path), for the next N calls or standing.

Kinds:
- `FAIL_BEFORE`: an HTTP 5xx answered before the request is applied (nothing changed). Default
  body: Binance's 503 "Service Unavailable." (USD-M "General Info": the request failed).
- `FAIL_AFTER`: the request is applied, then an HTTP 5xx is answered instead of its reply.
  Default body: Binance's 503 "Unknown error, please check your request or try again later."
  (USD-M "General Info": the execution status is UNKNOWN and could have been a success).
- `TIMEOUT_BEFORE` / `TIMEOUT_AFTER`: the server holds the request for `hold` seconds (longer
  than the client's timeout), without / after applying it; released early when the server stops.
- `ERROR_CODE`: a Binance error answer `{"code": code, "msg": msg}` with an HTTP status (e.g.
  -2015 with 401, -4050 / -4051 with 400); nothing is applied.
"""

from __future__ import annotations

import json

from tests.fakes.faults import (
    FAIL_AFTER,
    FAIL_BEFORE,
    TIMEOUT_AFTER,
    TIMEOUT_BEFORE,
    Fault,
    FaultBook,
)

ERROR_CODE = "code"
KINDS = (FAIL_BEFORE, FAIL_AFTER, TIMEOUT_BEFORE, TIMEOUT_AFTER, ERROR_CODE)

SERVICE_UNAVAILABLE = "Service Unavailable."
UNKNOWN_ERROR = "Unknown error, please check your request or try again later."

# well-known error answers (Binance "Error Codes"): code -> (HTTP status, message)
KNOWN_CODES: dict[int, tuple[int, str]] = {
    -1003: (429, "Too many requests; current limit is 2400 requests per minute."),
    -1021: (400, "Timestamp for this request is outside of the recvWindow."),
    -1022: (400, "Signature for this request is not valid."),
    -2014: (401, "API-key format invalid."),
    -2015: (401, "Invalid API-key, IP, or permissions for action."),
    -4050: (400, "Cross balance insufficient."),
    -4051: (400, "Isolated balance insufficient."),
    -5013: (400, "Asset transfer failed: insufficient balance"),
    -1001: (503, "Internal error; unable to process your request. Please try again."),
    -1007: (
        408,
        "Timeout waiting for response from backend server. "
        "Send status unknown; execution status unknown.",
    ),
}


class Faults(FaultBook):
    """Binance's fault kinds: the shared ones, a hang before applying, and its error codes."""

    def add(
        self,
        method: str,
        path: str,
        kind: str,
        *,
        times: int | None = 1,
        status: int | None = None,
        code: int | None = None,
        msg: str | None = None,
        body: str | None = None,
        hold: float = 30.0,
    ) -> Fault:
        """Answer the next `times` calls of METHOD `path` (None: every call) with `kind`."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (kinds: {', '.join(KINDS)})")
        if kind == ERROR_CODE:
            if code is None:
                raise ValueError("an ERROR_CODE fault needs code=")
            known_status, known_msg = KNOWN_CODES.get(code, (400, "An unknown error occured."))
            status = status or known_status
            text = msg or known_msg
            body = body or json.dumps({"code": code, "msg": text}, separators=(",", ":"))
        elif kind in (FAIL_BEFORE, FAIL_AFTER):
            status = status or 503
            body = body or (SERVICE_UNAVAILABLE if kind == FAIL_BEFORE else UNKNOWN_ERROR)
        else:
            status, body = status or 200, body or ""
        return self.keep(Fault(method.upper(), path, kind, times, status, body, hold))


__all__ = [
    "ERROR_CODE",
    "FAIL_AFTER",
    "FAIL_BEFORE",
    "KINDS",
    "KNOWN_CODES",
    "SERVICE_UNAVAILABLE",
    "TIMEOUT_AFTER",
    "TIMEOUT_BEFORE",
    "UNKNOWN_ERROR",
    "Fault",
    "Faults",
]
