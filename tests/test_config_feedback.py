"""The after-the-answer config sections: bad values are named by their key path with a
hint, exit code 2, and the summary of `relaydesk check` shows what is on."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.config import check_config_file

BASE = """
telegram: {token: "123:secret-token"}
operators: {chat_id: -1001234567890}
"""


@pytest.mark.parametrize(("section", "expected"), [
    ("csat: {expires: 0s}", "csat.expires: must be longer than zero"),
    ("csat: {comment_wait: soon}", "csat.comment_wait:"),
    ("csat: {texts: {en: {questoin: Hi}}}", "csat.texts: en: unknown text 'questoin'"),
    ("csat: {enabled: true, survey: on}", "csat.survey:"),
    ("abuse: {max_messages: 0}", "abuse.max_messages: must be at least 1, got 0"),
    ("abuse: {per: 0s}", "abuse.per: must be longer than zero"),
    ("abuse: {texts: {ru: {slow_down: ' '}}}", "abuse.texts: ru.slow_down is empty"),
    ("canned: {hello: {english: Hi}}", "canned.hello: unknown key 'english': not a language"),
    ("canned: {hello: {en: '{{ customer.first_name }'}}", "canned.hello.en: the template "
     "fails with sample values: syntax error"),
    ("canned: {hello: {en: '{{ order }}'}}", "canned.hello.en: the template fails with "
     "sample values: unknown variable: 'order' is undefined"),
    ("canned: {hello: {en: '{{ \"\" }}'}}", "canned.hello.en: the template fails with "
     "sample values: renders as an empty text"),
])
def test_bad_values_are_named_by_key_path(tmp_path: Path, section: str, expected: str
                                          ) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(BASE + section + "\n", encoding="utf-8")
    code, text = check_config_file(config)
    assert code == 2
    assert expected in text, text
    assert "secret-token" not in text


def test_the_summary_names_what_is_on(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(BASE + "canned: {hello: {en: 'Hi {{ customer.first_name }}'}}\n"
                      "abuse: {max_messages: 30, per: 20s}\ncsat: {expires: 2h}\n",
                      encoding="utf-8")
    code, text = check_config_file(config)
    assert code == 0, text
    assert "after the answer: survey on (expires 2h), 1 canned reply (hello), flood limit " \
           "30 per 20s" in text
