"""The one strict decoder (`bot.venues.decode`) never rounds: any number a venue could send
decodes to the exact Decimal of its literal, or is refused; a refusal is an UNTRUSTED
`VenueError`, one line naming the venue, the endpoint and the field; the one JSON loader keeps
every number's text and refuses a key named twice."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.venues.coinswitch.exchange import coinswitch
from bot.venues.coinw.exchange import coinw
from bot.venues.decode import (
    MONEY_BOUND,
    AmbiguousBody,
    Decoder,
    NotExact,
    Sign,
    Untrusted,
    exact_decimal,
    finite_text,
    loads_exact,
)
from bot.venues.errors import ErrorKind, VenueError

D = Decimal
DECODER = Decoder("binance", "GET /fapi/v3/account")
NUMBER_TEXT = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.from_regex(r"-?\d{1,40}(\.\d{1,40})?([eE][-+]?\d{1,3})?", fullmatch=True),
    st.text(max_size=12),
)

#: JSON's number grammar, with room for long mantissas and wide exponents
JSON_NUMBERS = st.from_regex(
    r"\A-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,6})?\Z", fullmatch=True
)


def same_digits(a: Decimal, b: Decimal) -> bool:
    """Equal digit for digit, exponent and sign included, not merely numerically."""
    return a.as_tuple() == b.as_tuple()


@given(JSON_NUMBERS)
@example("438.799142390000018")
@example("-0")
@example("1e15")
@example("1000000000000000.000000000000000000001")
def test_a_json_number_literal_is_exact_or_refused(literal: str) -> None:
    expected = Decimal(literal)
    try:
        decoded = exact_decimal(literal)
    except NotExact as refused:
        assert expected.copy_abs() > MONEY_BOUND, refused.problem
        assert "absurdly large" in refused.problem
        return
    assert same_digits(decoded, expected)


@given(JSON_NUMBERS)
@example("438.799142390000018")
@example("0.000125000000000000000001")
def test_a_json_number_on_the_wire_is_decoded_by_both_exchanges_exactly(literal: str) -> None:
    body = '{"data": {"value": ' + literal + "}}"
    for exchange in (coinw(), coinswitch()):
        value = exchange.on_json_response(body)["data"]["value"]
        assert not isinstance(value, float)
        try:
            decoded = exact_decimal(value, bound=None)
        except NotExact as refused:  # only what Decimal itself cannot hold
            assert "out of any sane range" in refused.problem
            continue
        assert decoded == Decimal(literal)
        if "." in literal or "e" in literal.lower():
            assert same_digits(decoded, Decimal(literal))  # kept as its text, digit for digit


@given(st.text(max_size=60))
@example("NaN")
@example("-Infinity")
@example("sNaN")
@example("1_000")
@example(" 1")
@example("١٢")
@example("0x10")
@example("1e999999999999999999999")
def test_any_text_is_its_exact_decimal_or_refused(text: str) -> None:
    try:
        decoded = exact_decimal(text)
    except NotExact as refused:
        assert refused.problem.startswith("is ")
        assert "\n" not in refused.problem
        return
    assert same_digits(decoded, Decimal(text))
    assert decoded.is_finite() and decoded.copy_abs() <= MONEY_BOUND
    assert finite_text(text) == text


@given(st.integers())
def test_a_json_integer_is_exact_or_refused_as_too_large(value: int) -> None:
    try:
        decoded = exact_decimal(value)
    except NotExact as refused:
        assert abs(value) > MONEY_BOUND and "absurdly large" in refused.problem
        return
    assert decoded == value


@given(st.floats())
def test_a_float_is_always_refused(value: float) -> None:
    with pytest.raises(NotExact):
        exact_decimal(value)


@given(
    st.one_of(
        st.none(), st.booleans(), st.lists(st.integers()), st.dictionaries(st.text(), st.text())
    )
)
def test_what_is_not_a_number_is_refused(value: object) -> None:
    with pytest.raises(NotExact):
        exact_decimal(value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"a": NaN}', {"a": "NaN"}),
        ('{"a": -Infinity}', {"a": "-Infinity"}),
        ('{"a": 1.50}', {"a": "1.50"}),
        ('{"a": 1E-8}', {"a": "1E-8"}),
        ('{"a": 12}', {"a": 12}),
        ('[{"a": 0.1}]', [{"a": "0.1"}]),
    ],
)
def test_loads_exact_keeps_every_non_integer_as_its_text(body: str, expected: object) -> None:
    assert loads_exact(body) == expected
    assert json.loads(body, parse_float=str, parse_constant=str) == expected


def test_loads_exact_refuses_one_key_twice() -> None:
    with pytest.raises(AmbiguousBody, match="key 'USDT' appears twice"):
        loads_exact('{"data": {"USDT": {"a": 1}, "USDT": {"a": 2}}}')


@given(JSON_NUMBERS, st.sampled_from(list(Sign)))
def test_the_decoder_returns_the_exact_figure_or_an_untrusted_error_naming_the_field(
    literal: str, sign: Sign
) -> None:
    decoder = Decoder("coinw", "GET /v1/perpum/account/getUserAssets")
    try:
        figure = decoder.decimal({"availableUsdt": literal}, "availableUsdt", sign=sign)
    except VenueError as refused:
        assert refused.kind is ErrorKind.UNTRUSTED
        assert str(refused).startswith(
            "coinw: GET /v1/perpum/account/getUserAssets: availableUsdt is "
        )
        value = Decimal(literal)
        assert (
            value.copy_abs() > MONEY_BOUND
            or (sign is Sign.NON_NEGATIVE and value < 0)
            or (sign is Sign.POSITIVE and value <= 0)
        )
        return
    assert same_digits(figure, Decimal(literal))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({}, "availableUsdt is missing"),
        ({"availableUsdt": None}, "availableUsdt is null"),
        ({"availableUsdt": "NaN"}, "availableUsdt is 'NaN', not a finite number"),
        ({"availableUsdt": 0.5}, "availableUsdt is 0.5, a float: the venue's digits are lost"),
        ({"availableUsdt": "-1"}, "availableUsdt is '-1'; it cannot be negative"),
        ({"availableUsdt": True}, "availableUsdt is true, not a number"),
        ({"availableUsdt": " 1"}, "availableUsdt is ' 1', not a number"),
        ({"availableUsdt": "1_000"}, "availableUsdt is '1_000', not a number"),
    ],
)
def test_the_decoder_never_reads_a_missing_or_unreadable_figure_as_zero(
    row: dict[str, object], message: str
) -> None:
    decoder = Decoder("coinw", "GET /v1/perpum/account/getUserAssets")
    with pytest.raises(VenueError) as raised:
        decoder.decimal(row, "availableUsdt", sign=Sign.NON_NEGATIVE)
    assert str(raised.value) == f"coinw: GET /v1/perpum/account/getUserAssets: {message}"
    assert decoder.optional_decimal({"x": None}, "x") is None
    assert decoder.optional_decimal({}, "x") is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "is null"),
        ("1_000", "is '1_000', not a number"),
        (" 1 ", "is ' 1 ', not a number"),
        ("NaN", "is 'NaN', not a finite number"),
        ("1e16", "is '1e16', absurdly large (beyond ±1e15)"),
        ("-2", "is '-2'; it cannot be negative"),
    ],
)
def test_one_rule_everywhere_required_figures_and_single_values_alike(
    value: object, problem: str
) -> None:
    """The rule does not depend on how a figure is reached: a field of an entry and a value
    read on its own apply `exact_decimal`, and so does the exchange classes' lenient text."""
    expected = f"binance: GET /fapi/v3/account: assets USDT.walletBalance {problem}"
    for read in (
        lambda: DECODER.decimal(
            {"walletBalance": value}, "walletBalance", "assets USDT", sign=Sign.NON_NEGATIVE
        ),
        lambda: DECODER.number(value, "assets USDT.walletBalance", sign=Sign.NON_NEGATIVE),
    ):
        with pytest.raises(Untrusted) as refused:
            read()
        assert str(refused.value) == expected
    if problem.endswith(("not a number", "not a finite number", "is null")):
        assert finite_text(value) is None  # the exchange classes' lenient unified text too


@given(NUMBER_TEXT, st.sampled_from(list(Sign)))
def test_a_figure_is_exact_or_refused(text: str, sign: Sign) -> None:
    try:
        value = DECODER.decimal({"walletBalance": text}, "walletBalance", "assets USDT", sign=sign)
    except Untrusted as refused:
        assert refused.kind is ErrorKind.UNTRUSTED
        assert str(refused).startswith("binance: GET /fapi/v3/account: assets USDT.walletBalance")
        assert "\n" not in str(refused)
        return
    assert text == text.strip() and "_" not in text  # the stricter rule: no spaces, no '1_000'
    assert same_digits(value, Decimal(text))
    assert value.is_finite() and abs(value) <= MONEY_BOUND
    assert sign is not Sign.NON_NEGATIVE or value >= 0
    assert sign is not Sign.POSITIVE or value > 0


def test_json_numbers_reach_the_decoder_as_their_own_text() -> None:
    answer = loads_exact('{"a": 438.799142390000018, "b": NaN, "c": 1e30, "d": 7}')
    assert answer == {"a": "438.799142390000018", "b": "NaN", "c": "1e30", "d": 7}
    assert DECODER.number(answer["a"], "a") == Decimal("438.799142390000018")


@pytest.mark.parametrize("value", [0.1, True, [], {}, "", "1,000", "0x10", "1_000", " 1"])
def test_what_is_not_number_text_is_refused(value: object) -> None:
    with pytest.raises(Untrusted, match=r"not a number|a float"):
        DECODER.decimal({"x": value}, "x", "entry")


def test_a_required_field_absent_or_null_is_refused_by_name() -> None:
    with pytest.raises(Untrusted, match=r"entry\.x is missing$"):
        DECODER.field({}, "x", "entry")
    with pytest.raises(Untrusted, match=r"entry\.x is null$"):
        DECODER.text({"x": None}, "x", "entry")
    with pytest.raises(Untrusted, match=r": x is null$"):
        DECODER.decimal({"x": None}, "x")
