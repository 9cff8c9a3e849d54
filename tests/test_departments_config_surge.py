"""Surge handling (spare topics, coalescing) works in the operator group only so far:
configured together with departments it is refused with the key and a way out."""

from __future__ import annotations

from tests.config_cases import make, only_problem


def test_surge_with_departments_is_refused_with_its_key() -> None:
    text = make(
        outbox={"spare_topics": 3},
        departments=[{"id": "sales", "names": {"en": "Sales"}, "chat_id": -1001111111111}],
    )
    problem = only_problem(text)
    assert problem.path.startswith("outbox")
    assert "departments" in problem.message and "spare_topics: 0" in (problem.hint or "")
