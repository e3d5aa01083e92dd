from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.textsplit import split_html


class Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.ok = True
        self.text = ""

    def handle_starttag(self, tag, attrs) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.ok = False

    def handle_data(self, data) -> None:
        self.text += data


def plain(html: str) -> str:
    parser = Balance()
    parser.feed(html)
    parser.close()
    assert parser.ok and not parser.stack, html[:200]
    return parser.text


def test_short_text_is_untouched() -> None:
    assert split_html("<b>hi</b>") == ["<b>hi</b>"]


def test_long_text_splits_between_lines_and_keeps_formatting() -> None:
    lines = [f"<b>{i}</b> customer <i>张伟 &amp; co</i>" for i in range(600)]
    text = "\n".join(lines)
    parts = split_html(text, max_parts=50)
    assert all(len(p) <= 4096 for p in parts)
    assert "".join(plain(p) for p in parts).replace("\n", "") == plain(text).replace("\n", "")


def test_open_tag_across_a_cut_is_closed_and_reopened() -> None:
    text = "<b>" + "x" * 9000 + "</b>"
    parts = split_html(text)
    assert len(parts) == 3
    for part in parts:
        assert part.startswith("<b>") and part.endswith("</b>")
        plain(part)


def test_too_long_is_truncated_with_a_note() -> None:
    parts = split_html("y" * 100_000, max_parts=3, note="(truncated)")
    assert len(parts) == 3
    assert parts[-1].endswith("(truncated)")
    assert all(len(p) <= 4096 for p in parts)


words = st.sampled_from(["客户", "hello", "&amp;", "&lt;", "😀", " ", "\n", "x" * 50, "\n\n"])
chunks = st.recursive(
    words,
    lambda inner: st.tuples(st.sampled_from(["b", "i", "code", "u"]), st.lists(inner, max_size=6)).map(
        lambda t: f"<{t[0]}>" + "".join(t[1]) + f"</{t[0]}>"
    ),
    max_leaves=40,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(chunks, min_size=1, max_size=200), st.integers(min_value=300, max_value=4096))
def test_every_part_fits_and_is_valid_html(pieces: list[str], limit: int) -> None:
    text = "".join(pieces)
    parts = split_html(text, limit, max_parts=1000)
    assert all(len(p) <= limit for p in parts)
    joined = "".join(plain(p) for p in parts)
    assert joined.replace("\n", "").replace(" ", "") == plain(text).replace("\n", "").replace(" ", "")
