"""``crm-bot console``: chat with the real bot in a terminal, through the local sandbox.

The sandbox Bot API server and the bot run in one event loop; the bot talks
to the sandbox over HTTP through python-telegram-bot's own stack, exactly
as it would talk to Telegram. What you type is sent as the current user;
what the bot sends to anyone is printed as it arrives, each message with its
number in its chat and its inline buttons numbered. :data:`HELP` lists the
console's own commands and how to press buttons. Plain text, digits
included, is always sent to the bot as text, so a number typed at a rating
or amount step is an answer, never a button press.

Nothing a user does ends the console: what the sandbox refuses (a button no
update comes from, a file too large) is printed and the chat goes on. Piped
input is read one line at a time, each once the bot is idle again, so a
script never races a slow answer. A ``--demo`` data directory is removed on
exit, however the console ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import mimetypes
import re
import shutil
import sys
import tempfile
import threading
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar, TextIO

from bot.activity import ApplicationActivity
from bot.app import SCHEDULER_KEY
from bot.clock import SimulatedClock
from bot.config import Config
from bot.demo import DEMO_STAFF, load_demo
from bot.runner import make_store, running_bot
from bot.sandbox import NoReply, SandboxError
from bot.sandbox.server import FloodLimits, SandboxServer, SandboxTimeout
from bot.sandbox.state import SandboxMessage
from bot.sandbox.users import SandboxUser

log = logging.getLogger(__name__)

DEFAULT_CONSOLE_USER = 1

HELP = """\
Console commands (anything else is sent to the bot as you typed it):
  /as USER_ID          chat as another Telegram user (e.g. a rep, then their manager)
  /who                 list the demo users
  /clock               show the bot's time
  /clock +2h | +1d | +30m | +1w | 2026-02-16 09:00
                       move the bot's clock forward; what the scheduler would have done
                       in that time happens now
  /contact PHONE NAME  share a contact card
  /file PATH           send a document (a CSV, XLSX or vCard to import, ...)
  /photo PATH          send a photo
  /location LAT LON    share a location, e.g. /location 31.23 121.47
  /live LAT LON [SECONDS]
                       share a live location (for SECONDS, default 3600); while it lasts,
                       /live LAT LON moves it (an update, as the phone sends when you walk)
  /inline QUERY        type "@bot QUERY" as in any chat: the bot's inline results are listed
  /pick N              send inline result N of the last /inline into this chat
  /help                the bot's help, then this
  /quit                leave (so do end of input and Ctrl-C)
Buttons: every bot message shows its number, e.g. (12), and its inline buttons [1], [2], ...
  #2                   press button 2 of the newest message with buttons
  12.2                 press button 2 of message (12), any message still in the chat
  a button's label     press it (an inline button, or a menu button)
  \\TEXT                send TEXT as typed, e.g. \\12.2 or \\/as
Plain text, digits included, is always sent to the bot as text."""

BANNER_HINTS = (
    "Type /help for the console's commands. Buttons: #2 presses button 2 of the newest "
    "message with buttons, 12.2 button 2 of message (12); plain text is sent as text.\n"
    "Send files with /file PATH, photos with /photo PATH, a location with /location LAT LON, "
    "an inline query with /inline QUERY; /who, /as ID, /clock +1d, /quit."
)

_PRESS_NEWEST = re.compile(r"#(\d+)")
_PRESS_MESSAGE = re.compile(r"(\d+)\.(\d+)")


class _TerminalHTML(HTMLParser):
    """Telegram HTML to terminal text: bold/italic as ANSI when colours are on."""

    STYLES: ClassVar[dict[str, str]] = {"b": "1", "strong": "1", "i": "3", "em": "3", "u": "4", "ins": "4",
              "s": "9", "strike": "9", "del": "9", "code": "36", "pre": "36"}

    def __init__(self, colour: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.colour = colour
        self.out: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")
        if tag == "blockquote":
            self.out.append("│ ")
        if self.colour and tag in self.STYLES:
            self.out.append(f"\033[{self.STYLES[tag]}m")

    def handle_endtag(self, tag: str) -> None:
        if self.colour and tag in self.STYLES:
            self.out.append("\033[0m")
        if tag == "a" and self.links:
            link = self.links.pop()
            if link:
                self.out.append(f" <{link}>")

    def handle_data(self, data: str) -> None:
        self.out.append(data)


def html_to_terminal(text: str, colour: bool = False) -> str:
    parser = _TerminalHTML(colour)
    parser.feed(text)
    parser.close()
    return "".join(parser.out)


def parse_clock_argument(argument: str, now: datetime, tz: Any) -> datetime:
    """``+2h`` / ``+1d`` / ``+30m`` / ``+1w`` relative, or ``YYYY-MM-DD HH:MM`` local time."""
    argument = argument.strip()
    relative = re.fullmatch(r"\+\s*(\d+)\s*([mhdw])", argument)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        delta = {"m": timedelta(minutes=amount), "h": timedelta(hours=amount),
                 "d": timedelta(days=amount), "w": timedelta(weeks=amount)}[unit]
        return now + delta
    try:
        moment = datetime.fromisoformat(argument)
    except ValueError:
        raise ValueError(
            "use +30m, +2h, +1d, +1w or a date and time like 2026-02-16 09:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment



def button_kind(button: dict[str, Any]) -> str:
    """The Bot API field that says what an inline button does (``callback_data``, ``url``, …)."""
    return next((key for key in button if key != "text"), "unknown")


def what_telegram_does(button: dict[str, Any], bot_username: str) -> str:
    """What the Telegram app does when a button without callback_data is tapped."""
    kind = button_kind(button)
    value = button.get(kind)
    if kind == "copy_text":
        return f"📋 copied to the clipboard: {value.get('text', '') if isinstance(value, dict) else value}"
    if kind == "url":
        return f"🔗 Telegram opens {value}"
    if kind == "login_url":
        return f"🔗 Telegram opens {value.get('url', '')}, logged in with your Telegram account"
    if kind == "web_app":
        return f"🌐 Telegram opens the web app {value.get('url', '')}"
    if kind in ("switch_inline_query", "switch_inline_query_chosen_chat"):
        query = value.get("query", "") if isinstance(value, dict) else value
        return f"↪ Telegram asks you to pick a chat and types there: @{bot_username} {query}"
    if kind == "switch_inline_query_current_chat":
        return f"↪ Telegram types in this chat: @{bot_username} {value}"
    return f"(a {kind} button: the sandbox does not simulate it)"


def inline_query_of(button: dict[str, Any]) -> str | None:
    """The query a switch-inline button starts, or ``None`` for other buttons."""
    kind = button_kind(button)
    value = button.get(kind)
    if kind in ("switch_inline_query", "switch_inline_query_current_chat"):
        return str(value)
    if kind == "switch_inline_query_chosen_chat":
        return str(value.get("query", "")) if isinstance(value, dict) else ""
    return None


def flat_buttons(message: SandboxMessage) -> list[tuple[int, int, dict[str, Any]]]:
    """A message's inline buttons as (row, column, button), numbered 1… in this order."""
    return [(r, c, button) for r, row in enumerate(message.inline_keyboard)
            for c, button in enumerate(row)]


class Console:
    def __init__(
        self, server: SandboxServer, config: Config, clock: SimulatedClock, application: Any,
        out: TextIO, *, colour: bool, files_dir: Path | None = None,
    ) -> None:
        self.server = server
        self.config = config
        self.clock = clock
        self.application = application
        self.out = out
        self.colour = colour
        self.files_dir = files_dir
        self.current: int = DEFAULT_CONSOLE_USER
        self.names: dict[int, str] = {}
        self.inline_results: list[dict[str, Any]] = []

    # ---- output -------------------------------------------------------------------------
    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def on_event(self, event: Any) -> None:
        """Listener for everything the bot does in any chat."""
        kind = getattr(event, "kind", "")
        chat_id = getattr(event, "chat_id", None)
        prefix = "" if chat_id == self.current else f"→ to {self.names.get(chat_id, chat_id)}: "
        if kind == "callback_answer":
            text = getattr(event, "text", None)
            if text:
                self.print(f"{prefix}ⓘ {text}")
            return
        message = getattr(event, "message", None)
        if message is None:
            return
        if kind == "deleted":
            self.print(f"{prefix}(bot deleted message ({message.message_id}))")
            return
        self.print(self.format_message(message, prefix, edited=(kind == "edited")))

    def format_message(self, message: Any, prefix: str = "", *, edited: bool = False) -> str:
        lines: list[str] = []
        head = f"{prefix}({message.message_id}) 🤖 " + ("(edited) " if edited else "")
        body = message.html if getattr(message, "html", None) else (message.text or "")
        body = html_to_terminal(body, self.colour) if getattr(message, "html", None) else body
        if getattr(message, "photo", None) or getattr(message, "document", None):
            path = self.save_file(message)
            kind = "photo" if getattr(message, "photo", None) else "document"
            lines.append(f"{head}[{kind} saved to {path}]")
            if body:
                lines.append(body)
        else:
            lines.append(head + body)
        markup = getattr(message, "reply_markup", None) or {}
        number = 1
        for row in markup.get("inline_keyboard", []):
            cells = []
            for button in row:
                cells.append(f"[{number}] {button.get('text', '')}")
                number += 1
            lines.append("   " + "   ".join(cells))
        if markup.get("keyboard"):
            labels = " | ".join(b.get("text", "") if isinstance(b, dict) else str(b)
                                for row in markup["keyboard"] for b in row)
            lines.append(f"   menu: {labels}")
        return "\n".join(lines)

    def save_file(self, message: Any) -> str:
        """Keep a file the bot sent where the user can open it (kept after exit)."""
        data, name = self.server.file_content_for(message)
        if self.files_dir is None:
            self.files_dir = Path(tempfile.mkdtemp(prefix="crm-console-files-"))
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / f"{message.message_id}-{name}"
        path.write_bytes(data)
        return str(path)

    # ---- input --------------------------------------------------------------------------
    def user(self, telegram_id: int) -> SandboxUser:
        default = self.config.locale.default_language
        demo = {p.telegram_id: p for p in DEMO_STAFF}
        person = demo.get(telegram_id)
        name = person.name if person else f"User {telegram_id}"
        self.names[telegram_id] = name
        return self.server.user(
            telegram_id, first_name=name, language_code=person.language if person else default
        )

    async def handle_line(self, line: str) -> bool:
        """Act on one line of input; False means leave. No input ends the console."""
        text = line.rstrip("\n")
        if not text.strip():
            return True
        try:
            return await self.act(text)
        except NoReply:
            self.print("(the bot did not answer)")
        except SandboxTimeout as exc:
            self.print(f"(the bot did not finish in time: {exc})")
        except SandboxError as exc:
            self.print(f"({exc})")
        except Exception as exc:  # a console bug must not throw the chat and its data away
            log.debug("console action %r failed", text, exc_info=True)
            self.print(f"(console error: {type(exc).__name__}: {exc})")
        return True

    async def act(self, text: str) -> bool:
        if text.startswith("\\"):
            await self.user(self.current).send(text[1:])
            return True
        command, _, argument = text.strip().partition(" ")
        argument = argument.strip()
        if command == "/quit":
            return False
        if command == "/as":
            return self.switch_user(argument)
        if command == "/who":
            for person in DEMO_STAFF:
                self.print(f"  {person.telegram_id}  {person.name} ({person.role.value})")
            return True
        if command == "/clock":
            await self.move_clock(argument)
            return True
        user = self.user(self.current)
        if command == "/help":
            await user.send(text)
            self.print(HELP)
        elif command == "/contact" and argument:
            phone, _, name = argument.partition(" ")
            await user.share_contact(phone_number=phone, first_name=name.strip() or phone)
        elif command in ("/file", "/photo") and argument:
            await self.send_file(user, Path(argument).expanduser(), photo=command == "/photo")
        elif command == "/location" and argument:
            await self.send_location(user, argument)
        elif command == "/live" and argument:
            await self.send_live_location(user, argument)
        elif command == "/inline":
            await self.inline_query(user, argument)
        elif command == "/pick" and argument:
            await self.pick(user, argument)
        else:
            await self.send_or_press(user, text)
        return True

    async def send_file(self, user: SandboxUser, path: Path, *, photo: bool) -> None:
        if not path.is_file():
            self.print(f"(no such file: {path})")
            return
        if photo:
            await user.send_photo(path.read_bytes())
            return
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        await user.send_document(filename=path.name, content=path.read_bytes(), mime_type=mime)

    async def send_location(self, user: SandboxUser, argument: str) -> None:
        try:
            latitude, longitude = (float(part) for part in argument.replace(",", " ").split())
        except ValueError:
            self.print("(usage: /location LATITUDE LONGITUDE, e.g. /location 31.23 121.47)")
            return
        await user.send_location(latitude, longitude)

    async def send_live_location(self, user: SandboxUser, argument: str) -> None:
        """``/live LAT LON [SECONDS]``: a new live location with SECONDS, else move the current one."""
        parts = argument.replace(",", " ").split()
        try:
            latitude, longitude = float(parts[0]), float(parts[1])
            seconds = int(parts[2]) if len(parts) > 2 else None
            if len(parts) > 3:
                raise ValueError(argument)
        except (ValueError, IndexError):
            self.print("(usage: /live LATITUDE LONGITUDE [SECONDS], e.g. /live 31.23 121.47 3600)")
            return
        live = [m for m in user.messages() if not m.from_bot and not m.deleted and m.location
                and "live_period" in m.location]
        try:
            if live and seconds is None:
                await user.move_live_location(live[-1].message_id, latitude, longitude)
                return
            await user.send_location(latitude, longitude, live_period=seconds or 3600)
        except SandboxError as error:
            self.print(f"({error})")

    async def inline_query(self, user: SandboxUser, query: str) -> None:
        answer = await user.inline_query(query)
        self.inline_results = list(answer.get("results") or [])
        if not self.inline_results:
            self.print(f"(no inline results for @{self.server.bot_username} {query})")
            return
        self.print(f"inline results for @{self.server.bot_username} {query}:")
        for number, result in enumerate(self.inline_results, 1):
            description = result.get("description")
            self.print(f"   [{number}] {result.get('title', '')}"
                       + (f" — {description}" if description else ""))
        self.print("   (/pick N sends one into this chat)")

    async def pick(self, user: SandboxUser, argument: str) -> None:
        if not argument.isdigit() or not 1 <= int(argument) <= len(self.inline_results):
            self.print(f"(no inline result {argument}; /inline QUERY lists them)")
            return
        result = self.inline_results[int(argument) - 1]
        self.print(f"(you sent: {result['input_message_content']['message_text']})")
        await user.choose_inline_result(result)

    async def send_or_press(self, user: SandboxUser, text: str) -> None:
        """``#N`` and ``M.N`` press a button, a button's exact label too; the rest is text."""
        stripped = text.strip()
        newest = _PRESS_NEWEST.fullmatch(stripped)
        if newest:
            message = next((m for m in reversed(user.bot_messages()) if m.inline_keyboard), None)
            if message is None:
                self.print("(no message with buttons yet)")
                return
            await self.press_number(user, message, int(newest.group(1)))
            return
        numbered = _PRESS_MESSAGE.fullmatch(stripped)
        if numbered:
            message_id, number = int(numbered.group(1)), int(numbered.group(2))
            message = next((m for m in user.bot_messages() if m.message_id == message_id), None)
            if message is None:
                self.print(f"(no bot message ({message_id}) in this chat; \\{stripped} sends the text)")
                return
            await self.press_number(user, message, number)
            return
        for message in reversed(user.bot_messages()):
            for row, col, button in flat_buttons(message):
                if button.get("text") == text:
                    await self.press(user, message, row, col)
                    return
        reply_labels = [b.get("text") for row in (user.reply_keyboard or {}).get("keyboard", [])
                        for b in row]
        if text in reply_labels:
            await user.press(text)
            return
        await user.send(text)

    async def press_number(self, user: SandboxUser, message: SandboxMessage, number: int) -> None:
        buttons = flat_buttons(message)
        if not 1 <= number <= len(buttons):
            self.print(f"(message ({message.message_id}) has buttons 1 to {len(buttons)})"
                       if buttons else f"(message ({message.message_id}) has no buttons)")
            return
        row, col, _ = buttons[number - 1]
        await self.press(user, message, row, col)

    async def press(self, user: SandboxUser, message: SandboxMessage, row: int, col: int) -> None:
        """Tap a button: a callback goes to the bot; any other kind shows what Telegram does."""
        button = message.inline_keyboard[row][col]
        if "callback_data" in button:
            await user.press_button(message.message_id, row, col)
            return
        self.print(what_telegram_does(button, self.server.bot_username))
        query = inline_query_of(button)
        if query is not None:
            await self.inline_query(user, query)

    def switch_user(self, argument: str) -> bool:
        if not argument.strip().isdigit():
            self.print("(usage: /as USER_ID — see /who)")
            return True
        self.current = int(argument)
        self.user(self.current)
        self.print(f"(now chatting as {self.names[self.current]}, id {self.current})")
        return True

    async def move_clock(self, argument: str) -> None:
        tz = self.config.tz
        if argument.strip():
            try:
                target = parse_clock_argument(argument, self.clock.now(), tz)
                self.clock.set(target)
            except ValueError as exc:
                self.print(f"(clock: {exc})")
                return
            await self.application.bot_data[SCHEDULER_KEY].tick()
            await self.server.wait_idle()
        self.print(f"(bot time: {self.clock.now().astimezone(tz):%Y-%m-%d %H:%M %Z})")

    async def settle(self) -> None:
        """Wait until the bot is idle: every update done, no job or request in progress."""
        try:
            await self.server.wait_idle()
        except SandboxTimeout as exc:
            self.print(f"(the bot is still busy: {exc})")


async def read_line(stdin: TextIO) -> str:
    """One line of ``stdin``, read in a daemon thread so Ctrl-C never waits for Enter."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def deliver(line: str | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(line or "")

    def read() -> None:
        try:
            line, error = stdin.readline(), None
        except Exception as exc:  # noqa: BLE001 - handed to the event loop, raised there
            line, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (Ctrl-C)
            loop.call_soon_threadsafe(deliver, line, error)

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    return await future


async def run_console(
    config: Config,
    *,
    demo: bool = False,
    as_user: int | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin.isatty()
    clock = SimulatedClock()
    config = dataclasses.replace(config)
    config.telegram = dataclasses.replace(config.telegram, mode="polling")
    config.access = dataclasses.replace(config.access)
    config.storage = dataclasses.replace(config.storage)
    data_dir = Path(tempfile.mkdtemp(prefix="crm-console-demo-")) if demo else None
    try:
        if data_dir is not None:
            config.storage = dataclasses.replace(config.storage, backend="tinydb",
                                                 path=str(data_dir / "data"))
            config.access.admins = [DEMO_STAFF[0].telegram_id]
        elif not config.access.admins:
            config.access.admins = [DEFAULT_CONSOLE_USER]
        current = as_user or config.access.admins[0]
        await _chat(config, clock, current, demo=demo, interactive=interactive,
                    stdin=stdin, stdout=stdout)
    finally:  # also after Ctrl-C (the task is cancelled) and after an error
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


async def _chat(
    config: Config, clock: SimulatedClock, current: int, *, demo: bool, interactive: bool,
    stdin: TextIO, stdout: TextIO,
) -> None:
    server = SandboxServer(clock=lambda: clock.now().timestamp(), flood_limits=FloodLimits())
    await server.start()
    try:
        config.telegram = dataclasses.replace(
            config.telegram, api_base_url=server.base_url, file_base_url=server.file_base_url,
            token=server.token,
        )
        store = make_store(config)
        if demo:
            await store.open()
            await load_demo(store, clock, config.locale.timezone)
            await store.close()
        activity = ApplicationActivity()
        server.attach(activity)
        async with running_bot(config, clock=clock, store=store, token=server.token,
                               poll_timeout=1, activity=activity) as application:
            console = Console(server, config, clock, application, stdout,
                              colour=interactive and stdout.isatty())
            console.current = current
            console.user(current)
            if demo:  # every demo user has "started" the bot, so reminders can reach them
                for person in DEMO_STAFF:
                    console.user(person.telegram_id)
            server.add_listener(console.on_event)
            where = ("demo data in a temporary directory, removed on exit" if demo
                     else f"data in {config.storage.path}")
            console.print(
                f"crm-bot console — sandbox at {server.base_url}, {where}.\n"
                f"Chatting as {console.names[current]} (id {current}). {BANNER_HINTS}"
            )
            while True:
                if interactive:
                    stdout.write(f"{console.names.get(console.current, console.current)} › ")
                    stdout.flush()
                line = await read_line(stdin)
                if line == "":
                    break
                if not interactive and line.strip():
                    console.print(f"› {line.strip()}")
                if not await console.handle_line(line):
                    break
                if not interactive:  # a script's next line waits for everything this one caused
                    await console.settle()
            await console.settle()
    finally:
        await server.stop()
