"""`relaydesk faq try` and `relaydesk faq suggest`: what admins do with the FAQ before and
after a deploy.

`try` reads questions and prints what the bot would do with each. Interactive by default;
with `--jsonl` it reads one JSON object per line, `{"text": "...", "lang": "ru"}` (`lang`
optional), and writes one line per input: the same object plus `"id"` (the entry, or null
for a hand-over) and `"score"`. `suggest` prints, per entry and language, the customer
questions operators answered with `/faq <id>`, ready to paste into `phrasings:`.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import Any, TextIO

from bots.config import Config
from bots.selfservice import matcher_of
from core.selfservice.matcher import Decision, Matcher, Verdict
from core.selfservice.texts import CustomerTexts

EXIT_OK, EXIT_FAILURE = 0, 1


def try_faq(config: Config, *, jsonl: bool, stdin: TextIO = sys.stdin,
            stdout: TextIO = sys.stdout) -> int:
    if not config.faq:
        print("the config has no faq: entries to try", file=sys.stderr)
        return EXIT_FAILURE
    matcher = matcher_of(config)
    if jsonl:
        return _jsonl(matcher, stdin, stdout)
    texts = CustomerTexts(config.selfservice.texts)
    interactive = stdin.isatty()
    if interactive:
        print(f"{len(matcher.faq)} FAQ entries loaded. Type a customer's question "
              "(Ctrl+D to quit).", file=stdout)
    while True:
        if interactive:
            print("> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            return EXIT_OK
        if line.strip():
            verdict = matcher.match(line.strip(), config.selfservice.default_language)
            print(describe(verdict, matcher, texts, config.selfservice.default_language),
                  file=stdout, flush=True)


def _jsonl(matcher: Matcher, stdin: TextIO, stdout: TextIO) -> int:
    bad = 0
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        try:
            item: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            item = None
            reason = f"not JSON: {exc.msg}"
        else:
            reason = "expected an object with a \"text\" string"
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            bad += 1
            print(f"line {number}: {reason}", file=sys.stderr)
            continue
        lang = item.get("lang") if isinstance(item.get("lang"), str) else None
        verdict = matcher.match(item["text"], lang)
        answered = verdict.decision is Decision.ANSWER
        item["id"] = verdict.entry_id if answered else None
        item["score"] = verdict.score
        stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
        stdout.flush()
    return EXIT_FAILURE if bad else EXIT_OK


def describe(verdict: Verdict, matcher: Matcher, texts: CustomerTexts,
             default_language: str | None) -> str:
    """What the bot would do, in one or two lines for a person."""
    language = verdict.language or default_language
    if verdict.decision is Decision.ANSWER and verdict.entry_id:
        entry = matcher.faq.get(verdict.entry_id)
        assert entry is not None
        shown, text = entry.text(language, default_language)
        guess = f", next: {verdict.runner_up}" if verdict.runner_up else ""
        return (f"→ answer {verdict.entry_id} (score {verdict.score:.2f}{guess}; {shown}):\n"
                f"  {text.answer}")
    if verdict.decision is Decision.SMALLTALK:
        kind = str(verdict.smalltalk or "ack")
        return f"→ small talk ({kind}), replies: {texts.get(kind, language)}"
    if verdict.decision is Decision.PERSON:
        return "→ asks for a person: hand over"
    guess = f" (best guess {verdict.runner_up}, score {verdict.score:.2f})" \
        if verdict.runner_up else ""
    return f"→ not sure: hand over to a person{guess}"


async def suggest(config: Config, stdout: TextIO = sys.stdout) -> int:
    """Print the customer questions operators answered with each entry, as YAML."""
    from storage.database import close_database, open_database
    from storage.selfservice import TortoiseSelfServiceStore

    handle = await open_database(config.storage.tortoise_url, apply_migrations=False)
    try:
        answers = await TortoiseSelfServiceStore().operator_answers_by_language()
    finally:
        await close_database(handle)
    print(render_suggestions(config, answers), file=stdout)
    return EXIT_OK


def render_suggestions(config: Config, answers: list[tuple[str, str | None, str, int]]
                       ) -> str:
    """(entry, language, question, times) as paste-ready YAML; questions an entry already
    has are left out."""
    from bots.config_selfservice import faq_of

    faq = faq_of(config.faq)
    grouped: dict[str, dict[str, list[tuple[str, int]]]] = defaultdict(lambda: defaultdict(list))
    for entry_id, language, question, times in answers:
        entry = faq.get(entry_id)
        lang = language or config.selfservice.default_language or "en"
        known = {a.lower() for t in entry.texts.values() for a in t.askings} if entry else set()
        if question.lower() not in known:
            grouped[entry_id][lang].append((question, times))
    if not grouped:
        return "# No /faq answers recorded yet: operators' /faq <id> in a topic fills this."
    lines = ["# Customer questions operators answered with /faq, per entry: paste the ones",
             "# that fit into that entry's phrasings."]
    for entry_id, languages in sorted(grouped.items()):
        unknown = "" if faq.get(entry_id) else "  # no such entry in this config any more"
        lines.append(f"- id: {entry_id}{unknown}")
        for lang, questions in sorted(languages.items()):
            asked = ", ".join(json.dumps(q, ensure_ascii=False) for q, _ in questions)
            times = ", ".join(f"{n}×" for _, n in questions)
            lines += [f"  {lang}:", f"    phrasings: [{asked}]  # answered {times}"]
    return "\n".join(lines)
