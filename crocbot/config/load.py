"""Loading the settings from their layers, and saying clearly what is wrong with them.

Precedence, lowest first: the built-in defaults, the commented defaults file (`config/crocbot.toml`), then `.env`,
then environment variables (`CROCBOT_…`, nested with `__`; `REAL_TRADING`, `KRAKEN_API_KEY`, `KRAKEN_API_SECRET`
unprefixed), then the command line (flags and `--set`). Every layer can set every setting: text is converted for
its field's type (`coerce.py`). Bad values anywhere are one `ConfigError` carrying one line per problem, of every
layer at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from crocbot.config.coerce import coerce_layer
from crocbot.config.layers import GATE_KEYS, allowed, unknown_names
from crocbot.config.model import SECRET_FIELDS, Settings

__all__ = [
    "ConfigError",
    "load_settings",
    "default_config_file",
    "render",
    "fingerprint",
    "secret_values",
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_ENV_FILE",
    "parse_set",
]

DEFAULT_CONFIG_FILE = Path("config") / "crocbot.toml"
DEFAULT_ENV_FILE = Path(".env")
_file_layer: ContextVar[dict[str, Any] | None] = ContextVar("crocbot_config_file_layer", default=None)


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds one line per bad field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"  {line}" for line in problems))
        self.problems = problems


class _ConfigFileSource(PydanticBaseSettingsSource):
    """The defaults file, read before pydantic runs (so its errors name the file) and handed over here."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns the whole layer

    def __call__(self) -> dict[str, Any]:
        return dict(_file_layer.get() or {})


class _TextSource(PydanticBaseSettingsSource):
    """A layer of text (environment, `.env`, `--set`) with each value converted for its field's type."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._inner = inner

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ converts the inner source's whole layer

    def __call__(self) -> dict[str, Any]:
        return coerce_layer(self.settings_cls, self._inner())


class _LayeredSettings(Settings):
    # Text layers are decoded by `coerce_layer`, which reads JSON and TOML values alike and leaves what it cannot
    # read to the field's own error; pydantic-settings' JSON decoding would raise a SettingsError without a field.
    model_config = SettingsConfigDict(enable_decoding=False)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            _TextSource(settings_cls, init_settings),
            _TextSource(settings_cls, env_settings),
            _TextSource(settings_cls, dotenv_settings),
            _ConfigFileSource(settings_cls),
        )


def default_config_file() -> Path | None:
    """`CROCBOT_CONFIG` if set, else `config/crocbot.toml` under the working directory if it exists."""
    named = os.environ.get("CROCBOT_CONFIG")
    if named:
        return Path(named)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(
    *,
    config_file: Path | None = None,
    env_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the effective settings; raise `ConfigError` with every problem of every layer, secrets never quoted.

    Precedence, lowest first: built-in defaults, `config_file`, `env_file` (default `.env`), the environment,
    `overrides` (the command line).
    """
    problems: list[str] = []
    layer: dict[str, Any] = {}
    if config_file is not None:
        layer, problems = _read_config_file(config_file)
    if env_file is not None and not env_file.is_file():
        problems.append(f"--env-file {env_file}: no such file")
    dotenv = env_file or DEFAULT_ENV_FILE
    overrides = dict(overrides or {})
    problems += unknown_names(dotenv, overrides)
    known = {key: value for key, value in overrides.items() if key in Settings.model_fields}
    token = _file_layer.set(layer)
    try:
        settings = _LayeredSettings(_env_file=dotenv, **known)
    except ValidationError as error:
        problems += [_describe(detail) for detail in error.errors()]
    finally:
        _file_layer.reset(token)
    if problems:
        raise ConfigError(problems) from None  # no pydantic text rides along in a traceback
    return settings


def parse_set(items: Iterable[str], into: dict[str, Any] | None = None) -> dict[str, Any]:
    """`--set risk.risk_per_trade=0.004` flags as nested overrides; the values stay text for `coerce_layer`."""
    overrides = into if into is not None else {}
    problems = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            problems.append(f"--set {item!r}: expected KEY=VALUE, e.g. risk.risk_per_trade=0.004")
            continue
        *parents, leaf = key.strip().split(".")
        target = overrides
        for parent in parents:
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                problems.append(f"--set {item!r}: {parent} is not a section")
                break
        else:
            target[leaf] = value
    if problems:
        raise ConfigError(problems)
    return overrides


def _read_config_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The file's usable settings and a line for each of its problems; pydantic checks what is inside sections."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle, parse_float=Decimal)
    except FileNotFoundError:
        return {}, [f"config file {path}: no such file"]
    except tomllib.TOMLDecodeError as error:
        return {}, [f"config file {path}: not valid TOML ({error})"]
    problems = []
    for key in data:
        if key in GATE_KEYS:
            problems.append(
                f"config file {path}: {key} cannot be set in a config file; use the environment "
                f"variable {key.upper()} (or .env), so that live trading and keys are never committed"
            )
        elif key not in Settings.model_fields:
            problems.append(f"config file {path}: unknown setting {key!r}; allowed: {allowed(exclude=GATE_KEYS)}")
    usable = {key: value for key, value in data.items() if key in Settings.model_fields and key not in GATE_KEYS}
    return usable, problems


def _describe(detail: ErrorDetails) -> str:
    where = ".".join(str(part) for part in detail["loc"]) or "settings"
    kind = detail["type"]
    text = detail["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    given = detail.get("input")
    if kind == "value_error" and isinstance(given, Mapping):
        return f"{where}: {text}"  # a check across fields: the sentence names them
    if kind == "extra_forbidden":
        return f"{where}: unknown setting (given {_show(detail)}); check its spelling against config/crocbot.toml"
    if kind == "missing":
        return f"{where}: required, not given"
    return f"{where}: given {_show(detail)}; allowed: {text.removeprefix('Input should be ')}"


def _show(detail: ErrorDetails) -> str:
    """The value as the user wrote it: `-0.01`, not `Decimal('-0.01')`; text quoted; secrets not at all."""
    loc = tuple(str(part) for part in detail["loc"])
    if any(loc[: len(path)] == path for path in SECRET_FIELDS):
        return "(hidden: a secret)"
    given = detail.get("input")
    text = repr(given) if isinstance(given, str) else _toml(given)
    return text if len(text) <= 80 else text[:77] + "..."


def secret_values(settings: Settings) -> list[str]:
    """The configured secrets, for the log redactor."""
    values = [settings.kraken_api_key, settings.kraken_api_secret, settings.notifications.discord_webhook_url]
    return [value.get_secret_value() for value in values if value is not None]


def _plain(model: BaseModel) -> dict[str, Any]:
    """The settings as plain data with secrets replaced by whether they are set."""
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            out[name] = _plain(value)
        elif isinstance(value, SecretStr) or (value is None and name in {p[-1] for p in SECRET_FIELDS}):
            out[name] = "(set)" if value is not None else "(not set)"
        elif isinstance(value, Path):
            out[name] = value.as_posix()
        elif isinstance(value, tuple):
            out[name] = list(value)
        else:
            out[name] = value
    return out


def fingerprint(settings: Settings) -> str:
    """A short hash of the effective settings (secrets by presence only), logged at the start of every run."""
    text = json.dumps(_plain(settings), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def render(settings: Settings) -> str:
    """The effective settings in the config file's own TOML layout, secrets redacted."""
    plain = _plain(settings)
    lines = [f"{key} = {_toml(value)}" for key, value in plain.items() if not isinstance(value, dict)]
    for key, value in plain.items():
        if isinstance(value, dict):
            lines += ["", f"[{key}]"] + [f"{k} = {_toml(v)}" for k, v in value.items()]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    if value is None:
        return '"(not set)"'
    return json.dumps(str(value))
