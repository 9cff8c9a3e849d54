"""The matcher's quality on a labelled set: `python -m bench.faq [--faq F] [--messages M]
[--errors]`. Prints JSON: top-1 accuracy on the messages an entry answers, the share of the
messages that need a person (label null) answered anyway, and both per kind."""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.faq import HERE, load_faq, load_messages
from core.selfservice.analyzer import Analyzer
from core.selfservice.matcher import Decision, Matcher


def evaluate(matcher: Matcher, messages: list[dict[str, Any]]) -> dict[str, Any]:
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    answerable = right = nulls = answered_anyway = 0
    errors = []
    for item in messages:
        verdict = matcher.match(item["text"], item.get("lang"))
        got = verdict.entry_id if verdict.decision is Decision.ANSWER else None
        ok = got == item["id"]
        kind = per_kind[item.get("kind", "?")]
        kind[0] += ok
        kind[1] += 1
        if item["id"] is None:
            nulls += 1
            answered_anyway += got is not None
        else:
            answerable += 1
            right += ok
        if not ok:
            errors.append({"text": item["text"], "want": item["id"], "got": got,
                           "decision": str(verdict.decision), "score": verdict.score,
                           "best": verdict.runner_up, "kind": item.get("kind")})
    return {
        "messages": len(messages), "answerable": answerable, "null": nulls,
        "accuracy": round(right / answerable, 3) if answerable else None,
        "answered_anyway": round(answered_anyway / nulls, 3) if nulls else None,
        "per_kind": {k: {"right": r, "of": n, "share": round(r / n, 3)}
                     for k, (r, n) in sorted(per_kind.items())},
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faq")
    parser.add_argument("--faq", type=Path, default=HERE / "coworking.yaml")
    parser.add_argument("--messages", type=Path, default=HERE / "messages.jsonl")
    parser.add_argument("--errors", action="store_true", help="list every miss")
    args = parser.parse_args()
    started = time.perf_counter()
    matcher = Matcher(load_faq(args.faq), Analyzer())
    built = time.perf_counter() - started
    result = evaluate(matcher, load_messages(args.messages))
    if not args.errors:
        result.pop("errors")
    result["faq"] = str(args.faq.name)
    result["entries"] = len(matcher.faq)
    result["load_seconds"] = round(built, 3)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
