"""Phone numbers as reps type them (spaces, dashes, full-width digits, +86/0086), via phonenumbers."""

from __future__ import annotations

import phonenumbers

from bot.domain.validation import INPUT_MAX, ValidationError, nfkc, one_line

# ---------------------------------------------------------------------- phone

_PHONE_REASONS = {
    phonenumbers.ValidationResult.TOO_SHORT: "phone.too_short",
    phonenumbers.ValidationResult.TOO_LONG: "phone.too_long",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "phone.invalid_country",
}
_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "phone.invalid_country",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "phone.too_short",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "phone.too_short",
    phonenumbers.NumberParseException.TOO_LONG: "phone.too_long",
}
_LOCAL_NUMBER_MIN_DIGITS = 7


def parse_phone(text: str, default_region: str = "CN") -> str:
    """A phone number in E.164 (``+8613800138000``).

    Accepts spaces, dashes, brackets, full-width digits, ``+86``/``0086`` and
    the national trunk ``0``; numbers without a country code are read in
    ``default_region``.  An extension ("ext 12") cannot be stored in E.164
    and is dropped.  Only numbers ``phonenumbers`` considers valid (an
    allocated range of the right length) are accepted.
    """
    raw = one_line(nfkc(text))
    if not raw:
        raise ValidationError("phone", "text.empty")
    if len(raw) > INPUT_MAX:
        raise ValidationError("phone", "phone.too_long")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError("phone", _PARSE_ERRORS.get(exc.error_type, "phone.invalid")) from None
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    possibility = phonenumbers.is_possible_number_with_reason(number)
    if possibility == phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        if len(str(number.national_number)) >= _LOCAL_NUMBER_MIN_DIGITS:
            raise ValidationError("phone", "phone.missing_area_code")
        raise ValidationError("phone", "phone.too_short")
    raise ValidationError("phone", _PHONE_REASONS.get(possibility, "phone.invalid"))


def format_phone(e164: str, region: str = "CN") -> str:
    """How a stored number is shown: national form at home, international abroad.

    "At home" means the number's country calling code is ``region``'s, so
    ``parse_phone(format_phone(n, r), r) == n``.  A value that is not a
    number (legacy data) is returned unchanged rather than failing a render.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    home = number.country_code == phonenumbers.country_code_for_region(region)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL if home
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)
