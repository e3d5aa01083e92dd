"""Split Telegram HTML into messages that fit Telegram's 4096-character limit.

Cuts fall between lines where possible, never inside a tag or an entity;
tags open at a cut are closed at the end of one part and reopened at the
start of the next, so every part is valid HTML on its own. Past
``max_parts`` the rest is dropped and ``note`` says so.
"""

from __future__ import annotations

import re

TELEGRAM_TEXT_LIMIT = 4096
_TOKEN = re.compile(r"<[^<>]*>|&#?\w+;|\n|[^<&\n]+|[<&]")
_TAG = re.compile(r"<\s*(/)?\s*([a-zA-Z][\w-]*)")


def _tag(token: str) -> tuple[bool, str] | None:
    """(is_closing, name) for a tag token, None for text."""
    if not token.startswith("<") or not token.endswith(">"):
        return None
    match = _TAG.match(token)
    if not match:
        return None
    return bool(match.group(1)), match.group(2).lower()


def _lines(text: str) -> list[list[str]]:
    lines: list[list[str]] = [[]]
    for token in _TOKEN.findall(text):
        lines[-1].append(token)
        if token == "\n":
            lines.append([])
    return [line for line in lines if line]


def split_html(
    text: str, limit: int = TELEGRAM_TEXT_LIMIT, *, max_parts: int = 10, note: str = "…"
) -> list[str]:
    if len(text) <= limit:
        return [text]
    if limit < 200:
        raise ValueError("limit too small to split HTML sensibly")
    parts: list[str] = []
    stack: list[tuple[str, str]] = []  # (name, opening tag as written)
    current = ""
    reserve = len(note) + 1

    def closing() -> str:
        return "".join(f"</{name}>" for name, _ in reversed(stack))

    def reopening() -> str:
        return "".join(tag for _, tag in stack)

    def flush() -> None:
        nonlocal current
        parts.append(current + closing())
        current = reopening()

    def room(extra: str, stack_after: list[tuple[str, str]]) -> bool:
        close_len = sum(len(name) + 3 for name, _ in stack_after)
        return len(current) + len(extra) + close_len <= limit - reserve

    def apply(token: str) -> list[tuple[str, str]]:
        tag = _tag(token)
        if tag is None:
            return stack
        closing_tag, name = tag
        if closing_tag:
            for index in range(len(stack) - 1, -1, -1):
                if stack[index][0] == name:
                    return stack[:index]
            return stack
        return [*stack, (name, token)]

    for line in _lines(text):
        if len(parts) >= max_parts:
            break
        fresh = current == reopening()
        line_text = "".join(line)
        if not fresh and not room(line_text, stack):
            flush()
        for token in line:
            if len(parts) >= max_parts:
                break
            after = apply(token)
            while not room(token, after):
                if _tag(token) is None and not token.startswith("&") and len(token) > 1:
                    fit = (limit - reserve) - len(current) - sum(len(n) + 3 for n, _ in after)
                    if fit > 0:
                        current += token[:fit]
                        token = token[fit:]
                flush()
                if len(parts) >= max_parts:
                    break
            else:
                current += token
                stack = after
    if len(parts) >= max_parts:
        last = parts[-1]
        parts[-1] = last + "\n" + note
    elif current != reopening():
        parts.append(current + closing())
    return [part for part in parts if part.strip()]
