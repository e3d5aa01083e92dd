"""Why an input was refused, in the user's language: ValidationError reason codes to text.

The domain's parsers raise ``ValidationError(field, reason_code, **params)``;
this table is the one place that turns a code into a sentence (msgids are
translated by the catalogs; ``params`` fill the ``%(name)s`` slots).
"""

from __future__ import annotations

from typing import Any

from bot.domain.validation import ValidationError
from bot.i18n import gettext_for
from handlers.menu import N_

REASONS: dict[str, str] = {
    "text.empty": N_("Nothing was typed."),
    "text.too_long": N_("That is too long: %(length)s characters, at most %(max_length)s."),
    "name.no_letters": N_("A name needs at least one letter."),
    "phone.invalid": N_("That is not a phone number I can use. Example: 138 0013 8000 or +86 138 0013 8000."),
    "phone.too_short": N_("That phone number has too few digits."),
    "phone.too_long": N_("That phone number has too many digits."),
    "phone.invalid_country": N_("That country code (after + or 00) does not exist."),
    "phone.missing_area_code": N_("A landline needs its area code, e.g. 021 6123 4567."),
    "phone.too_many": N_("At most %(max)s phone numbers, separated by commas."),
    "email.invalid": N_("That is not an e-mail address like name@example.com."),
    "date.unrecognised": N_("I could not read a date there. Examples: 1990-05-03, May 3, 3 May 1990."),
    "date.too_vague": N_("Please say which day, not just the month."),
    "date.invalid": N_("That date does not exist."),
    "date.no_leap_month": N_("Lunar year %(year)s has no leap month %(month)s."),
    "date.out_of_range": N_("The year must be between %(min_year)s and %(max_year)s."),
    "date.future_birthday": N_("A birthday cannot be in the future."),
    "date.in_past": N_("That time has already passed."),
    "date.too_far": N_("That is more than %(max_years)s years away."),
    "date.in_future": N_("That date is in the future."),
    "amount.not_a_number": N_("I could not read an amount. Examples: 1999, 1,999.90, ¥2000."),
    "amount.negative": N_("The amount cannot be negative."),
    "amount.too_large": N_("The amount is too large (at most %(max)s)."),
    "amount.too_precise": N_("At most %(max_decimals)s decimal places."),
    "quantity.not_a_number": N_("The quantity must be a whole number."),
    "quantity.not_positive": N_("The quantity must be at least 1."),
    "quantity.too_large": N_("The quantity is too large (at most %(max)s)."),
    "tag.too_long": N_("The tag \"%(tag)s\" is longer than %(max_length)s characters."),
    "tags.too_many": N_("At most %(max_count)s tags."),
    "choice.use_buttons": N_("Please choose one of the buttons."),
    "command.unknown": N_("That is not a command I know. /skip leaves this empty, /cancel stops."),
    "team.invalid": N_("A team name needs 1 to 50 characters."),
    "deal.no_amount": N_("I could not find the deal's amount. Write it in digits, e.g. 50000 or 50k."),
    "deal.probability": N_("The probability must be a whole number from 0 to 100."),
}
# A field's own text for a code, where the shared one would mislead (a follow-up time
# is no birthday): looked up by (field, code) before REASONS.
FIELD_REASONS: dict[tuple[str, str], str] = {
    ("when", "date.unrecognised"): N_(
        "I could not read a time there. Examples: tomorrow 3pm, Friday, Tuesday 10:00, in 2 hours."),
    ("when", "date.invalid"): N_("That day or time does not exist. Examples: tomorrow 3pm, Friday, 5 March 10:00."),
}
FIELD_REASONS[("expected_close_on", "date.unrecognised")] = N_(
    "I could not read a close date. Examples: end of next month, 2026-03-31, next Friday.")
FALLBACK = N_("That input cannot be used here.")


def reason_text(error: ValidationError, language: str) -> str:
    _ = gettext_for(language)
    msgid = FIELD_REASONS.get((error.field, error.reason_code)) or REASONS.get(error.reason_code, FALLBACK)
    template = _(msgid)
    params: dict[str, Any] = {k: v for k, v in error.params.items()}
    try:
        return template % params if params else template.replace("%%", "%")
    except (KeyError, ValueError, TypeError):
        return _(FALLBACK)
