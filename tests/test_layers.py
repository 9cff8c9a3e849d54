"""The dependency rules (docs/architecture.md), checked by walking every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = {"aiogram", "vk_api", "aiohttp", "tortoise", "apscheduler"}
PROJECT = {"bots", "adapters", "core", "storage", "sandbox"}


def _imports(package: str) -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), a.name.split(".")[0]) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module.split(".")[0]))
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("core", FRAMEWORKS | {"bots", "adapters", "storage", "sandbox"}),
        ("adapters", {"storage", "bots", "sandbox"}),
        ("storage", {"adapters", "bots", "sandbox"}),
        ("sandbox", PROJECT - {"sandbox"}),
    ],
)
def test_dependency_rule(package: str, forbidden: set[str]) -> None:
    imports = _imports(package)
    assert imports, f"no modules found in {package}"
    bad = [(path, name) for path, name in imports if name in forbidden]
    assert not bad, f"{package} must not import {sorted(forbidden)}: {bad}"


# Inside core: a small kernel (the modules directly in core/) and one sub-package per
# capability. Which may import which; a new capability adds its line here. Capabilities
# never import each other or intake: they hook into the conversation lifecycle and register
# their commands, and bots/ wires them.
CORE_RULES = {
    "kernel": {"kernel"},
    "delivery": {"kernel", "delivery"},
    "conversations": {"kernel", "delivery", "conversations"},
    "intake": {"kernel", "delivery", "intake"},
    "sla": {"kernel", "delivery", "sla"},
    "selfservice": {"kernel", "delivery", "selfservice"},
    "feedback": {"kernel", "delivery", "feedback"},
    "canned": {"kernel", "delivery", "canned"},
    "abuse": {"kernel", "delivery", "abuse"},
    "departments": {"kernel", "delivery", "departments"},
}


def _core_part(module: str) -> str:
    """`core.sla.clock` → "sla"; `core.texts` (a module of the kernel) → "kernel"."""
    parts = module.split(".")
    if len(parts) > 1 and (ROOT / "core" / parts[1]).is_dir():
        return parts[1]
    return "kernel"


def _core_imports() -> list[tuple[str, str, str]]:
    """(importing part, imported part, file) for every import of core inside core."""
    found = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] if node.module != "core" else \
                    [f"core.{a.name}" for a in node.names]
            for name in names:
                if name.split(".")[0] == "core":
                    found.append((_core_part(module), _core_part(name), str(path)))
    return found


def test_every_core_package_has_a_rule() -> None:
    packages = {p.name for p in (ROOT / "core").iterdir()
                if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(CORE_RULES), f"say what {packages - set(CORE_RULES)} may import"


def test_core_parts_import_only_what_their_rule_allows() -> None:
    imports = _core_imports()
    assert {importer for importer, _, _ in imports} >= {"kernel", "delivery", "intake", "sla"}
    bad = [(path, imported) for importer, imported, path in imports
           if imported not in CORE_RULES[importer]]
    assert not bad, f"imports against CORE_RULES: {bad}"
