"""The package boundaries the design relies on, checked on the source (issue 13).

- `crocbot/core/**` imports only `crocbot.core` and the standard library: the core is the pure trading logic, and an
  import of the adapters (`crocbot.kraken`), the settings (`crocbot.config`) or a third-party package would bring
  I/O or a framework into code that is meant to be tested without either.
- No module in `crocbot/actors/` imports another actor's module: actors know each other by name (`Directory`) and
  by the messages of `crocbot.actors.messages` and `crocbot.core.messages`. The actor runtime they are built on
  (supervision, bus, directory, timers, breaker, gateway) is shared infrastructure, not an actor.
- `crocbot/sim/` and `crocbot/matching/` import nothing from `crocbot.actors`: the simulator is the exchange the bot
  is checked against from outside, and the engine is shared by it and the paper venue; leaning on the bot's actors
  would partly test the bot against itself.
- No module in `crocbot/` is over 400 lines unless its docstring says why, and no two public classes share a name.

Every import statement counts, wherever it stands (inside a function, under `TYPE_CHECKING`); relative imports are
resolved against the importing module's package, and `from a import b` counts as importing `a` and `a.b`.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "crocbot"
# The actor runtime and the actors' shared messages: modules of crocbot/actors/ that are not an actor's own.
RUNTIME = {"activity", "base", "breaker", "bus", "directory", "gateway", "guarded_file", "messages", "protocol"}
RUNTIME |= {"runtime", "scheduler", "supervisor"}
MAX_LINES = 400
LONG_REASON = "over 400 lines because"  # how a module's docstring says why it may be longer


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """The absolute name of `from <level dots><module> import ...` written in module `importer`."""
    if level == 0:
        return module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports(source: str, importer: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`; `from a import b` gives `a` and `a.b` (b may be a
    module)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = resolve(importer, is_package, node.level, node.module)
            yield node.lineno, base
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{base}.{alias.name}"


def modules(under: str) -> list[Path]:
    found = sorted((PACKAGE / under).rglob("*.py"))
    assert len(found) > 3, f"no modules under crocbot/{under}: the check would pass on nothing"
    return found


def imports_of(under: str) -> Iterator[tuple[str, int, str]]:
    """(importer, line, imported) for every module under `crocbot/<under>`."""
    for path in modules(under):
        importer = module_name(path)
        for line, name in imports(path.read_text(encoding="utf-8"), importer, path.name == "__init__.py"):
            yield importer, line, name


def allowed_in_core(name: str) -> bool:
    return name == "crocbot.core" or name.startswith("crocbot.core.") or name.split(".")[0] in sys.stdlib_module_names


def actor_of(name: str) -> str | None:
    """The actor a module of `crocbot.actors` belongs to (its module or package there); None for anything else."""
    parts = name.split(".")
    if parts[:2] != ["crocbot", "actors"] or len(parts) < 3 or parts[2] in RUNTIME:
        return None
    return parts[2]


def test_the_core_imports_only_the_core_and_the_standard_library() -> None:
    offending = [f"{m}:{line} imports {name}" for m, line, name in imports_of("core") if not allowed_in_core(name)]
    assert not offending, "crocbot/core imports outside crocbot.core and the standard library:\n" + "\n".join(offending)


def test_no_actor_imports_another_actors_module() -> None:
    offending = [
        f"{m}:{line} imports {name}"
        for m, line, name in imports_of("actors")
        if actor_of(name) is not None and actor_of(name) != actor_of(m)
    ]
    assert not offending, "an actor imports another actor's module:\n" + "\n".join(offending)


@pytest.mark.parametrize("under", ["sim", "matching"])
def test_the_simulator_and_the_engine_import_nothing_from_the_actors(under: str) -> None:
    offending = [
        f"{m}:{line} imports {name}"
        for m, line, name in imports_of(under)
        if name == "crocbot.actors" or name.startswith("crocbot.actors.")
    ]
    assert not offending, f"crocbot/{under} imports the actors:\n" + "\n".join(offending)


def test_no_module_is_over_400_lines_without_saying_why() -> None:
    long = []
    for path in modules(""):
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_LINES and LONG_REASON not in (ast.get_docstring(ast.parse(text)) or ""):
            long.append(f"{path.relative_to(ROOT).as_posix()}: {lines} lines")
    assert not long, "modules over 400 lines whose docstring does not say why:\n" + "\n".join(long)


def test_no_two_public_classes_share_a_name() -> None:
    where: dict[str, list[str]] = {}
    for path in modules(""):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                where.setdefault(node.name, []).append(module_name(path))
    assert {name: found for name, found in where.items() if len(found) > 1} == {}


def test_relative_and_nested_imports_are_resolved_and_counted() -> None:
    source = "\n".join(
        [
            "from __future__ import annotations",
            "from . import base",
            "from ..money import ZERO",
            "from ... import kraken",
            "def late() -> None:",
            "    import decimal, pydantic",
            "    from crocbot.config.model import RiskSettings",
        ]
    )
    names = [name for _, name in imports(source, "crocbot.core.strategies.factory", is_package=False)]
    assert names == [
        "__future__",
        "__future__.annotations",
        "crocbot.core.strategies",
        "crocbot.core.strategies.base",
        "crocbot.core.money",
        "crocbot.core.money.ZERO",
        "crocbot",
        "crocbot.kraken",
        "decimal",
        "pydantic",
        "crocbot.config.model",
        "crocbot.config.model.RiskSettings",
    ]
    assert [allowed_in_core(name) for name in names] == [True] * 6 + [False, False, True, False, False, False]
    assert resolve("crocbot.core.messages", True, 1, "market") == "crocbot.core.messages.market"


def test_the_checks_see_an_actor_import_written_any_way() -> None:
    source = (
        "from crocbot.actors.gateway import Gateway\n"
        "from crocbot import actors\n"
        "import crocbot.actors.router\n"
        "def later():\n"
        "    from ..actors.venue import calls\n"
        "    from .sl_manager import SLManager\n"
    )
    names = {name for _, name in imports(source, "crocbot.actors.reconciler", is_package=False)}
    assert {"crocbot.actors.gateway", "crocbot.actors", "crocbot.actors.router"} <= names
    assert {"crocbot.actors.venue.calls", "crocbot.actors.sl_manager.SLManager"} <= names
    assert actor_of("crocbot.actors.gateway") is None  # the runtime, not an actor
    assert {actor_of(n) for n in names} - {None} == {"router", "venue", "sl_manager"}
