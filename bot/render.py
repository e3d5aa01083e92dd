"""Jinja2 rendering of the bot's messages.

Templates live in the ``templates`` package, one folder per language
(``templates/zh/welcome.html.j2``). Output is Telegram HTML, so every
variable is HTML-escaped unless a template marks it safe; the gettext
``_`` and ``ngettext`` of the language are available inside templates too.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound

from bot.i18n import translations


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("templates", ""),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        # The templates ship with the code: checking each one's mtime on every render (a stat
        # per message, on the loop) would only find them changed by a deploy, which restarts.
        auto_reload=False,
    )
    env.filters["datetime"] = format_datetime
    return env


def format_datetime(value: datetime | None, language: str = "en", tz: Any = None, *, weekday: bool = False) -> str:
    """A moment as people read it: the date in their language, 24-hour time, in ``tz``.

    With ``weekday``, the date names its day of the week (``Fri, Dec 4, 2026 09:00``,
    ``2026年12月4日周五 09:00``): what confirmation cards show, so a misread day is seen."""
    if value is None:
        return "—"
    locale = "zh_CN" if language == "zh" else "en"
    if tz is not None and isinstance(tz, str):
        tz = ZoneInfo(tz)
    day = format_skeleton("yMMMEd" if weekday else "yMMMd", value, tzinfo=tz, locale=locale)
    return f"{day} {format_skeleton('Hm', value, tzinfo=tz, locale=locale)}"


def render(language: str, template_name: str, /, **context: Any) -> str:
    """Render ``templates/<language>/<template_name>.html.j2`` to Telegram HTML."""
    env = environment()
    try:
        template = env.get_template(f"{language}/{template_name}.html.j2")
    except TemplateNotFound:
        raise LookupError(f"no template {template_name!r} for language {language!r}") from None
    catalog = translations(language)
    text = template.render(
        _=catalog.gettext, ngettext=catalog.ngettext, language=language, **context
    )
    return text.strip()


@cache
def warm_up() -> None:
    """Pay every first-use cost of rendering now (call it in a worker thread at start-up; once
    per process, later calls return at once).

    Compiling a template (~2 ms each, 192 of them), a language's catalog (~40 ms) and Babel's
    locale data for dates would otherwise happen on the event loop, in the first update
    that needs each.
    """
    from bot.i18n import LANGUAGES

    env = environment()
    for name in env.list_templates(filter_func=lambda name: name.endswith(".j2")):
        env.get_template(name)
    moment = datetime(2026, 1, 1, 12, 0, tzinfo=ZoneInfo("UTC"))
    for language in LANGUAGES:
        translations(language)
        format_datetime(moment, language, "Asia/Shanghai", weekday=True)
