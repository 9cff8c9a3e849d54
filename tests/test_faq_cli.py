"""`relaydesk faq try` / `faq suggest` and the `faq:` section as an admin meets them."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from bots.config import load_config_text
from bots.faq_cli import render_suggestions
from tests.test_cli import ROOT, _config, _relaydesk

CONFIG = """
telegram: {token: "123456:abc"}
operators: {chat_id: -1001234567890}
storage: {url: "sqlite://DB"}
faq:
  - id: parking
    ru: {question: "Есть ли парковка?", phrasings: ["где оставить машину"], answer: "Во дворе."}
    en: {question: "Is there parking?", answer: "In the courtyard."}
  - id: wifi
    en: {question: "What is the wifi password?", answer: "At reception."}
"""


async def _run_with_stdin(args: list[str], stdin: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots", *args, cwd=ROOT, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_try_jsonl_keeps_each_object_and_adds_id_and_score(tmp_path: Path) -> None:
    cfg = _config(tmp_path, CONFIG.replace("DB", str(tmp_path / "db.sqlite3")))
    lines = [{"text": "парковка?", "lang": "ru", "ticket": 7}, {"text": "позовите оператора"},
             {"text": "my booking 5512 vanished"}]
    code, out, err = await _run_with_stdin(
        ["faq", "try", "-c", cfg, "--jsonl"],
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\nnot json\n")
    got = [json.loads(line) for line in out.splitlines()]
    assert [(g["text"], g["id"]) for g in got] == [
        ("парковка?", "parking"), ("позовите оператора", None),
        ("my booking 5512 vanished", None)]
    assert got[0]["lang"] == "ru" and got[0]["ticket"] == 7
    assert all(isinstance(g["score"], float) for g in got)
    assert code == 1 and "line 4: not JSON" in err  # a bad line is named, the rest answered


async def test_try_reads_questions_and_says_what_the_bot_would_do(tmp_path: Path) -> None:
    cfg = _config(tmp_path, CONFIG.replace("DB", str(tmp_path / "db.sqlite3")))
    code, out, _ = await _run_with_stdin(["faq", "try", "-c", cfg],
                                         "где оставить машину?\nпривет\nчасы сломались\n")
    assert code == 0
    assert "→ answer parking" in out and "Во дворе." in out
    assert "→ small talk (greeting)" in out and "→ not sure: hand over to a person" in out


async def test_check_lists_faq_problems_with_key_paths(tmp_path: Path) -> None:
    cfg = _config(tmp_path, CONFIG.replace("DB", "x") + """
  - id: wifi
    en: {question: "Wifi?", answer: ""}
  - id: Bad Id
    de: {question: "Parken?", answer: "Ja"}
selfservice: {texts: {de: {helped_button: "Hat geholfen"}}}
""")
    code, out = await _relaydesk("check", "-c", cfg)
    assert code == 2
    assert "faq[2].en.answer: answer is empty" in out
    assert "faq[3].id: 'Bad Id' is not a valid id" in out
    assert "selfservice.texts: de: helped_button must start with ✅" in out


def test_duplicate_ids_and_an_answer_too_long() -> None:
    from bots.config import ConfigError

    text = CONFIG.replace("DB", "x") + f"""
  - id: wifi
    en: {{question: "Wifi?", answer: "{'x' * 4001}"}}
"""
    try:
        load_config_text(text, env={})
    except ConfigError as exc:
        assert "faq[2].en.answer: too long for one message (4001 characters" in str(exc)
    else:
        raise AssertionError("accepted")
    try:
        load_config_text(text.replace("x" * 4001, "ok"), env={})
    except ConfigError as exc:
        assert "faq: duplicate id 'wifi': faq[1] and faq[2]" in str(exc)
    else:
        raise AssertionError("accepted")


def test_suggest_groups_operator_answers_by_entry_and_language() -> None:
    config = load_config_text(CONFIG.replace("DB", "x"), env={})
    text = render_suggestions(config, [
        ("parking", "ru", "где можно поставить авто?", 3),
        ("parking", "ru", "где оставить машину", 1),  # already a phrasing: left out
        ("parking", "en", "where do I leave the car?", 1),
        ("gone", None, "old question", 2),
    ])
    assert '- id: parking\n  en:\n    phrasings: ["where do I leave the car?"]' in text
    assert '  ru:\n    phrasings: ["где можно поставить авто?"]  # answered 3×' in text
    assert "- id: gone  # no such entry in this config any more" in text
    assert "где оставить машину" not in text


async def test_suggest_reads_the_database(tmp_path: Path) -> None:
    from core.selfservice.ports import Turn, TurnKind
    from storage.database import close_database, migrate, open_database
    from storage.selfservice import TortoiseSelfServiceStore

    url = f"sqlite://{tmp_path / 'db.sqlite3'}"
    await migrate(url)
    handle = await open_database(url, apply_migrations=False)
    try:
        await TortoiseSelfServiceStore().add_turn(Turn(
            1, datetime.now(UTC), TurnKind.OPERATOR, "wifi", None, "en", "wifi pass?"))
    finally:
        await close_database(handle)
    cfg = _config(tmp_path, CONFIG.replace("DB", str(tmp_path / "db.sqlite3")))
    code, out = await _relaydesk("faq", "suggest", "-c", cfg)
    assert code == 0, out
    assert '- id: wifi\n  en:\n    phrasings: ["wifi pass?"]  # answered 1×' in out
