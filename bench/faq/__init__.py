"""The FAQ matcher's evaluation set and benchmarks (`python -m bench.faq`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from core.selfservice.faq import Faq, FaqEntry, FaqText

HERE = Path(__file__).resolve().parent


def load_faq(path: Path) -> Faq:
    """An FAQ from a YAML file with a top-level `faq:` list (config.yaml's shape)."""
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Faq(FaqEntry(item["id"], {
        lang: FaqText(text["question"], text["answer"], tuple(text.get("phrasings") or ()))
        for lang, text in item.items() if lang != "id"}) for item in data["faq"])


def load_messages(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
