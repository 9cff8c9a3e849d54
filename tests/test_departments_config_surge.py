"""Surge handling (spare topics, coalescing) works with departments too: each group with its
own budget keeps its own spares and order, so the two are configured together."""

from __future__ import annotations

from bots.config import load_config_text
from tests.config_cases import make


def test_surge_with_departments_is_accepted_and_on_by_default() -> None:
    config = load_config_text(make(
        departments=[{"id": "sales", "names": {"en": "Sales"}, "chat_id": -1001111111111}],
    ), source="test.yaml", env={})
    assert (config.outbox.spare_topics, config.outbox.coalesce) == (3, True)
    assert [d.chat_id for d in config.departments] == [-1001111111111]
