"""The policy: state + config -> plan. Pure; one small module per rule, composed in
`compose.py` (band top-up and return: `band`, when flat: `flat`, liquidation distance:
`liquidation` + `targets`, funding buffer: `funding`, integrity guard: `integrity`, priority:
`priority`)."""

from bot.policy.compose import FundingHistory, plan_transfers

__all__ = ["FundingHistory", "plan_transfers"]
