"""Secrets never reach a log line: ccxt's debug output included."""

from __future__ import annotations

import logging

import pytest

from bot.runtime.redact import install_log_redaction, redact, register_secret

CANARY_KEY = "canaryKEY0123456789abcdef"
CANARY_SECRET = "canarySECRETfedcba9876543210"


def test_registered_secrets_and_signature_shapes_are_masked() -> None:
    register_secret(CANARY_SECRET)
    text = redact(
        "GET http://127.0.0.1/api?timestamp=1&signature=deadbeef, "
        f"{{'X-MBX-APIKEY': 'k1'}} {CANARY_SECRET}"
    )
    assert "deadbeef" not in text and "k1" not in text and CANARY_SECRET not in text
    assert "signature=***" in text


def test_ccxt_debug_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    register_secret(CANARY_KEY)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("ccxt.base.exchange").debug(
            "%s %s, Request: %s %s",
            "POST",
            "http://127.0.0.1/sapi/v1/asset/transfer",
            {"X-MBX-APIKEY": CANARY_KEY},
            "asset=USDT&signature=0123abcd",
        )
        try:
            raise RuntimeError(f"boom {CANARY_KEY}")
        except RuntimeError:
            logging.getLogger("bot").exception("failed")
    assert CANARY_KEY not in caplog.text
    assert "0123abcd" not in caplog.text


def test_a_listen_key_is_masked_in_urls_bodies_and_stream_paths() -> None:
    key = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
    lines = [
        f"400, message='Invalid response status', url='ws://127.0.0.1:1/private/ws?listenKey={key}'",
        f'POST /fapi/v1/listenKey 200 {{"listenKey":"{key}"}}',
        f"{{'listenKey': '{key}'}}",
        f"Cannot connect to ws://127.0.0.1:1/ws/{key}",
    ]
    for line in lines:
        masked = redact(line)
        assert key not in masked, masked
        assert "***" in masked
    # a mark-price stream's path names a market, not a key: it stays readable
    assert redact("ws://127.0.0.1:1/ws/ethusd_perp@markPrice@1s") == (
        "ws://127.0.0.1:1/ws/ethusd_perp@markPrice@1s"
    )
