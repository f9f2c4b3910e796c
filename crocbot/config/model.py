"""The settings model: every value bounded, every group checked for consistency.

Defaults here equal the commented file `config/crocbot.toml` (a test keeps the two in step). Secrets are
`SecretStr` and never appear in an error: pydantic is told to hide inputs, and crocbot's own error lines
leave secret fields out.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from crocbot.config.live import LiveSettings
from crocbot.core.checks import SYMBOL_PATTERN
from crocbot.core.messages import Timeframe
from crocbot.core.money import fmt

__all__ = [
    "Settings",
    "KrakenSettings",
    "HealthSettings",
    "RiskSettings",
    "StopSettings",
    "StrategySettings",
    "ExecutionSettings",
    "PaperSettings",
    "ReconcileSettings",
    "NotificationSettings",
    "LiveSettings",
    "SECRET_FIELDS",
]


def _fraction(value: Decimal) -> Decimal:
    if not 0 < value < 1:
        raise ValueError("a fraction strictly between 0 and 1 (0.01 means 1 %)")
    return value


def _positive(value: Decimal) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise ValueError("a positive number")
    return value


def _ws_url(value: str) -> str:
    if not value.startswith(("ws://", "wss://")) or len(value) < 8:
        raise ValueError("a WebSocket URL starting with wss:// (or ws:// for a local simulator)")
    return value


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        raise ValueError("an HTTP URL starting with https:// (or http:// for a local simulator)")
    return value.rstrip("/")


Fraction = Annotated[Decimal, AfterValidator(_fraction)]
PositiveDecimal = Annotated[Decimal, AfterValidator(_positive)]
Seconds = Annotated[float, Field(gt=0, le=86_400)]
WsUrl = Annotated[str, AfterValidator(_ws_url)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]

_STRICT = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True, validate_default=True)


class KrakenSettings(BaseModel):
    model_config = _STRICT

    ws_url: WsUrl = "wss://ws.kraken.com/v2"
    ws_auth_url: WsUrl = "wss://ws-auth.kraken.com/v2"
    rest_url: HttpUrl = "https://api.kraken.com"
    request_timeout: Annotated[float, Field(gt=0, le=60)] = 10.0
    # The account's verification tier, which sets Kraken's REST call counter and per-pair trading counter that crocbot
    # paces its calls by. Starter is the safe default: a tier above the account's earns rate-limit errors, one below
    # only waits longer (a live restart reconciles within Starter's 15 points, 0.33 a second, in up to ~30 s).
    tier: Literal["starter", "intermediate", "pro"] = "starter"


class HealthSettings(BaseModel):
    model_config = _STRICT

    host: Annotated[str, Field(min_length=1, max_length=253)] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65_535)] = 8787


class RiskSettings(BaseModel):
    """Fractions are of account equity, except `slippage_allowance` (of price)."""

    model_config = _STRICT

    risk_per_trade: Fraction = Decimal("0.005")
    max_loss_per_trade: Fraction = Decimal("0.01")
    daily_loss_limit: Fraction = Decimal("0.03")
    max_open_positions: Annotated[int, Field(ge=1, le=100)] = 3
    max_exposure_per_symbol: Fraction = Decimal("0.25")
    max_total_exposure: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.75")
    cooldown_after_loss: Annotated[float, Field(ge=0, le=86_400)] = 900.0
    flatten_on_kill_switch: bool = False
    slippage_allowance: Fraction = Decimal("0.002")
    # A stop closer to its entry than this many round trips (both legs' fees and slippage) is refused: the costs
    # would dwarf the planned loss. 0 turns the check off.
    min_stop_cost_multiple: Annotated[Decimal, Field(ge=0, le=100)] = Decimal("1")

    @model_validator(mode="after")
    def _consistent(self) -> RiskSettings:
        if self.risk_per_trade > self.max_loss_per_trade:
            raise ValueError(
                f"risk_per_trade ({fmt(self.risk_per_trade)}) must not exceed "
                f"max_loss_per_trade ({fmt(self.max_loss_per_trade)})"
            )
        if self.max_loss_per_trade > self.daily_loss_limit:
            raise ValueError(
                f"max_loss_per_trade ({fmt(self.max_loss_per_trade)}) must not exceed "
                f"daily_loss_limit ({fmt(self.daily_loss_limit)}), or one trade could trip the kill switch"
            )
        if self.max_exposure_per_symbol > self.max_total_exposure:
            raise ValueError(
                f"max_exposure_per_symbol ({fmt(self.max_exposure_per_symbol)}) must not exceed "
                f"max_total_exposure ({fmt(self.max_total_exposure)})"
            )
        return self


class StopSettings(BaseModel):
    model_config = _STRICT

    trailing: Literal["none", "atr", "percent"] = "atr"
    trail_atr_multiple: PositiveDecimal = Decimal("3")
    trail_percent: Fraction = Decimal("0.02")
    breakeven_after_r: PositiveDecimal = Decimal("1")
    profit_lock_step_r: PositiveDecimal = Decimal("1")
    place_within: Annotated[float, Field(gt=0, le=1)] = 1.0
    amend_min_interval: Annotated[float, Field(ge=0, le=3600)] = 5.0
    # The SL manager's own exit when the price is through a stop that rests on the venue is a backstop: it waits
    # this long for the venue's stop to fill (its fill closes the position), unless the price is beyond the stop
    # by more than `backstop_margin` (a fraction of the stop price), when something is wrong with the venue's stop.
    backstop_grace: Annotated[float, Field(ge=0, le=300)] = 5.0
    backstop_margin: Fraction = Decimal("0.005")


class StrategySettings(BaseModel):
    model_config = _STRICT

    default: Literal["ema_trend", "donchian_breakout"] = "ema_trend"
    per_symbol: dict[str, Literal["ema_trend", "donchian_breakout"]] = Field(default_factory=dict)
    timeframe: Literal["1m", "5m", "15m", "1h"] = "1h"
    atr_period: Annotated[int, Field(ge=2, le=200)] = 14
    breakout_period: Annotated[int, Field(ge=2, le=500)] = 20  # candles in the Donchian channel
    stop_atr_multiple: PositiveDecimal = Decimal("3")
    take_profit_atr_multiple: PositiveDecimal = Decimal("12")
    min_reward_risk: PositiveDecimal = Decimal("1.5")

    @property
    def frame(self) -> Timeframe:
        return Timeframe.parse(self.timeframe)

    @model_validator(mode="after")
    def _achievable(self) -> StrategySettings:
        offered = self.take_profit_atr_multiple / self.stop_atr_multiple
        if offered < self.min_reward_risk:
            raise ValueError(
                f"take_profit_atr_multiple / stop_atr_multiple = {fmt(offered.normalize())} is below "
                f"min_reward_risk ({fmt(self.min_reward_risk)}): no signal could ever pass"
            )
        return self


class ExecutionSettings(BaseModel):
    model_config = _STRICT

    entry_order: Literal["limit", "market"] = "limit"
    limit_ttl: Seconds = 30.0
    max_reposition_attempts: Annotated[int, Field(ge=0, le=20)] = 3
    chase_step: Fraction = Decimal("0.0005")
    book_depth: Literal[10, 25, 100] = 25
    call_timeout: Annotated[float, Field(gt=0, le=60)] = 5.0
    paper_latency_ms: Annotated[int, Field(ge=0, le=10_000)] = 50


class ReconcileSettings(BaseModel):
    model_config = _STRICT

    interval: Annotated[float, Field(ge=10, le=86_400)] = 300.0
    grace: Annotated[float, Field(ge=0, le=600)] = 30.0
    unknown_orders: Literal["adopt", "cancel", "halt"] = "halt"


class PaperSettings(BaseModel):
    model_config = _STRICT

    starting_balances: dict[str, PositiveDecimal] = Field(default_factory=lambda: {"USD": Decimal("10000")})

    @field_validator("starting_balances")
    @classmethod
    def _some_cash(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        if not value:
            raise ValueError("at least one asset with a positive balance, e.g. {USD = 10000}")
        return value


class NotificationSettings(BaseModel):
    model_config = _STRICT

    discord_webhook_url: SecretStr | None = None
    min_level: Literal["info", "warning", "error"] = "warning"

    @field_validator("discord_webhook_url")
    @classmethod
    def _webhook(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("https://"):
            raise ValueError("a Discord webhook URL starting with https://")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CROCBOT_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",  # a shared .env may hold other programs' variables; config-file keys are checked on load
        hide_input_in_errors=True,
        populate_by_name=True,
        frozen=True,
        validate_default=True,
    )

    mode: Literal["paper", "live"] = "paper"
    real_trading: str | None = Field(default=None, validation_alias=AliasChoices("REAL_TRADING", "real_trading"))
    # The keys' shape is checked by the live gate, in live mode only: a paper run never uses them, so a stale or
    # malformed key in a shared environment must not stop it.
    kraken_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("KRAKEN_API_KEY", "kraken_api_key")
    )
    kraken_api_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("KRAKEN_API_SECRET", "kraken_api_secret")
    )
    symbols: Annotated[tuple[str, ...], NoDecode] = ("BTC/USD", "ETH/USD")
    state_dir: Path = Path("state")
    log_dir: Path = Path("logs")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    kraken: KrakenSettings = Field(default_factory=KrakenSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    stops: StopSettings = Field(default_factory=StopSettings)
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    reconcile: ReconcileSettings = Field(default_factory=ReconcileSettings)
    paper: PaperSettings = Field(default_factory=PaperSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one symbol, e.g. BTC/USD")
        bad = [s for s in value if not SYMBOL_PATTERN.match(s)]
        if bad:
            raise ValueError(f"WS v2 symbols like BTC/USD or AAPLx/USD; not {', '.join(map(repr, bad))}")
        duplicates = sorted({s for s in value if value.count(s) > 1})
        if duplicates:
            raise ValueError(f"each symbol once; {', '.join(duplicates)} repeated")
        return value

    @model_validator(mode="after")
    def _strategy_symbols(self) -> Settings:
        unknown = sorted(set(self.strategy.per_symbol) - set(self.symbols))
        if unknown:
            raise ValueError(
                f"strategy.per_symbol names {', '.join(unknown)}, which are not in symbols ({', '.join(self.symbols)})"
            )
        return self


def _secret_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> frozenset[tuple[str, ...]]:
    """Every location (by field name and by alias) whose value is a secret, for error messages to skip."""
    paths: set[tuple[str, ...]] = set()
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths |= _secret_paths(annotation, (*prefix, name))
        elif "SecretStr" in repr(annotation):
            paths.add((*prefix, name))
            aliases = info.validation_alias
            if isinstance(aliases, AliasChoices):
                paths |= {(*prefix, choice) for choice in aliases.choices if isinstance(choice, str)}
    return frozenset(paths)


SECRET_FIELDS = _secret_paths(Settings)
