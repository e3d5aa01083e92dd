"""The conversation engine itself, once for every form, on a small test-only form through the sandbox.

The form: name (text, required) → size (choice) → note (text, skippable) →
next contact (a day and time) → confirmation card (Save, one button per
field). What a form declares is its business; what is tested here is what
the engine does with any form: back, skip, cancel, bad input, field edits,
resume after a restart, and a save that happens exactly once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from telegram.ext import CommandHandler

from bot.domain.dates import parse_when
from bot.domain.validation import parse_name
from handlers import wizard
from handlers.wizard import Choice, Kind, Prompt, Step, Turn
from tests.conftest import ADMIN_ID
from tests.helpers import add_first, bot_in_sandbox

NOT_AVAILABLE = "This is not available."
ALREADY_SAVED = "Already saved — nothing was stored twice."
OUT_OF_DATE = "This card is out of date — here is the current one."
NOTHING_TO_SAVE = "This card is out of date: there is no draft to save any more."
DRAFT = "probe_form_draft"
SAVED: list[dict[str, Any]] = []


def _ask(turn: Turn, prompt: Prompt) -> str:
    text = f"{prompt.step.key}? now={turn.draft.get(prompt.step.key)!r}"
    return f"⚠️ {prompt.reason}\n{text}" if prompt.reason else text


def _confirm(turn: Turn, reason: str | None) -> str:
    values = {k: turn.draft.get(k) for k in ("name", "size", "note", "when")}
    return f"confirm {values}"


async def _on_save(turn: Turn) -> None:
    SAVED.append({k: turn.draft.get(k) for k in ("name", "size", "note", "when")})


async def _start(update: Any, context: Any) -> Any:
    return await wizard.begin(update, context, FORM, {})


async def _start_quick(update: Any, context: Any) -> Any:
    """Like a quick add whose name could not be read: the card is due, the name is asked first."""
    return await wizard.begin(update, context, FORM, {"size": "large"}, review=True, at="name")


FORM = wizard.Form(
    name="probe", conversation="probe_form", draft_key=DRAFT, ask=_ask, confirm=_confirm, on_save=_on_save,
    steps=(
        Step("name", Kind.TEXT, lambda text, _i: parse_name(text), label="Name"),
        Step("size", Kind.CHOICE, choices=lambda turn: [Choice("s", "small", "small"), Choice("l", "large", "large")],
             label="Size"),
        Step("note", Kind.TEXT, lambda text, _i: text.strip(), required=False, label="Note"),
        Step("when", Kind.WHEN, lambda text, i: parse_when(text, now=i.now, tz=i.tz).isoformat(), label="When"),
    ),
    entry_points=[CommandHandler("probe", _start), CommandHandler("probe_quick", _start_quick)],
)


def _configure(app: Any) -> None:
    add_first(app, wizard.conversation(FORM))


@pytest.fixture
def connect(sandbox: Any, config: Any, clock: Any) -> Callable[[], Any]:
    """Start the real bot (with the probe form) against the sandbox; call again for a restart."""
    config = dataclasses.replace(config, telegram=dataclasses.replace(
        config.telegram, api_base_url=sandbox.base_url, file_base_url=sandbox.file_base_url))

    @asynccontextmanager
    async def running() -> AsyncIterator[Any]:
        async with bot_in_sandbox(sandbox, config, clock=clock, configure=_configure,
                                  auto_tick=False) as app:
            yield app

    SAVED.clear()
    return running


@pytest.fixture
async def app(connect: Callable[[], Any]) -> AsyncIterator[Any]:
    async with connect() as application:
        yield application


@pytest.fixture
def ada(sandbox: Any) -> Any:
    return sandbox.user(ADMIN_ID, first_name="Ada", language_code="en")


async def fill(user: Any) -> Any:
    await user.send("/probe")
    await user.send("Li Lei")
    await user.press("large")
    await user.send("first note")
    replies = await user.send("tomorrow 3pm")
    assert replies[-1].text.startswith("confirm"), replies[-1].text
    return replies[-1]


async def test_back_goes_one_step_back_and_keeps_the_value(app: Any, ada: Any) -> None:
    await ada.send("/probe")
    await ada.send("Li Lei")
    replies = await ada.press("« Back")
    assert replies[-1].text == "name? now='Li Lei'"
    replies = await ada.send("/back")  # at the first step: asked again, nothing lost
    assert replies[-1].text == "name? now='Li Lei'"
    await ada.send("Han Meimei")
    await ada.press("small")
    replies = await ada.send("/back")
    assert replies[-1].text == "size? now='small'"
    assert app.user_data[ADMIN_ID][DRAFT]["name"] == "Han Meimei"


async def test_skip_only_where_a_step_is_optional(app: Any, ada: Any) -> None:
    await ada.send("/probe")
    replies = await ada.send("/skip")
    assert "Nothing was typed" in replies[-1].text and "name?" in replies[-1].text
    assert ["« Back", "Skip"] not in replies[-1].button_labels()
    await ada.send("Li Lei")
    await ada.press("small")
    replies = await ada.press("Skip")
    assert replies[-1].text == "when? now=None"
    assert app.user_data[ADMIN_ID][DRAFT]["note"] is None
    replies = await ada.send("tomorrow")
    assert "'note': None" in replies[-1].text


async def test_a_command_the_bot_does_not_have_re_asks_the_step(app: Any, ada: Any) -> None:
    await ada.send("/probe")
    await ada.send("Li Lei")
    await ada.press("small")
    replies = await ada.send("/0")
    assert "not a command I know" in replies[-1].text and "note?" in replies[-1].text
    replies = await ada.send("/help")  # a command the bot has still works mid-form
    assert "/add" in replies[-1].text
    assert app.user_data[ADMIN_ID][DRAFT]["name"] == "Li Lei"


async def test_cancel_drops_the_draft_and_saves_nothing(app: Any, ada: Any) -> None:
    await ada.send("/probe")
    await ada.send("Li Lei")
    replies = await ada.send("/cancel")
    assert "Nothing was saved" in replies[-1].text
    assert DRAFT not in app.user_data[ADMIN_ID]
    await ada.send("/probe")
    replies = await ada.press("✖ Cancel")
    assert "Nothing was saved" in replies[-1].text
    assert SAVED == []


async def test_bad_input_is_asked_again_with_a_reason_and_nothing_is_lost(app: Any, ada: Any) -> None:
    await ada.send("/probe")
    replies = await ada.send("🙂 123")
    assert replies[-1].text.startswith("⚠️ A name needs at least one letter.")
    await ada.send("Li Lei")
    replies = await ada.send("big")  # a choice step takes its buttons
    assert "Please choose one of the buttons." in replies[-1].text
    await ada.press_forged(replies[-1].message_id, "probe:size:xl")  # not among the offered choices
    assert ada.callback_answers[-1]["text"] == NOT_AVAILABLE
    await ada.press("large")
    await ada.send("a note")
    replies = await ada.send("sometime maybe")
    assert "could not read a time" in replies[-1].text and replies[-1].text.endswith("when? now=None")
    draft = app.user_data[ADMIN_ID][DRAFT]
    assert (draft["name"], draft["size"], draft["note"]) == ("Li Lei", "large", "a note")


async def test_back_on_the_first_step_of_a_card_never_shown_asks_it_again(app: Any, ada: Any) -> None:
    replies = await ada.send("/probe_quick")
    assert replies[-1].text == "name? now=None"
    assert "« Back" not in replies[-1].button_labels()[-1]  # nothing to go back to
    replies = await ada.press_forged(replies[-1].message_id, "probe:back:name")  # an old button
    assert replies[-1].text == "name? now=None"  # not forward to a card without a name
    replies = await ada.send("/back")
    assert replies[-1].text == "name? now=None"
    replies = await ada.send("Li Lei")
    assert replies[-1].text.startswith("confirm") and "'name': 'Li Lei'" in replies[-1].text
    await ada.press("Name")
    replies = await ada.press("« Back")  # once the card was shown, Back returns to it
    assert replies[-1].text.startswith("confirm")


async def test_a_field_edit_on_the_card_returns_to_the_card(app: Any, ada: Any) -> None:
    card = await fill(ada)
    assert card.button_labels() == [["✅ Save"], ["Name", "Size"], ["Note", "When"], ["✖ Cancel"]]
    replies = await ada.press("Size")
    assert replies[-1].text == "size? now='large'"
    assert "« Back" in replies[-1].button_labels()[-1]  # back to the card
    replies = await ada.press("small")
    assert replies[-1].text.startswith("confirm") and "'size': 'small'" in replies[-1].text
    await ada.press("Note")
    replies = await ada.press("« Back")
    assert replies[-1].text.startswith("confirm") and "'note': 'first note'" in replies[-1].text
    await ada.press("✅ Save")
    assert SAVED == [{"name": "Li Lei", "size": "small", "note": "first note", "when": SAVED[0]["when"]}]


async def test_save_happens_once_and_only_for_the_confirmed_draft(app: Any, ada: Any) -> None:
    card = await fill(ada)
    save = card.reply_markup["inline_keyboard"][0][0]["callback_data"]
    await ada.press_forged(card.message_id, save)
    replies = await ada.press_forged(card.message_id, save)  # the double tap
    assert len(SAVED) == 1 and ada.callback_answers[-1]["text"] == ALREADY_SAVED
    assert replies[-1].text == ALREADY_SAVED
    # A card that no longer shows the draft cannot save it.
    old = await fill(ada)
    old_save = old.reply_markup["inline_keyboard"][0][0]["callback_data"]
    await ada.press("Note")
    await ada.send("second note")
    replies = await ada.press_forged(old.message_id, old_save)
    assert ada.callback_answers[-1]["text"] == OUT_OF_DATE and len(SAVED) == 1
    assert replies[-1].text.startswith(f"⚠️ {OUT_OF_DATE}") is False  # the probe form shows no reason
    assert "'note': 'second note'" in replies[-1].text
    await ada.press("✅ Save")
    assert [s["note"] for s in SAVED] == ["first note", "second note"]
    # A Save from a card whose draft was cancelled: nothing to save.
    cancelled = await fill(ada)
    cancelled_save = cancelled.reply_markup["inline_keyboard"][0][0]["callback_data"]
    await ada.press("✖ Cancel")
    replies = await ada.press_forged(cancelled.message_id, cancelled_save)
    assert replies[-1].text == NOTHING_TO_SAVE and len(SAVED) == 2


def _lose_batched_writes(app: Any) -> None:
    """What ``kill -9`` does to PTB's persistence: nothing more is written after this moment
    — neither PTB's interval writes nor the final flush of a clean stop."""
    async def nothing(*_args: Any, **_kwargs: Any) -> None:
        return None

    for name in ("update_user_data", "update_chat_data", "update_conversation", "flush", "write_through", "finish"):
        setattr(app.persistence, name, nothing)


@pytest.fixture
def slow_persistence(sandbox: Any, config: Any, clock: Any) -> Callable[[], Any]:
    """The bot, but PTB's batched persistence would write only after an hour: only write-through counts."""
    config = dataclasses.replace(
        config,
        conversation=dataclasses.replace(config.conversation, persistence_interval_seconds=3600),
        telegram=dataclasses.replace(config.telegram, api_base_url=sandbox.base_url,
                                     file_base_url=sandbox.file_base_url))
    SAVED.clear()
    return lambda: bot_in_sandbox(sandbox, config, clock=clock, configure=_configure, auto_tick=False)


async def test_an_acknowledged_step_survives_a_kill(slow_persistence: Callable[[], Any], ada: Any) -> None:
    async with slow_persistence() as app:
        card = await fill(ada)
        _lose_batched_writes(app)
    async with slow_persistence() as app:
        assert app.user_data[ADMIN_ID][DRAFT]["note"] == "first note"
        replies = await ada.send("a typed reply at the confirmation")  # the state came back with the draft
        assert replies[-1].text.startswith("confirm")
        await ada.press_forged(card.message_id, card.reply_markup["inline_keyboard"][0][0]["callback_data"])
        assert len(SAVED) == 1 and SAVED[0]["note"] == "first note"


async def test_a_save_is_not_repeated_when_its_end_was_lost(slow_persistence: Callable[[], Any], ada: Any) -> None:
    """Killed after the save, before the draft left the store: the draft comes back, its Save does not."""
    async with slow_persistence() as app:
        card = await fill(ada)
        save = card.reply_markup["inline_keyboard"][0][0]["callback_data"]
        _lose_batched_writes(app)  # the draft's removal after the save is never written
        await ada.press("✅ Save")
        assert len(SAVED) == 1
    async with slow_persistence() as app:
        assert app.user_data[ADMIN_ID][DRAFT]["note"] == "first note"  # the draft outlived its save
        replies = await ada.press_forged(card.message_id, save)
        assert replies[-1].text == ALREADY_SAVED and len(SAVED) == 1
        assert DRAFT not in app.user_data[ADMIN_ID]


async def test_a_restart_mid_form_resumes_where_the_user_was(connect: Callable[[], Any], ada: Any) -> None:
    async with connect():
        await ada.send("/probe")
        await ada.send("Li Lei")
        replies = await ada.press("large")
        assert replies[-1].text == "note? now=None"
    async with connect() as app:
        replies = await ada.send("kept across the restart")
        assert replies[-1].text == "when? now=None"
        replies = await ada.send("tomorrow 9am")
        assert "'name': 'Li Lei', 'size': 'large', 'note': 'kept across the restart'" in replies[-1].text
        await ada.press("✅ Save")
        assert len(SAVED) == 1 and DRAFT not in app.user_data[ADMIN_ID]
