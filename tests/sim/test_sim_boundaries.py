"""The simulator and the matching engine stand apart from the actor runtime.

The simulator is the exchange the bot is checked against from outside, and the engine is shared by it and the
paper venue; neither may lean on the bot's actors, or a test through them would partly test the bot against
itself. Read from the source with `ast`, so that an import inside a function or under TYPE_CHECKING counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import crocbot

PACKAGE_ROOT = Path(crocbot.__file__).resolve().parent


def imported_modules(source: str, package: str) -> set[str]:
    """Every module an import statement in `source` names, relative imports resolved against `package`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE_ROOT.parent).parts[:-1])


def modules_of(subpackage: str) -> list[Path]:
    return sorted((PACKAGE_ROOT / subpackage).rglob("*.py"))


@pytest.mark.parametrize("subpackage", ["sim", "matching"])
def test_the_package_imports_nothing_from_the_actors(subpackage: str) -> None:
    files = modules_of(subpackage)
    assert files, f"no modules found under crocbot/{subpackage}"
    offenders = {
        f"{path.relative_to(PACKAGE_ROOT.parent)}: {name}"
        for path in files
        for name in imported_modules(path.read_text(), package_of(path))
        if name == "crocbot.actors" or name.startswith("crocbot.actors.")
    }
    assert not offenders, sorted(offenders)


def test_the_check_sees_an_actor_import_written_any_way() -> None:
    source = (
        "from crocbot.actors.gateway import Gateway\n"
        "from crocbot import actors\n"
        "import crocbot.actors.scheduler\n"
        "def later():\n"
        "    from ..actors import activity\n"
    )
    names = imported_modules(source, "crocbot.sim")
    assert {"crocbot.actors.gateway", "crocbot.actors", "crocbot.actors.scheduler"} <= names
    assert "crocbot.actors.activity" in names
