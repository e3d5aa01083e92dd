"""Finding a customer from whatever a rep remembers: part of a name, its pinyin, a phone fragment.

Reps search on a phone keyboard, often without switching to a Chinese input
method, and often half-remembering: "zhangwei", "zw", "Jonh Miler",
"138 0013", "上海", "vip".  :func:`rank` orders candidate documents by a
documented score so that the best guess is first and ties are stable.

Score = match kind + field bonus, kinds far enough apart that a bonus never
lifts a weaker kind over a stronger one:

==============  =====  =================================================
kind            score  what matched
==============  =====  =================================================
exact           100    the whole field ("张伟", "acme", a full phone number)
prefix          90     the field or one of its words starts with the query;
                       a phone contains ≥ 7 consecutive query digits
pinyin          80     full pinyin of a Chinese field, tones and spaces
                       ignored ("zhangwei", "zhang wei"), or a Chinese
                       query that sounds the same (张玮 → 张伟)
pinyin_prefix   75     the start of the pinyin ("zhang", "shangh")
initials        70     pinyin / word initials ("zw", "jm" for John Miller)
contains        60     the query occurs inside the field; a phone contains
                       the query's digits (≥ 3), or — for a query that is
                       not itself a phone number, "张 138" — a ≥ 3-digit run
fuzzy           ≤ 50   typo tolerance: 50 × rapidfuzz ratio / 100 for a
                       ratio ≥ 80, on Latin names/companies and the pinyin
                       of Chinese ones ("Jonh Miler", "zhangwie"); queries
                       of 3+ characters.  Chinese typos are homophones,
                       which the pinyin kinds catch; a character ratio on
                       2–3-character names catches nothing useful
==============  =====  =================================================

A query made of digits and phone punctuation ("138 0013 8000", "+86 138…",
"0086…") is read as one number, not as its digit groups: matching every
phone containing "138" would list every mobile in China.  Any 3 or more of
its digits match *inside* a number ("0013" and "8000" find 138 0013 8000;
a leading "00" is the international prefix only when 8 or more digits
follow it, so "0013" keeps its zeros); 7 or more in a row score as prefix.

Field bonus: name +3, phone +3, company +2, others (tag, city, email) +0.
A query of several words ("张伟 上海", "john acme") that matches no field as
a whole still matches when every word matches some field; it scores as its
weakest word, minus 1.  Equal scores are ordered by name — Chinese names by
their pinyin, as Chinese contact lists sort (王芳 "wang fang" between "Wang
Bo" and "Wang Lei"), :func:`name_sort_key` — then id; customer lists use the
same key.

Typos: besides whole names, the single words of Latin names and companies
are fuzzy keys, so "miler" finds John Miller and "jon" John; fuzzy keys are
compared only with queries of the same first letter.

Speed: everything derived from a customer (normalised text, pinyin
variants, initials, phone digit forms) is computed once when the
:class:`SearchDoc` is built, shared between customers holding the same
value (:func:`field_keys`).  A :class:`SearchIndex` holds each distinct
value once and is changed one document at a time; a query scans the
values' keys with one regex per 64 KB chunk and scores only the values that
contain a needle, so its cost follows the number of matching values, not
of customers.  Measured through the services in ``bench/services_search.py``
(figures in ``docs/performance.md``, "Search (issue 15.3)").
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache, partial

import phonenumbers
from pypinyin import Style, lazy_pinyin, pinyin
from rapidfuzz import fuzz, process

from bot.domain.models import Customer
from bot.domain.validation import drop_invisible

EXACT = 100.0
PREFIX = 90.0
PINYIN = 80.0
PINYIN_PREFIX = 75.0
INITIALS = 70.0
CONTAINS = 60.0
FUZZY = 50.0
FUZZY_CUTOFF = 80.0
PHONE_PREFIX_DIGITS = 7
PHONE_MIN_DIGITS = 3
FIELD_BONUS = {"name": 3.0, "phone": 3.0, "company": 2.0}
_MAX_PINYIN_VARIANTS = 6
_MAX_QUERY_LENGTH = 100
# Surnames whose reading differs from the character's everyday one, which is
# what pypinyin (having no surname mode) returns: 曾 is "ceng" in 曾经 but the
# surname Zeng.  Used first, for ranking order and duplicate checks alike.
SURNAME_READINGS = {
    "曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha", "朴": "piao",
    "盖": "ge", "缪": "miao", "乐": "yue", "覃": "qin", "翟": "zhai", "秘": "bi", "尉": "yu",
    "折": "she", "种": "chong", "召": "shao", "繁": "po", "句": "gou", "员": "yun", "厍": "she",
}

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NOT_WORD = re.compile(r"[\W_]+")
_WORDS = re.compile(r"[^\W_]+")
_DIGIT_RUNS = re.compile(r"\d{3,}")
_PHONE_LIKE = re.compile(r"[+\d\s\-().]*\d[+\d\s\-().]*")


def normalise(text: str) -> str:
    """Width-, case-, space- and invisible-character-insensitive form of ``text``.

    Also what duplicate checks compare: "Zhang\u200bWei" and "ZhangWei" are one name.
    """
    return " ".join(drop_invisible(unicodedata.normalize("NFKC", text)).casefold().split())


def compact(text: str) -> str:
    """:func:`normalise`d text without spaces and punctuation: "Zhang-Wei" → "zhangwei"."""
    return _NOT_WORD.sub("", normalise(text))


@lru_cache(maxsize=65_536)
def pinyin_variants(text: str, *, surname: bool = False) -> tuple[tuple[str, ...], ...]:
    """Plausible toneless pinyin readings of ``text``, each as a tuple of syllables.

    The first is pypinyin's phrase-aware reading; with ``surname`` the first
    character's other readings are added (曾 zeng/ceng, 单 shan/dan) — the
    surname reading first where :data:`SURNAME_READINGS` knows it — and ü is
    also offered as "u" (吕 lv/lu) because that is how it gets typed.  Empty
    when ``text`` holds no Chinese characters.
    """
    if not _CJK.search(text):
        return ()
    main = [s for s in (compact(part) for part in lazy_pinyin(text, errors="default")) if s]
    variants = [tuple(main)]
    first = text.strip()[:1]
    if surname and main and _CJK.match(first):
        rest = main[1:]
        usual = [(SURNAME_READINGS[first], *rest)] if first in SURNAME_READINGS else []
        others = [(r, *rest) for r in pinyin(first, style=Style.NORMAL, heteronym=True)[0]]
        variants = usual + variants + others
    with_u = [tuple(s.replace("v", "u") for s in v) for v in variants if any("v" in s for s in v)]
    unique = list(dict.fromkeys(variants + with_u))
    return tuple(unique[:_MAX_PINYIN_VARIANTS])


@dataclass(frozen=True)
class FieldKeys:
    """One searchable field, in every form a query is compared against.

    The ``*_joined`` strings are the tuples joined with a NUL in front of each
    item, so "some item starts with q" is one C-level substring test.
    """

    field: str
    text: str
    compact: str
    pinyin: tuple[str, ...]
    words_joined: str
    pinyin_joined: str
    initials_joined: str
    haystack: str

    @classmethod
    def build(cls, field_name: str, raw: str, *, surname: bool = False) -> FieldKeys:
        text = normalise(raw)
        words = _WORDS.findall(text)
        readings = pinyin_variants(text, surname=surname)
        spelled = tuple(dict.fromkeys("".join(r) for r in readings))
        initials = ["".join(s[0] for s in r) for r in readings]
        if len(words) > 1 and not readings:
            initials.append("".join(w[0] for w in words))
        initials = list(dict.fromkeys(i for i in initials if len(i) > 1))
        squeezed = _NOT_WORD.sub("", text)
        return cls(
            field=field_name, text=text, compact=squeezed, pinyin=spelled,
            words_joined=_joined(words), pinyin_joined=_joined(spelled),
            initials_joined=_joined(initials),
            haystack=_joined([text, squeezed, *spelled, *initials]),
        )


def _joined(items: Iterable[str]) -> str:
    return "".join("\x00" + item for item in items)


def _phone_digit_forms(e164: str) -> tuple[str, ...]:
    """"+8613800138000" → its digits, the national number, and the nationally dialled form."""
    forms = [e164.lstrip("+")]
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return tuple(forms)
    forms.append(str(number.national_number))
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    forms.append(re.sub(r"\D", "", national))
    return tuple(dict.fromkeys(f for f in forms if f))


@lru_cache(maxsize=262_144)
def field_keys(field_name: str, raw: str, *, surname: bool = False) -> FieldKeys:
    """:meth:`FieldKeys.build`, shared: the same company, city or tag on 5 000 cards is one object."""
    return FieldKeys.build(field_name, raw, surname=surname)


def _joined(items: Iterable[str]) -> str:
    return "".join("\x00" + item for item in items)


@lru_cache(maxsize=1024)
def _national_prefix(country_code: int) -> str:
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region) if region else None
    return (metadata.national_prefix or "") if metadata is not None else ""


def _phone_digit_forms(e164: str) -> tuple[str, ...]:
    """"+8613800138000" → its digits, the national number, and the nationally dialled form.

    Country codes are prefix-free, so the first 1–3 digits that name one
    split the number; the dialled form puts the country's trunk prefix in
    front ("010 8888 8888").  No parsing: this runs for every phone of every
    customer when the search index is built (``phonenumbers.parse`` and
    formatting were half of that time).
    """
    digits = e164.lstrip("+")
    for length in (1, 2, 3):
        code = digits[:length]
        if code.isdigit() and int(code) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[length:]
            prefix = _national_prefix(int(code))
            forms = (digits, national, prefix + national if prefix else "")
            return tuple(dict.fromkeys(f for f in forms if f))
    return (digits,) if digits else ()


@lru_cache(maxsize=262_144)
def name_sort_key(name: str) -> tuple[str, str]:
    """How customer lists sort: by pinyin, as Chinese contact lists do, Latin names among them.

    王芳 sorts as "wang fang", between "Wang Bo" and "Wang Lei"; 曾小明 as
    "zeng xiao ming" (the surname reading); ties by the name itself.
    Characters without a pinyin (Latin, digits) keep their own spelling.
    """
    text = normalise(name)
    readings = pinyin_variants(text, surname=True)
    return (" ".join(readings[0]) if readings else text, text)


@dataclass(frozen=True)
class SearchKeys:
    """Everything ranking compares, derived once from a document."""

    fields: tuple[FieldKeys, ...]
    phones: tuple[str, ...]
    order: tuple[str, str, str]


@dataclass(frozen=True)
class SearchDoc:
    """What search (and duplicate detection) needs of a customer, with its keys precomputed.

    Build it once per customer (``search_doc``) and keep it: ``keys`` holds
    the pinyin and normalised forms that make ranking fast.  ``owner_id`` and
    ``team`` are kept for the visibility filter of a :class:`SearchIndex`
    (who may see it is decided by ``bot.domain.access`` on the record itself).
    """

    id: str
    name: str
    company: str | None = None
    phones: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    city: str | None = None
    email: str | None = None
    owner_id: str | None = None
    team: str | None = None
    version: int = 0
    keys: SearchKeys = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "phones", tuple(self.phones))
        object.__setattr__(self, "tags", tuple(self.tags))
        fields = [field_keys("name", self.name, surname=True)]
        if self.company:
            fields.append(field_keys("company", self.company))
        fields += [field_keys("tag", tag) for tag in self.tags]
        if self.city:
            fields.append(field_keys("city", self.city))
        if self.email:
            fields.append(field_keys("email", self.email))
        phones = tuple(form for phone in self.phones for form in _phone_digit_forms(phone))
        object.__setattr__(self, "keys", SearchKeys(
            fields=tuple(fields), phones=phones, order=(*name_sort_key(self.name), self.id),
        ))


def search_doc(customer: Customer) -> SearchDoc:
    return SearchDoc(
        id=customer.id, name=customer.name, company=customer.company,
        phones=tuple(customer.phones), tags=tuple(customer.tags), city=customer.city,
        email=customer.email, owner_id=customer.owner_id, team=customer.team,
        version=customer.version,
    )


@dataclass(frozen=True)
class Match:
    """A ranked hit: which document, how well, and what matched (for highlighting)."""

    id: str
    score: float
    kind: str
    field: str
    doc: SearchDoc = field(repr=False, compare=False)


def _query_digits(text: str) -> str:
    """The digits of a phone-like query; "00" + 8 or more digits is the international prefix.

    "0086 138 0013 8000" is +86…; "0013" is the middle of a number, kept as
    typed (it used to lose its zeros and match nothing).
    """
    digits = re.sub(r"\D", "", text)
    international = digits.removeprefix("00")
    return international if digits.startswith("00") and len(international) >= 8 else digits


@dataclass(frozen=True)
class _Query:
    text: str
    compact: str
    pinyin: tuple[str, ...]
    digits: str
    digit_runs: tuple[str, ...]
    needles: re.Pattern[str] | None
    word_start: str
    compact_start: str
    phone_needles: re.Pattern[str] | None = None
    term_needles: re.Pattern[str] | None = None

    @classmethod
    def build(cls, raw: str) -> _Query:
        text = normalise(raw)[:_MAX_QUERY_LENGTH]
        squeezed = _NOT_WORD.sub("", text)
        readings = tuple(dict.fromkeys("".join(r) for r in pinyin_variants(text)))
        digits = ""
        runs: tuple[str, ...] = ()
        if _PHONE_LIKE.fullmatch(text):
            digits = _query_digits(text)
        else:
            runs = tuple(_DIGIT_RUNS.findall(text))
        needles = [n for n in dict.fromkeys((text, squeezed, *readings, digits, *runs)) if n]
        pattern = re.compile("|".join(map(re.escape, needles))) if needles else None
        numbers = [n for n in (digits, *runs) if len(n) >= PHONE_MIN_DIGITS]
        phone_pattern = re.compile("|".join(numbers)) if numbers else None
        term_pattern = re.compile("\x00(?:" + "|".join(map(re.escape, needles)) + ")"
                                  ) if needles else None
        return cls(text, squeezed, readings, digits, runs, pattern, "\x00" + text,
                   "\x00" + squeezed, phone_pattern, term_pattern)

    def could_match(self, haystack: str) -> bool:
        """Cheap rejection: every match kind except fuzzy needs a needle inside the haystack."""
        return self.needles is not None and self.needles.search(haystack) is not None


def _score_field(q: _Query, f: FieldKeys) -> tuple[float, str]:
    if not q.could_match(f.haystack):
        return 0.0, ""
    if q.text == f.text or q.compact == f.compact:
        return EXACT, "exact"
    if (f.text.startswith(q.text) or f.compact.startswith(q.compact)
            or q.word_start in f.words_joined):
        return PREFIX, "prefix"
    if q.compact in f.pinyin or any(r in f.pinyin for r in q.pinyin):
        return PINYIN, "pinyin"
    if len(q.compact) >= 2 and q.compact.isascii() and q.compact_start in f.pinyin_joined:
        return PINYIN_PREFIX, "pinyin_prefix"
    if len(q.compact) >= 2 and q.compact_start in f.initials_joined:
        return INITIALS, "initials"
    if q.text in f.text or q.compact in f.compact:
        return CONTAINS, "contains"
    return 0.0, ""


def _score_phones(q: _Query, haystack: str) -> tuple[float, str]:
    if len(q.digits) >= PHONE_MIN_DIGITS and q.digits in haystack:
        if f"\x00{q.digits}\x00" in haystack:
            return EXACT, "exact"
        if len(q.digits) >= PHONE_PREFIX_DIGITS:
            return PREFIX, "prefix"
        return CONTAINS, "contains"
    if any(run in haystack for run in q.digit_runs):
        return CONTAINS, "contains"
    return 0.0, ""


_FIELD_ORDER = {"name": 0, "company": 1, "tag": 2, "city": 3, "email": 4, "phone": 5}
_FUZZY_FIELDS = ("name", "company")
_FUZZY_WORD_MIN = 3
_CHUNK_CHARS = 1 << 16
#: A query restricted to fewer than 1/8 of the documents tests their values one by one.
_FEW_DOCS_RATIO = 8
_Hit = tuple[float, str, str]  # score, kind, field


class _Term:
    """One distinct value of a field (or one phone number) and the documents holding it."""

    __slots__ = ("anchored", "docs", "field", "fuzzy", "haystack", "key", "keys")

    def __init__(self, key: tuple[str, str], field_name: str, keys: FieldKeys | None,
                 haystack: str, anchored: str = "") -> None:
        self.key = key
        self.field = field_name
        self.keys = keys
        self.haystack = haystack  # scanned for a needle anywhere
        self.anchored = anchored  # scanned for a needle right after a NUL
        self.fuzzy: tuple[str, ...] = ()  # names and companies: what typos are compared with
        self.docs: set[str] = set()


class _Chunk:
    """Up to ``_CHUNK_CHARS`` of term haystacks, one string, scanned by one regex call."""

    __slots__ = ("_text", "parts", "size", "starts", "terms")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.starts: list[int] = []
        self.terms: list[_Term] = []
        self.size = 0
        self._text: str | None = ""

    def append(self, term: _Term, haystack: str) -> None:
        self.starts.append(self.size)
        self.terms.append(term)
        self.parts.append(haystack)
        self.size += len(haystack)
        self._text = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "".join(self.parts)
        return self._text


class _Terms:
    """Distinct values, found by scanning their concatenated keys in C (``re``), not per document.

    Values repeat across customers (companies, cities, tags, common names),
    so a query looks at each distinct one once.  A value no document holds
    any more stays in its chunk, skipped, until they outnumber the live ones.
    """

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], _Term] = {}
        self.by_field: dict[str, set[str]] = defaultdict(set)
        self.chunks: list[_Chunk] = []
        self.anchored: list[_Chunk] = []
        self.dead = 0

    def hold(self, key: tuple[str, str], make: Callable[[], _Term], doc_id: str) -> tuple[_Term, bool]:
        term = self.by_key.get(key)
        new = term is None
        if term is None:
            term = self.by_key[key] = make()
            self.by_field[key[0]].add(key[1])
            self._place(term)
        term.docs.add(doc_id)
        return term, new

    def _place(self, term: _Term) -> None:
        for chunks, haystack in ((self.chunks, term.haystack), (self.anchored, term.anchored)):
            if haystack:
                if not chunks or chunks[-1].size >= _CHUNK_CHARS:
                    chunks.append(_Chunk())
                chunks[-1].append(term, haystack)

    def release(self, term: _Term, doc_id: str) -> bool:
        """Forget that ``doc_id`` holds ``term``; True when the chunks were rebuilt."""
        term.docs.discard(doc_id)
        if term.docs or self.by_key.get(term.key) is not term:
            return False
        del self.by_key[term.key]
        self.by_field[term.key[0]].discard(term.key[1])
        self.dead += 1
        if self.dead > 1000 and self.dead > len(self.by_key):
            self.chunks, self.anchored, self.dead = [], [], 0
            for live in self.by_key.values():
                self._place(live)
            return True
        return False

    def matching(self, pattern: re.Pattern[str],
                 anchored: re.Pattern[str] | None = None) -> Iterator[_Term]:
        """Live terms whose haystack matches ``pattern`` or whose anchored keys match
        ``anchored``, each once."""
        seen: set[tuple[str, str]] = set()
        for chunks, regex in ((self.chunks, pattern), (self.anchored, anchored)):
            if regex is None:
                continue
            for chunk in chunks:
                text, starts, terms = chunk.text, chunk.starts, chunk.terms
                search, last = regex.search, len(starts) - 1
                found = search(text)
                while found is not None:
                    i = bisect_right(starts, found.start()) - 1
                    term = terms[i]
                    if term.docs and term.key not in seen:
                        seen.add(term.key)
                        yield term
                    found = search(text, starts[i + 1]) if i < last else None


class SearchIndex:
    """Customers' search keys, kept up to date one document at a time, ranked without a full scan.

    What it holds is by *distinct value*: each name, company, tag, city,
    e-mail and phone number once, with the ids of the documents holding it
    (a company on 2 000 cards is scored once per query).  A query finds the
    values whose keys contain one of its needles by a regex scan over their
    concatenated keys (C speed, ~1 MB per 10 000 customers), scores each with
    the kinds above, credits their documents, and picks the best ``limit``
    by score then name.  Fuzzy matching runs rapidfuzz over the distinct
    Latin/pinyin keys and the single words of Latin names ("miler" →
    Miller) that begin with the query's first letter: a typo in the first
    letter is rare, and catching it would cost a pass over every key (26 ms
    at 10 000 customers, against ~1 ms).  ``visible`` restricts a query to some ids (a rep's own
    customers: :meth:`ids_of_owner`, a manager's teams: :meth:`ids_of_team`)
    before any ranking.

    :meth:`add` replaces the document with the same id (unless it is older,
    by ``version``), :meth:`remove` drops one.  The index is not thread-safe:
    its owner serialises calls (``bot/services/search_index.py``).
    """

    def __init__(self, docs: Iterable[SearchDoc] = ()) -> None:
        self._docs: dict[str, SearchDoc] = {}
        self._order: dict[str, tuple[str, str, str]] = {}
        self._held: dict[str, list[_Term]] = {}
        self._text = _Terms()
        self._phones = _Terms()
        self._owners: dict[str, set[str]] = defaultdict(set)
        self._teams: dict[str, set[str]] = defaultdict(set)
        # fuzzy keys by first character: (keys, the term of each)
        self._fuzzy: dict[str, tuple[list[str], list[_Term]]] = defaultdict(lambda: ([], []))
        self._changes = 0
        self._few_cache: tuple[tuple[int, int, int], list[_Term]] | None = None
        for doc in docs:
            self.add(doc)

    # ---- contents --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    @property
    def docs(self) -> tuple[SearchDoc, ...]:
        return tuple(self._docs.values())

    def get(self, doc_id: str) -> SearchDoc | None:
        return self._docs.get(doc_id)

    def ids_of_owner(self, owner_id: str) -> AbstractSet[str]:
        return self._owners.get(owner_id, frozenset())

    def ids_of_team(self, team: str) -> AbstractSet[str]:
        return self._teams.get(team, frozenset())

    def values(self, field_name: str) -> list[str]:
        """The distinct normalised values of a text field ("company", "email", …) held now."""
        return list(self._text.by_field.get(field_name, ()))

    def with_value(self, field_name: str, value: str) -> AbstractSet[str]:
        """Ids of the documents whose ``field_name`` normalises to ``value``'s normal form."""
        term = self._text.by_key.get((field_name, normalise(value)))
        return frozenset(term.docs) if term is not None else frozenset()

    # ---- changes ---------------------------------------------------------------------------
    def add(self, doc: SearchDoc) -> None:
        """Index ``doc``, replacing the one with its id unless that one has a newer version."""
        current = self._docs.get(doc.id)
        if current is not None:
            if current.version > doc.version:
                return
            self.remove(doc.id)
        self._changes += 1
        self._docs[doc.id] = doc
        self._order[doc.id] = doc.keys.order
        held: list[_Term] = []
        for keys in doc.keys.fields:
            term, new = self._text.hold((keys.field, keys.text), partial(
                _Term, (keys.field, keys.text), keys.field, keys, f"\x00{keys.text}\x00{keys.compact}",
                keys.pinyin_joined + keys.initials_joined), doc.id)
            held.append(term)
            if new and keys.field in _FUZZY_FIELDS:
                self._add_fuzzy_keys(term)
        for phone in dict.fromkeys(doc.phones):
            forms = _phone_digit_forms(phone)
            term, _new = self._phones.hold(("phone", phone), partial(
                _Term, ("phone", phone), "phone", None, _joined(forms) + "\x00"), doc.id)
            held.append(term)
        self._held[doc.id] = held
        if doc.owner_id is not None:
            self._owners[doc.owner_id].add(doc.id)
        if doc.team is not None:
            self._teams[doc.team].add(doc.id)

    def remove(self, doc_id: str) -> None:
        doc = self._docs.pop(doc_id, None)
        if doc is None:
            return
        del self._order[doc_id]
        self._changes += 1
        rebuilt = False
        for term in self._held.pop(doc_id, ()):
            table = self._phones if term.field == "phone" else self._text
            rebuilt = table.release(term, doc_id) and table is self._text or rebuilt
        if rebuilt:
            self._fuzzy.clear()
            for term in self._text.by_key.values():
                if term.field in _FUZZY_FIELDS:
                    self._add_fuzzy_keys(term)
        for groups, key in ((self._owners, doc.owner_id), (self._teams, doc.team)):
            if key is not None and key in groups:
                groups[key].discard(doc_id)
                if not groups[key]:
                    del groups[key]

    def _add_fuzzy_keys(self, term: _Term) -> None:
        term.fuzzy = tuple(_fuzzy_keys(term))
        for key in term.fuzzy:
            keys, terms = self._fuzzy[key[0]]
            keys.append(key)
            terms.append(term)

    # ---- queries ---------------------------------------------------------------------------
    def rank(self, query: str, limit: int = 10, *,
             visible: AbstractSet[str] | None = None) -> list[Match]:
        """The ``limit`` best matches for ``query``, best first; only ids in ``visible`` if given."""
        q = _Query.build(query)
        if q.needles is None or limit <= 0:
            return []
        found = self._hits(q, visible)
        words = ([_Query.build(w) for w in q.text.split(" ")]
                 if " " in q.text and not q.digits else [])
        if words and all(w.needles is not None for w in words):
            per_word = [self._hits(w, visible) for w in words]
            if all(per_word):
                common = set(min(per_word, key=len)).intersection(*per_word).difference(found)
                for doc_id in common:
                    weakest = min(hits[doc_id] for hits in per_word)
                    found[doc_id] = (weakest[0] - 1.0, weakest[1], weakest[2])
        # Fuzzy hits score below every other kind, so with ``limit`` hits in
        # hand they could not reach the result: skip the costliest step.
        if len(q.compact) >= 3 and not q.compact.isdigit() and len(found) < limit:
            self._add_fuzzy(q, found, visible)
        return self._top(found, limit)

    def _few(self, visible: AbstractSet[str] | None) -> list[_Term] | None:
        """The values held by ``visible``'s documents, when they are few enough (a rep's own
        customers) that testing each beats scanning everyone's; else None.  Kept for the same
        ``visible`` set (a rep's, :meth:`ids_of_owner`) until the index changes."""
        if visible is None or len(visible) * _FEW_DOCS_RATIO >= len(self._docs):
            return None
        key = (id(visible), len(visible), self._changes)
        if self._few_cache is not None and self._few_cache[0] == key:
            return self._few_cache[1]
        held = self._held
        terms = list({t for d in visible for t in held.get(d, ())})
        if visible and self._is_owner_set(visible):  # a set of our own: its id means the same set
            self._few_cache = (key, terms)
        return terms

    def _is_owner_set(self, ids: AbstractSet[str]) -> bool:
        doc = self._docs.get(next(iter(ids)))
        return doc is not None and doc.owner_id is not None and self._owners.get(doc.owner_id) is ids

    def _hits(self, q: _Query, visible: AbstractSet[str] | None) -> dict[str, _Hit]:
        found: dict[str, _Hit] = {}
        if q.needles is None:
            return found
        few = self._few(visible)
        scored: list[tuple[float, str, _Term]] = []
        if few is not None:
            self._few_hits(q, few, scored)
            _credit(found, scored, visible)
            return found
        for term in self._text.matching(q.needles, q.term_needles):
            assert term.keys is not None
            score, kind = _score_field(q, term.keys)
            if score:
                scored.append((score + FIELD_BONUS.get(term.field, 0.0), kind, term))
        if q.phone_needles is not None:
            for term in self._phones.matching(q.phone_needles):
                score, kind = _score_phones(q, term.haystack)
                if score:
                    scored.append((score + FIELD_BONUS["phone"], kind, term))
        _credit(found, scored, visible)
        return found

    @staticmethod
    def _few_hits(q: _Query, terms: list[_Term], scored: list[tuple[float, str, _Term]]) -> None:
        """:meth:`_hits` over the given values only, each tested on its own."""
        needles, anchored, numbers = q.needles, q.term_needles, q.phone_needles
        assert needles is not None and anchored is not None
        for term in terms:
            if term.field == "phone":
                if numbers is not None and numbers.search(term.haystack) is not None:
                    score, kind = _score_phones(q, term.haystack)
                    if score:
                        scored.append((score + FIELD_BONUS["phone"], kind, term))
            elif needles.search(term.haystack) is not None or anchored.search(term.anchored):
                assert term.keys is not None
                score, kind = _score_field(q, term.keys)
                if score:
                    scored.append((score + FIELD_BONUS.get(term.field, 0.0), kind, term))

    def _add_fuzzy(self, q: _Query, found: dict[str, _Hit],
                   visible: AbstractSet[str] | None) -> None:
        probes = [q.text, q.compact] if q.text.isascii() else []
        if " " not in q.text:
            probes += q.pinyin
        few = self._few(visible)
        for probe in dict.fromkeys(p for p in probes if p):
            if few is not None:
                pairs = [(k, t) for t in few if t.fuzzy for k in t.fuzzy if k[0] == probe[0]]
                keys, terms = [k for k, _ in pairs], [t for _, t in pairs]
            elif probe[0] in self._fuzzy:
                keys, terms = self._fuzzy[probe[0]]
            else:
                continue
            for _key, ratio, position in process.extract(
                probe, keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=None,
            ):
                term = terms[position]
                score = FUZZY * ratio / 100.0 + FIELD_BONUS.get(term.field, 0.0) * ratio / 1000
                docs = term.docs if visible is None else term.docs & visible
                for doc_id in docs:
                    if score > found.get(doc_id, (0.0,))[0]:
                        found[doc_id] = (score, "fuzzy", term.field)

    def _top(self, found: dict[str, _Hit], limit: int) -> list[Match]:
        """Best ``limit`` by score, ties by name then id — sorting only the groups needed."""
        by_score: dict[float, list[str]] = defaultdict(list)
        for doc_id, hit in found.items():
            by_score[hit[0]].append(doc_id)
        docs, order = self._docs, self._order.__getitem__
        chosen: list[str] = []
        for score in sorted(by_score, reverse=True):
            chosen += heapq.nsmallest(limit - len(chosen), by_score[score], key=order)
            if len(chosen) >= limit:
                break
        return [Match(i, found[i][0], found[i][1], found[i][2], docs[i]) for i in chosen]


def _fuzzy_keys(term: _Term) -> list[str]:
    """A name's or company's fuzzy keys: its text, its pinyin, the words of a Latin one."""
    keys = term.keys
    assert keys is not None
    words = _WORDS.findall(keys.text) if " " in keys.text else []
    return [key for key in dict.fromkeys((keys.text, *keys.pinyin,
                                          *(w for w in words if len(w) >= _FUZZY_WORD_MIN)))
            if key and key.isascii()]


def _credit(found: dict[str, _Hit], scored: list[tuple[float, str, _Term]],
            visible: AbstractSet[str] | None) -> None:
    """Give each document its best hit among the scored values (ties: the earlier field).

    Best first, so a document's first hit is its best and the rest is set
    arithmetic in C: "上海" on 10 000 cards costs a set difference, not a loop.
    """
    scored.sort(key=lambda s: (-s[0], _FIELD_ORDER[s[2].field]))
    seen = set(found)
    for score, kind, term in scored:
        docs = term.docs if visible is None else term.docs & visible
        new = docs - seen
        if new:
            seen |= new
            found.update(dict.fromkeys(new, (score, kind, term.field)))


def rank(query: str, candidates: Sequence[SearchDoc], limit: int = 10) -> list[Match]:
    """The ``limit`` best matches for ``query`` among ``candidates``, best first.

    For repeated searches over the same documents keep a :class:`SearchIndex`.
    """
    return SearchIndex(candidates).rank(query, limit)


def bench_search(n: int = 10_000, query: str = "zhang wei") -> dict[str, float]:
    """Rough timings on synthetic documents; run by hand, never by the test suite."""
    import random
    import time

    rng = random.Random(5)
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    given = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
    latin = ["John", "Mary", "Peter", "Anna", "Li", "Wang", "Smith", "Miller", "Chen", "Brown"]
    cities = ["上海", "北京", "深圳", "广州", "杭州", "Singapore", "London"]
    started = time.perf_counter()
    docs = []
    for i in range(n):
        if i % 3:
            name = rng.choice(surnames) + "".join(rng.choices(given, k=rng.randint(1, 2)))
            company = rng.choice(surnames) + rng.choice(["科技", "贸易", "实业"]) + "有限公司"
        else:
            name = f"{rng.choice(latin)} {rng.choice(latin)}"
            company = f"{rng.choice(latin)} Trading Co., Ltd."
        phone = f"+86138{rng.randrange(10**8):08d}"
        docs.append(SearchDoc(id=str(i), name=name, company=company, phones=(phone,),
                              tags=("vip",) if i % 7 == 0 else (), city=rng.choice(cities)))
    built = time.perf_counter()
    rounds = 10
    for _ in range(rounds):
        rank(query, docs, 10)
    cold = time.perf_counter()
    index = SearchIndex(docs)
    index.rank(query, 10)
    warmed = time.perf_counter()
    for _ in range(rounds):
        index.rank(query, 10)
    warm = time.perf_counter()
    return {"docs": n, "build_docs_s": round(built - started, 3),
            "rank_ms": round((cold - built) * 1000 / rounds, 2),
            "index_rank_ms": round((warm - warmed) * 1000 / rounds, 2)}


if __name__ == "__main__":
    for probe in ("zhang wei", "zw", "Jonh Miler", "138 0013", "138", "上海", "张伟 上海", "王"):
        print(probe, bench_search(10_000, probe))
