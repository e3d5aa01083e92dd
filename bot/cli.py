"""The ``crm-bot`` command.

  crm-bot run      [--config PATH] [--webhook]      the bot against Telegram (token needed);
                                                    --webhook: Telegram POSTs to it, see README
  crm-bot console  [--config PATH] [--demo] [--as USER_ID]
                                                    chat with the bot in this terminal, no token
  crm-bot sandbox  [--port N] [--webhook-target URL]...
                                                    a local Bot API server for `run` to use
  crm-bot calendar --year YYYY [--language zh|en]   that year's festival dates
  crm-bot check    [--config PATH]                  validate and print the effective configuration
  crm-bot db current [--config PATH]                the stored data's schema/format version
  crm-bot db upgrade [--config PATH]                bring the stored data to this version's schema
  crm-bot export   [--config PATH] [--out FILE]     everything as an archive (+ workbook), bot running or not
  crm-bot backup   [--config PATH] [--dir DIR]      a consistent backup archive, bot running or not
  crm-bot restore  ARCHIVE [--config PATH] [--force]  into an empty store (--force: replace it)
  crm-bot migrate-store --from CONFIG --to URL [--force]  copy everything to another store, verified
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
import dataclasses
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
    run.add_argument(
        "--webhook", action="store_true",
        help="webhook mode (as [telegram] mode = \"webhook\"): serve webhook_url's path and "
             "/healthz on webhook_listen:webhook_port; needs webhook_url and webhook_secret",
    )

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
    sandbox.add_argument(
        "--webhook-target", action="append", metavar="URL",
        help="in webhook mode POST updates to this URL instead of the bot's webhook_url "
             "(repeat it: the URLs take turns, as behind a load balancer)",
    )

    calendar = commands.add_parser("calendar", help="print a year's festival dates (configured calendar)")
    calendar.add_argument("--year", type=int, required=True, help="Gregorian year, 1901-2099")
    calendar.add_argument("--language", choices=("zh", "en"), help="festival names in this language")
    calendar.add_argument("--config", metavar="PATH", help="configuration file")

    check = commands.add_parser("check", help="validate and print the effective configuration")
    check.add_argument("--config", metavar="PATH", help="configuration file")

    db = commands.add_parser("db", help="the store's schema version: show it, upgrade it")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    for name, text in (
        ("current", "show the stored data's schema revision (SQL) or format (TinyDB)"),
        ("upgrade", "migrate the stored data to this crm-bot's schema (stop the bot, back up first)"),
    ):
        action = db_commands.add_parser(name, help=text)
        action.add_argument("--config", metavar="PATH", help="configuration file")
    export = commands.add_parser("export", help="write everything as an archive (docs/archive-format.md)")
    export.add_argument("--config", metavar="PATH", help="configuration file")
    export.add_argument("--out", metavar="FILE", help="archive to write (default: crm-bot-export-<time>.zip)")

    backup = commands.add_parser("backup", help="write a consistent backup archive (the bot may run)")
    backup.add_argument("--config", metavar="PATH", help="configuration file")
    backup.add_argument("--dir", metavar="DIR", help="directory (default: [backup] directory, else .)")

    restore = commands.add_parser("restore", help="restore an archive into the configured store")
    restore.add_argument("archive", metavar="ARCHIVE", help="an archive from export or backup")
    restore.add_argument("--config", metavar="PATH", help="configuration file")
    restore.add_argument("--force", action="store_true",
                         help="replace a store that is not empty (TinyDB: the old directory is kept aside)")

    migrate = commands.add_parser("migrate-store", help="copy everything into another store, verified")
    migrate.add_argument("--from", dest="source", metavar="CONFIG", required=True,
                         help="configuration file of the store to copy")
    migrate.add_argument("--to", dest="target", metavar="URL", required=True,
                         help="postgresql+psycopg://…, sqlite:///FILE, or tinydb:DIRECTORY")
    migrate.add_argument("--force", action="store_true", help="replace a target that is not empty")
    migrate.add_argument("--batch", type=int, default=500, help="records per transaction (default 500)")
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
    if config.telegram.mode == "webhook" and not config.telegram.webhook_url.startswith("https://"):
        warnings.append("webhook_url is not https: Telegram only POSTs to HTTPS URLs "
                        "(ports 443, 80, 88 or 8443)")
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
            if args.webhook:
                config = with_mode(config, "webhook")
            return _run(config)
        if args.command == "console":
            from bot.console import run_console

            config = load_config(args.config)
            setup_logging("WARNING", [config.telegram.token])
            return asyncio.run(run_console(config, demo=args.demo, as_user=args.as_user))
        if args.command == "calendar":
            return _calendar(load_config(args.config), args.year, args.language)
        if args.command == "db":
            config = load_config(args.config)
            setup_logging("WARNING", [config.telegram.token])
            return asyncio.run(_db(config, args.db_command))
        if args.command in ("export", "backup", "restore", "migrate-store"):
            return _archive_command(args)
        if args.command == "import":
            from bot.import_cli import run_import

            config = load_config(args.config)
            setup_logging("WARNING", [config.telegram.token])
            return asyncio.run(run_import(config, args.file, args.owner, dry_run=args.dry_run,
                                          language=args.language))
        if args.command == "sandbox":
            from bot.sandbox.server import serve_forever

            setup_logging("INFO", [])
            asyncio.run(serve_forever(args.port, args.host, webhook_targets=args.webhook_target))
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


def with_mode(config: Config, mode: str) -> Config:
    """``config`` with ``[telegram] mode`` set, checked as the file's value would be."""
    try:
        telegram = dataclasses.replace(config.telegram, mode=mode)
    except ValueError as exc:
        raise ConfigError(f"[telegram] {exc}") from None
    return dataclasses.replace(config, telegram=telegram)
def _archive_command(args: argparse.Namespace) -> int:
    from bot import archive_cli

    setup_logging("WARNING", [])
    if args.command == "export":
        asyncio.run(archive_cli.export(load_config(args.config), args.out))
    elif args.command == "backup":
        asyncio.run(archive_cli.export(load_config(args.config), None, kind="backup", directory=args.dir))
    elif args.command == "restore":
        asyncio.run(archive_cli.restore(load_config(args.config), args.archive, force=args.force))
    else:
        if args.batch < 1:
            print("crm-bot: --batch must be at least 1", file=sys.stderr)
            return 2
        asyncio.run(archive_cli.migrate(load_config(args.source), args.target, force=args.force,
                                        batch=args.batch))
    return 0


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


def _storage_where(config: Config) -> str:
    if config.storage.backend == "sql":
        from storage.sql import database_url

        return database_url(config.storage.url).render_as_string(hide_password=True)
    return str(config.storage.path)


async def _db(config: Config, action: str) -> int:
    """``crm-bot db current`` (exit 1 unless the bot can start on the data) / ``db upgrade``."""
    from bot.runner import make_store

    store = make_store(config)
    where = f"{config.storage.backend} store {_storage_where(config)}"
    noun = "schema revision" if config.storage.backend == "sql" else "format"
    if action == "current":
        status = await store.schema_status()
        state = {
            "empty": f"empty (it gets {noun} {status.head} when the bot "
                     f"{'or `db upgrade` ' if config.storage.backend == 'sql' else ''}first opens it)",
            "current": f"{noun} {status.current}: up to date",
            "outdated": f"{noun} {status.current}, older than this crm-bot's {status.head}: "
                        "run `crm-bot db upgrade` (back up first)",
            "too new": f"{noun} {status.current}, newer than this crm-bot's {status.head}: "
                       "it was upgraded by a newer crm-bot",
        }[status.state]
        print(f"{where}: {state}")
        return 0 if status.state in ("empty", "current") else 1
    before = await store.upgrade()
    if before.current is None and config.storage.backend == "sql":
        print(f"{where}: was empty, created at {noun} {before.head}")
    elif before.current is None:
        print(f"{where}: nothing stored yet (it gets {noun} {before.head} when the bot opens it)")
    elif before.current == before.head:
        print(f"{where}: already at {noun} {before.head}, nothing to do")
    else:
        print(f"{where}: upgraded from {noun} {before.current} to {before.head}")
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
    from bot.webhook import WebhookListenError

    setup_logging(config.logging.level, [config.telegram.token, config.telegram.webhook_secret])
    try:
        return asyncio.run(run_until_signal(config))
    except WebhookListenError as exc:
        print(f"crm-bot: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
