"""The layers a configuration is built from, what each of them names, and the names that mean nothing.

pydantic-settings only looks for the variables it knows, so a misspelt section (`CROCBOT_RISKK__…`, `--set
riskk.x=1`, `[riskk]`) would be ignored without a word while the rest of the layer is used. Each layer's top-level
names are checked here against the model, all layers at once, so that one run reports every such mistake
alongside pydantic's own errors.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from crocbot.config.model import Settings

__all__ = ["ENV_PREFIX", "GATE_KEYS", "PROCESS_VARIABLES", "Layers", "allowed", "layers", "unknown_names"]

ENV_PREFIX = "CROCBOT_"
# Set in the environment only, never in a file: what enables live trading and the keys.
GATE_KEYS = ("real_trading", "kraken_api_key", "kraken_api_secret")
# crocbot's variables that are not settings: where the config file is, and the test-only fault injection.
PROCESS_VARIABLES = frozenset({"CROCBOT_CONFIG", "CROCBOT_FAILPOINTS", "CROCBOT_FAILPOINT_SEED"})
_DELIMITER = "__"


@dataclass(frozen=True)
class Layers:
    """Where each layer came from, lowest precedence first; names only, never values (some are secrets)."""

    config_file: Path | None
    env_file: Path
    env_file_variables: tuple[str, ...]
    environment: tuple[str, ...]
    command_line: tuple[str, ...]

    def describe(self) -> list[str]:
        """One line per layer, for `config check`."""
        config = str(self.config_file) if self.config_file is not None else "(none: built-in defaults only)"
        if self.env_file.is_file():
            dotenv = f"{self.env_file}: {_names(self.env_file_variables)}"
        else:
            dotenv = f"{self.env_file} (not found)"
        return [
            f"layers, each overriding the ones above it (paths from {Path.cwd()}):",
            "  1. built-in defaults",
            f"  2. config file  {config}",
            f"  3. .env file    {dotenv}",
            f"  4. environment  {_names(self.environment)}",
            f"  5. command line {_names(self.command_line)}",
        ]


def layers(config_file: Path | None, env_file: Path, overrides: Mapping[str, Any]) -> Layers:
    return Layers(
        config_file=config_file,
        env_file=env_file,
        env_file_variables=tuple(_ours(_dotenv(env_file))),
        environment=tuple(_ours(os.environ)),
        command_line=tuple(_dotted(overrides)),
    )


def unknown_names(env_file: Path, overrides: Mapping[str, Any]) -> list[str]:
    """A line for each variable or override that names no setting (the config file is checked as it is read)."""
    problems = []
    sources = (("environment variable", os.environ), (f"{env_file}:", _dotenv(env_file)))
    for where, variables in sources:
        for name in _ours(variables):
            head = name.upper().removeprefix(ENV_PREFIX).split(_DELIMITER, 1)[0].lower()
            if name.upper().startswith(ENV_PREFIX) and head not in Settings.model_fields:
                problems.append(f"{where} {name}: unknown setting {head!r}; allowed: {allowed()}")
    problems += [
        f"command line: unknown setting {key!r}; allowed: {allowed()}"
        for key in overrides
        if key not in Settings.model_fields
    ]
    return problems


def allowed(*, exclude: Iterable[str] = ()) -> str:
    return ", ".join(name for name in Settings.model_fields if name not in set(exclude))


def _ours(variables: Mapping[str, str | None]) -> list[str]:
    gate = {key.upper() for key in GATE_KEYS}
    return sorted(
        name
        for name in variables
        if (name.upper().startswith(ENV_PREFIX) and name.upper() not in PROCESS_VARIABLES) or name.upper() in gate
    )


def _dotenv(path: Path) -> dict[str, str | None]:
    return dotenv_values(path, encoding="utf-8") if path.is_file() else {}


def _dotted(overrides: Mapping[str, Any], prefix: str = "") -> list[str]:
    names = []
    for key, value in overrides.items():
        if isinstance(value, Mapping) and value:
            names += _dotted(value, f"{prefix}{key}.")
        else:
            names.append(f"{prefix}{key}")
    return names


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names) if names else "(nothing)"
