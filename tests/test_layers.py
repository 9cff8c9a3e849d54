"""The dependency rule of DESIGN.md §2, checked by walking every module's imports."""

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
