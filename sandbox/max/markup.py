"""`format: html` as MAX reads it: the tags it knows become `markup`, others are stripped,
entities are decoded; the message's `text` is what the user reads."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

TAGS = {"b": "strong", "strong": "strong", "i": "emphasized", "em": "emphasized",
        "del": "strikethrough", "s": "strikethrough", "ins": "underline", "u": "underline",
        "a": "link", "pre": "monospaced", "code": "monospaced", "mark": "highlighted",
        "h1": "heading"}


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.markup: list[dict[str, Any]] = []
        self._open: list[tuple[str, int, dict[str, Any]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in TAGS:
            self._open.append((tag, len(self.text), dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            name, start, attrs = self._open[index]
            if name == tag:
                del self._open[index]
                item: dict[str, Any] = {"type": TAGS[tag], "from": start,
                                        "length": len(self.text) - start}
                if tag == "a":
                    item["url"] = attrs.get("href")
                self.markup.append(item)
                return

    def handle_data(self, data: str) -> None:
        self.text += data


def read(text: str, fmt: str | None) -> tuple[str, list[dict[str, Any]]]:
    """(the text users read, its markup) for a sent `text` in format `fmt`."""
    if fmt != "html":
        return text, []
    reader = _Reader()
    reader.feed(text)
    reader.close()
    return reader.text, reader.markup
