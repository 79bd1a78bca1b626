"""Between two trusted reads, what the venue's mark-price stream says about each hedge's margin.

The stream never moves money: it only decides *when* the guard reads the venue again (REST,
decoded strictly) and judges that read. So the estimate can be simple and exact in the one
thing that moves fast, the mark: each position's unrealized PnL and notional are moved from
the mark of the last trusted read to the streamed one, and the equity of the pool each draws
on with them (a cross position's PnL is its wallet's, and the wallet's cross figure's; an
isolated position's is its own); everything else (balances, funding, fees) is as last read.
The estimate is judged by the one margin figure (`bot.policy.margin`), as every read is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from bot.config import HedgeConfig
from bot.model import MarketKind, Position, State, VenueState, Wallet
from bot.policy.margin import HedgeMargin, hedge_margins

#: ask for a fresh read a little before the danger line, so the read that acts is recent
HEADROOM = Decimal("0.05")
#: under the line already and the last top-up did not lift it: read again only once the
#: estimate has fallen this much further (relative), not at every tick
WORSENING = Decimal("0.02")


def remarked(venue: VenueState, marks: Mapping[str, Decimal]) -> VenueState:
    """The venue as it would read at these mark prices, all else as last read."""
    positions = dict(venue.positions)
    wallets = dict(venue.wallets)
    for symbol, mark in marks.items():
        position = venue.positions.get(symbol)
        market = venue.markets.get(symbol)
        if position is None or market is None or mark <= 0:
            continue
        if not position.mark_price or position.mark_price <= 0:
            continue
        moved = _moved(position, market.kind, mark)
        positions[symbol] = moved
        if position.isolated:
            continue  # its PnL is its own wallet's, not the cross pool's
        key = (market.futures_account, market.settle)
        wallet: Wallet = wallets.get(key) or venue.wallet(*key)
        delta = moved.unrealized_pnl - position.unrealized_pnl
        cross = wallet.cross_unrealized_pnl
        wallets[key] = replace(
            wallet,
            unrealized_pnl=wallet.unrealized_pnl + delta,
            cross_unrealized_pnl=cross + delta if cross is not None else None,
        )
    return replace(venue, positions=positions, wallets=wallets)


def _moved(position: Position, kind: MarketKind, mark: Decimal) -> Position:
    """A position's PnL and notional at another mark: linear in the quote currency, inverse
    (contracts of `contract_size` USD) in the coin."""
    signed = position.contracts * position.contract_size
    if position.side == "short":
        signed = -signed
    was = position.mark_price
    assert was is not None
    if kind is MarketKind.LINEAR:
        delta = signed * (mark - was)
        notional = position.contracts * position.contract_size * mark
    else:
        delta = signed * (1 / was - 1 / mark)
        notional = position.contracts * position.contract_size / mark
    return replace(
        position, mark_price=mark, notional=notional, unrealized_pnl=position.unrealized_pnl + delta
    )


def estimated_margins(
    state: State, venue: str, marks: Mapping[str, Decimal], hedges: Mapping[str, HedgeConfig]
) -> dict[str, HedgeMargin]:
    """The margins of the venue's hedges at the streamed marks (judged as the guard judges)."""
    read = state.venues.get(venue)
    if read is None:
        return {}
    moved = State(read_at=state.read_at, venues={venue: remarked(read, marks)})
    on_venue = {name: h for name, h in hedges.items() if h.venue == venue}
    return hedge_margins(moved, on_venue)


def check_reason(trusted: HedgeMargin, estimate: HedgeMargin, danger: Decimal) -> str | None:
    """Why the streamed estimate calls for a fresh read of the venue now, or None.

    - it crossed (or is about to cross) the danger line since the last trusted read;
    - the last trusted read was under the line already (a top-up that found nothing to send)
      and the estimate has fallen `WORSENING` further: try again as the price keeps going,
      not at every tick.
    """
    now, then = estimate.ratio, trusted.ratio
    if now is None:
        return None
    approach = danger * (1 + HEADROOM)
    if now < danger and (then is None or then >= danger):
        return f"margin ratio {now:.4f} under {danger} at mark {estimate.mark_price}"
    if now < approach and (then is None or then >= approach):
        return f"margin ratio {now:.4f} nearing {danger} at mark {estimate.mark_price}"
    if now < danger and then is not None and now < then * (1 - WORSENING):
        return f"margin ratio {now:.4f} still under {danger} and falling"
    return None
