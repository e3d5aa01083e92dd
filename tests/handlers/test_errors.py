"""A service's refusal becomes one localized message (handlers/errors.py), in zh and en."""

from __future__ import annotations

import pytest

from bot.i18n import translations
from bot.render import render
from bot.services.errors import AccessDenied, Conflict, Invalid, InvitationError, ServiceError
from handlers.errors import FALLBACKS, MESSAGES, explain


def test_the_vocabulary() -> None:
    denied = AccessDenied("customer 42")
    assert (denied.kind, denied.code, str(denied)) == ("access", "access.denied", "customer 42")
    invalid = Invalid("team.invalid", max_length=50)
    assert (invalid.kind, invalid.params) == ("invalid", {"max_length": 50})
    assert isinstance(invalid, ValueError)  # handlers that still catch ValueError keep working
    used = InvitationError("used")
    assert (used.code, used.reason) == ("invitation.used", "used")
    assert all(isinstance(e, ServiceError) for e in (denied, invalid, used, Conflict("record.changing")))


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_code_and_kind_has_a_translated_message(language: str) -> None:
    catalog = translations(language)
    for msgid in [*MESSAGES.values(), *FALLBACKS.values()]:
        if language == "zh":
            assert catalog.gettext(msgid) != msgid, msgid


def test_messages_take_their_params_in_each_language() -> None:
    assert explain(Invalid("team.invalid", max_length=50), "en") == "A team name needs 1 to 50 characters."
    assert explain(Invalid("team.invalid", max_length=50), "zh") == "团队名称需要 1 到 50 个字。"
    assert explain(Invalid("team.invalid"), "en") == "That cannot be done as asked."  # params missing


def test_fallbacks_by_kind() -> None:
    assert explain(AccessDenied("feedback 9"), "en") == render("en", "not_available")
    assert explain(AccessDenied("x"), "zh") == render("zh", "not_available")
    assert explain(Invalid("something.new"), "en") == "That cannot be done as asked."
    assert explain(Conflict("something.else"), "zh") == "有人刚刚同时修改了这条记录，请重试。"
    assert explain(InvitationError("expired"), "en") == render("en", "invitation_refused", reason="expired")
