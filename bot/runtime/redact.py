"""Keeping secrets out of text: logs, error messages and ledger rows all pass through `redact`.

Secrets are registered when they are read from the environment; besides their exact values,
anything shaped like a signature, an API-key header or a listen key is masked, because ccxt's
debug log prints full request URLs, headers and bodies, and a stream's error names its URL.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

MASK = "***"
_MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()

_PATTERNS = [
    # query-string and form parameters
    re.compile(
        r"(?i)((?:signature|sign|apikey|api_key|secret|secret_key|passphrase|password)=)[^&\s'\",]+"
    ),
    # headers as they appear in dict reprs and raw dumps
    re.compile(
        r"(?i)(['\"]?(?:x-mbx-apikey|x-auth-apikey|x-auth-signature|api_key|apikey|sign|"
        r"ok-access-key|ok-access-sign|ok-access-passphrase|x-bapi-api-key|x-bapi-sign|"
        r"authorization)['\"]?\s*[:=]\s*['\"]?)[^'\",}\s]+"
    ),
    # a user-data stream's listen key (anyone holding it can read the account's stream): as a
    # query parameter or JSON field, and as the last part of a stream URL (Binance's /ws/<key>)
    re.compile(r"(?i)(['\"]?listenkey['\"]?\s*[:=]\s*['\"]?)[^'\",}\s&]+"),
    re.compile(r"(/ws/)[A-Za-z0-9]{40,}"),
]


def register_secret(value: str | None) -> None:
    """Remember a secret value so that `redact` masks it wherever it shows up."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """`text` with registered secrets and signature/key-shaped values masked."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def _redacting_factory(base: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    make_record.redacting = True  # type: ignore[attr-defined]
    return make_record


def install_log_redaction() -> None:
    """Redact every log record of every logger (ccxt's included) as it is created.

    A record factory, unlike a handler filter, also covers handlers added later (pytest's
    capture, a file handler set up by the user).
    """
    current = logging.getLogRecordFactory()
    if not getattr(current, "redacting", False):
        logging.setLogRecordFactory(_redacting_factory(current))
