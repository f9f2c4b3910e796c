"""Logging: concise human lines on the console, JSON lines in `logs/crocbot.jsonl`, secrets masked in both.

The console shows INFO and up (a healthy hour is a few lines); the JSON file keeps the same events with their
context fields (actor, symbol, order id, and whatever else was bound) for the log-analysis scripts. Exception
text is formatted here, not by loguru, so that it is masked too; loguru's `diagnose` (which prints variable
values in tracebacks, secrets included) is off. Messages from the standard `logging` module (pykka, urllib3,
websocket-client) are routed through the same sinks.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from loguru import logger

from crocbot.ops.redact import redact

if TYPE_CHECKING:
    from loguru import Record

__all__ = ["bootstrap_logging", "setup_logging", "JSON_LOG_NAME", "CONTEXT_FIELDS"]

JSON_LOG_NAME = "crocbot.jsonl"
CONTEXT_FIELDS = ("actor", "symbol", "order_id")
_ROTATION = "20 MB"
_RETENTION = 10  # rotated files kept


def bootstrap_logging(console: TextIO | None = None) -> None:
    """Before the settings are known: warnings and errors to the console, masked, without variable dumps."""
    logger.remove()
    logger.add(
        console if console is not None else sys.stderr,
        level="WARNING",
        format=_console_format,
        colorize=False,
        backtrace=False,
        diagnose=False,
    )


def setup_logging(
    *,
    log_dir: Path,
    level: str = "INFO",
    console: TextIO | None = None,
    rotation: str = _ROTATION,
    retention: int = _RETENTION,
) -> Path:
    """Replace every sink with crocbot's two; returns the JSON log's path."""
    logger.remove()
    logger.add(
        console if console is not None else sys.stderr,
        level=level,
        format=_console_format,
        colorize=False,
        backtrace=False,
        diagnose=False,
    )
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / JSON_LOG_NAME
    logger.add(
        path,
        level="DEBUG" if level == "DEBUG" else "INFO",
        format=_json_format,
        rotation=rotation,
        retention=retention,
        encoding="utf-8",
        backtrace=False,
        diagnose=False,
    )
    _route_stdlib_logging()
    return path


def _exception_text(record: Record) -> str:
    exc = record["exception"]
    if exc is None or exc.type is None:
        return ""
    return "".join(traceback.format_exception(exc.type, exc.value, exc.traceback)).rstrip()


def _context(record: Record) -> dict[str, Any]:
    return {key: value for key, value in record["extra"].items() if not key.startswith("_")}


def _console_format(record: Record) -> str:
    # a field bound empty (no symbol for an account-wide line) says nothing: `[actor=router symbol=]` is noise
    context = " ".join(
        f"{key}={value}" for key, value in _context(record).items() if key in CONTEXT_FIELDS and value not in ("", None)
    )
    line = f"{record['time'].astimezone(UTC):%Y-%m-%d %H:%M:%S}Z {record['level'].name:<8} {record['message']}"
    if context:
        line += f"  [{context}]"
    exception = _exception_text(record)
    if exception:
        line += "\n" + exception
    record["extra"]["_console"] = redact(line)
    return "{extra[_console]}\n"


def _json_format(record: Record) -> str:
    entry: dict[str, Any] = {
        "ts": record["time"].astimezone(UTC).isoformat(timespec="milliseconds"),
        "level": record["level"].name,
        "msg": redact(record["message"]),
        "logger": record["name"],
    }
    for key, value in _context(record).items():
        entry[key] = redact(value) if isinstance(value, str) else _jsonable(value)
    exception = _exception_text(record)
    if exception:
        entry["exc"] = redact(exception)
    record["extra"]["_json"] = redact(json.dumps(entry, ensure_ascii=False))
    return "{extra[_json]}\n"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


class _ToLoguru(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(exception=record.exc_info or None).bind(source=record.name).log(level, record.getMessage())


def _route_stdlib_logging() -> None:
    logging.basicConfig(handlers=[_ToLoguru()], level=logging.INFO, force=True)
    # crocbot's base actor logs every crash with its context; pykka's own line would only repeat it.
    logging.getLogger("pykka").setLevel(logging.CRITICAL)
    for noisy in ("urllib3", "websocket"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
