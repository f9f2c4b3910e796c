"""Configuration: the settings model, its layered loading, and the live-trading gate."""

from crocbot.config.gate import (
    LiveGateRefused,
    banner,
    countdown,
    key_fingerprint,
    key_shape_problems,
    live_gate_problems,
)
from crocbot.config.load import (
    ConfigError,
    default_config_file,
    fingerprint,
    load_settings,
    parse_set,
    render,
    secret_values,
)
from crocbot.config.model import Settings

__all__ = [
    "Settings",
    "ConfigError",
    "load_settings",
    "parse_set",
    "default_config_file",
    "render",
    "fingerprint",
    "secret_values",
    "LiveGateRefused",
    "live_gate_problems",
    "key_fingerprint",
    "key_shape_problems",
    "banner",
    "countdown",
]
