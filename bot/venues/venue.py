"""Transitional alias: the generic venue now lives in `generic.py`, the interface in `base.py`."""

from bot.venues.base import Capabilities, ClientIdSupport, TransferReceipt, hedge_refusal
from bot.venues.generic import CcxtVenue as Venue

__all__ = ["Capabilities", "ClientIdSupport", "TransferReceipt", "Venue", "hedge_refusal"]
