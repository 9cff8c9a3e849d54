"""Text entities: Telegram's HTML parse mode, UTF-16 offsets and auto-detected entities.

The parser follows TDLib's ``parse_html`` (the code behind the Bot API): same tag set, same
error texts ("Unsupported start tag ... at byte offset N"), offsets/lengths counted in UTF-16
code units, leading/trailing whitespace trimmed. One deliberate difference, switchable:
TDLib keeps an ``&`` that starts no valid entity literally, while ``strict_ampersand=True``
(the emulator default) rejects it, so code that forgets to escape customer text fails here
instead of working by luck.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import bad_request

Entity = dict[str, Any]

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
ALLOWED_TAGS = frozenset({*_SIMPLE_TAGS, "span", "a", "blockquote", "tg-emoji"})
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]{2,4}));")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _Open:
    __slots__ = ("argument", "byte_pos", "name", "offset")

    def __init__(self, name: str, argument: str | None, offset: int, byte_pos: int) -> None:
        self.name = name
        self.argument = argument
        self.offset = offset
        self.byte_pos = byte_pos


def _fail(reason: str) -> Exception:
    return bad_request(f"can't parse entities: {reason}")


def parse_html(source: str, *, strict_ampersand: bool = True) -> tuple[str, list[Entity]]:
    out: list[str] = []
    utf16 = 0
    entities: list[Entity] = []
    stack: list[_Open] = []
    pos = 0
    size = len(source)

    def byte_offset(index: int) -> int:
        return len(source[:index].encode("utf-8"))

    while pos < size:
        ch = source[pos]
        if ch == "&":
            match = _ENTITY_RE.match(source, pos)
            decoded = _decode_entity(match) if match else None
            if decoded is not None and match is not None:
                out.append(decoded)
                utf16 += utf16_len(decoded)
                pos = match.end()
                continue
            if strict_ampersand:
                raise _fail(
                    f'Character "&" at byte offset {byte_offset(pos)} must be escaped as "&amp;"'
                )
        if ch != "<":
            out.append(ch)
            utf16 += utf16_len(ch)
            pos += 1
            continue
        tag_start = pos
        pos += 1
        if pos < size and source[pos] == "/":
            pos = _close_tag(source, pos + 1, tag_start, stack, entities, utf16, byte_offset)
            continue
        name_start = pos
        while pos < size and not source[pos].isspace() and source[pos] not in ">":
            pos += 1
        if pos >= size:
            raise _fail(f"Unclosed start tag at byte offset {byte_offset(tag_start)}")
        name = source[name_start:pos].lower()
        if name not in ALLOWED_TAGS:
            raise _fail(f'Unsupported start tag "{name}" at byte offset {byte_offset(tag_start)}')
        argument, pos = _read_attributes(source, pos, name, tag_start, byte_offset)
        if name == "span" and argument != "tg-spoiler":
            raise _fail(
                f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(tag_start)}'
            )
        stack.append(_Open(name, argument, utf16, byte_offset(tag_start)))
        pos += 1  # the closing ">"

    if stack:
        raise _fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)  # only <pre><code class=...> keeps a language
    return trim("".join(out), entities)


def _decode_entity(match: re.Match[str]) -> str | None:
    decimal, hexadecimal, named = match.groups()
    if named is not None:
        return _NAMED_ENTITIES.get(named)
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _read_attributes(
    source: str, pos: int, tag: str, tag_start: int, byte_offset: Any
) -> tuple[str | None, int]:
    """Parse ``name="value"`` pairs up to ``>``; returns the tag's meaningful argument."""
    size = len(source)
    argument: str | None = None
    while True:
        while pos < size and source[pos].isspace():
            pos += 1
        if pos >= size:
            raise _fail(f"Unclosed start tag at byte offset {byte_offset(tag_start)}")
        if source[pos] == ">":
            return argument, pos
        attr_start = pos
        while pos < size and not source[pos].isspace() and source[pos] not in "=>/\"'":
            pos += 1
        attr = source[attr_start:pos].lower()
        if not attr:
            raise _fail(
                f'Empty attribute name in the tag "{tag}" at byte offset {byte_offset(tag_start)}'
            )
        while pos < size and source[pos].isspace():
            pos += 1
        if pos >= size:
            raise _fail(f'Unclosed start tag "{tag}" at byte offset {byte_offset(tag_start)}')
        if source[pos] != "=":
            if tag == "blockquote" and attr == "expandable":
                argument = "expandable"
            continue
        pos += 1
        while pos < size and source[pos].isspace():
            pos += 1
        if pos >= size:
            raise _fail(f'Unclosed start tag "{tag}" at byte offset {byte_offset(tag_start)}')
        if source[pos] in "\"'":
            quote = source[pos]
            end = source.find(quote, pos + 1)
            if end < 0:
                raise _fail(f"Unclosed start tag at byte offset {byte_offset(tag_start)}")
            value = _unescape_attribute(source[pos + 1 : end])
            pos = end + 1
        else:
            value_start = pos
            while pos < size and (source[pos].isalnum() or source[pos] in ".-"):
                pos += 1
            if pos >= size or not (source[pos].isspace() or source[pos] == ">"):
                raise _fail(f"Unexpected end of name token at byte offset {byte_offset(pos)}")
            value = source[value_start:pos].lower()
        if tag == "a" and attr == "href":
            argument = value
        elif tag == "code" and attr == "class" and value.startswith("language-"):
            argument = value.removeprefix("language-")
        elif (tag == "span" and attr == "class") or (tag == "tg-emoji" and attr == "emoji-id"):
            argument = value


def _unescape_attribute(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        return _decode_entity(match) or match.group(0)

    return _ENTITY_RE.sub(replace, value)


def _close_tag(
    source: str,
    pos: int,
    tag_start: int,
    stack: list[_Open],
    entities: list[Entity],
    utf16: int,
    byte_offset: Any,
) -> int:
    size = len(source)
    if not stack:
        raise _fail(f"Unexpected end tag at byte offset {byte_offset(tag_start)}")
    name_start = pos
    while pos < size and not source[pos].isspace() and source[pos] != ">":
        pos += 1
    end_name = source[name_start:pos].lower()
    while pos < size and source[pos].isspace():
        pos += 1
    if pos >= size or source[pos] != ">":
        raise _fail(f"Unclosed end tag at byte offset {byte_offset(tag_start)}")
    opened = stack.pop()
    if end_name and end_name != opened.name:
        raise _fail(
            f"Unmatched end tag at byte offset {byte_offset(tag_start)}, "
            f'expected "</{opened.name}>", found "</{end_name}>"'
        )
    length = utf16 - opened.offset
    if length > 0:
        entity = _entity_for(opened, length)
        if entity is not None:
            _merge_pre_code(entities, entity)
    return pos + 1


def _entity_for(opened: _Open, length: int) -> Entity | None:
    base: Entity = {"offset": opened.offset, "length": length}
    name = opened.name
    if name in _SIMPLE_TAGS:
        base["type"] = _SIMPLE_TAGS[name]
        if name == "code" and opened.argument:
            base["language"] = opened.argument
    elif name == "span":
        base["type"] = "spoiler"
    elif name == "blockquote":
        base["type"] = "expandable_blockquote" if opened.argument else "blockquote"
    elif name == "a":
        if not opened.argument:
            return None
        base["type"] = "text_link"
        base["url"] = opened.argument
    elif name == "tg-emoji":
        if not (opened.argument or "").isdigit():
            raise _fail("Invalid custom emoji identifier specified")
        base["type"] = "custom_emoji"
        base["custom_emoji_id"] = opened.argument
    return base


def _merge_pre_code(entities: list[Entity], entity: Entity) -> None:
    """``<pre><code class="language-x">`` is one ``pre`` entity with a language, as in TDLib."""
    if entities:
        last = entities[-1]
        same_span = last["offset"] == entity["offset"] and last["length"] == entity["length"]
        if same_span and {last["type"], entity["type"]} == {"pre", "code"}:
            language = last.get("language") or entity.get("language")
            last.clear()
            last.update(type="pre", offset=entity["offset"], length=entity["length"])
            if language:
                last["language"] = language
            return
    entities.append(entity)


def trim(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Telegram trims surrounding whitespace; entities are shifted/clipped to match."""
    stripped_left = text.lstrip()
    shift = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip()
    limit = utf16_len(result)
    clipped: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            clipped.append({**entity, "offset": start, "length": end - start})
    return result, sort_entities(clipped)


def sort_entities(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def validate_entities(text: str, entities: Any) -> list[Entity]:
    """Check an explicit ``entities`` array the way the server does (bounds, types)."""
    if entities is None:
        return []
    if not isinstance(entities, list):
        raise bad_request("can't parse entities JSON object")
    total = utf16_len(text)
    result: list[Entity] = []
    for item in entities:
        if not isinstance(item, dict) or "type" not in item:
            raise bad_request('can\'t parse MessageEntity: field "type" must be of type String')
        offset, length = int(item.get("offset", -1)), int(item.get("length", 0))
        if offset < 0 or length <= 0 or offset + length > total:
            continue  # Telegram silently drops entities that fall outside the text
        if item["type"] == "text_link" and not item.get("url"):
            raise bad_request("can't parse entities: text_link entity must have a url")
        result.append({**item, "offset": offset, "length": length})
    return sort_entities(result)


_DETECTORS = (
    ("bot_command", re.compile(r"(?<![\w/])/[a-zA-Z0-9_]{1,64}(?:@[a-zA-Z0-9_]{3,32})?(?!\w)")),
    ("mention", re.compile(r"(?<![\w@])@[a-zA-Z0-9_]{4,32}(?!\w)")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d_]\w*")),
    (
        "url",
        re.compile(r"(?<![\w@.])(?:https?://)?(?:[a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}(?:/[^\s<>\"]*)?"),
    ),
)


def detect_entities(text: str) -> list[Entity]:
    """Entities Telegram adds on its own to a user's message (commands, mentions, links)."""
    found: list[Entity] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _DETECTORS:
        for match in pattern.finditer(text):
            start, end = match.start(), match.end()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            found.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[:start]),
                    "length": utf16_len(text[start:end]),
                }
            )
    return sort_entities(found)
