"""Telegram's HTML parse mode, re-implemented so bad markup fails locally.

Telegram does not use a browser-style forgiving HTML parser: it accepts a
handful of tags, a handful of character references, and rejects everything
else with ``400 Bad Request: can't parse entities: ...``. A bot that
interpolates a customer name like ``"A<B GmbH"`` without escaping works with
a lenient renderer and breaks in production; this module makes it break in
tests too.

The algorithm follows tdlib's ``parse_html`` (td/telegram/MessageEntity.cpp)
closely, including its error texts, and produces the plain text plus
``MessageEntity`` dicts with offsets/lengths in UTF-16 code units, as the Bot
API returns them. :func:`format_text` then applies Telegram's trimming
(``fix_formatted_text``) and the empty/too-long checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.errors import bad_request

SUPPORTED_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins",
        "tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote",
    }
)  # fmt: skip

_SIMPLE_TAG_TYPES = {
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
    "span": "spoiler",
}

# tdlib's MessageEntity::get_type_priority: the tie-breaker when two entities
# share offset and length.
_TYPE_PRIORITY = {
    "mention": 50,
    "hashtag": 50,
    "bot_command": 50,
    "url": 50,
    "email": 50,
    "bold": 90,
    "italic": 91,
    "code": 20,
    "pre": 11,
    "text_link": 49,
    "text_mention": 49,
    "cashtag": 50,
    "phone_number": 50,
    "underline": 92,
    "strikethrough": 93,
    "blockquote": 0,
    "expandable_blockquote": 0,
    "spoiler": 94,
    "custom_emoji": 99,
}

# Entities that tdlib drops when they cover nothing but whitespace.
_WHITESPACE_SENSITIVE = frozenset(
    {"bold", "italic", "underline", "strikethrough", "spoiler", "blockquote",
     "expandable_blockquote"}
)  # fmt: skip

_HTML_SPACES = " \t\r\n\x0b\x0c\x00"
_TRAILING_SPACES = " \t\r\n\x0b\x0c"


class EntityParseError(ValueError):
    """Markup rejected by Telegram; ``str(exc)`` is tdlib's reason."""


@dataclass
class FormattedText:
    """Plain text plus Bot API ``MessageEntity`` dicts."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Bot API entity offsets."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8", "surrogatepass"))


def _decode_entity(source: str, pos: int) -> tuple[str, int] | None:
    """Decode a character reference at ``source[pos] == '&'``.

    Returns ``(character, next_index)`` or ``None`` when it is not one of the
    references Telegram knows (the ``&`` is then kept literally). Like tdlib,
    the terminating ``;`` is optional.
    """
    n = len(source)
    end = pos + 1
    if end < n and source[end] == "#":
        end += 1
        value = 0
        if end < n and source[end] == "x":
            end += 1
            while end < n and source[end] in "0123456789abcdefABCDEF":
                value = value * 16 + int(source[end], 16)
                end += 1
        else:
            while end < n and source[end].isascii() and source[end].isdigit():
                value = value * 10 + int(source[end])
                end += 1
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(value)
    else:
        while end < n and source[end].isascii() and source[end].isalpha():
            end += 1
        name = source[pos + 1 : end]
        named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
        if name not in named:
            return None
        char = named[name]
    if end < n and source[end] == ";":
        end += 1
    return char, end


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    text_index: int
    order: int


def parse_html(source: str) -> FormattedText:
    """Parse Telegram-flavoured HTML into text and entities.

    Raises :class:`EntityParseError` with tdlib's message on bad markup.
    """
    out: list[str] = []
    out_len = 0  # characters appended so far (for <a> without href)
    utf16 = 0
    stack: list[_OpenTag] = []
    entities: list[tuple[int, dict[str, Any]]] = []  # (open order, entity)
    order = 0
    n = len(source)
    i = 0

    def char_at(k: int) -> str:
        return source[k] if k < n else "\x00"

    while i < n:
        c = source[i]
        if c == "&":
            decoded = _decode_entity(source, i)
            if decoded is not None:
                char, i = decoded
                out.append(char)
                out_len += 1
                utf16 += utf16_len(char)
                continue
        if c != "<":
            out.append(c)
            out_len += 1
            utf16 += utf16_len(c)
            i += 1
            continue

        begin = i
        i += 1
        if char_at(i) != "/":
            while char_at(i) not in _HTML_SPACES and char_at(i) != ">":
                i += 1
            if i >= n:
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
                )
            tag = source[begin + 1 : i].lower()
            if tag not in SUPPORTED_TAGS:
                raise EntityParseError(
                    f'Unsupported start tag "{tag}" at byte offset {_byte_offset(source, begin)}'
                )
            argument, expandable, i = _parse_attributes(source, i, tag, begin)
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(source, begin)}"
                )
            if tag == "blockquote" and expandable:
                argument = "expandable"
            stack.append(_OpenTag(tag, argument, utf16, out_len, order))
            order += 1
            i += 1  # skip '>'
            continue

        # end tag
        if not stack:
            raise EntityParseError(
                f"Unexpected end tag at byte offset {_byte_offset(source, begin)}"
            )
        while char_at(i) not in _HTML_SPACES and char_at(i) != ">":
            i += 1
        end_name = source[begin + 2 : i].lower()
        while i < n and source[i] in _HTML_SPACES:
            i += 1
        if char_at(i) != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(source, begin)}")
        top = stack[-1]
        if end_name and end_name != top.name:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                f'expected "</{top.name}>", found "</{end_name}>"'
            )
        i += 1
        if utf16 > top.utf16_offset:
            inner = "".join(out[top.text_index :])
            _close_entity(top, utf16 - top.utf16_offset, inner, entities)
        stack.pop()

    if stack:
        raise EntityParseError(f"Can't find end tag corresponding to start tag {stack[-1].name}")

    result = [entity for _, entity in entities]
    for entity in result:
        entity.pop("_code_language", None)
    order_of = {id(entity): o for o, entity in entities}
    result.sort(
        key=lambda e: (
            e["offset"],
            -e["length"],
            _TYPE_PRIORITY.get(e["type"], 50),
            order_of[id(e)],
        )
    )
    return FormattedText("".join(out), result)


def _parse_attributes(source: str, i: int, tag: str, begin: int) -> tuple[str, bool, int]:
    """Parse attributes of a start tag; returns (argument, expandable, index of '>')."""
    n = len(source)

    def char_at(k: int) -> str:
        return source[k] if k < n else "\x00"

    argument = ""
    expandable = False
    while char_at(i) != ">":
        while i < n and source[i] in _HTML_SPACES:
            i += 1
        if char_at(i) == ">":
            break
        attr_begin = i
        while char_at(i) not in _HTML_SPACES and char_at(i) not in "=>":
            i += 1
        attr_name = source[attr_begin:i]
        if not attr_name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {_byte_offset(source, begin)}'
            )
        while i < n and source[i] in _HTML_SPACES:
            i += 1
        if char_at(i) != "=":
            if tag == "blockquote" and attr_name == "expandable":
                expandable = True
                continue
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                f"at byte offset {_byte_offset(source, begin)}"
            )
        i += 1
        while i < n and source[i] in _HTML_SPACES:
            i += 1
        if i >= n:
            raise EntityParseError(
                f'Unclosed start tag "{tag}" at byte offset {_byte_offset(source, begin)}'
            )
        if source[i] not in "'\"":
            token_begin = i
            while char_at(i).isascii() and (char_at(i).isalnum() or char_at(i) in ".-"):
                i += 1
            value = source[token_begin:i].lower()
            if char_at(i) not in _HTML_SPACES and char_at(i) != ">":
                raise EntityParseError(
                    "Unexpected end of name token at byte offset "
                    f"{_byte_offset(source, token_begin)}"
                )
        else:
            quote = source[i]
            i += 1
            chars: list[str] = []
            while i < n and source[i] != quote:
                if source[i] == "&":
                    decoded = _decode_entity(source, i)
                    if decoded is not None:
                        chars.append(decoded[0])
                        i = decoded[1]
                        continue
                chars.append(source[i])
                i += 1
            if i < n:
                i += 1  # closing quote
            value = "".join(chars)
        if i >= n:
            raise EntityParseError(
                f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
            )

        if tag == "a" and attr_name == "href":
            argument = value
        elif tag == "code" and attr_name == "class" and value.startswith("language-"):
            argument = value[len("language-") :]
        elif tag == "span" and attr_name == "class" and value.startswith("tg-"):
            argument = value[len("tg-") :]
        elif tag == "tg-emoji" and attr_name == "emoji-id":
            argument = value
        elif tag == "blockquote" and attr_name == "expandable":
            expandable = True
    return argument, expandable, i


def _close_entity(
    top: _OpenTag, length: int, inner: str, entities: list[tuple[int, dict[str, Any]]]
) -> None:
    """Turn a closed tag into an entity, merging <pre><code class=...> like tdlib."""
    offset = top.utf16_offset
    tag = top.name
    entity: dict[str, Any]
    if tag in _SIMPLE_TAG_TYPES:
        entity = {"type": _SIMPLE_TAG_TYPES[tag], "offset": offset, "length": length}
    elif tag == "tg-emoji":
        if not top.argument.isdigit() or int(top.argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entity = {
            "type": "custom_emoji",
            "offset": offset,
            "length": length,
            "custom_emoji_id": top.argument,
        }
    elif tag == "a":
        url = top.argument or inner
        if not _is_acceptable_link(url):
            return
        entity = {"type": "text_link", "offset": offset, "length": length, "url": url}
    elif tag == "pre":
        last = entities[-1][1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and last["offset"] == offset
            and last["length"] == length
            and last.get("_code_language")
        ):
            last["type"] = "pre"
            last["language"] = last.pop("_code_language")
            return
        entity = {"type": "pre", "offset": offset, "length": length}
    elif tag == "code":
        last = entities[-1][1] if entities else None
        if (
            last is not None
            and last["type"] == "pre"
            and "language" not in last
            and last["offset"] == offset
            and last["length"] == length
            and top.argument
        ):
            last["language"] = top.argument
            return
        entity = {"type": "code", "offset": offset, "length": length}
        if top.argument:
            entity["_code_language"] = top.argument
    elif tag == "blockquote":
        kind = "expandable_blockquote" if top.argument == "expandable" else "blockquote"
        entity = {"type": kind, "offset": offset, "length": length}
    else:  # pragma: no cover - SUPPORTED_TAGS guards this
        raise EntityParseError(f'Unsupported start tag "{tag}"')
    entities.append((top.order, entity))


def _is_acceptable_link(url: str) -> bool:
    """A rough version of tdlib's get_checked_link: non-empty, no spaces."""
    url = url.strip()
    return bool(url) and not any(ch.isspace() for ch in url)


def _utf16_prefix_chars(text: str, utf16_units: int) -> int:
    """Number of characters of ``text`` spanning ``utf16_units`` code units."""
    units = 0
    for index, ch in enumerate(text):
        if units >= utf16_units:
            return index
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def _utf16_slice(text: str, offset: int, length: int) -> str:
    start = _utf16_prefix_chars(text, offset)
    end = _utf16_prefix_chars(text, offset + length)
    return text[start:end]


def trim_formatted(formatted: FormattedText) -> FormattedText:
    """Apply Telegram's trimming (tdlib ``fix_formatted_text``).

    Trailing whitespace is removed and entities are clipped; leading spaces
    and newlines are removed up to the first entity. Formatting entities that
    cover only whitespace are dropped.
    """
    text = formatted.text
    entities = [dict(e) for e in formatted.entities]
    entities = [
        e
        for e in entities
        if e["length"] > 0
        and not (
            e["type"] in _WHITESPACE_SENSITIVE
            and not _utf16_slice(text, e["offset"], e["length"]).strip(_TRAILING_SPACES)
        )
    ]

    stripped = text.rstrip(_TRAILING_SPACES)
    if not stripped:
        return FormattedText("", [])
    limit = utf16_len(stripped)
    clipped: list[dict[str, Any]] = []
    for entity in entities:
        if entity["offset"] >= limit:
            continue
        if entity["offset"] + entity["length"] > limit:
            entity["length"] = limit - entity["offset"]
        clipped.append(entity)

    first_entity = min((e["offset"] for e in clipped), default=len(stripped))
    lead = 0
    while lead < first_entity and lead < len(stripped) and stripped[lead] in " \n":
        lead += 1
    if lead:
        stripped = stripped[lead:]
        for entity in clipped:
            entity["offset"] -= lead
    clipped.sort(key=lambda e: (e["offset"], -e["length"], _TYPE_PRIORITY.get(e["type"], 50)))
    return FormattedText(stripped, clipped)


def _checked_entities(entities: Any, text_units: int) -> list[dict[str, Any]]:
    """Validate explicitly passed ``entities`` (used instead of parse_mode)."""
    if not isinstance(entities, list):
        raise bad_request("can't parse entities JSON object")
    checked: list[dict[str, Any]] = []
    for entity in entities:
        if (
            not isinstance(entity, dict)
            or not isinstance(entity.get("type"), str)
            or not isinstance(entity.get("offset"), int)
            or not isinstance(entity.get("length"), int)
        ):
            raise bad_request(
                'can\'t parse MessageEntity: field "type", "offset" and "length" are required'
            )
        if entity["offset"] < 0 or entity["length"] < 0:
            raise bad_request("can't parse entities: entity with negative offset or length")
        if entity["offset"] + entity["length"] > text_units:
            entity = {**entity, "length": max(0, text_units - entity["offset"])}
        checked.append(dict(entity))
    return checked


def format_text(
    raw: str | None,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None = None,
    *,
    max_length: int,
    what: str = "text",
) -> FormattedText:
    """Parse, trim and length-check a message text or caption.

    ``what`` is ``"text"`` or ``"caption"`` and selects Telegram's error
    wording. Captions may be empty; texts may not.
    """
    is_caption = what == "caption"
    if raw is None or raw == "":
        if is_caption:
            return FormattedText("", [])
        raise bad_request("message text is empty")
    if entities is not None:
        formatted = FormattedText(raw, _checked_entities(entities, utf16_len(raw)))
    elif parse_mode is None or parse_mode == "":
        formatted = FormattedText(raw, [])
    elif parse_mode.lower() == "html":
        try:
            formatted = parse_html(raw)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    elif parse_mode.lower() in {"markdown", "markdownv2"}:
        raise bad_request(
            f"parse_mode {parse_mode} is not supported by the crm-bot sandbox; use HTML"
        )
    else:
        raise bad_request(f"unsupported parse_mode {parse_mode}")

    formatted = trim_formatted(formatted)
    if not formatted.text and not is_caption:
        raise bad_request("message text is empty")
    if len(formatted.text) > max_length:
        raise bad_request("message caption is too long" if is_caption else "message is too long")
    return formatted


__all__ = [
    "EntityParseError",
    "FormattedText",
    "format_text",
    "parse_html",
    "trim_formatted",
    "utf16_len",
]
