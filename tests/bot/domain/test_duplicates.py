from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.duplicates import Duplicate, company_key, find_duplicates
from bot.domain.models import Customer
from bot.domain.search import SearchDoc, search_doc


def card(id: str, name: str, **fields: object) -> Customer:
    return Customer(id=id, name=name, owner_id="rep", **fields)  # type: ignore[arg-type]


EXISTING = [
    card("c1", "张伟", company="腾讯科技有限公司", phones=["+8613800138000"]),
    card("c2", "John Miller", company="Acme Co., Ltd.", email="John@Acme.com"),
    card("c3", "王芳", phones=["+861088888888", "+8613911112222"]),
    card("c4", "李娜", company="网易"),
    card("c5", "张伟", company="阿里巴巴"),
    card("c6", "陈静"),
]


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (card("n", "Someone", phones=["+8613800138000"]),
         [Duplicate("c1", "phone", "+8613800138000")]),
        (card("n", "王芳芳", phones=["+8613700000000", "+8613911112222"]),
         [Duplicate("c3", "phone", "+8613911112222")]),
        (card("n", "J. Miller", email="john@acme.com"),
         [Duplicate("c2", "email", "John@Acme.com")]),
        (card("n", "张伟", company="腾讯科技"), [Duplicate("c1", "name_company", "腾讯科技有限公司")]),
        (card("n", "张 伟", company=" 腾讯科技有限公司 "),
         [Duplicate("c1", "name_company", "腾讯科技有限公司")]),
        # typed with a homophone: same pinyin, same company
        (card("n", "章伟", company="腾讯科技"), [Duplicate("c1", "name_company", "腾讯科技有限公司")]),
        (card("n", "John Miler", company="ACME co ltd"),
         [Duplicate("c2", "name_company", "Acme Co., Ltd.")]),
        (card("n", "john miller", company="Acme"),
         [Duplicate("c2", "name_company", "Acme Co., Ltd.")]),
        # same name, other company: a different person
        (card("n", "张伟", company="百度"), []),
        # same name, no company on one side: 张伟 is too common to say
        (card("n", "张伟"), []),
        (card("n", "陈静"), []),
        # same company, different person
        (card("n", "李明", company="网易"), []),
        (card("n", "Nobody", phones=["+16502530000"]), []),
    ],
)
def test_find_duplicates(new: Customer, expected: list[Duplicate]) -> None:
    assert find_duplicates(new, EXISTING) == expected


def test_strongest_reason_first_and_one_entry_per_customer() -> None:
    new = card("n", "张伟", company="阿里巴巴集团", phones=["+8613800138000"],
               email="zw@alibaba.com")
    existing = [*EXISTING, card("c7", "Zhang", email="ZW@alibaba.com")]
    assert find_duplicates(new, existing) == [
        Duplicate("c1", "phone", "+8613800138000"),
        Duplicate("c7", "email", "ZW@alibaba.com"),
        Duplicate("c5", "name_company", "阿里巴巴"),
    ]
    both = card("c8", "张伟", company="阿里巴巴", phones=["+8613800138000"])
    assert find_duplicates(new, [both]) == [Duplicate("c8", "phone", "+8613800138000")]


def test_a_customer_is_not_its_own_duplicate() -> None:
    assert find_duplicates(EXISTING[0], EXISTING) == []
    edited = card("c1", "张伟", company="腾讯", phones=["+8613800138000"])
    assert find_duplicates(edited, EXISTING) == []


def test_accepts_search_docs_on_either_side() -> None:
    docs = [search_doc(c) for c in EXISTING]
    new = SearchDoc("n", "张伟", company="腾讯科技", phones=("+8613800138000",))
    expected = [Duplicate("c1", "phone", "+8613800138000")]
    assert find_duplicates(new, docs) == expected
    assert find_duplicates(new, EXISTING) == expected
    assert find_duplicates(card("n", "x", phones=["+8613800138000"]), docs) == expected


@pytest.mark.parametrize(
    ("company", "key"),
    [
        ("ACME Co., Ltd.", "acme"),
        ("Acme", "acme"),
        ("acme inc", "acme"),
        ("Acme Trading Co", "acmetrading"),
        ("Costco", "costco"),
        ("腾讯科技有限公司", "腾讯科技"),
        ("腾讯科技（深圳）有限公司", "腾讯科技深圳"),
        ("阿里巴巴集团", "阿里巴巴"),
        ("华为技术股份有限公司", "华为技术"),
        ("ＡＣＭＥ　有限公司", "acme"),
        ("Co., Ltd.", "co"),
        ("公司", "公司"),
        ("", ""),
        (None, ""),
    ],
)
def test_company_key(company: str | None, key: str) -> None:
    assert company_key(company) == key


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_find_duplicates_never_fails(name: str, company: str) -> None:
    new = SearchDoc("n", name or "x", company=company or None)
    result = find_duplicates(new, EXISTING)
    assert all(d.reason == "name_company" for d in result)
    assert len({d.customer_id for d in result}) == len(result)
