"""config.yaml as validated pydantic models; secrets are named here and read from the environment.

Unknown keys are rejected so that a typo never silently falls back to a default, and every
error is one line naming the path of the bad value (`hedges.eth.band: ...`).
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from bot.config_file import CONFIG_ENV, DEFAULT_CONFIG, config_path, is_default
from bot.errors import ConfigError
from bot.jobs import JOBS, JobSpec

__all__ = ["CONFIG_ENV", "DEFAULT_CONFIG", "config_path"]  # re-exported: their home is config_file

log = logging.getLogger(__name__)

# ccxt constructor keys that carry credentials: they belong in the environment, not in config.
_SECRET_CCXT_KEYS = frozenset(
    {
        "apikey",
        "secret",
        "password",
        "uid",
        "privatekey",
        "walletaddress",
        "token",
        "login",
        "twofa",
    }
)

# ccxt settings that print or log requests, signed and with the API key in their headers; refused
# at any depth of a venue's ccxt block (options.ws.verbose reaches ccxt.pro's sockets).
_VERBOSE_FIX = "use bot -v for the bot's redacted debug log (-vv adds ccxt's requests, masked)"
_PRINTING_CCXT_KEYS: Mapping[str, str] = {
    "verbose": "ccxt's verbose output prints the API key and request signatures; " + _VERBOSE_FIX,
    "log": "ccxt's log prints requests with the API key and signatures; " + _VERBOSE_FIX,
    "logger": "ccxt's logger receives every request unredacted; " + _VERBOSE_FIX,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LedgerConfig(_Strict):
    url: str = "sqlite:///data/ledger.sqlite"
    #: the environment variable holding the journal's HMAC key (unset: an unkeyed chain, which
    #: detects accidental edits only)
    hmac_key_env: str = Field(default="BOT_LEDGER_KEY", min_length=1)
    #: a file outside the database where the chain head is appended after each run, so that
    #: truncating the newest entries is detected too; relative to the config's folder
    anchor_file: str | None = None

    @field_validator("url")
    @classmethod
    def _no_password_in_config(cls, value: str) -> str:
        # SQLAlchemy's own URL parser, imported here: `bot.config` loads without SQLAlchemy
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            password = make_url(value).password
        except ArgumentError:
            return value  # not a URL: opening the ledger says so, with the fix
        if password:
            raise ValueError(
                "a password must not be in config; drop it from the URL and set PGPASSWORD "
                "(or use ~/.pgpass)"
            )
        return value


AmountByAsset = Decimal | dict[str, Decimal]


class TransfersConfig(_Strict):
    safety: Decimal = Decimal("0.99")
    min_amount: AmountByAsset = Decimal("10")
    max_amount: AmountByAsset | None = None
    # After a definite "insufficient balance", re-read and send a smaller new intent this often.
    shrink_attempts: int = Field(default=3, ge=0, le=10)
    # An unknown transfer absent from the venue's history this long after its last attempt has
    # failed.
    settle_window_seconds: int = Field(default=120, ge=0)
    # Subtract a per-intent tag from each amount so the venue's history tells it from a
    # look-alike: auto = where the venue takes no client id and its precision is fine enough
    # (bot.transfers.amount_tag), on = always, off = never.
    amount_tag: Literal["auto", "on", "off"] = "auto"
    # The cycle's own read of a venue, younger than this when a transfer is sized, is the
    # fresh read (one round trip less between a market move and the top-up); an older one, or
    # a wallet an earlier transfer of the cycle already drew on, is read again first. 0: read
    # again before every transfer.
    fresh_read_seconds: Decimal = Field(default=Decimal("1"), ge=0, le=60)

    @field_validator("safety")
    @classmethod
    def _safety_in_range(cls, value: Decimal) -> Decimal:
        if not Decimal(0) < value <= Decimal(1):
            raise ValueError(
                f"must be in (0, 1], got {value}; 0.99 sends 99% of what is transferable when "
                "the need exceeds it"
            )
        return value

    @field_validator("min_amount", "max_amount")
    @classmethod
    def _non_negative(cls, value: AmountByAsset | None) -> AmountByAsset | None:
        amounts = value.values() if isinstance(value, dict) else [value]
        for amount in amounts:
            if amount is not None and amount < 0:
                raise ValueError(f"must not be negative, got {amount}")
        return value

    def min_for(self, asset: str) -> Decimal:
        """The minimum transfer in `asset`; a per-asset table must name every asset used."""
        return _per_asset(self.min_amount, asset, "transfers.min_amount")

    def max_for(self, asset: str) -> Decimal | None:
        if self.max_amount is None:
            return None
        return _per_asset(self.max_amount, asset, "transfers.max_amount")


def _per_asset(value: AmountByAsset, asset: str, path: str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if asset not in value:
        raise ConfigError(f"{path}: no entry for {asset}; add `{asset}: <amount>` under {path}")
    return value[asset]


class VenueConfig(_Strict):
    exchange: str
    paper: bool = False
    api_key_env: str | None = None
    secret_env: str | None = None
    password_env: str | None = None
    #: a wallet-signing venue (Hyperliquid): the variables holding the wallet's private key and
    #: its address, in place of api_key_env / secret_env
    private_key_env: str | None = None
    wallet_address_env: str | None = None
    urls: dict[str, str] = Field(default_factory=dict)
    ccxt: dict[str, Any] = Field(default_factory=dict)
    paper_state: str | None = None  # the paper exchange's state file; default beside the ledger
    #: use the venue's WebSockets where the bot can: COIN-M balances over the WebSocket API, and
    #: under `bot run` the margin guard's account and mark-price streams (false: REST and polls)
    websocket: bool = True
    #: which of the venue's APIs the bot uses, where it has more than one (CoinSwitch PRO:
    #: `futures`, its Futures v2 API, read-only; `hft`, its HFT API, with Transfer Funds);
    #: a venue with one refuses any other than `futures` (`session.check_venues`)
    surface: Literal["futures", "hft"] = "futures"

    @field_validator("exchange")
    @classmethod
    def _lowercase_id(cls, value: str) -> str:
        if not value or value != value.strip():
            raise ValueError("must be a ccxt exchange id, with no spaces around it")
        return value

    @field_validator("ccxt")
    @classmethod
    def _no_secrets_in_ccxt(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if key.lower() in _SECRET_CCXT_KEYS:
                raise ValueError(
                    f"{key} must not be in config; put the secret in an environment variable "
                    "and name it with api_key_env / secret_env / password_env"
                )
        options = value.get("options") or {}
        if not isinstance(options, dict):
            raise ValueError("options must be a mapping")
        if options.get("maxRetriesOnFailure"):
            raise ValueError(
                "options.maxRetriesOnFailure must stay 0: a transfer is never re-sent blind; "
                "the bot retries what is safe itself (see retry:)"
            )
        return value

    @model_validator(mode="after")
    def _paper_or_keys(self) -> VenueConfig:
        if self.paper and (
            self.api_key_env or self.secret_env or self.private_key_env or self.wallet_address_env
        ):
            raise ValueError(
                "a paper venue uses the paper exchange's keys; drop api_key_env/secret_env"
                "/private_key_env/wallet_address_env"
            )
        if (self.private_key_env is None) != (self.wallet_address_env is None):
            raise ValueError(
                "private_key_env and wallet_address_env go together: name both variables (the "
                "wallet's private key and its address)"
            )
        return self

    @property
    def signs_with_wallet(self) -> bool:
        """Whether the venue's requests are signed by a wallet's private key (Hyperliquid)
        rather than an API key and secret."""
        return self.private_key_env is not None


class TargetConfig(_Strict):
    """A target in the trader's terms: how far above mark the short's liquidation price stays
    (`liquidation_distance`: 0.35 = 35 % above), from the venue's maintenance-margin rules for
    the position size; or, on a unified account, the account's own margin figure named as the
    venue names it: Bybit's `accountMMRate` (maintenance margin / equity, lower is safer), OKX's
    `mgnRatio` (equity / maintenance margin, higher is safer), Binance Portfolio Margin's
    `uniMMR`, Binance USD-M multi-assets mode's `multiAssetsMMR` (`totalMarginBalance` over
    `totalMaintMargin`, higher is safer) (the venue checks at connect time that it is the
    figure its account reports)."""

    liquidation_distance: Decimal | None = None
    accountMMRate: Decimal | None = None
    mgnRatio: Decimal | None = None
    uniMMR: Decimal | None = None
    multiAssetsMMR: Decimal | None = None

    @field_validator("liquidation_distance")
    @classmethod
    def _positive_distance(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not Decimal(0) < value < Decimal(100):
            raise ValueError(f"must be above 0 (0.35 = 35% above mark), got {value}")
        return value

    @field_validator("accountMMRate", "mgnRatio", "uniMMR", "multiAssetsMMR")
    @classmethod
    def _positive_figure(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value <= 0:
            raise ValueError(f"must be above 0, got {value}")
        return value

    @model_validator(mode="after")
    def _one_figure(self) -> TargetConfig:
        given = [
            name
            for name in ("liquidation_distance", *ACCOUNT_FIGURES)
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give one of liquidation_distance, or on a unified account its figure: "
                "accountMMRate (Bybit), mgnRatio (OKX), uniMMR (Binance Portfolio Margin) or "
                "multiAssetsMMR (Binance USD-M multi-assets mode)"
            )
        return self

    @property
    def figure(self) -> str:
        """What the target is in: `liquidation_distance` or the account figure's name."""
        return next(
            name
            for name in ("liquidation_distance", *ACCOUNT_FIGURES)
            if getattr(self, name) is not None
        )

    @property
    def in_account_terms(self) -> bool:
        return self.figure in ACCOUNT_FIGURES

    @property
    def value(self) -> Decimal:
        value = getattr(self, self.figure)
        assert isinstance(value, Decimal)
        return value


#: the unified accounts' own margin figures a target may name, as the venues name them
ACCOUNT_FIGURES: tuple[str, ...] = ("accountMMRate", "mgnRatio", "uniMMR", "multiAssetsMMR")


class FundingBufferConfig(_Strict):
    """When funding makes the short pay, keep the next payments in the target: `periods` of
    them, or those of the next `hours` at the symbol's own funding interval (24 hours is 3
    payments at 8 h, 24 at 1 h)."""

    periods: int | None = Field(default=None, ge=0, le=1000)
    hours: int | None = Field(default=None, ge=0, le=24 * 365)

    @model_validator(mode="after")
    def _periods_or_hours(self) -> FundingBufferConfig:
        if (self.periods is None) == (self.hours is None):
            raise ValueError("give periods (payments) or hours (time at the symbol's interval)")
        return self


class HedgeConfig(_Strict):
    venue: str
    spot: str
    perp: str
    # Either a margin ratio (equity / short notional) or `target: {liquidation_distance}`;
    # `band` is in the same terms as the target.
    # Or, on a unified account, `target: {accountMMRate | mgnRatio | uniMMR: value}` in the
    # account's own figure, with `band` in the same terms.
    target_margin_ratio: Decimal | None = None
    target: TargetConfig | None = None
    band: tuple[Decimal, Decimal]
    # What top-ups leave in the wallet they draw on (spot, or reserve_wallet where set).
    spot_reserve: Decimal = Decimal(0)
    # The wallet a unified account's top-ups draw on and its sweeps return to, by ccxt account
    # name (Bybit's and OKX's `funding`); None: spot, on a venue with separate wallets.
    reserve_wallet: str | None = Field(default=None, min_length=1)
    when_flat: Literal["return", "keep"] = "return"
    funding_buffer: FundingBufferConfig | None = None
    # Alert when funding has been against the short this many funding periods in a row.
    funding_alert_periods: int = Field(default=3, ge=1, le=1000)
    # The spot leg and the short may differ by this fraction of the short before the hedge is
    # flagged unbalanced (no returns while the short is the larger leg).
    hedge_tolerance: Decimal = Decimal("0.02")
    # Wallets besides spot that hold the long leg (funding, earn...), by ccxt account name.
    spot_leg_wallets: tuple[str, ...] = ()
    #: the margin mode the venue must report for the perp; None follows what the venue says
    margin_mode: Literal["isolated", "cross"] | None = None
    # What a top-up moves, in order of use: the perpetual's settle asset from the reserve, and
    # (Binance USD-M multi-assets mode) the spot leg's own coin, counted at the venue's
    # collateral rate. Empty: the settle asset only.
    collateral: tuple[str, ...] = ()

    @field_validator("target_margin_ratio")
    @classmethod
    def _positive_target(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value <= 0:
            raise ValueError(f"must be above 0, got {value}")
        return value

    @field_validator("hedge_tolerance")
    @classmethod
    def _tolerance_in_range(cls, value: Decimal) -> Decimal:
        if not Decimal(0) <= value < Decimal(1):
            raise ValueError(f"must be in [0, 1) (0.02 = 2% of the short), got {value}")
        return value

    @property
    def liquidation_target(self) -> TargetConfig | None:
        """`target: {liquidation_distance}`, where the hedge states one."""
        return self.target if self.target is not None and not self.target.in_account_terms else None

    @property
    def account_target(self) -> TargetConfig | None:
        """A target in a unified account's own figure, where the hedge states one."""
        return self.target if self.target is not None and self.target.in_account_terms else None

    @property
    def target_value(self) -> Decimal:
        """The target in the band's terms: the liquidation distance or the account's figure,
        else the margin ratio."""
        if self.target is not None:
            return self.target.value
        assert self.target_margin_ratio is not None
        return self.target_margin_ratio

    @property
    def base(self) -> str:
        """The spot leg's asset (ETH for ETH/USDT)."""
        return self.spot.split("/", 1)[0]

    @property
    def settle(self) -> str | None:
        """The perpetual's settle asset as its ccxt symbol says (USDT for ETH/USDT:USDT)."""
        _, colon, settle = self.perp.partition(":")
        if not colon:
            return None
        return settle.split("-", 1)[0] or None  # a dated future: BTC/USD:BTC-261225

    @property
    def coin_collateral(self) -> bool:
        """Whether top-ups may move the spot leg's own coin (`collateral` names it)."""
        return self.base in self.collateral

    @field_validator("collateral")
    @classmethod
    def _distinct_collateral(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"names an asset twice: {list(value)}")
        return value

    @field_validator("spot_reserve")
    @classmethod
    def _non_negative_reserve(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError(f"must not be negative, got {value}")
        return value

    @field_validator("band", mode="before")
    @classmethod
    def _band_is_a_pair(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError(f"expected [lower, upper] such as [0.4, 0.6], got {value!r}")
        return value

    @field_validator("band")
    @classmethod
    def _ordered_band(cls, value: tuple[Decimal, Decimal]) -> tuple[Decimal, Decimal]:
        lower, upper = value
        if lower < 0:
            raise ValueError(f"lower bound {lower} must not be negative")
        if lower > upper:
            raise ValueError(f"lower bound {lower} is above upper {upper}")
        return value

    @model_validator(mode="after")
    def _target_inside_band(self) -> HedgeConfig:
        if (self.target is None) == (self.target_margin_ratio is None):
            raise ValueError(
                "give one target: target_margin_ratio: 0.5, or target: {liquidation_distance: 0.35}"
                " (on a unified account, its figure: target: {accountMMRate: 0.1})"
            )
        lower, upper = self.band
        name = "target_margin_ratio" if self.target is None else f"target.{self.target.figure}"
        if not lower <= self.target_value <= upper:
            raise ValueError(f"{name} {self.target_value} is outside band [{lower}, {upper}]")
        allowed = [a for a in (self.settle, self.base) if a is not None]
        for asset in self.collateral:
            if asset not in allowed:
                raise ValueError(
                    f"collateral: {asset} is neither the perpetual's settle asset nor the spot "
                    f"leg's coin: list from {', '.join(allowed)}, in order of use"
                )
        return self


class RetryConfig(_Strict):
    """Retries of reads and of requests the venue definitely did not apply (429, refused)."""

    attempts: int = Field(default=5, ge=1, le=20)
    deadline_seconds: float = Field(default=30, gt=0)
    initial_backoff_seconds: float = Field(default=0.5, ge=0)
    max_backoff_seconds: float = Field(default=8, ge=0)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float:
    """Seconds from `30s`, `5m`, `1h`, `1d` or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, 5m or 1h, got {value!r}")
    if isinstance(value, int | float | Decimal):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"expected a duration such as 30s, 5m or 1h, got {value!r}")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError(f"must be above 0, got {value!r}")
    return seconds


class JobSchedule(_Strict):
    """When one `bot run` job fires: `every` (30s, 5m, 1h or seconds) or a 5-field `cron`."""

    every: float | None = None
    cron: str | None = None

    @field_validator("every", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @field_validator("cron")
    @classmethod
    def _crontab(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(
                f'{value!r} is not a crontab line ({exc}); write 5 fields such as "0 8 * * *"'
            ) from None
        return value

    @model_validator(mode="after")
    def _one_of(self) -> JobSchedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError('give either every (such as 5m) or cron (such as "*/5 * * * *")')
        return self

    def describe(self) -> str:
        if self.cron is not None:
            return f"cron {self.cron!r}"
        assert self.every is not None
        return f"every {format_duration(self.every)}"


def format_duration(seconds: float) -> str:
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class _Schedule(_Strict):
    """`schedule:`'s checks and reading; its keys are `ScheduleConfig`'s (one per job)."""

    @field_validator("misfire_grace", mode="before", check_fields=False)
    @classmethod
    def _grace(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="before")
    @classmethod
    def _alias(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and value.get("interval_seconds") is not None:
            if "rebalance" in value:
                raise ValueError(
                    "interval_seconds is the old name of rebalance.every; keep only rebalance"
                )
            return {**value, "rebalance": {"every": value["interval_seconds"]}}
        return value

    def jobs(self) -> dict[str, JobSchedule]:
        """Every job that runs, by kind, in the order of `bot.jobs.JOBS`."""
        named = {spec.name: getattr(self, spec.name) for spec in JOBS}
        return {kind: job for kind, job in named.items() if job is not None}


def _job_field(spec: JobSpec) -> Any:
    """`schedule.<job>`: its default declared with the job; null switches an optional job off."""
    default = Field(default_factory=lambda: JobSchedule.model_validate(spec.default))
    return (JobSchedule | None if spec.optional else JobSchedule, default)


#: `schedule:`: one key per job of `bot.jobs.JOBS` (`schedule.rebalance`, `schedule.guard`...),
#: then the settings of all jobs
ScheduleConfig = create_model(
    "ScheduleConfig",
    __base__=_Schedule,
    __doc__="The jobs of `bot run`; a job set to null does not run.",
    **{spec.name: _job_field(spec) for spec in JOBS},
    #: a run this late (after a suspend) still runs once, recorded late; later ones are missed
    misfire_grace=(float, 3600),
    #: deprecated alias of rebalance.every
    interval_seconds=(int | None, Field(default=None, ge=1)),
)


#: `${VAR}` in a URL, read from the environment where the URL is used
ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class HeartbeatConfig(_Strict):
    """A push monitor outside the bot (healthchecks.io, Uptime Kuma, Better Stack): `url` is
    fetched after a healthy cycle, at most once per `every`; `fail_url` after a failing one
    (unset: `<url>/fail` for hc-ping.com, else none; null: none). `${VAR}` from the environment."""

    url: str
    every: float = 300
    fail_url: str | None = None

    @field_validator("every", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("url", "fail_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(ENV_VAR.sub("x", value))
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "must be an http(s) URL with a host (the check's ping URL), such as "
                "https://hc-ping.com/${HC_UUID}"
            )
        return value

    @property
    def fail_url_or_default(self) -> str | None:
        """The failure endpoint: as set, else `<url>/fail` for healthchecks.io, else none."""
        if "fail_url" in self.model_fields_set:
            return self.fail_url
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.url)
        host = (parts.hostname or "").lower()
        if host == "hc-ping.com" or host.endswith(".hc-ping.com"):
            return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/fail"))
        return None


class AlertsConfig(_Strict):
    """Where alerts go (apprise URLs, `${VAR}` from the environment) and when they fire."""

    urls: list[str] = Field(default_factory=list)
    #: optional: a push monitor pinged after each healthy cycle (a dead bot stops the pings)
    heartbeat: HeartbeatConfig | None = None
    danger_margin_ratio: Decimal = Decimal("0.25")
    unknown_after: float = 600
    #: a warning that fires again within this span of its key's last message waits for the
    #: span's end (flapping collapses); the first message of a danger episode never waits
    rate_limit: float = 300
    #: while a danger or failure stays firing, a reminder with its current figures this often
    #: (0: never)
    repeat: float = 1800
    #: and all conditions together at most this many messages an hour
    max_per_hour: int = Field(default=60, ge=1)

    @field_validator("unknown_after", "rate_limit", "repeat", mode="before")
    @classmethod
    def _span(cls, value: Any) -> float:
        if value in (0, "0", "0s"):
            return 0.0
        return parse_duration(value)

    @field_validator("danger_margin_ratio")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError(f"must be above 0, got {value}")
        return value

    @field_validator("urls")
    @classmethod
    def _schemes(cls, value: list[str]) -> list[str]:
        for url in value:
            if "://" not in url:
                raise ValueError(
                    f"{url!r} is not an apprise URL; write scheme://... such as "
                    "tgram://${TELEGRAM_TOKEN}/${TELEGRAM_CHAT}"
                )
        return value


class MetricsConfig(_Strict):
    """The Prometheus endpoint of `bot run`, on loopback only; off without a port."""

    port: int | None = Field(default=None, ge=0, le=65535)


class Config(_Strict):
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    transfers: TransfersConfig = Field(default_factory=TransfersConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    venues: dict[str, VenueConfig]
    hedges: dict[str, HedgeConfig] = Field(default_factory=dict)
    #: the folder the bot writes besides the ledger (locks, paper accounts, cached markets,
    #: crash reports): relative to the config's folder, whatever the ledger's backend
    #: (`bot run` under systemd: /var/lib/bot, its StateDirectory)
    data_dir: Path = Path("data")
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("venues", mode="before")
    @classmethod
    def _ccxt_prints_no_requests(cls, value: Any) -> Any:
        """A venue's `ccxt` block must not make ccxt print or log requests (they carry the key
        and signatures); checked here, where the venue's name is known for the message."""
        if not isinstance(value, Mapping):
            return value
        for name, venue in value.items():
            ccxt = venue.get("ccxt") if isinstance(venue, Mapping) else None
            found = _printing_setting(ccxt, f"venues.{name}.ccxt")
            if found is not None:
                raise ValueError(f"{found[0]}: refused: {found[1]}")
        return value

    @model_validator(mode="after")
    def _data_dir_absolute(self) -> Config:
        """`data_dir` resolved against the config's folder (like a relative SQLite path): the
        same folder for a SQLite or a PostgreSQL ledger. Processes that share a SQLite ledger
        share this folder too: its `locks/` keep them one actor per venue."""
        path = self.data_dir.expanduser()
        if not path.is_absolute():
            object.__setattr__(self, "data_dir", (self.base_dir / path).resolve())
        return self

    @model_validator(mode="after")
    def _hedges_name_venues(self) -> Config:
        for name, hedge in self.hedges.items():
            if hedge.venue not in self.venues:
                known = ", ".join(sorted(self.venues)) or "none"
                raise ValueError(
                    f"hedges.{name}.venue: unknown venue {hedge.venue!r} (configured: {known})"
                )
        return self

    @model_validator(mode="after")
    def _limits_name_collateral_coins(self) -> Config:
        """A coin taken as collateral moves in its own units: one figure for every asset
        (`min_amount: 10`) would ask for 10 ETH, so the limits must say it per asset."""
        for name, hedge in self.hedges.items():
            if not hedge.coin_collateral:
                continue
            for field_name in ("min_amount", "max_amount"):
                limit = getattr(self.transfers, field_name)
                if limit is not None and (not isinstance(limit, dict) or hedge.base not in limit):
                    raise ValueError(
                        f"transfers.{field_name}: hedges.{name} moves {hedge.base} as collateral; "
                        f"give {field_name} per asset, naming {hedge.base} (e.g. "
                        f"{{{hedge.settle or 'USDT'}: 10, {hedge.base}: 0.005}})"
                    )
        return self

    @property
    def ledger_url(self) -> str:
        """The ledger URL with a relative SQLite path resolved against the config's folder."""
        return resolve_sqlite_url(self.ledger.url, self.base_dir)

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite ledger's file, or None for PostgreSQL or an in-memory ledger."""
        url = self.ledger_url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            return Path(url.removeprefix("sqlite:///"))
        return None

    @property
    def ledger_key(self) -> bytes | None:
        """The journal's HMAC key from the environment (`ledger.hmac_key_env`), or None."""
        value = os.environ.get(self.ledger.hmac_key_env)
        return value.encode() if value else None

    @property
    def anchor_path(self) -> Path | None:
        """`ledger.anchor_file` resolved against the config's folder, or None."""
        if not self.ledger.anchor_file:
            return None
        path = Path(self.ledger.anchor_file).expanduser()
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def hedges_on(self, venue: str) -> dict[str, HedgeConfig]:
        return {name: h for name, h in self.hedges.items() if h.venue == venue}


def resolve_sqlite_url(url: str, base_dir: Path) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == "sqlite:///:memory:":
        return url
    path = Path(url.removeprefix(prefix))
    if not path.is_absolute():
        path = (base_dir / path).resolve()
    return prefix + str(path)


def load_config(path: Path, *, from_env: bool = False) -> Config:
    """Read and validate a config file; any problem becomes one `ConfigError` line.

    When the file was named by $BOT_CONFIG, the line says so: the user may not know which file
    the bot read.
    """
    try:
        return _load_config(path)
    except ConfigError as exc:
        if not from_env:
            raise
        raise ConfigError(f"{path} (from {CONFIG_ENV}): {exc}") from None


def _load_config(path: Path) -> Config:
    base_dir = path.resolve().parent
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if is_default(path):
            return _builtin_config()
        raise ConfigError(
            f"{path}: config file not found; pass --config PATH or set {CONFIG_ENV}"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{path}:{where} is not valid YAML; check indentation and quoting"
        ) from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping with venues and hedges at the top level")
    return parse_config(raw, base_dir=base_dir)


def _builtin_config() -> Config:
    """The default config shipped inside the package (the paper venue with one hedge), for
    `bot` run in a folder without config.yaml; its relative paths (data/) are this folder's."""
    from bot.runtime.shipped import shipped

    source = shipped("config.yaml")
    log.info("no ./config.yaml: using the built-in paper config (%s)", source)
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    return parse_config(raw, base_dir=Path.cwd())


def parse_config(raw: Mapping[str, Any], *, base_dir: Path) -> Config:
    if "base_dir" in raw:
        raise ConfigError("base_dir: unknown key; remove it")
    try:
        return Config.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def _printing_setting(block: Any, path: str) -> tuple[str, str] | None:
    """The first setting under `block` that makes ccxt print or log requests: (path, reason)."""
    if not isinstance(block, Mapping):
        return None
    for key, value in block.items():
        reason = _PRINTING_CCXT_KEYS.get(str(key).lower())
        if reason is not None and value is not False:
            return f"{path}.{key}", reason
        found = _printing_setting(value, f"{path}.{key}")
        if found is not None:
            return found
    return None


def describe_validation_error(exc: ValidationError) -> str:
    """One validation error as `path: message`, with the fix where we know it.

    A misspelt key shows up twice in pydantic's list (the unknown key, and the real key as
    missing): the unknown key is the one to report, with the spelling it probably meant.
    """
    errors = exc.errors(include_url=False)
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [str(part) for part in error["loc"] if not _is_union_tag(part)]
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        parent = ".".join(loc[:-1])
        return f"{parent + ': ' if parent else ''}{_unknown_key(error['loc'], loc[-1])}"
    if error["type"] == "missing":
        message = "required key is missing"
    elif error["type"] in _NUMBER_ERRORS:
        message = f'{error.get("input")!r} is not a number; write a decimal such as "10" or 0.5'
    path = ".".join(loc)
    # A message raised by a model validator may already name its own path.
    if message.startswith(f"{path}.") or (path and message.split(":")[0].startswith(path)):
        return message
    return f"{path}: {message}" if path else message


_NUMBER_ERRORS = frozenset(
    {
        "decimal_parsing",
        "decimal_type",
        "finite_number",
        "float_parsing",
        "float_type",
        "int_parsing",
        "int_type",
        "int_from_float",
    }
)


def _unknown_key(loc: tuple[Any, ...], key: str) -> str:
    allowed = _allowed_keys(loc[:-1])
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r} (did you mean {close[0]!r}?)"
    hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
    return f"unknown key {key!r}{hint}"


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and (part in {"decimal", "dict[str,decimal]"} or "[" in part)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at `loc` accepts, to suggest when a key is misspelt."""
    model: type[BaseModel] | None = Config
    next_is_mapping_key = False
    for part in loc:
        if next_is_mapping_key:  # a venue or hedge name: stay on the mapping's value model
            next_is_mapping_key = False
            continue
        if model is None or part not in model.model_fields:
            return []
        annotation = model.model_fields[part].annotation
        next_is_mapping_key = getattr(annotation, "__origin__", None) is dict
        model = _model_of(annotation)
    if model is None:
        return []
    return [name for name in model.model_fields if name != "base_dir"]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = getattr(annotation, "__args__", ())
    for arg in reversed(args):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
