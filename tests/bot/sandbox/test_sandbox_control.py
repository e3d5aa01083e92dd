"""The control API (Python and HTTP) against a small scripted bot on PTB's real Bot."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import telegram

from bot.sandbox import (
    ButtonNotFound,
    SandboxError,
    SandboxEvent,
    SandboxServer,
    SandboxTimeout,
)

InlineButton = telegram.InlineKeyboardButton


def inline(*rows: list[InlineButton]) -> telegram.InlineKeyboardMarkup:
    return telegram.InlineKeyboardMarkup(list(rows))


def make_handler(tg: telegram.Bot) -> Callable[[telegram.Update], Any]:
    """A miniature CRM bot covering every kind of update the sandbox produces."""

    async def handle(update: telegram.Update) -> None:
        message = update.message
        if update.callback_query is not None:
            query = update.callback_query
            await query.answer(f"ok {query.data}")
            if query.data == "delete" and query.message is not None:
                await tg.delete_message(query.message.chat.id, query.message.message_id)
                return
            if query.data != "silent":
                await query.edit_message_text(
                    f"pressed {query.data}",
                    reply_markup=inline([InlineButton("Again", callback_data="again")]),
                )
            return
        if update.edited_message is not None:
            await update.edited_message.reply_text(f"edited: {update.edited_message.text}")
            return
        if message is None:
            return
        if message.contact is not None:
            contact = message.contact
            await message.reply_text(
                f"contact {contact.phone_number} {contact.first_name} {contact.user_id}"
            )
        elif message.document is not None:
            file = await message.document.get_file()
            data = await file.download_as_bytearray()
            await message.reply_text(
                f"got {message.document.file_name} {len(data)} bytes {message.caption}"
            )
        elif message.photo:
            size = message.photo[-1]
            await message.reply_text(f"photo {size.width}x{size.height}")
        elif message.text == "/start":
            await message.reply_text(
                "Welcome",
                reply_markup=telegram.ReplyKeyboardMarkup(
                    [
                        ["Add customer"],
                        [telegram.KeyboardButton("Share phone", request_contact=True)],
                    ]
                ),
            )
        elif message.text == "/menu":
            await message.reply_text(
                "<b>Menu</b>",
                parse_mode="HTML",
                reply_markup=inline(
                    [
                        InlineButton("Add customer", callback_data="add"),
                        InlineButton("Delete me", callback_data="delete"),
                    ],
                    [
                        InlineButton("Website", url="https://example.com"),
                        InlineButton("Quiet", callback_data="silent"),
                    ],
                ),
            )
        elif message.text == "/two":
            await message.reply_text("first")
            await message.reply_text("second")
        elif message.text == "silent":
            return
        else:
            await message.reply_text(f"echo: {message.text}")

    return handle


@pytest.fixture
async def crm(tg: telegram.Bot, scripted: Callable[..., Any]) -> Any:
    return scripted(make_handler(tg))


# -- Python control API ------------------------------------------------------------------


async def test_send_waits_for_the_reply(server: SandboxServer, crm: Any) -> None:
    alice = server.user(1001, first_name="Alice")
    replies = await alice.send("hello")
    assert [m.text for m in replies] == ["echo: hello"]
    assert [(m.from_bot, m.content) for m in alice.messages()] == [
        (False, "hello"),
        (True, "echo: hello"),
    ]
    replies = await alice.send("/two")
    assert [m.text for m in replies] == ["first", "second"]
    assert alice.last_message() is replies[-1]


async def test_press_inline_button_edits_in_place(server: SandboxServer, crm: Any) -> None:
    alice = server.user(1001)
    (menu,) = await alice.send("/menu")
    assert menu.html == "<b>Menu</b>" and menu.text == "Menu"
    assert menu.button_labels() == [["Add customer", "Delete me"], ["Website", "Quiet"]]
    replies = await alice.press("Add customer")
    assert replies == [menu]
    assert menu.edited and menu.text == "pressed add"
    assert menu.button_labels() == [["Again"]]
    assert alice.callback_answers[-1].text == "ok add"
    # By callback_data, and an answer-only reaction counts as a reaction.
    await alice.press("again")
    assert menu.text == "pressed again"
    (query_update,) = [u for u in crm.seen if u.callback_query][:1]
    assert query_update.callback_query.chat_instance
    assert query_update.callback_query.message.message_id == menu.message_id


async def test_press_answer_only_and_delete(server: SandboxServer, crm: Any) -> None:
    alice = server.user(1001)
    (menu,) = await alice.send("/menu")
    assert await alice.press("Quiet") == []
    assert alice.callback_answers[-1].data == "silent"
    assert await alice.press_button(menu.message_id, 0, 1) == []
    assert menu.deleted and alice.bot_messages() == []


async def test_press_errors(server: SandboxServer, crm: Any) -> None:
    alice = server.user(1001)
    (menu,) = await alice.send("/menu")
    with pytest.raises(SandboxError, match="is a url button"):
        await alice.press("Website")
    with pytest.raises(ButtonNotFound, match="no button 'Nope'") as caught:
        await alice.press("Nope")
    assert "Add customer" in str(caught.value)
    assert isinstance(caught.value, LookupError)
    with pytest.raises(ButtonNotFound):
        await alice.press_button(menu.message_id, 5, 0)


async def test_reply_keyboard_buttons(server: SandboxServer, crm: Any) -> None:
    alice = server.user(1001, first_name="Alice", phone_number="+8613800138000")
    await alice.send("/start")
    assert alice.reply_keyboard is not None
    replies = await alice.press("Add customer")
    assert [m.text for m in replies] == ["echo: Add customer"]
    replies = await alice.press("Share phone")
    assert [m.text for m in replies] == ["contact +8613800138000 Alice 1001"]
    assert alice.messages()[-2].contact == {
        "phone_number": "+8613800138000",
        "first_name": "Alice",
        "user_id": 1001,
    }


async def test_share_contact_document_photo_and_edit(
    server: SandboxServer, crm: Any, png: Callable[[int, int], bytes]
) -> None:
    alice = server.user(1001)
    replies = await alice.share_contact(phone_number="+8613800138000", first_name="张伟")
    assert replies[0].text == "contact +8613800138000 张伟 None"
    csv = "name\n张伟\n".encode()
    replies = await alice.send_document("leads.csv", csv, mime_type="text/csv", caption="import")
    assert replies[0].text == f"got leads.csv {len(csv)} bytes import"
    sent = alice.messages()[-2]
    assert sent.document is not None and sent.document.content == csv
    assert sent.document.mime_type == "text/csv"
    replies = await alice.send_photo(png(4, 3))
    assert replies[0].text == "photo 4x3"
    await alice.send("typo", wait=True)
    typo = next(m for m in alice.messages() if m.text == "typo")
    replies = await alice.edit(typo.message_id, "fixed")
    assert replies[0].text == "edited: fixed"


async def test_forged_callback_data(server: SandboxServer, crm: Any) -> None:
    alice = server.user(1001)
    (menu,) = await alice.send("/menu")
    await server.press_forged(alice, menu.message_id, "lang:set:xx")
    assert alice.callback_answers[-1]["text"] == "ok lang:set:xx"


async def test_timeouts_name_what_was_awaited(
    server: SandboxServer, scripted: Callable[..., Any]
) -> None:
    alice = server.user(1001)
    with pytest.raises(SandboxTimeout, match="fetch the update for message 'hello'"):
        await alice.send("hello", timeout=0.3)
    assert isinstance(SandboxTimeout("x"), TimeoutError)

    async def ignore(update: telegram.Update) -> None:
        return None

    scripted(ignore)
    with pytest.raises(SandboxTimeout, match="respond in chat 1001"):
        await alice.send("anyone?", timeout=0.5)


async def test_wait_for_reply_catches_messages_the_bot_sends_on_its_own(
    server: SandboxServer, tg: telegram.Bot, crm: Any
) -> None:
    alice = server.user(1001)

    waiting = asyncio.create_task(alice.wait_for_reply(timeout=3))
    await asyncio.sleep(0)  # the wait has begun and found nothing yet
    assert not waiting.done()
    await tg.send_message(1001, "⏰ Call Acme")
    replies = await waiting
    assert [m.text for m in replies] == ["⏰ Call Acme"]
    # After a wait=False action the reply is still caught, even if it is already there.
    await alice.send("later", wait=False)
    await server.wait_idle()
    assert [m.text for m in await alice.wait_for_reply(timeout=2)] == ["echo: later"]
    with pytest.raises(SandboxTimeout):
        await alice.wait_for_reply(timeout=0.2)


async def test_listeners_see_every_bot_event(server: SandboxServer, crm: Any) -> None:
    seen: list[tuple[str, int]] = []
    async_seen: list[str] = []

    def sync_listener(event: SandboxEvent) -> None:
        seen.append((event.kind, event.chat_id))

    async def async_listener(event: SandboxEvent) -> None:
        async_seen.append(event.kind)

    def broken(event: SandboxEvent) -> None:
        raise RuntimeError("listener bug")

    server.add_listener(sync_listener)
    remove = server.add_listener(async_listener)
    server.add_listener(broken)
    alice = server.user(1001)
    await alice.send("/menu")
    await alice.press("Add customer")
    (menu,) = alice.bot_messages()
    await alice.press_button(menu.message_id, 0, 0)
    await alice.press_forged(menu.message_id, "third")
    assert seen == [
        ("new", 1001),
        ("callback_answer", 1001),
        ("edited", 1001),
        ("callback_answer", 1001),
        ("edited", 1001),
        ("callback_answer", 1001),
        ("edited", 1001),
    ]
    await asyncio.sleep(0)
    assert async_seen == [kind for kind, _ in seen]
    remove()
    server.remove_listener(broken)
    await alice.send("x")
    assert len(async_seen) == len(seen) - 1


async def test_wait_idle(server: SandboxServer, crm: Any) -> None:
    alice = server.user(1001)
    bob = server.user(1002)
    await alice.send("a", wait=False)
    await bob.send("b", wait=False)
    await server.wait_idle()
    assert server.pending_updates == 0
    assert alice.last_message().text == "echo: a"  # type: ignore[union-attr]
    assert bob.last_message().text == "echo: b"  # type: ignore[union-attr]


async def test_wait_idle_times_out_without_a_bot(server: SandboxServer) -> None:
    await server.user(1001).send("nobody home", wait=False)
    with pytest.raises(SandboxTimeout, match="1 unconfirmed update"):
        await server.wait_idle(timeout=0.2)


async def test_block_sends_my_chat_member(server: SandboxServer, tg: telegram.Bot) -> None:
    alice = server.user(1001)
    alice.block()
    with pytest.raises(SandboxError, match="blocked the bot"):
        await alice.send("hi")
    alice.unblock()
    updates = await tg.get_updates()
    statuses = [u.my_chat_member.new_chat_member.status for u in updates if u.my_chat_member]
    assert statuses == ["kicked", "member"]


# -- HTTP control API ----------------------------------------------------------------------


async def control(
    http: aiohttp.ClientSession, server: SandboxServer, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, f"{server.control_url}{path}", **kwargs) as response:
        return response.status, await response.json()


async def test_http_control_conversation(
    server: SandboxServer, crm: Any, http: aiohttp.ClientSession
) -> None:
    status, body = await control(
        http,
        server,
        "POST",
        "/users",
        json={"id": 1001, "first_name": "Alice", "language_code": "zh"},
    )
    assert status == 200 and body["result"]["first_name"] == "Alice"
    status, body = await control(http, server, "POST", "/users/1001/send", json={"text": "/menu"})
    assert status == 200
    (menu,) = body["result"]
    assert menu["text"] == "Menu" and menu["html"] == "<b>Menu</b>" and menu["from_bot"]
    assert menu["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "add"
    status, body = await control(
        http, server, "POST", "/users/1001/press", json={"label": "Add customer"}
    )
    assert body["result"][0]["text"] == "pressed add" and body["result"][0]["edited"]
    status, body = await control(
        http,
        server,
        "POST",
        "/users/1001/press",
        json={"message_id": menu["message_id"], "row": 0, "col": 0},
    )
    assert body["result"][0]["text"] == "pressed again"
    status, body = await control(
        http,
        server,
        "POST",
        "/users/1001/press",
        json={"message_id": menu["message_id"], "data": "forged"},
    )
    assert body["result"][0]["text"] == "pressed forged"
    status, body = await control(http, server, "GET", "/users/1001/callback_answers")
    assert [a["text"] for a in body["result"]] == ["ok add", "ok again", "ok forged"]
    status, body = await control(
        http,
        server,
        "POST",
        "/users/1001/contact",
        json={"phone_number": "+8613800138000", "first_name": "张伟"},
    )
    assert body["result"][0]["text"] == "contact +8613800138000 张伟 None"
    status, body = await control(http, server, "GET", "/chats/1001/messages")
    assert [m["from_bot"] for m in body["result"]] == [False, True, False, True]
    status, body = await control(http, server, "GET", "/chats/1001/messages?bot_only=1")
    assert len(body["result"]) == 2
    status, body = await control(http, server, "GET", "/users")
    assert [u["id"] for u in body["result"]] == [1001]
    status, body = await control(http, server, "GET", "/info")
    assert body["result"]["token"] == server.token
    assert body["result"]["base_url"] == server.base_url


async def test_http_control_files(
    server: SandboxServer,
    crm: Any,
    http: aiohttp.ClientSession,
    png: Callable[[int, int], bytes],
) -> None:
    server.user(1001)
    form = aiohttp.FormData()
    form.add_field("document", b"a,b\n1,2\n", filename="deals.csv", content_type="text/csv")
    form.add_field("caption", "deals")
    status, body = await control(http, server, "POST", "/users/1001/document", data=form)
    assert status == 200 and body["result"][0]["text"] == "got deals.csv 8 bytes deals"
    photo = base64.b64encode(png(5, 6)).decode()
    status, body = await control(
        http, server, "POST", "/users/1001/photo", json={"content_base64": photo}
    )
    assert body["result"][0]["text"] == "photo 5x6"
    status, body = await control(http, server, "GET", "/chats/1001/messages")
    document = body["result"][0]["document"]
    assert document["file_name"] == "deals.csv" and document["mime_type"] == "text/csv"
    async with http.get(f"{server.control_url}/files/{document['file_id']}") as response:
        assert await response.read() == b"a,b\n1,2\n"


async def test_http_control_events_wait_and_errors(
    server: SandboxServer, crm: Any, http: aiohttp.ClientSession
) -> None:
    server.user(1001)
    status, body = await control(
        http, server, "POST", "/users/1001/send", json={"text": "hi", "wait": False}
    )
    assert status == 200 and body["result"] == []
    status, body = await control(http, server, "GET", "/events?after=0&timeout=3")
    assert [e["kind"] for e in body["result"]["events"]] == ["new"]
    assert body["result"]["events"][0]["message"]["text"] == "echo: hi"
    seq = body["result"]["seq"]
    status, body = await control(http, server, "GET", f"/events?after={seq}&timeout=0.1")
    assert body["result"]["events"] == []
    status, body = await control(http, server, "POST", "/wait_idle", json={"timeout": 5})
    assert (status, body) == (200, {"ok": True, "result": True})
    status, body = await control(http, server, "POST", "/users/42/send", json={"text": "x"})
    assert status == 404 and "unknown user 42" in body["error"]
    status, body = await control(http, server, "POST", "/users/1001/press", json={"label": "?"})
    assert status == 400 and "no button" in body["error"]
    status, body = await control(
        http, server, "POST", "/users/1001/send", json={"text": "silent", "timeout": 0.3}
    )
    assert status == 504 and "timed out" in body["error"]
    status, body = await control(http, server, "POST", "/users/1001/send", json={})
    assert status == 400


async def test_http_control_commands(
    server: SandboxServer, tg: telegram.Bot, http: aiohttp.ClientSession
) -> None:
    await tg.set_my_commands([("help", "帮助")], language_code="zh")
    status, body = await control(http, server, "GET", "/commands?language_code=zh")
    assert status == 200
    assert body["result"] == [{"command": "help", "description": "帮助"}]
    server.user(7, language_code="zh")
    _, body = await control(http, server, "GET", "/users/7")
    assert body["result"]["visible_commands"] == [{"command": "help", "description": "帮助"}]


async def test_concurrent_users_each_get_their_own_replies(server: SandboxServer, crm: Any) -> None:
    users = [server.user(2000 + index) for index in range(20)]
    results = await asyncio.gather(*(user.send(f"hi {user.id}") for user in users))
    for user, replies in zip(users, results, strict=True):
        assert [m.text for m in replies] == [f"echo: hi {user.id}"]
        assert all(m.chat_id == user.id for m in replies)
