"""The matcher's speed and memory with a large FAQ: `python -m bench.faq.speed`.

The FAQ: the two labelled FAQs (52 entries) plus generated entries up to `--entries` (200),
each in Russian and English, askings built from the real entries' words so the vocabulary
and the overlap between entries look like a real FAQ's. The messages: both labelled sets
(414), matched once with the analyzer's word cache cold and then warm. Memory: the peak RSS
of a fresh process before and after loading the dictionary and building the matcher.
Prints JSON (and keeps it in bench/results/faq_speed.json).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from typing import Any

from bench.faq import HERE, load_messages
from bench.faq.generated import big_faq
from bench.report import emit, summary_ms


def _memory_probe(size: int) -> dict[str, float]:
    """Run in a fresh interpreter: peak RSS before and after building the matcher."""
    code = (
        "import time\n"
        "def peak():  # VmHWM: ru_maxrss survives exec, the parent's peak would show\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            return int(line.split()[1])\n"
        "from bench.faq.generated import big_faq\n"
        f"faq = big_faq({size})\n"
        "before = peak()\n"
        "t = time.perf_counter()\n"
        "from core.selfservice.analyzer import Analyzer\n"
        "from core.selfservice.matcher import Matcher\n"
        "m = Matcher(faq, Analyzer())\n"
        "took = time.perf_counter() - t\n"
        "m.match('сколько стоит абонемент на месяц')\n"
        "after = peak()\n"
        "print(before, after, took)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.split()
    before, after, took = int(out[0]), int(out[1]), float(out[2])
    return {"peak_rss_before_mb": round(before / 1024, 1),
            "peak_rss_after_mb": round(after / 1024, 1),
            "peak_rss_growth_mb": round((after - before) / 1024, 1),
            "load_seconds_fresh_process": round(took, 3)}


def run(size: int, rounds: int) -> dict[str, Any]:
    from core.selfservice.analyzer import Analyzer
    from core.selfservice.matcher import Matcher

    faq = big_faq(size)
    started = time.perf_counter()
    matcher = Matcher(faq, Analyzer())
    load = time.perf_counter() - started
    messages = [m["text"] for m in load_messages(HERE / "messages.jsonl")]
    messages += [m["text"] for m in load_messages(HERE / "flowers.jsonl")]
    passes: dict[str, list[float]] = {"cold_cache": [], "warm_cache": []}
    for name, times in passes.items():
        for _ in range(1 if name == "cold_cache" else rounds):
            for text in messages:
                t0 = time.perf_counter()
                matcher.match(text)
                times.append(time.perf_counter() - t0)
    return {
        "entries": len(faq), "languages": list(faq.languages),
        "askings": sum(len(a) for a in matcher.index.askings),
        "messages": len(messages),
        "load_seconds": round(load, 3),
        "match_cold_cache": summary_ms(passes["cold_cache"]),
        "match_warm_cache": summary_ms(passes["warm_cache"]),
        "memory": _memory_probe(size),
        "ru_maxrss_mb_this_process": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faq.speed")
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="warm passes over the messages")
    args = parser.parse_args()
    emit("faq_speed", run(args.entries, args.rounds))


if __name__ == "__main__":
    main()
