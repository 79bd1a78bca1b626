"""One rebalance cycle, end to end: lock, reconcile, read, snapshot, plan, execute, record.

This is the use case the CLI and the scheduler both call; it owns the order of the steps and
the run row, and nothing else.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace

from sqlalchemy.exc import SQLAlchemyError

from bot.config import Config, HedgeConfig
from bot.cycle.after_moves import AfterMoves
from bot.errors import UnrecordedTransfer
from bot.funding.history import settled_rates
from bot.ledger.activity import Mark, money_moves_mark
from bot.ledger.journal import canonical_json
from bot.ledger.queries import open_transfers
from bot.ledger.store import Clock, Ledger, TransferRecord, utc_now
from bot.model import Paused, Plan, Rule, State, TransferStatus
from bot.policy import FundingHistory, plan_transfers
from bot.policy.isolated import is_refusal
from bot.policy.pause import hold_paused
from bot.runtime.logs import log_context, run_id_var
from bot.runtime.redact import redact
from bot.runtime.retry import Timing
from bot.runtime.stopping import StopRequest
from bot.transfers.executor import Blocked
from bot.transfers.margin_legs import LedgerAtStart, MarginLegsResult, run_margin_legs
from bot.transfers.reconcile import ReconcileReport
from bot.transfers.services import Services
from bot.venues.base import Venue
from bot.venues.session import OpenVenues, open_venues, read_state

log = logging.getLogger(__name__)

NOT_DONE = (TransferStatus.FAILED, TransferStatus.UNKNOWN)


@dataclass(frozen=True)
class Scope:
    """What one cycle acts on. A rebalance: every hedge, every rule. The margin guard: the
    hedges it was woken for, top-ups only (a return to spot waits for the scheduled rebalance,
    so a top-up is never queued behind one). Either way the cycle reads, plans and judges
    whole pools (a cross pool's ratio needs every hedge in it); the scope only narrows what
    it then sends."""

    hedges: frozenset[str] | None = None
    top_ups_only: bool = False

    def venues(self, config: Config) -> list[str]:
        if self.hedges is None:
            return hedged_venues(config)
        return sorted({config.hedges[name].venue for name in self.hedges})

    @property
    def whole(self) -> bool:
        """Every hedge, every rule: the plan says what no longer needs doing, too."""
        return self.hedges is None and not self.top_ups_only

    def narrow(self, plan: Plan) -> Plan:
        if self.whole:
            return plan
        kept = tuple(
            t
            for t in plan.transfers
            if (self.hedges is None or self.hedges.intersection(t.hedges))
            and (not self.top_ups_only or t.rule is Rule.TOP_UP)
        )
        return replace(plan, transfers=kept)


EVERY_HEDGE = Scope()


@dataclass(frozen=True)
class FirstRead:
    """A read made before the cycle took its locks (the guard's poll), with the ledger's
    money-move mark taken just before it (`bot.ledger.activity`). The cycle takes it as its
    own read when every venue it acts on is in it and no bot has moved money since: one read
    between a market move and the top-up, not two."""

    state: State
    mark: Mark

    def usable(self, ledger: Ledger, names: Iterable[str]) -> State | None:
        """The read of `names` when it may stand as the cycle's read, else None."""
        if not all(name in self.state.venues for name in names):
            return None
        if money_moves_mark(ledger) != self.mark:
            return None  # something moved (or was recorded) since: read again under the lock
        kept = {name: self.state.venues[name] for name in names}
        return replace(self.state, venues=kept)


@dataclass(frozen=True)
class CycleResult:
    run_id: int
    state: State
    plan: Plan
    transfers: list[TransferRecord]
    reconciled: ReconcileReport = field(default_factory=ReconcileReport)
    blocked: list[Blocked] = field(default_factory=list)
    #: venues left out of this cycle (unreachable, refused, untrusted), with why
    venue_errors: dict[str, Exception] = field(default_factory=dict)
    #: isolated hedges' margin legs and half-done moves (bot/transfers/margin_legs.py)
    margin: MarginLegsResult | None = None
    #: the venues that moved money, read again after the moves (recorded as a snapshot of
    #: this run): the margin `bot status` and the guard's watch start from
    after: State | None = None

    @property
    def latest(self) -> State:
        """The newest trusted read of this cycle: after its moves where any were made."""
        if self.after is None:
            return self.state
        return replace(self.state, venues={**self.state.venues, **self.after.venues})

    @property
    def failed(self) -> bool:
        """True when money that was meant to move did not (or is not known to have): a
        margin leg left `pending`/`unknown` too, until reconciliation settles it."""
        return (
            any(t.status in NOT_DONE or not t.status.is_final for t in self.transfers)
            or bool(self.margin and any(not leg.status.is_final for leg in self.margin.legs))
            or bool(self.blocked)
            or bool(self.reconciled.still_open)
            or bool(self.reconciled.margin_still_open)
            or bool(self.venue_errors)
            or bool(self.margin and self.margin.half_done)
            or any(is_refusal(note.figures) for note in self.plan.notes)  # margin_mode
        )


def venue_error_lines(errors: Mapping[str, Exception]) -> list[str]:
    """One line per venue left out, naming the venue."""
    lines = []
    for name, error in sorted(errors.items()):
        text = " ".join(redact(str(error)).split())
        lines.append(f"venue {text}" if text.startswith(f"{name}:") else f"venue {name}: {text}")
    return lines


def config_digest(config: Config) -> str:
    """A fingerprint of the settings a run used, stored with the run for audits."""
    return hashlib.sha256(canonical_json(config.model_dump(mode="json")).encode()).hexdigest()


def hedged_venues(config: Config) -> list[str]:
    return sorted({hedge.venue for hedge in config.hedges.values()})


@asynccontextmanager
async def venues_for(
    config: Config,
    pool: OpenVenues | None,
    names: list[str],
    *,
    dry_run: bool,
    timing: Timing | None = None,
    failures: dict[str, Exception] | None = None,
    sends: bool = False,
) -> AsyncIterator[dict[str, Venue]]:
    """The venues a use case acts on: the long-lived pool's (`bot run`), left open; or, for a
    one-shot command, opened now and closed at the end. Reads (`sends=False`) take any pool;
    a cycle that may send takes only a pool of its own kind, live or dry-run."""
    if pool is None:
        async with open_venues(
            config, dry_run=dry_run, names=names, timing=timing, failures=failures
        ) as venues:
            yield venues
        return
    if sends and pool.dry_run != dry_run:  # a dry run must never get live clients
        raise ValueError(
            f"a {'dry-run' if pool.dry_run else 'live'} pool of venues was given "
            f"to a {'dry-run' if dry_run else 'live'} cycle; open one of its kind"
        )
    venues, failed = await pool.ready(names)
    if failed and failures is None:
        raise next(iter(failed.values()))
    if failures is not None:
        failures.update(failed)
    yield venues


async def inspect(
    config: Config, *, venues: OpenVenues | None = None, paused: Sequence[Paused] = ()
) -> tuple[State, Plan, dict[str, Exception]]:
    """Read and plan without recording or moving anything (`bot plan`, `bot balances`); a
    venue that cannot be read is returned with its error, and the others are shown. `paused`:
    the pauses standing (their moves are notes, as in a cycle)."""
    failures: dict[str, Exception] = {}
    names = hedged_venues(config)
    async with venues_for(config, venues, names, dry_run=True, failures=failures) as opened:
        state = await read_state(opened, failures)
    return state, hold_paused(plan_transfers(state, _hedges_of(config, state)), paused), failures


def _hedges_of(config: Config, state: State) -> dict[str, HedgeConfig]:
    """The hedges whose venue was read this cycle: a venue left out plans nothing."""
    return {name: h for name, h in config.hedges.items() if h.venue in state.venues}


async def reconcile(
    config: Config,
    ledger: Ledger,
    *,
    timing: Timing | None = None,
    clock: Clock = utc_now,
    venues: OpenVenues | None = None,
) -> ReconcileReport:
    """Settle every open transfer of every configured venue (`bot reconcile`); with `venues`,
    on that long-lived pool's clients. A venue that cannot be opened is an error of the report
    (its open transfers stay open) and never keeps the other venues' transfers unsettled."""
    services = Services(config, ledger, pool=venues, timing=timing, clock=clock)
    names = sorted(config.venues)
    failures: dict[str, Exception] = {}
    with services.locks(names, "reconcile"):
        # A dry-run client: reconciliation only reads, and cannot send even by mistake.
        async with venues_for(
            config, venues, names, dry_run=True, timing=timing, failures=failures
        ) as opened:
            report = await services.reconciler(opened).reconcile()
        for name, error in sorted(failures.items()):
            _left_out(report, ledger, name, error)
    return report


def _left_out(report: ReconcileReport, ledger: Ledger, name: str, error: Exception) -> None:
    """A venue reconciliation could not reach: its open transfers stay open (listed with the
    others still open), and one line names the venue and why."""
    report.still_open.extend(open_transfers(ledger, venue=name))
    report.errors.extend(venue_error_lines({name: error}))
    report.venue_errors[name] = error


async def rebalance(
    config: Config,
    ledger: Ledger,
    *,
    dry_run: bool,
    command: str = "rebalance",
    timing: Timing | None = None,
    clock: Clock = utc_now,
    venues: OpenVenues | None = None,
    stop: StopRequest | None = None,
    scope: Scope = EVERY_HEDGE,
    first_read: FirstRead | None = None,
) -> CycleResult:
    """Run one full cycle and record it; a dry run records everything and moves nothing.

    `venues`: a long-lived `session.OpenVenues` (`bot run`) whose clients and markets are
    reused; without it the venues are opened for this cycle and closed after it. `stop`: once
    requested (a signal), no new transfer starts; the one in flight is finished and recorded.
    `scope`: the margin guard's narrower cycle (its hedges' venues, top-ups only);
    `first_read`: the guard's read, the cycle's own when nothing moved since it."""
    services = Services(config, ledger, pool=venues, timing=timing, clock=clock, stop=stop)
    names = scope.venues(config)
    with services.locks(names, command):
        run_id = ledger.start_run(command, dry_run=dry_run, config_digest=config_digest(config))
        try:
            # a one-shot command's lines name its run; `bot run` has named the job already
            with log_context(run_id=run_id if run_id_var.get() is None else None):
                result = await _cycle(services, run_id, names, dry_run, scope, first_read)
        except BaseException as exc:
            with suppress(SQLAlchemyError):  # the ledger may be what failed
                ledger.finish_run(run_id, "error", redact(str(exc)) or type(exc).__name__)
            raise
        unrecorded = [e for e in result.venue_errors.values() if isinstance(e, UnrecordedTransfer)]
        errors = "; ".join(venue_error_lines(result.venue_errors)) or None
        try:
            ledger.finish_run(run_id, "failed" if result.failed else "ok", errors)
        except SQLAlchemyError:
            if not unrecorded:
                raise
        if unrecorded:  # one line, exit 1: the row is pending, the next run settles it
            raise unrecorded[0]
        return result


async def _cycle(
    services: Services,
    run_id: int,
    names: list[str],
    dry_run: bool,
    scope: Scope,
    first_read: FirstRead | None,
) -> CycleResult:
    config, ledger = services.config, services.ledger
    failures: dict[str, Exception] = {}
    async with venues_for(
        config,
        services.pool,
        names,
        dry_run=dry_run,
        timing=services.timing,
        failures=failures,
        sends=True,
    ) as venues:
        # Settle what an earlier run left open before anything new is sent (invariant 2).
        reconciled = await services.reconciler(venues).reconcile()
        # the ledger's part of the plan and of the sends, read before the venues: no query
        # follows the read (the read and the plan write nothing)
        history, paused = funding_history(services), standing_pauses(services)
        before = LedgerAtStart.read(ledger)
        state = first_read.usable(ledger, venues) if first_read is not None else None
        if state is None:
            state = await read_state(venues, failures)
        plan = scope.narrow(planned(services, state, history, paused))
        executor = services.executor(venues, dry_run=dry_run)
        async with AfterMoves(venues) as after_moves:
            # an isolated hedge's move has two legs: margin_legs runs it (the rest via the
            # executor); a venue whose moves are done is read again at once (`after_moves`)
            try:
                margin = await run_margin_legs(
                    executor,
                    run_id,
                    plan.transfers,
                    state=state,
                    whole_plan=scope.whole,
                    before=before,
                    done=after_moves.venue_done,
                )
            except BaseException:
                with suppress(SQLAlchemyError):  # the ledger may be what failed
                    ledger.record_snapshot(run_id, state)
                raise
            after_moves.read_the_rest(margin)
            executed = margin.execution
            # recorded after the sends, which are sized on it: no write between read and send
            try:
                ledger.record_snapshot(run_id, state)
            except SQLAlchemyError:
                if not any(isinstance(e, UnrecordedTransfer) for e in executed.errors.values()):
                    raise  # else the ledger refuses writes: the run's one line says so already
            failures.update(executed.errors)
            after = await after_moves.state()
        if after is not None:  # the margin `bot status`, the report and the guard start from
            ledger.record_snapshot(run_id, after)
    return CycleResult(
        run_id,
        state,
        plan,
        executed.transfers,
        reconciled,
        executed.blocked,
        failures,
        margin,
        after,
    )


def funding_history(services: Services) -> FundingHistory:
    """The settled funding rates of the last periods of every hedge, from the ledger (the
    funding buffer and streak): read before the venues, so the plan needs no query after."""
    perps = {(h.venue, h.perp) for h in services.config.hedges.values()}
    return settled_rates(services.ledger, perps, services.clock())


def standing_pauses(services: Services) -> list[Paused]:
    """The pauses standing now (`bot hedge|venue pause`), from the ledger."""
    return [p.paused for p in services.ledger.active_pauses(services.clock())]


def planned(
    services: Services,
    state: State,
    history: FundingHistory | None = None,
    paused: Sequence[Paused] | None = None,
) -> Plan:
    """The policy's plan for the hedges whose venue was read, with the funding history; a
    move touching a paused hedge or venue is a note (`policy.pause`). `history` and `paused`
    are read from the ledger when not given."""
    hedges = _hedges_of(services.config, state)
    if history is None:
        history = funding_history(services)
    if paused is None:
        paused = standing_pauses(services)
    return hold_paused(plan_transfers(state, hedges, funding_history=history), paused)
