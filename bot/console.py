"""``crm-bot console``: chat with the real bot in a terminal, through the local sandbox.

The sandbox Bot API server and the bot run in one event loop; the bot talks
to the sandbox over HTTP through python-telegram-bot's own stack, exactly
as it would talk to Telegram. What you type is sent as the current user;
what the bot sends to anyone is printed as it arrives.

Console commands (everything else is sent to the bot as typed):
  /as USER_ID          chat as another Telegram user (e.g. a rep, then their manager)
  /clock               show the bot's time
  /clock +2h | +1d | +30m | 2026-02-16 09:00
                       move the bot's clock forward; what the scheduler would have done
                       in that time happens now
  /contact PHONE NAME  share a contact card
  /file PATH           send a document
  /who                 list the demo users
  /quit                leave (so does end of input)
A number presses that inline button of the newest message with buttons;
a button's label presses it too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import mimetypes
import re
import sys
import tempfile
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
from bot.sandbox import NoReply
from bot.sandbox.server import FloodLimits, SandboxServer, SandboxTimeout

DEFAULT_CONSOLE_USER = 1


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


class Console:
    def __init__(
        self, server: SandboxServer, config: Config, clock: SimulatedClock, application: Any,
        out: TextIO, *, colour: bool, files_dir: Path,
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
            self.print(f"{prefix}(bot deleted message #{message.message_id})")
            return
        self.print(self.format_message(message, prefix, edited=(kind == "edited")))

    def format_message(self, message: Any, prefix: str = "", *, edited: bool = False) -> str:
        lines: list[str] = []
        head = f"{prefix}🤖 " + ("(edited) " if edited else "")
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
        data, name = self.server.file_content_for(message)
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / f"{message.message_id}-{name}"
        path.write_bytes(data)
        return str(path)

    # ---- input --------------------------------------------------------------------------
    def user(self, telegram_id: int) -> Any:
        default = self.config.locale.default_language
        demo = {p.telegram_id: p for p in DEMO_STAFF}
        person = demo.get(telegram_id)
        name = person.name if person else f"User {telegram_id}"
        self.names[telegram_id] = name
        return self.server.user(
            telegram_id, first_name=name, language_code=person.language if person else default
        )

    async def handle_line(self, line: str) -> bool:
        """Act on one line of input; False means leave."""
        text = line.rstrip("\n")
        if not text.strip():
            return True
        command, _, argument = text.strip().partition(" ")
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
        try:
            if command == "/contact" and argument:
                phone, _, name = argument.partition(" ")
                await user.share_contact(phone_number=phone, first_name=name or phone)
            elif command == "/file" and argument:
                path = Path(argument).expanduser()
                if not path.is_file():
                    self.print(f"(no such file: {path})")
                    return True
                mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                await user.send_document(filename=path.name, content=path.read_bytes(),
                                         mime_type=mime)
            else:
                await self.send_or_press(user, text)
        except (SandboxTimeout, NoReply):
            self.print("(the bot did not answer)")
        except LookupError as exc:
            self.print(f"({exc})")
        return True

    async def send_or_press(self, user: Any, text: str) -> None:
        message = next(
            (m for m in reversed(user.bot_messages())
             if (m.reply_markup or {}).get("inline_keyboard")),
            None,
        )
        if message is not None:
            buttons = [b for row in message.reply_markup["inline_keyboard"] for b in row]
            if text.strip().isdigit() and 1 <= int(text) <= len(buttons):
                index = int(text) - 1
                row_lengths = [len(r) for r in message.reply_markup["inline_keyboard"]]
                row = col = 0
                for row, length in enumerate(row_lengths):
                    if index < length:
                        col = index
                        break
                    index -= length
                await user.press_button(message.message_id, row, col)
                return
            if any(b.get("text") == text for b in buttons):
                await user.press(text)
                return
        await user.send(text)

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
    workdir = Path(tempfile.mkdtemp(prefix="crm-console-"))
    if demo:
        config.storage = dataclasses.replace(config.storage, backend="tinydb",
                                             path=str(workdir / "data"))
        config.access.admins = [DEMO_STAFF[0].telegram_id]
    elif not config.access.admins:
        config.access.admins = [DEFAULT_CONSOLE_USER]
    current = as_user or config.access.admins[0]

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
                              colour=interactive and stdout.isatty(), files_dir=workdir / "files")
            console.current = current
            console.user(current)
            if demo:  # every demo user has "started" the bot, so reminders can reach them
                for person in DEMO_STAFF:
                    console.user(person.telegram_id)
            server.add_listener(console.on_event)
            where = "demo data (thrown away on exit)" if demo else f"data in {config.storage.path}"
            console.print(
                f"crm-bot console — sandbox at {server.base_url}, {where}.\n"
                f"Chatting as {console.names[current]} (id {current}). "
                "Type /help, /who, /as ID, /clock +1d, /quit."
            )
            loop = asyncio.get_running_loop()
            while True:
                if interactive:
                    stdout.write(f"{console.names.get(console.current, console.current)} › ")
                    stdout.flush()
                line = await loop.run_in_executor(None, stdin.readline)
                if line == "":
                    break
                if not interactive and line.strip():
                    console.print(f"› {line.strip()}")
                if not await console.handle_line(line):
                    break
            await server.wait_idle()
    finally:
        await server.stop()
    return 0
