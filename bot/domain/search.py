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
phone containing "138" would list every mobile in China.

Field bonus: name +3, phone +3, company +2, others (tag, city, email) +0.
A query of several words ("张伟 上海", "john acme") that matches no field as
a whole still matches when every word matches some field; it scores as its
weakest word, minus 1.  Equal scores are ordered by name — Chinese names by
their pinyin, as Chinese contact lists sort (王芳 among the "w") — then id.

Speed: everything derived from a customer (normalised text, pinyin
variants, initials, phone digit forms, one concatenated "haystack") is
computed once when the :class:`SearchDoc` is built, so ranking only does
substring tests — a haystack test rejects most documents at once — plus one
batched rapidfuzz call.  Building costs pypinyin time (cached per string),
so callers keep documents, not customers, between searches.  Measured on a
busy 2-core machine with 10,000 synthetic zh/en documents: building them
~1 s; :func:`rank` 4–20 ms for typical queries ("zhang wei", "zw",
"138 0013", "Jonh Miler", "上海"), up to ~30 ms for unselective ones that
hit thousands of documents ("王", "138"); a reused :class:`SearchIndex`
saves the fuzzy key list on later queries::

    >>> from bot.domain.search import bench_search
    >>> bench_search(10_000)  # doctest: +SKIP
    {'docs': 10000, 'build_docs_s': 0.9, 'rank_ms': 6.3, 'index_rank_ms': 5.1}

or ``python -m bot.domain.search`` for the same numbers.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

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


@dataclass(frozen=True)
class SearchKeys:
    """Everything :func:`rank` compares, derived once from a document."""

    fields: tuple[FieldKeys, ...]
    phones: tuple[str, ...]
    text_haystack: str
    phone_haystack: str
    haystack: str
    order: tuple[str, str, str]
    fuzzy_keys: tuple[str, ...]
    fuzzy_fields: tuple[str, ...]


@dataclass(frozen=True)
class SearchDoc:
    """What search (and duplicate detection) needs of a customer, with its keys precomputed.

    Build it once per customer (``search_doc``) and keep it: ``keys`` holds
    the pinyin and normalised forms that make :func:`rank` fast.
    """

    id: str
    name: str
    company: str | None = None
    phones: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    city: str | None = None
    email: str | None = None
    keys: SearchKeys = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "phones", tuple(self.phones))
        object.__setattr__(self, "tags", tuple(self.tags))
        fields = [FieldKeys.build("name", self.name, surname=True)]
        if self.company:
            fields.append(FieldKeys.build("company", self.company))
        fields += [FieldKeys.build("tag", tag) for tag in self.tags]
        if self.city:
            fields.append(FieldKeys.build("city", self.city))
        if self.email:
            fields.append(FieldKeys.build("email", self.email))
        phones = tuple(form for phone in self.phones for form in _phone_digit_forms(phone))
        text_haystack = "".join(f.haystack for f in fields)
        phone_haystack = _joined(phones) + "\x00" if phones else ""
        fuzzy = [(key, f.field) for f in fields if f.field in ("name", "company")
                 for key in dict.fromkeys((f.text, *f.pinyin)) if key.isascii()]
        object.__setattr__(self, "keys", SearchKeys(
            fields=tuple(fields), phones=phones, text_haystack=text_haystack,
            phone_haystack=phone_haystack, haystack=text_haystack + phone_haystack,
            order=(" ".join(fields[0].pinyin[:1]) or fields[0].text, fields[0].text, self.id),
            fuzzy_keys=tuple(k for k, _ in fuzzy),
            fuzzy_fields=tuple(f for _, f in fuzzy),
        ))


def search_doc(customer: Customer) -> SearchDoc:
    return SearchDoc(
        id=customer.id, name=customer.name, company=customer.company,
        phones=tuple(customer.phones), tags=tuple(customer.tags), city=customer.city,
        email=customer.email,
    )


@dataclass(frozen=True)
class Match:
    """A ranked hit: which document, how well, and what matched (for highlighting)."""

    id: str
    score: float
    kind: str
    field: str
    doc: SearchDoc = field(repr=False, compare=False)


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

    @classmethod
    def build(cls, raw: str) -> _Query:
        text = normalise(raw)[:_MAX_QUERY_LENGTH]
        squeezed = _NOT_WORD.sub("", text)
        readings = tuple(dict.fromkeys("".join(r) for r in pinyin_variants(text)))
        digits = ""
        runs: tuple[str, ...] = ()
        if _PHONE_LIKE.fullmatch(text):
            digits = re.sub(r"\D", "", text).removeprefix("00")
        else:
            runs = tuple(_DIGIT_RUNS.findall(text))
        needles = [n for n in dict.fromkeys((text, squeezed, *readings, digits, *runs)) if n]
        pattern = re.compile("|".join(map(re.escape, needles))) if needles else None
        return cls(text, squeezed, readings, digits, runs, pattern, "\x00" + text,
                   "\x00" + squeezed)

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


def _best(q: _Query, keys: SearchKeys) -> tuple[float, str, str]:
    best = (0.0, "", "")
    if q.could_match(keys.text_haystack):
        for f in keys.fields:
            score, kind = _score_field(q, f)
            if score:
                score += FIELD_BONUS.get(f.field, 0.0)
                if score > best[0]:
                    best = (score, kind, f.field)
    if not keys.phone_haystack:
        return best
    score, kind = _score_phones(q, keys.phone_haystack)
    if score and score + FIELD_BONUS["phone"] > best[0]:
        best = (score + FIELD_BONUS["phone"], kind, "phone")
    return best


class SearchIndex:
    """Documents plus the flat key lists rapidfuzz scans; reuse it for many queries.

    The fuzzy key list is only built when a query needs it (3+ characters
    and fewer than ``limit`` other hits), so a one-off :func:`rank` costs
    little more than the scan.
    """

    def __init__(self, docs: Iterable[SearchDoc]) -> None:
        self.docs: tuple[SearchDoc, ...] = tuple(docs)
        self._fuzzy: tuple[list[str], list[int], list[str]] | None = None

    def _fuzzy_keys(self) -> tuple[list[str], list[int], list[str]]:
        """Flat (key, owning doc index, field) lists for rapidfuzz, built on first use."""
        if self._fuzzy is None:
            docs = self.docs
            self._fuzzy = (
                [k for d in docs for k in d.keys.fuzzy_keys],
                [i for i, d in enumerate(docs) for _ in d.keys.fuzzy_keys],
                [f for d in docs for f in d.keys.fuzzy_fields],
            )
        return self._fuzzy

    def rank(self, query: str, limit: int = 10) -> list[Match]:
        q = _Query.build(query)
        if q.needles is None or limit <= 0:
            return []
        found: dict[int, tuple[float, str, str]] = {}
        words = ([_Query.build(w) for w in q.text.split(" ")]
                 if " " in q.text and not q.digits else [])
        word_patterns = [w.needles for w in words if w.needles is not None]
        search = q.needles.search
        for index, doc in enumerate(self.docs):
            keys = doc.keys
            hay = keys.haystack
            if search(hay) is not None:
                hit = _best(q, keys)
                if hit[0]:
                    found[index] = hit
                    continue
            if not word_patterns:
                continue
            for pattern in word_patterns:
                if pattern.search(hay) is None:
                    break
            else:
                hits = [_best(w, keys) for w in words]
                if all(h[0] for h in hits):
                    weakest = min(hits)
                    found[index] = (weakest[0] - 1.0, weakest[1], weakest[2])
        # Fuzzy hits score below every other kind, so with ``limit`` hits in
        # hand they could not reach the result: skip the costliest step.
        if len(q.compact) >= 3 and not q.compact.isdigit() and len(found) < limit:
            self._add_fuzzy(q, found)
        return self._top(found, limit)

    def _top(self, found: dict[int, tuple[float, str, str]], limit: int) -> list[Match]:
        """Best ``limit`` by score, ties by name then id — sorting only the groups needed."""
        by_score: dict[float, list[int]] = defaultdict(list)
        for index, hit in found.items():
            by_score[hit[0]].append(index)
        docs = self.docs
        chosen: list[int] = []
        for score in sorted(by_score, reverse=True):
            chosen += heapq.nsmallest(limit - len(chosen), by_score[score],
                                      key=lambda i: docs[i].keys.order)
            if len(chosen) >= limit:
                break
        return [Match(docs[i].id, found[i][0], found[i][1], found[i][2], docs[i])
                for i in chosen]

    def _add_fuzzy(self, q: _Query, found: dict[int, tuple[float, str, str]]) -> None:
        probes = [q.text, q.compact] if q.text.isascii() else []
        if " " not in q.text:
            probes += q.pinyin
        if not probes:
            return
        keys, owners, fields = self._fuzzy_keys()
        for probe in dict.fromkeys(probes):
            for _key, ratio, position in process.extract(
                probe, keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=None,
            ):
                index, field_name = owners[position], fields[position]
                score = FUZZY * ratio / 100.0 + FIELD_BONUS.get(field_name, 0.0) * ratio / 1000
                if score > found.get(index, (0.0,))[0]:
                    found[index] = (score, "fuzzy", field_name)


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
