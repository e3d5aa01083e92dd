"""vCard files (.vcf) as phones and mail programs export them, into one sheet of cells.

Handles what real exports contain: folded lines (RFC 6350 §3.2: a line starting with a
space or tab continues the previous one), vCard 2.1's ``ENCODING=QUOTED-PRINTABLE`` with
soft line breaks (a line ending in ``=``) and ``CHARSET=…`` (Android writes Chinese names
that way), bare 2.1 parameters (``TEL;CELL;PREF:``), several ``TEL`` lines, group prefixes
(``item1.TEL``), and ``N`` / ``FN`` in Chinese (family and given name joined without a space).
The sheet's header row uses the English header names :mod:`.mapping` recognises.
"""

from __future__ import annotations

import quopri
import re

from bot.domain.imports.files import Sheet

HEADER = ["Name", "Phone", "Company", "Title", "Email", "Address", "Birthday", "Notes"]
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _unfold(text: str) -> list[str]:
    lines: list[str] = []
    qp_open = False
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if qp_open and lines:
            lines[-1] = lines[-1][:-1] + raw  # soft line break of quoted-printable
        elif raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        else:
            lines.append(raw)
        head = lines[-1].split(":", 1)[0].upper() if lines else ""
        qp_open = "QUOTED-PRINTABLE" in head and lines[-1].endswith("=")
    return lines


def _split(value: str, separator: str) -> list[str]:
    """Components split on an unescaped separator, escapes resolved (``\\,`` ``\\;`` ``\\n``)."""
    parts, current, escaped = [], [], False
    for ch in value:
        if escaped:
            current.append("\n" if ch in "nN" else ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _property(line: str) -> tuple[str, dict[str, str], str] | None:
    if ":" not in line:
        return None
    head, value = line.split(":", 1)
    pieces = head.split(";")
    name = pieces[0].rsplit(".", 1)[-1].upper()  # item1.TEL → TEL
    params: dict[str, str] = {}
    for piece in pieces[1:]:
        key, _, val = piece.partition("=")
        if val:
            params[key.upper()] = val
        else:  # vCard 2.1: TEL;CELL;QUOTED-PRINTABLE
            upper = key.upper()
            if upper in ("QUOTED-PRINTABLE", "BASE64", "8BIT"):
                params["ENCODING"] = upper
            else:
                params.setdefault("TYPE", upper)
    if params.get("ENCODING", "").upper() in ("QUOTED-PRINTABLE", "QP"):
        charset = params.get("CHARSET", "utf-8")
        raw = quopri.decodestring(value.encode("latin-1", "replace"))
        try:
            value = raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            value = raw.decode("gb18030", "replace") if charset.lower().startswith("gb") else \
                raw.decode("utf-8", "replace")
    return name, params, value


def _person_name(n: str, fn: str) -> str:
    if fn.strip():
        return fn.strip()
    parts = [p.strip() for p in _split(n, ";")] + [""] * 5
    family, given, middle = parts[0], parts[1], parts[2]
    if _CJK.search(family + given):
        return f"{family}{middle}{given}"
    return " ".join(p for p in (parts[3], given, middle, family, parts[4]) if p)


def parse_vcards(text: str) -> Sheet:
    """Every ``BEGIN:VCARD … END:VCARD`` as a row under :data:`HEADER`."""
    rows = [list(HEADER)]
    card: dict[str, list[str]] | None = None
    for line in _unfold(text):
        parsed = _property(line.strip("\ufeff"))
        if parsed is None:
            continue
        name, _params, value = parsed
        if name == "BEGIN" and value.strip().upper() == "VCARD":
            card = {}
        elif name == "END" and card is not None:
            rows.append(_row(card))
            card = None
        elif card is not None:
            card.setdefault(name, []).append(value)
    return Sheet("vCard", rows)


def _first(card: dict[str, list[str]], name: str) -> str:
    return card.get(name, [""])[0]


def _row(card: dict[str, list[str]]) -> list[str]:
    name = _person_name(_first(card, "N"), " ".join(_split(_first(card, "FN"), ",")))
    phones = []
    for tel in card.get("TEL", []):
        number = tel.strip().removeprefix("tel:")
        if number and number not in phones:
            phones.append(number)
    org = _split(_first(card, "ORG"), ";")
    address = " ".join(p.strip() for p in _split(_first(card, "ADR"), ";") if p.strip())
    notes = "\n".join(" ".join(_split(n, ",")).strip() for n in card.get("NOTE", []) if n.strip())
    return [name, ", ".join(phones), org[0].strip(), " ".join(_split(_first(card, "TITLE"), ",")).strip(),
            _first(card, "EMAIL").strip(), address, _first(card, "BDAY").strip(), notes]
