"""The rebalance cycle, the use case every command and the guard share (`rebalance`), and
`bot plan`'s sizing preview."""
