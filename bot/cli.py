"""The ``crm-bot`` command.

  crm-bot run      [--config PATH]                  the bot against Telegram (token needed)
  crm-bot console  [--config PATH] [--demo] [--as USER_ID]
                                                    chat with the bot in this terminal, no token
  crm-bot sandbox  [--port N]                       a local Bot API server for `run` to use
  crm-bot calendar --year YYYY [--language zh|en]   that year's festival dates
  crm-bot check    [--config PATH]                  validate and print the effective configuration
  crm-bot import   FILE --owner ID [--dry-run] [--config PATH]
                                                    import customers from XLSX / CSV / vCard
  crm-bot --version

Output piped into a reader that stops early (``crm-bot check | head``) ends
the command quietly, as it does for other Unix tools. The bot token is never
printed: ``check`` masks it and ``run`` redacts it from error lines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from importlib import metadata

from bot.config import Config, ConfigError, load_config, render_effective
from bot.logs import setup_logging
from storage.base import StoreError

NO_TOKEN = (
    "crm-bot: no bot token. Set CRM_BOT_TOKEN (or [telegram] token in an untracked "
    "config.local.toml); to try the bot without a token run: crm-bot console --demo"
)


def version() -> str:
    try:
        return metadata.version("crm-bot")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="crm-bot", description="A sales team's CRM as a Telegram bot."
    )
    main.add_argument("--version", action="version", version=f"crm-bot {version()}")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the bot against Telegram (needs a token)")
    run.add_argument("--config", metavar="PATH", help="configuration file (default: config.toml)")

    console = commands.add_parser(
        "console", help="chat with the bot in this terminal through a local sandbox (no token)"
    )
    console.add_argument("--config", metavar="PATH", help="configuration file")
    console.add_argument(
        "--demo", action="store_true",
        help="start on a throw-away data directory with a demo team and customers",
    )
    console.add_argument(
        "--as", dest="as_user", type=int, metavar="USER_ID",
        help="chat as this Telegram user id (default: the first admin)",
    )

    sandbox = commands.add_parser("sandbox", help="serve a local Bot API server for `crm-bot run`")
    sandbox.add_argument("--port", type=int, default=8081, help="port (default 8081)")
    sandbox.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")

    calendar = commands.add_parser("calendar", help="print a year's festival dates (configured calendar)")
    calendar.add_argument("--year", type=int, required=True, help="Gregorian year, 1901-2099")
    calendar.add_argument("--language", choices=("zh", "en"), help="festival names in this language")
    calendar.add_argument("--config", metavar="PATH", help="configuration file")

    check = commands.add_parser("check", help="validate and print the effective configuration")
    check.add_argument("--config", metavar="PATH", help="configuration file")

    importing = commands.add_parser("import", help="import customers from an XLSX, CSV or vCard file")
    importing.add_argument("file", metavar="FILE", help="the .xlsx, .csv or .vcf file")
    importing.add_argument("--owner", required=True, metavar="ID",
                           help="who owns the imported customers: a staff id or Telegram user id")
    importing.add_argument("--dry-run", action="store_true", help="show the preview only; store nothing")
    importing.add_argument("--language", choices=("zh", "en"), help="language of the output")
    importing.add_argument("--config", metavar="PATH", help="configuration file")
    return main


def main(argv: list[str] | None = None) -> int:
    # Customer data (the store, the SQLite file, what libraries write beside them) is
    # for the bot's own user only: files 0600, directories 0700. See README, deployment.
    os.umask(0o077)
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`crm-bot check | head`): stop quietly. Point stdout at
        # /dev/null so the interpreter's final flush does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for other tools


def check_warnings(config: Config) -> list[str]:
    """What is valid but leaves the bot unusable."""
    warnings = []
    if not config.telegram.token:
        warnings.append("no bot token: `crm-bot run` will not start (set CRM_BOT_TOKEN); "
                        "`crm-bot console --demo` needs none")
    if not config.access.admins:
        warnings.append("no admins: nobody can register staff (set CRM_BOT_ADMINS to your "
                        "Telegram user id)")
    return warnings


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "check":
            config = load_config(args.config)
            print(render_effective(config))
            warnings = check_warnings(config)
            sys.stdout.flush()
            for warning in warnings:
                print(f"crm-bot: warning: {warning}", file=sys.stderr)
            print("\nconfiguration OK" if not warnings
                  else f"\nconfiguration valid, with {len(warnings)} warning(s)")
            return _check_storage(config)
        if args.command == "run":
            config = load_config(args.config)
            return _run(config)
        if args.command == "console":
            from bot.console import run_console

            config = load_config(args.config)
            setup_logging("WARNING", [config.telegram.token])
            return asyncio.run(run_console(config, demo=args.demo, as_user=args.as_user))
        if args.command == "calendar":
            return _calendar(load_config(args.config), args.year, args.language)
        if args.command == "import":
            from bot.import_cli import run_import

            config = load_config(args.config)
            setup_logging("WARNING", [config.telegram.token])
            return asyncio.run(run_import(config, args.file, args.owner, dry_run=args.dry_run,
                                          language=args.language))
        if args.command == "sandbox":
            from bot.sandbox.server import serve_forever

            setup_logging("INFO", [])
            asyncio.run(serve_forever(args.port, args.host))
            return 0
    except ConfigError as exc:
        print(f"crm-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"crm-bot: storage error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


def _check_storage(config: Config) -> int:
    """Damage the store found and worked around (``Store.damage``): said loudly, exit 1."""
    if config.storage.backend != "tinydb":
        return 0
    from storage import TinyDBStore

    reports = TinyDBStore.damage_in(config.storage.path)
    for report in reports:
        print(f"storage DAMAGED: {report.line()}")
    if reports:
        print("see docs/operations.md, 'Damaged data files'")
        return 1
    return 0


def _calendar(config: Config, year: int, language: str | None) -> int:
    from bot.domain.festivals import FestivalConfigError, calendar_lines, load_festivals

    if not 1901 <= year <= 2099:
        print("crm-bot: --year must be between 1901 and 2099", file=sys.stderr)
        return 2
    try:
        festivals = load_festivals(config.festivals.calendar_file or None)
    except FestivalConfigError as exc:
        print(f"crm-bot: {exc}", file=sys.stderr)
        return 2
    print("\n".join(calendar_lines(festivals, year, language or config.locale.default_language)))
    return 0


def _run(config: Config) -> int:
    if not config.telegram.token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    from bot.runner import run_until_signal

    setup_logging(config.logging.level, [config.telegram.token, config.telegram.webhook_secret])
    return asyncio.run(run_until_signal(config))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
