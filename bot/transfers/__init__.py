"""Moving money exactly once: the executor (sizing from a fresh read, intent before
effect), the one send loop, isolated margin legs, venue halts, and reconciling what was left
open (transfers, margin legs, an operator's assignment)."""
