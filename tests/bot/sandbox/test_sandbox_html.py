"""Telegram-flavoured HTML: accepted markup, entities (UTF-16 offsets) and errors."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sandbox.errors import ApiError
from bot.sandbox.html_check import (
    EntityParseError,
    FormattedText,
    format_text,
    parse_html,
    trim_formatted,
    utf16_len,
)


def entity(kind: str, offset: int, length: int, **extra: str) -> dict[str, object]:
    return {"type": kind, "offset": offset, "length": length, **extra}


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        ("<b>bold</b> <strong>s</strong>", "bold s", [entity("bold", 0, 4), entity("bold", 5, 1)]),
        ("<i>a</i><em>b</em>", "ab", [entity("italic", 0, 1), entity("italic", 1, 1)]),
        ("<u>a</u><ins>b</ins>", "ab", [entity("underline", 0, 1), entity("underline", 1, 1)]),
        (
            "<s>a</s><strike>b</strike><del>c</del>",
            "abc",
            [entity("strikethrough", i, 1) for i in range(3)],
        ),
        (
            '<span class="tg-spoiler">a</span><tg-spoiler>b</tg-spoiler>',
            "ab",
            [entity("spoiler", 0, 1), entity("spoiler", 1, 1)],
        ),
        (
            '<a href="https://example.com/?a=1&amp;b=2">link</a>',
            "link",
            [entity("text_link", 0, 4, url="https://example.com/?a=1&b=2")],
        ),
        ("<code>x</code>", "x", [entity("code", 0, 1)]),
        ("<pre>x</pre>", "x", [entity("pre", 0, 1)]),
        (
            '<pre><code class="language-python">x = 1</code></pre>',
            "x = 1",
            [entity("pre", 0, 5, language="python")],
        ),
        ("<blockquote>q</blockquote>", "q", [entity("blockquote", 0, 1)]),
        ("<blockquote expandable>q</blockquote>", "q", [entity("expandable_blockquote", 0, 1)]),
        (
            '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
            "👍",
            [entity("custom_emoji", 0, 2, custom_emoji_id="5368324170671202286")],
        ),
        ("<B>upper</B>", "upper", [entity("bold", 0, 5)]),
        ("<b><i>x</i></b>", "x", [entity("bold", 0, 1), entity("italic", 0, 1)]),
        ("<b></b>empty", "empty", []),
    ],
)
def test_supported_tags_become_entities(source: str, text: str, entities: list[object]) -> None:
    parsed = parse_html(source)
    assert parsed.text == text
    assert parsed.entities == entities


def test_offsets_are_utf16_code_units() -> None:
    parsed = parse_html("😀 张伟 <b>VIP</b> 🎉<i>x</i>")
    # "😀" is two UTF-16 units, "张伟" one each.
    assert parsed.text == "😀 张伟 VIP 🎉x"
    assert parsed.entities == [entity("bold", 6, 3), entity("italic", 12, 1)]
    assert utf16_len("😀a") == 3


def test_character_references() -> None:
    parsed = parse_html("&lt;b&gt; &amp; &quot;q&quot; &#65;&#x42; &nbsp; &copy")
    # Unknown named references stay literal, like Telegram.
    assert parsed.text == '<b> & "q" AB &nbsp; &copy'


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("price <", "Unclosed start tag at byte offset 6"),
        ("<b>bold", "Can't find end tag corresponding to start tag b"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ('<a href="x" =1>y</a>', 'Empty attribute name in the tag "a" at byte offset 0'),
        ("<tg-emoji>x</tg-emoji>", "Invalid custom emoji identifier specified"),
        ("张<foo>", 'Unsupported start tag "foo" at byte offset 3'),
    ],
)
def test_invalid_markup_is_rejected_with_telegrams_reason(source: str, reason: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(source)
    assert str(caught.value) == reason


def test_format_text_wraps_parse_errors_as_bad_request() -> None:
    with pytest.raises(ApiError) as caught:
        format_text("Acme <GmbH>", "HTML", max_length=4096)
    assert caught.value.error_code == 400
    assert caught.value.description == (
        'Bad Request: can\'t parse entities: Unsupported start tag "gmbh" at byte offset 5'
    )


def test_trimming_like_telegram() -> None:
    trimmed = trim_formatted(parse_html("\n  <b>hi</b>  \n"))
    assert trimmed == FormattedText("hi", [entity("bold", 0, 2)])
    # Entities covering only whitespace are dropped; trailing spaces are cut off entities.
    trimmed = trim_formatted(parse_html("<b> </b>x<i>y  </i>"))
    assert trimmed == FormattedText("xy", [entity("italic", 1, 1)])


def test_length_is_counted_after_parsing() -> None:
    visible = "x" * 4096
    ok = format_text(f"<b>{visible}</b>", "HTML", max_length=4096)
    assert len(ok.text) == 4096
    with pytest.raises(ApiError, match="message is too long"):
        format_text(visible + "y", None, max_length=4096)
    with pytest.raises(ApiError, match="message caption is too long"):
        format_text("c" * 1025, None, max_length=1024, what="caption")


@pytest.mark.parametrize("raw", ["", "   ", "\n\n", "<b> </b>", None])
def test_empty_text_is_rejected(raw: str | None) -> None:
    with pytest.raises(ApiError) as caught:
        format_text(raw, "HTML", max_length=4096)
    assert caught.value.description == "Bad Request: message text is empty"


def test_markdown_is_refused_loudly() -> None:
    with pytest.raises(ApiError, match="not supported by the crm-bot sandbox"):
        format_text("*x*", "MarkdownV2", max_length=4096)


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60))
def test_escaped_text_round_trips(text: str) -> None:
    parsed = parse_html(html.escape(text, quote=False))
    assert parsed.text == text
    assert parsed.entities == []


@given(
    st.lists(
        st.tuples(st.sampled_from(["b", "i", "u", "s", "code"]), st.text(min_size=1, max_size=8)),
        max_size=6,
    )
)
def test_entity_offsets_match_the_text(parts: list[tuple[str, str]]) -> None:
    source = "".join(f"<{tag}>{html.escape(body, quote=False)}</{tag}>" for tag, body in parts)
    parsed = parse_html(source)
    utf16 = parsed.text.encode("utf-16-le")
    bodies = [body for _, body in parts]
    assert [
        utf16[e["offset"] * 2 : (e["offset"] + e["length"]) * 2].decode("utf-16-le")  # type: ignore[operator]
        for e in parsed.entities
    ] == bodies
