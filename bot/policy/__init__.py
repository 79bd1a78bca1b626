"""The policy: state + config -> plan. Pure; one small module per rule, composed in
`compose.py` (the checks of every short, `compose.LEG_CHECKS`: integrity guard `integrity`,
funding `funding`; band top-up and return: `band`, when flat: `flat`, liquidation distance:
`liquidation` + `targets`, funding buffer: `funding`, priority: `priority`)."""

from bot.policy.compose import FundingHistory, plan_transfers

__all__ = ["FundingHistory", "plan_transfers"]
