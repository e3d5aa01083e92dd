"""Bot API methods through PTB's real Bot (encoding + parsing) and raw HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import telegram
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError

from bot.sandbox import ApiLimits, FloodLimits, SandboxServer
from tests.helpers import ptb_bot


def lower(exc: pytest.ExceptionInfo[BaseException]) -> str:
    return str(exc.value).lower()


# -- identity, auth, routing ------------------------------------------------------------


async def test_get_me(tg: telegram.Bot, raw: Any) -> None:
    me = await tg.get_me()
    assert me.id == 123456 and me.is_bot and me.username == "crm_sandbox_bot"
    status, body = await raw("getMe")
    assert status == 200 and body["ok"] is True and body["result"]["id"] == 123456


async def test_wrong_token_is_401(raw: Any, server: SandboxServer) -> None:
    status, body = await raw("getMe", token="999:WRONG")
    assert status == 401
    assert body == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    bot = ptb_bot("999:WRONG", base_url=server.base_url)
    with pytest.raises(InvalidToken):
        await bot.get_me()


async def test_unsupported_method_is_400_not_silent(raw: Any, tg: telegram.Bot) -> None:
    status, body = await raw("sendSticker", chat_id=1, sticker="x")
    assert status == 400
    assert body == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: method sendSticker is not supported by the crm-bot sandbox",
    }
    with pytest.raises(BadRequest, match="not supported by the crm-bot sandbox"):
        await tg.set_chat_menu_button()


async def test_json_body_and_get_query_are_accepted(
    raw: Any, server: SandboxServer, http: aiohttp.ClientSession
) -> None:
    server.user(1001)
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    status, body = await raw(
        "sendMessage", json_body={"chat_id": 1001, "text": "json", "reply_markup": markup}
    )
    assert status == 200
    assert body["result"]["reply_markup"] == markup
    url = f"{server.base_url}{server.token}/sendMessage?chat_id=1001&text=query"
    async with http.get(url) as response:
        assert (await response.json())["result"]["text"] == "query"
    status, body = await raw("getMe", json_body={})
    assert status == 200


async def test_methods_are_case_insensitive(raw: Any) -> None:
    status, _ = await raw("GETME")
    assert status == 200


# -- sendMessage --------------------------------------------------------------------------


async def test_send_message_shape_and_ids(tg: telegram.Bot, server: SandboxServer) -> None:
    server.user(1001, first_name="Alice", username="alice")
    server.user(1002, first_name="Bob")
    first = await tg.send_message(1001, "<b>张伟</b> 😀 <i>VIP</i>", parse_mode="HTML")
    assert first.chat.id == 1001 and first.chat.type == "private"
    assert first.chat.username == "alice"
    assert first.from_user is not None and first.from_user.is_bot
    assert first.text == "张伟 😀 VIP"
    assert [(e.type, e.offset, e.length) for e in first.entities] == [
        ("bold", 0, 2),
        ("italic", 6, 3),
    ]
    second = await tg.send_message(1001, "two")
    other = await tg.send_message(1002, "other chat")
    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)
    stored = server.user(1001).last_message()
    assert stored is not None and stored.text == "two" and stored.html is None
    assert server.user(1001).bot_messages()[0].html == "<b>张伟</b> 😀 <i>VIP</i>"
    assert server.user(1001).bot_messages()[0].parse_mode == "HTML"


async def test_dates_come_from_the_injectable_clock() -> None:
    now = [1_767_225_600.7]
    sandbox = SandboxServer(clock=lambda: now[0], flood_limits=FloodLimits.disabled())
    await sandbox.start()
    try:
        bot = ptb_bot(sandbox.token, base_url=sandbox.base_url)
        sandbox.user(7)
        async with bot:
            message = await bot.send_message(7, "hi")
            assert int(message.date.timestamp()) == 1_767_225_600
            now[0] += 86_400
            edited = await bot.edit_message_text("hi!", chat_id=7, message_id=message.message_id)
            assert edited.edit_date is not None
            assert int(edited.edit_date.timestamp()) == 1_767_312_000
    finally:
        await sandbox.stop()


async def test_text_limits(tg: telegram.Bot, server: SandboxServer, raw: Any) -> None:
    server.user(1001)
    await tg.send_message(1001, "x" * 4096)
    await tg.send_message(1001, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest) as caught:
        await tg.send_message(1001, "x" * 4097)
    assert lower(caught) == "message is too long"
    for empty in ("", "   \n"):
        status, body = await raw("sendMessage", chat_id=1001, text=empty)
        assert (status, body["description"]) == (400, "Bad Request: message text is empty")
    status, body = await raw("sendMessage", chat_id=1001)
    assert body["description"] == "Bad Request: message text is empty"


async def test_html_errors(tg: telegram.Bot, server: SandboxServer, raw: Any) -> None:
    server.user(1001)
    with pytest.raises(BadRequest) as caught:
        await tg.send_message(1001, "Deal with <Acme> closed", parse_mode="HTML")
    assert "can't parse entities: unsupported start tag" in lower(caught)
    status, body = await raw("sendMessage", chat_id=1001, text="<b>open", parse_mode="HTML")
    assert status == 400
    assert body["description"] == (
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag b"
    )
    status, body = await raw("sendMessage", chat_id=1001, text="1 < 2", parse_mode="HTML")
    assert body["description"].startswith("Bad Request: can't parse entities: Unsupported")
    # Without parse_mode the same text is fine.
    status, _ = await raw("sendMessage", chat_id=1001, text="1 < 2")
    assert status == 200


async def test_unknown_and_blocked_chats(tg: telegram.Bot, server: SandboxServer) -> None:
    with pytest.raises(BadRequest) as caught:
        await tg.send_message(424242, "hi")
    assert lower(caught) == "chat not found"
    server.user(1001).block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await tg.send_message(1001, "hi")


async def test_reply_parameters(tg: telegram.Bot, server: SandboxServer) -> None:
    server.user(1001)
    first = await tg.send_message(1001, "first")
    reply = await tg.send_message(
        1001, "reply", reply_parameters=telegram.ReplyParameters(first.message_id)
    )
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == first.message_id
    with pytest.raises(BadRequest) as caught:
        await tg.send_message(1001, "x", reply_parameters=telegram.ReplyParameters(999))
    assert lower(caught) == "message to be replied not found"


# -- edits and deletes ---------------------------------------------------------------------


def keyboard(*labels: str) -> telegram.InlineKeyboardMarkup:
    return telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton(label, callback_data=label.lower()) for label in labels]]
    )


async def test_edit_message_text_replaces_in_place(tg: telegram.Bot, server: SandboxServer) -> None:
    user = server.user(1001)
    sent = await tg.send_message(1001, "Step 1", reply_markup=keyboard("Next"))
    edited = await tg.edit_message_text(
        "<b>Step 2</b>",
        chat_id=1001,
        message_id=sent.message_id,
        parse_mode="HTML",
        reply_markup=keyboard("Back", "Done"),
    )
    assert isinstance(edited, telegram.Message)
    assert edited.text == "Step 2" and edited.edit_date is not None
    stored = user.last_message()
    assert stored is not None and stored.message_id == sent.message_id
    assert stored.edited and stored.text == "Step 2" and stored.html == "<b>Step 2</b>"
    assert stored.button_labels() == [["Back", "Done"]]
    assert len(user.bot_messages()) == 1
    # Omitting reply_markup removes the inline keyboard, as on Telegram.
    await tg.edit_message_text("Step 3", chat_id=1001, message_id=sent.message_id)
    assert stored.reply_markup is None


async def test_edit_errors(tg: telegram.Bot, server: SandboxServer) -> None:
    user = server.user(1001)
    sent = await tg.send_message(1001, "same", reply_markup=keyboard("A"))
    with pytest.raises(BadRequest) as caught:
        await tg.edit_message_text(
            "same", chat_id=1001, message_id=sent.message_id, reply_markup=keyboard("A")
        )
    assert lower(caught) == (
        "message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )
    with pytest.raises(BadRequest) as caught:
        await tg.edit_message_text("x", chat_id=1001, message_id=999)
    assert lower(caught) == "message to edit not found"
    await user.send("from the user", wait=False)
    user_message = user.messages()[-1]
    with pytest.raises(BadRequest) as caught:
        await tg.edit_message_text("hijack", chat_id=1001, message_id=user_message.message_id)
    assert lower(caught) == "message can't be edited"


async def test_edit_message_reply_markup(tg: telegram.Bot, server: SandboxServer) -> None:
    user = server.user(1001)
    sent = await tg.send_message(1001, "pick", reply_markup=keyboard("A", "B"))
    result = await tg.edit_message_reply_markup(
        chat_id=1001, message_id=sent.message_id, reply_markup=keyboard("C")
    )
    assert isinstance(result, telegram.Message)
    assert result.reply_markup == keyboard("C")
    stored = user.last_message()
    assert stored is not None and stored.button_labels() == [["C"]] and stored.text == "pick"
    with pytest.raises(BadRequest, match="not modified"):
        await tg.edit_message_reply_markup(
            chat_id=1001, message_id=sent.message_id, reply_markup=keyboard("C")
        )
    await tg.edit_message_reply_markup(chat_id=1001, message_id=sent.message_id)
    assert stored.reply_markup is None


async def test_delete_message(tg: telegram.Bot, server: SandboxServer) -> None:
    user = server.user(1001)
    sent = await tg.send_message(1001, "bye")
    assert await tg.delete_message(1001, sent.message_id) is True
    assert user.messages()[0].deleted
    assert user.bot_messages() == [] and user.last_message() is None
    with pytest.raises(BadRequest) as caught:
        await tg.delete_message(1001, sent.message_id)
    assert lower(caught) == "message to delete not found"


async def test_delete_window_is_48_hours_of_the_injected_clock() -> None:
    now = [1_700_000_000.0]
    sandbox = SandboxServer(clock=lambda: now[0])
    await sandbox.start()
    try:
        sandbox.user(7)
        async with ptb_bot(sandbox.token, base_url=sandbox.base_url) as bot:
            old = await bot.send_message(7, "old")
            now[0] += 49 * 3600
            with pytest.raises(BadRequest, match="(?i)can't be deleted for everyone"):
                await bot.delete_message(7, old.message_id)
    finally:
        await sandbox.stop()


# -- callback answers, chat actions -------------------------------------------------------


async def test_answer_callback_query(tg: telegram.Bot, server: SandboxServer) -> None:
    user = server.user(1001)
    sent = await tg.send_message(1001, "menu", reply_markup=keyboard("Go"))
    await user.press("Go", wait=False)
    (update,) = await tg.get_updates(timeout=1)
    query = update.callback_query
    assert query is not None and query.data == "go"
    assert await query.answer("Saved", show_alert=True) is True
    answer = user.callback_answers[-1]
    assert (answer.text, answer.show_alert, answer.message_id) == ("Saved", True, sent.message_id)
    assert answer["text"] == "Saved"
    too_old = "query is too old and response timeout expired or query id is invalid"
    with pytest.raises(BadRequest) as caught:
        await query.answer("twice")
    assert lower(caught) == too_old
    with pytest.raises(BadRequest) as caught:
        await tg.answer_callback_query("no-such-query")
    assert lower(caught) == too_old


async def test_send_chat_action(tg: telegram.Bot, server: SandboxServer, raw: Any) -> None:
    user = server.user(1001)
    assert await tg.send_chat_action(1001, "typing") is True
    assert user.last_chat_action == "typing"
    status, body = await raw("sendChatAction", chat_id=1001, action="dancing")
    assert (status, body["description"]) == (400, "Bad Request: wrong parameter action in request")


# -- files ----------------------------------------------------------------------------------


async def test_send_photo_get_file_and_download(
    tg: telegram.Bot, server: SandboxServer, png: Callable[[int, int], bytes]
) -> None:
    user = server.user(1001)
    content = png(3, 2)
    message = await tg.send_photo(1001, content, caption="<i>Business card</i>", parse_mode="HTML")
    (size,) = message.photo
    assert (size.width, size.height, size.file_size) == (3, 2, len(content))
    assert message.caption == "Business card"
    assert message.caption_entities[0].type == "italic"
    file = await tg.get_file(size.file_id)
    assert file.file_path is not None and file.file_path.startswith(server.file_base_url)
    assert bytes(await file.download_as_bytearray()) == content
    stored = user.last_message()
    assert stored is not None and stored.photo is not None and stored.photo.content == content
    # Re-sending by file_id reuses the stored file.
    again = await tg.send_photo(1001, size.file_id)
    assert again.photo[-1].file_unique_id == size.file_unique_id


async def test_photo_limits(
    tg: telegram.Bot, server: SandboxServer, png: Callable[[int, int], bytes]
) -> None:
    server.user(1001)
    with pytest.raises(BadRequest) as caught:
        await tg.send_photo(1001, png(1, 1), caption="c" * 1025)
    assert lower(caught) == "message caption is too long"
    await tg.send_photo(1001, png(1, 1), caption="c" * 1024)
    with pytest.raises(BadRequest) as caught:
        await tg.send_photo(1001, png(1, 1) + b"\0" * (10 * 1024 * 1024))
    assert lower(caught) == "photo_save_file_invalid"
    with pytest.raises(BadRequest) as caught:
        await tg.send_photo(1001, png(1, 25))
    assert lower(caught) == "photo_invalid_dimensions"
    with pytest.raises(BadRequest) as caught:
        await tg.send_photo(1001, "no-such-file-id")
    assert lower(caught) == "wrong file identifier/http url specified"
    # Unknown image formats are accepted with 0x0 dimensions.
    message = await tg.send_photo(1001, b"not really an image")
    assert (message.photo[0].width, message.photo[0].height) == (0, 0)


async def test_send_document_and_resend(tg: telegram.Bot, server: SandboxServer) -> None:
    user = server.user(1001)
    content = "name,phone\n张伟,+8613800138000\n".encode()
    message = await tg.send_document(1001, content, filename="export.csv", caption="Export")
    document = message.document
    assert document is not None
    assert (document.file_name, document.mime_type, document.file_size) == (
        "export.csv",
        "text/csv",
        len(content),
    )
    file = await tg.get_file(document.file_id)
    assert bytes(await file.download_as_bytearray()) == content
    again = await tg.send_document(1001, document.file_id)
    assert again.document is not None and again.document.file_unique_id == document.file_unique_id
    stored = user.last_message()
    assert stored is not None and stored.document is not None
    assert server.file_content_for(stored) == (content, "export.csv")


async def test_document_size_limit(http: aiohttp.ClientSession) -> None:
    sandbox = SandboxServer(limits=ApiLimits(max_document_bytes=1000, max_download_bytes=500))
    await sandbox.start()
    try:
        sandbox.user(7)
        async with ptb_bot(sandbox.token, base_url=sandbox.base_url) as bot:
            with pytest.raises(NetworkError, match="Request Entity Too Large"):
                await bot.send_document(7, b"x" * 1001, filename="big.bin")
            sent = await bot.send_document(7, b"x" * 600, filename="medium.bin")
            assert sent.document is not None
            with pytest.raises(BadRequest) as caught:
                await bot.get_file(sent.document.file_id)
            assert lower(caught) == "file is too big"
        form = aiohttp.FormData()
        form.add_field("chat_id", "7")
        form.add_field("document", b"x" * 1001, filename="big.bin")
        async with http.post(f"{sandbox.base_url}{sandbox.token}/sendDocument", data=form) as resp:
            assert resp.status == 413
            assert (await resp.json())["error_code"] == 413
    finally:
        await sandbox.stop()


async def test_file_download_errors(server: SandboxServer, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server.file_base_url}{server.token}/photos/nope.jpg") as response:
        assert response.status == 404
    async with http.get(f"{server.file_base_url}999:X/photos/nope.jpg") as response:
        assert response.status == 401
    status_bad_id = 400
    async with http.post(
        f"{server.base_url}{server.token}/getFile", data={"file_id": "nope"}
    ) as response:
        body = await response.json()
        assert (response.status, body["description"]) == (
            status_bad_id,
            "Bad Request: invalid file_id",
        )


# -- commands, webhook -----------------------------------------------------------------------


async def test_commands_per_scope_and_language(tg: telegram.Bot, server: SandboxServer) -> None:
    private = telegram.BotCommandScopeAllPrivateChats()
    await tg.set_my_commands([("start", "Start"), ("help", "Help")], scope=private)
    await tg.set_my_commands([("help", "帮助")], scope=private, language_code="zh")
    await tg.set_my_commands([("admin", "Admin tools")], scope=telegram.BotCommandScopeChat(501))
    en = await tg.get_my_commands(scope=private)
    assert [(c.command, c.description) for c in en] == [("start", "Start"), ("help", "Help")]
    zh = await tg.get_my_commands(scope=private, language_code="zh")
    assert [(c.command, c.description) for c in zh] == [("help", "帮助")]
    assert await tg.get_my_commands() == ()
    assert server.commands({"type": "all_private_chats"}, "zh") == [
        {"command": "help", "description": "帮助"}
    ]
    # What a user sees follows Telegram's scope/language fallback.
    assert [c["command"] for c in server.user(501).visible_commands()] == ["admin"]
    assert [
        c["description"] for c in server.user(7, language_code="zh-hans").visible_commands()
    ] == ["帮助"]
    assert [c["command"] for c in server.user(8, language_code="de").visible_commands()] == [
        "start",
        "help",
    ]
    assert await tg.delete_my_commands(scope=private, language_code="zh") is True
    assert await tg.get_my_commands(scope=private, language_code="zh") == ()
    with pytest.raises(BadRequest) as caught:
        await tg.set_my_commands([("Bad-Command", "x")])
    assert lower(caught) == "bot_command_invalid"


async def test_webhook_methods(tg: telegram.Bot, server: SandboxServer) -> None:
    user = server.user(1001)
    await user.send("pending", wait=False)
    info = await tg.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 1
    assert await tg.delete_webhook(drop_pending_updates=True) is True
    assert (await tg.get_webhook_info()).pending_update_count == 0
    assert await tg.get_updates(timeout=0) == ()
