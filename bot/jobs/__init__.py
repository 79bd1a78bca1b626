"""Use cases the scheduler needs besides bot/cycle.py's: a snapshot with no transfers."""
