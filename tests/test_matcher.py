"""The FAQ matcher, pure: what it answers, what it hands over, and its quality on the
labelled sets in bench/faq (the figures docs/benchmarks.md reports are measured by
`python -m bench.faq`; here they are a floor that a change must not break)."""

from __future__ import annotations

import pytest

from bench.faq import HERE, load_faq, load_messages
from bench.faq.__main__ import evaluate
from core.selfservice.analyzer import Analyzer
from core.selfservice.intents import Smalltalk
from core.selfservice.matcher import Decision, Matcher


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture(scope="module")
def coworking(analyzer: Analyzer) -> Matcher:
    return Matcher(load_faq(HERE / "coworking.yaml"), analyzer)


@pytest.mark.parametrize(("text", "entry"), [
    ("парковка?", "parking"),
    ("skolko stoit abonement", "monthly_pass"),  # translit
    ("сколько стоит абонимент на месяц", "monthly_pass"),  # a typo
    ("сколько стоит day pass?", "day_pass"),  # Russian and English in one message
    ("Здравствуйте! А у вас есть парковка?", "parking"),  # a greeting around a question
    ("wifi pasword pls", "wifi"),
])
def test_answers(coworking: Matcher, text: str, entry: str) -> None:
    verdict = coworking.match(text)
    assert (verdict.decision, verdict.entry_id) == (Decision.ANSWER, entry)


@pytest.mark.parametrize("text", [
    "часы сломались через неделю, что делать?",  # shares "часы" with opening hours
    "администратор на ресепшене нагрубил",
    "с карты списали дважды за бронь 3391",
    "my desk booking 5512 vanished",
    "вайфай не работает уже час",
    "какая погода завтра",
    "почему " * 800,  # a 5 600-character message
])
def test_hands_over(coworking: Matcher, text: str) -> None:
    assert coworking.match(text).decision is Decision.UNSURE


@pytest.mark.parametrize(("text", "kind"), [
    ("привет", Smalltalk.GREETING), ("спасибо!", Smalltalk.THANKS), ("ок", Smalltalk.ACK),
    ("👍", Smalltalk.ACK), ("thanks a lot", Smalltalk.THANKS), ("пока", Smalltalk.BYE),
])
def test_small_talk_is_never_an_entry(coworking: Matcher, text: str, kind: Smalltalk) -> None:
    verdict = coworking.match(text)
    assert (verdict.decision, verdict.smalltalk, verdict.entry_id) == (
        Decision.SMALLTALK, kind, None)


@pytest.mark.parametrize("text", ["позовите оператора", "хочу поговорить с живым человеком",
                                  "/human", "can I talk to a real person?",
                                  "мне нужен сотрудник, а не бот", "pozovite operatora"])
def test_asking_for_a_person(coworking: Matcher, text: str) -> None:
    assert coworking.match(text).decision is Decision.PERSON


def test_people_counted_are_not_a_person_asked_for(coworking: Matcher) -> None:
    assert coworking.match("нужен офис на 5 человек").entry_id == "team_office"


@pytest.mark.parametrize(("text", "language"), [
    ("сколько стоит абонемент", "ru"), ("skolko stoit abonement", "ru"),
    ("how much is a day pass", "en"), ("сколько стоит day pass", "ru"), ("👍", None),
])
def test_language_of_the_text(coworking: Matcher, text: str, language: str | None) -> None:
    assert coworking.match(text).language == language


def test_an_empty_faq_answers_nothing(analyzer: Analyzer) -> None:
    from core.selfservice.faq import Faq

    assert Matcher(Faq(), analyzer).match("парковка?").decision is Decision.UNSURE


@pytest.mark.parametrize(("faq", "messages"), [
    ("coworking.yaml", "messages.jsonl"), ("flowers.yaml", "flowers.jsonl")])
def test_quality_floor_on_the_labelled_sets(analyzer: Analyzer, faq: str, messages: str
                                            ) -> None:
    result = evaluate(Matcher(load_faq(HERE / faq), analyzer), load_messages(HERE / messages))
    assert result["accuracy"] >= 0.85, result["errors"]
    assert result["answered_anyway"] <= 0.05, result["errors"]
