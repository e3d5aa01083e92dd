from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.models import Customer
from bot.domain.search import (
    CONTAINS,
    EXACT,
    FUZZY,
    INITIALS,
    PINYIN,
    PINYIN_PREFIX,
    PREFIX,
    Match,
    SearchDoc,
    SearchIndex,
    compact,
    normalise,
    pinyin_variants,
    rank,
    search_doc,
)

DOCS = [
    SearchDoc("zw", "张伟", company="腾讯科技有限公司", phones=("+8613800138000",), city="深圳",
              tags=("vip",)),
    SearchDoc("jm", "John Miller", company="Acme Co., Ltd.", phones=("+16502530000",),
              city="London", email="john@acme.com"),
    SearchDoc("zwh", "张伟华", company="阿里巴巴", city="杭州"),
    SearchDoc("wf", "王芳", phones=("+861088888888",), city="北京", tags=("重点客户",)),
    SearchDoc("zxm", "曾小明", city="上海"),
    SearchDoc("lb", "吕布", city="上海"),
    SearchDoc("zoe", "Zoe Wang", email="zoe@example.com"),
    SearchDoc("mj", "Mary Johnson", company="Johnson & Co", tags=("wholesale", "华东")),
]


def ids(query: str, limit: int = 10) -> list[str]:
    return [m.id for m in rank(query, DOCS, limit)]


def top(query: str) -> Match:
    matches = rank(query, DOCS, 1)
    assert matches, f"nothing found for {query!r}"
    return matches[0]


@pytest.mark.parametrize(
    ("query", "expected_first", "kind", "field"),
    [
        ("张伟", "zw", "exact", "name"),
        ("john miller", "jm", "exact", "name"),
        ("JOHN MILLER", "jm", "exact", "name"),
        ("John", "jm", "prefix", "name"),
        ("miller", "jm", "prefix", "name"),
        ("zhangwei", "zw", "pinyin", "name"),
        ("zhang wei", "zw", "pinyin", "name"),
        ("Zhang Wei", "zw", "pinyin", "name"),
        ("zhang-wei", "zw", "pinyin", "name"),
        ("zhang", "zw", "pinyin_prefix", "name"),
        ("zw", "zw", "initials", "name"),  # tie with Zoe Wang: "zhang wei" sorts first
        ("jm", "jm", "initials", "name"),
        ("Jonh Miler", "jm", "fuzzy", "name"),
        ("Jon Miller", "jm", "fuzzy", "name"),
        ("zhangwie", "zw", "fuzzy", "name"),
        ("张玮", "zw", "pinyin", "name"),  # typed with a homophone
        ("13800138000", "zw", "exact", "phone"),
        ("138 0013 8000", "zw", "exact", "phone"),
        ("+86 138-0013-8000", "zw", "exact", "phone"),
        ("0086 13800138000", "zw", "exact", "phone"),
        ("８６１３８００１３８０００", "zw", "exact", "phone"),
        ("1380013", "zw", "prefix", "phone"),
        ("8000", "zw", "contains", "phone"),
        ("010 8888 8888", "wf", "exact", "phone"),
        ("(650) 253-0000", "jm", "exact", "phone"),
        ("张 138", "zw", "contains", "phone"),  # every word matches: scored as the weakest
        ("腾讯", "zw", "prefix", "company"),
        ("tengxun", "zw", "pinyin_prefix", "company"),
        ("acme", "jm", "prefix", "company"),
        ("vip", "zw", "exact", "tag"),
        ("VIP", "zw", "exact", "tag"),
        ("zdkh", "wf", "initials", "tag"),
        ("华东", "mj", "exact", "tag"),
        ("london", "jm", "exact", "city"),
        ("beijing", "wf", "pinyin", "city"),
        ("zoe@example.com", "zoe", "exact", "email"),
        ("ceng", "zxm", "pinyin_prefix", "name"),  # 曾 as a surname
        ("zeng xiao ming", "zxm", "pinyin", "name"),
        ("lv bu", "lb", "pinyin", "name"),
        ("lu bu", "lb", "pinyin", "name"),  # ü typed as u
        ("伟", "zw", "contains", "name"),
    ],
)
def test_rank_finds(query: str, expected_first: str, kind: str, field: str) -> None:
    best = top(query)
    assert (best.id, best.kind, best.field) == (expected_first, kind, field)


@pytest.mark.parametrize("query", ["", "   ", "!!!", "tencent", "xyzzy", "99999999999999"])
def test_rank_finds_nothing(query: str) -> None:
    assert rank(query, DOCS) == []


def test_kinds_are_ordered() -> None:
    assert EXACT > PREFIX > PINYIN > PINYIN_PREFIX > INITIALS > CONTAINS > FUZZY + 1


def test_exact_beats_prefix_beats_pinyin() -> None:
    assert ids("张伟") == ["zw", "zwh"]
    assert ids("zhangwei") == ["zw", "zwh"]  # 张伟华 by pinyin prefix
    matches = rank("zhangwei", DOCS)
    assert matches[0].score > matches[1].score


def test_shanghai_ties_are_broken_by_name_pinyin() -> None:
    # 吕布 (lü bu) sorts before 曾小明 (zeng xiao ming)
    assert ids("上海") == ["lb", "zxm"]
    assert ids("shanghai") == ["lb", "zxm"]
    assert rank("上海", DOCS)[0].score == rank("上海", DOCS)[1].score


def test_ties_are_stable_and_by_name_then_id() -> None:
    twins = [SearchDoc("b", "Anna Lee"), SearchDoc("a", "Anna Lee"), SearchDoc("c", "Anna Bell")]
    assert [m.id for m in rank("anna", twins)] == ["c", "a", "b"]
    assert [m.id for m in rank("anna", list(reversed(twins)))] == ["c", "a", "b"]


def test_limit() -> None:
    assert len(rank("a", DOCS, limit=2)) == 2
    assert rank("张伟", DOCS, limit=0) == []
    assert ids("zw", limit=1) == ["zw"]
    assert ids("zw") == ["zw", "zwh", "zoe"]


def test_field_bonus_prefers_name_over_company() -> None:
    docs = [SearchDoc("1", "Li Ming", company="Johnson Ltd"), SearchDoc("2", "Johnson Wu")]
    assert [m.id for m in rank("johnson", docs)] == ["2", "1"]


def test_all_words_must_match_for_a_combined_hit() -> None:
    assert ids("john acme") == ["jm"]
    assert ids("张伟 深圳") == ["zw"]
    assert ids("张伟 杭州") == ["zwh"]
    assert ids("张伟 北京") == []


def test_fuzzy_is_weaker_than_any_real_match() -> None:
    docs = [SearchDoc("typo", "Jon Miller"), SearchDoc("exact", "Jon")]
    matches = rank("jon", docs)
    assert [m.id for m in matches] == ["exact", "typo"]
    assert rank("Jonh Miler", DOCS)[0].score <= FUZZY + 1


def test_match_carries_the_document() -> None:
    match = top("zhangwei")
    assert match.doc is DOCS[0]
    assert match.doc.name == "张伟"


def test_search_doc_from_customer() -> None:
    card = Customer(id="c9", name="李娜", owner_id="rep", company="网易", phones=["+8613912345678"],
                    tags=["网球"], city="武汉", email="lina@163.com")
    doc = search_doc(card)
    assert (doc.id, doc.name, doc.company, doc.phones, doc.tags, doc.city, doc.email) == (
        "c9", "李娜", "网易", ("+8613912345678",), ("网球",), "武汉", "lina@163.com")
    assert [m.id for m in rank("lina", [doc])] == ["c9"]
    assert [m.id for m in rank("5678", [doc])] == ["c9"]
    assert [m.id for m in rank("wangqiu", [doc])] == ["c9"]


def test_a_search_index_is_reusable() -> None:
    index = SearchIndex(DOCS)
    assert [m.id for m in index.rank("Jonh Miler")] == ["jm"]
    assert [m.id for m in index.rank("zhangwie")][:1] == ["zw"]
    assert [m.id for m in index.rank("张伟")] == ids("张伟")


def test_helpers() -> None:
    assert normalise("  ＪＯＨＮ   Miller ") == "john miller"
    assert compact("Zhang-Wei") == "zhangwei"
    assert pinyin_variants("张伟") == (("zhang", "wei"),)
    assert pinyin_variants("曾小明", surname=True)[:2] == (("zeng", "xiao", "ming"),
                                                          ("ceng", "xiao", "ming"))
    assert pinyin_variants("曾经") == (("ceng", "jing"),)
    assert pinyin_variants("John") == ()


def test_keys_are_precomputed_once() -> None:
    doc = DOCS[0]
    assert doc.keys is doc.keys
    assert "zhangwei" in doc.keys.fields[0].pinyin
    assert "8613800138000" in doc.keys.phones


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=50), st.integers(min_value=0, max_value=20))
def test_rank_never_fails_and_is_ordered(query: str, limit: int) -> None:
    matches = rank(query, DOCS, limit)
    assert len(matches) <= limit
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert len({m.id for m in matches}) == len(matches)


def test_rank_handles_huge_and_odd_queries() -> None:
    for query in ("x" * 100_000, "😀" * 1000, "<script>", "\x00\x01", "١٢٣٤٥٦"):
        assert isinstance(rank(query, DOCS), list)


# ---- the incremental index (issue 15.3) and 13.20 ---------------------------------------------


def test_an_index_follows_adds_replacements_and_removals() -> None:
    index = SearchIndex()
    index.add(SearchDoc("1", "张伟", company="Acme", version=1))
    assert [m.id for m in index.rank("zw")] == ["1"]
    index.add(SearchDoc("1", "李娜", company="Acme", version=2))
    assert [m.id for m in index.rank("zw")] == []
    assert [m.id for m in index.rank("lina")] == ["1"]
    index.add(SearchDoc("1", "王芳", version=1))  # older than what it holds: ignored
    assert [m.id for m in index.rank("lina")] == ["1"] and index.get("1").name == "李娜"
    index.remove("1")
    index.remove("1")
    assert index.rank("lina") == [] and index.rank("acme") == [] and len(index) == 0


def test_values_nobody_holds_are_swept_out() -> None:
    index = SearchIndex(SearchDoc(str(i), f"Name {i:04}", company=f"Company {i:04}") for i in range(3000))
    for i in range(2500):
        index.remove(str(i))
    assert sum(len(c.terms) for c in index._text.chunks) < 2 * len(index._text.by_key)
    assert [m.id for m in index.rank("name 2999")][:1] == ["2999"]
    assert [m.id for m in index.rank("compnay 2999")][:1] == ["2999"]  # fuzzy keys rebuilt too
    assert all(int(m.id) >= 2500 for m in index.rank("name 0001", limit=100))


def test_visible_restricts_to_those_ids() -> None:
    index = SearchIndex([SearchDoc("a", "张伟", owner_id="r1", team="east"),
                         SearchDoc("b", "张伟", owner_id="r2", team="east"),
                         SearchDoc("c", "张伟", owner_id="r3", team="west")])
    assert [m.id for m in index.rank("张伟", visible=index.ids_of_owner("r1"))] == ["a"]
    assert sorted(m.id for m in index.rank("zw", visible=index.ids_of_team("east"))) == ["a", "b"]
    assert index.rank("张伟", visible=frozenset()) == []


@pytest.mark.parametrize("query", ["0013", "001", "0013 8000", "00138000", "138 0013", "8000"])
def test_digit_runs_inside_a_number_match(query: str) -> None:
    assert ids(query)[:1] == ["zw"]


@pytest.mark.parametrize(("query", "expected"), [("miler", "jm"), ("jon", "jm"), ("millr", "jm"),
                                                 ("johnsen", "mj"), ("smth", None)])
def test_single_word_typos_of_latin_names(query: str, expected: str | None) -> None:
    found = ids(query)
    assert (found[:1] == [expected]) if expected else found == []


def test_names_sort_by_pinyin_with_latin_names_among_them() -> None:
    from bot.domain.search import name_sort_key

    names = ["张伟", "Bob", "王芳", "安娜", "Wang Lei", "李娜", "曾小明", "Anna", "吕布", "Lu Xun"]
    assert sorted(names, key=name_sort_key) == [
        "安娜", "Anna", "Bob", "李娜", "Lu Xun", "吕布", "王芳", "Wang Lei", "曾小明", "张伟"]


def test_a_few_visible_ids_rank_as_a_scan_of_everyone_would(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.domain import search

    docs = [SearchDoc(f"{owner}{i}", name, company=company, phones=(f"+86138{i:04}{owner:04}",),
                      owner_id=str(owner))
            for owner in range(20) for i, (name, company) in enumerate(
                [("张伟", "华东贸易"), ("John Miller", "Acme"), ("王芳", None), ("Zoe Wang", "Acme")])]
    index = SearchIndex(docs)
    mine = index.ids_of_owner("3")
    for query in ("zw", "张伟", "miler", "acme", "0013", "138", "wang", "张 138", "jon"):
        few = [(m.id, m.score, m.kind) for m in index.rank(query, visible=mine)]
        monkeypatch.setattr(search, "_FEW_DOCS_RATIO", 10**9)  # always scan
        scanned = [(m.id, m.score, m.kind) for m in index.rank(query, visible=mine)]
        monkeypatch.undo()
        assert few == scanned, query
        assert all(doc_id.startswith("3") for doc_id, *_ in few)
