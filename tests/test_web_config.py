"""`web:` in config.yaml: mistakes name their key path, secrets are never echoed."""

from __future__ import annotations

import pytest

from tests.config_cases import load, make, only_problem, problems

SECRET = "k" * 40
HTTP = {"listen": "127.0.0.1:0"}


@pytest.mark.parametrize(("web", "path", "words"), [
    ({}, "web.secret", "required"),
    ({"secret": "short-secret"}, "web.secret", "too short"),
    ({"secret": SECRET, "allowed_origins": ["shop.example.com"]}, "web.allowed_origins",
     "not an origin"),
    ({"secret": SECRET, "allowed_origins": ["https://shop.example.com/chat"]},
     "web.allowed_origins", "not an origin"),
    ({"secret": SECRET, "color": "blue"}, "web.color", "colour"),
    ({"secret": SECRET, "visitor_rate": {"count": 0, "per": "1s"}}, "web.visitor_rate.count",
     ""),
])
def test_bad_web_values_name_their_key(web: dict[str, object], path: str, words: str) -> None:
    problem = only_problem(make(http=HTTP, web=web))
    assert problem.path.startswith(path)
    assert words in problem.message


def test_a_short_secret_is_not_printed() -> None:
    problem = only_problem(make(http=HTTP, web={"secret": "hunter2-leaky"}))
    assert "hunter2" not in f"{problem.message} {problem.hint}"


def test_web_needs_the_http_section() -> None:
    found = problems(make(web={"secret": SECRET}))
    assert list(found) == ["web"]
    assert "http" in found["web"].message


def test_web_defaults() -> None:
    config = load(make(http=HTTP, web={"secret": SECRET,
                                       "allowed_origins": ["https://Shop.example.com/"]}))
    assert config.web is not None
    assert config.web.allowed_origins == ["https://shop.example.com"]
    assert config.web.key == SECRET.encode()
    assert load(make(http=HTTP, web={"enabled": False})).web is not None
