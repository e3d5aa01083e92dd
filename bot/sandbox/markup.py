"""Validation of ``reply_markup`` the way the Bot API checks it.

Keyboards are where CRM bots most often produce payloads Telegram rejects:
callback_data built from a customer name grows beyond 64 bytes, a button
ends up with no action, a copy_text is longer than allowed. Rejecting these
in the sandbox with Telegram's own wording keeps such bugs out of production.

:func:`validate_reply_markup` returns a normalised copy (string reply-keyboard
buttons become ``{"text": ...}``) that the sandbox stores and shows.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.errors import ApiError, bad_request
from bot.sandbox.limits import ApiLimits

INLINE_ACTIONS = (
    "callback_data",
    "url",
    "copy_text",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "login_url",
    "web_app",
    "callback_game",
    "pay",
)
"""Exactly one of these must be present on an inline keyboard button."""

REPLY_BUTTON_REQUESTS = (
    "request_contact",
    "request_location",
    "request_poll",
    "request_users",
    "request_chat",
    "web_app",
)
"""At most one of these may be present on a reply keyboard button."""

_URL_SCHEMES = ("http://", "https://", "tg://")


def _markup_error(reason: str) -> ApiError:
    return bad_request(f"can't parse reply keyboard markup JSON object: {reason}")


def validate_reply_markup(
    markup: Any, limits: ApiLimits, *, inline_only: bool = False
) -> dict[str, Any] | None:
    """Validate and normalise a decoded ``reply_markup`` object.

    ``inline_only`` is set for edit methods, which accept only
    InlineKeyboardMarkup.
    """
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        return {"inline_keyboard": _validate_inline_keyboard(markup["inline_keyboard"], limits)}
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        return _validate_reply_keyboard(markup, limits)
    if "remove_keyboard" in markup:
        if markup["remove_keyboard"] is not True:
            raise _markup_error('field "remove_keyboard" must be true')
        result: dict[str, Any] = {"remove_keyboard": True}
        if "selective" in markup:
            result["selective"] = bool(markup["selective"])
        return result
    if "force_reply" in markup:
        if markup["force_reply"] is not True:
            raise _markup_error('field "force_reply" must be true')
        result = {"force_reply": True}
        placeholder = markup.get("input_field_placeholder")
        if placeholder is not None:
            _check_placeholder(placeholder)
            result["input_field_placeholder"] = placeholder
        if "selective" in markup:
            result["selective"] = bool(markup["selective"])
        return result
    raise bad_request("can't parse reply keyboard markup JSON object")


def _validate_inline_keyboard(rows: Any, limits: ApiLimits) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list):
        raise _markup_error('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    total = 0
    result: list[list[dict[str, Any]]] = []
    for row in rows:
        if not isinstance(row, list):
            raise _markup_error(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        checked_row = []
        for button in row:
            checked_row.append(_validate_inline_button(button, limits))
            total += 1
        result.append(checked_row)
    if total > limits.max_buttons:
        raise bad_request("reply markup is too long")
    return result


def _button_error(reason: str) -> ApiError:
    return bad_request(f"can't parse inline keyboard button: {reason}")


def _validate_inline_button(button: Any, limits: ApiLimits) -> dict[str, Any]:
    if not isinstance(button, dict):
        raise _button_error("InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str):
        raise _button_error('Field "text" must be of type String')
    if not text.strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [key for key in INLINE_ACTIONS if button.get(key) is not None]
    if not actions:
        raise _button_error("Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise _button_error(
            "exactly one of the optional fields must be used, found " + ", ".join(actions)
        )
    action = actions[0]
    value = button[action]
    if action == "callback_data":
        if not isinstance(value, str):
            raise _button_error('Field "callback_data" must be of type String')
        size = len(value.encode("utf-8"))
        if size < 1 or size > limits.max_callback_data_bytes:
            raise bad_request("BUTTON_DATA_INVALID")
    elif action == "url":
        if not isinstance(value, str) or not _is_valid_url(value):
            raise bad_request("BUTTON_URL_INVALID")
    elif action == "copy_text":
        copy = value.get("text") if isinstance(value, dict) else None
        if not isinstance(copy, str):
            raise _button_error('Field "text" of CopyTextButton must be of type String')
        if not copy or len(copy) > limits.max_copy_text_length:
            raise bad_request("BUTTON_COPY_TEXT_INVALID")
    elif action in ("switch_inline_query", "switch_inline_query_current_chat"):
        if not isinstance(value, str):
            raise _button_error(f'Field "{action}" must be of type String')
    elif action in ("login_url", "web_app", "switch_inline_query_chosen_chat"):
        if not isinstance(value, dict):
            raise _button_error(f'Field "{action}" must be an Object')
        if action in ("login_url", "web_app") and not _is_valid_url(str(value.get("url", ""))):
            raise bad_request("BUTTON_URL_INVALID")
    return dict(button)


def _is_valid_url(url: str) -> bool:
    """Telegram accepts http(s)/tg links and bare domains like ``example.com``."""
    if not url or any(ch.isspace() for ch in url):
        return False
    if url.startswith(_URL_SCHEMES):
        return len(url.split("://", 1)[1]) > 0
    if "://" in url:
        return False
    host = url.split("/", 1)[0]
    return "." in host and not host.startswith(".") and not host.endswith(".")


def _check_placeholder(placeholder: Any) -> None:
    if not isinstance(placeholder, str) or len(placeholder) > 64:
        raise _markup_error("input_field_placeholder must be a String of 0-64 characters")


def _validate_reply_keyboard(markup: dict[str, Any], limits: ApiLimits) -> dict[str, Any]:
    rows = markup["keyboard"]
    if not isinstance(rows, list):
        raise _markup_error('field "keyboard" of the ReplyKeyboardMarkup must be an Array')
    total = 0
    checked_rows: list[list[dict[str, Any]]] = []
    for row in rows:
        if not isinstance(row, list):
            raise _markup_error(
                'field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays'
            )
        checked_row: list[dict[str, Any]] = []
        for button in row:
            if isinstance(button, str):
                button = {"text": button}
            if not isinstance(button, dict):
                raise _markup_error("KeyboardButton must be a String or an Object")
            text = button.get("text")
            if not isinstance(text, str):
                raise _markup_error('Field "text" of KeyboardButton must be of type String')
            if not text.strip():
                raise bad_request("BUTTON_TEXT_INVALID")
            requests = [
                key
                for key in REPLY_BUTTON_REQUESTS
                if button.get(key) is not None and button.get(key) is not False
            ]
            if len(requests) > 1:
                raise _markup_error(
                    "KeyboardButton can have at most one of the optional fields, found "
                    + ", ".join(requests)
                )
            checked_row.append(dict(button))
            total += 1
        checked_rows.append(checked_row)
    if total > limits.max_buttons:
        raise bad_request("reply markup is too long")
    result: dict[str, Any] = {"keyboard": checked_rows}
    for key in ("is_persistent", "resize_keyboard", "one_time_keyboard", "selective"):
        if key in markup:
            result[key] = bool(markup[key])
    if markup.get("input_field_placeholder") is not None:
        _check_placeholder(markup["input_field_placeholder"])
        result["input_field_placeholder"] = markup["input_field_placeholder"]
    return result


def inline_buttons(markup: dict[str, Any] | None) -> list[list[dict[str, Any]]]:
    """The inline keyboard rows of ``markup`` (empty if it has none)."""
    if not markup:
        return []
    rows = markup.get("inline_keyboard")
    return rows if isinstance(rows, list) else []
