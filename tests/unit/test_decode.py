"""The strict decoder: any text a venue could send decodes to its exact Decimal or is refused
with a line naming the venue, endpoint and field; a float is never accepted as money."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import ErrorKind
from bot.venues.decode import MAX_FIGURE, Decoder, Sign, Untrusted, json_keeping_text

DECODER = Decoder("binance", "GET /fapi/v3/account")
NUMBER_TEXT = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.from_regex(r"-?\d{1,40}(\.\d{1,40})?([eE][-+]?\d{1,3})?", fullmatch=True),
    st.text(max_size=12),
)


@given(NUMBER_TEXT, st.sampled_from(list(Sign)))
def test_a_figure_is_exact_or_refused(text: str, sign: Sign) -> None:
    try:
        value = DECODER.decimal({"walletBalance": text}, "walletBalance", "assets USDT", sign=sign)
    except Untrusted as refused:
        assert refused.kind is ErrorKind.UNTRUSTED
        assert str(refused).startswith("binance: GET /fapi/v3/account: assets USDT.walletBalance")
        assert "\n" not in str(refused)
        return
    assert value == Decimal(text.strip()) and value.is_finite() and abs(value) <= MAX_FIGURE
    assert sign is not Sign.NON_NEGATIVE or value >= 0
    assert sign is not Sign.POSITIVE or value > 0


def test_json_numbers_reach_the_decoder_as_their_own_text() -> None:
    answer = json_keeping_text('{"a": 438.799142390000018, "b": NaN, "c": 1e30, "d": 7}')
    assert answer == {"a": "438.799142390000018", "b": "NaN", "c": "1e30", "d": 7}
    assert DECODER.number(answer["a"], "a") == Decimal("438.799142390000018")


@pytest.mark.parametrize("value", [0.1, True, None, [], {}, "", "1,000", "0x10"])
def test_what_is_not_number_text_is_refused(value: object) -> None:
    with pytest.raises(Untrusted, match=r"not a number|is missing"):
        DECODER.decimal({"x": value}, "x", "entry")
