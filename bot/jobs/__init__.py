"""Use cases the scheduler needs besides bot/cycle/rebalance.py's: a snapshot with no transfers."""
