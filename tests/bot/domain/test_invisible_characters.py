"""Invisible format characters (Unicode Cf) never make two names that look alike differ.

Zero-width space/non-joiner/joiner, word joiner, BOM, soft hyphen and bidi
controls are dropped from names, companies and tags when stored, and ignored
by search and the duplicate check (for records stored before this rule too).
"""

from __future__ import annotations

import pytest

from bot.domain.duplicates import company_key, find_duplicates
from bot.domain.models import Customer
from bot.domain.search import SearchDoc, SearchIndex, compact, normalise
from bot.domain.validation import parse_name, parse_tags

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad",
             "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
             "\u2066", "\u2067", "\u2068", "\u2069", "\u061c"]


@pytest.mark.parametrize("char", INVISIBLE)
def test_names_are_stored_without_them(char: str) -> None:
    assert parse_name(f"{char}Zhang{char} Wei{char}") == "Zhang Wei"
    assert parse_name(f"张{char}伟") == "张伟"
    assert parse_name(f"Acme{char} Co., Ltd.", field_name="company") == "Acme Co., Ltd."
    assert parse_tags(f"v{char}ip, 重点{char}客户") == ["vip", "重点客户"]


def test_a_name_of_nothing_but_them_is_empty() -> None:
    with pytest.raises(ValueError):  # ValidationError
        parse_name("\u200b\u2060\ufeff")


@pytest.mark.parametrize("char", INVISIBLE)
def test_search_folding_ignores_them(char: str) -> None:
    assert normalise(f"张{char}伟") == "张伟"
    assert compact(f"Zhang{char}Wei") == "zhangwei"
    index = SearchIndex([SearchDoc("old", f"张{char}伟", company=f"华东{char}贸易"),
                         SearchDoc("other", "李娜")])
    for query in ("张伟", "zhangwei", "华东贸易", f"张{char}伟"):
        assert [m.id for m in index.rank(query)][:1] == ["old"], query


@pytest.mark.parametrize("char", INVISIBLE)
def test_the_duplicate_check_ignores_them(char: str) -> None:
    old = Customer(id="old", name=f"张{char}伟", owner_id="rep", company=f"腾讯{char}科技有限公司")
    new = Customer(id="new", name="张伟", owner_id="rep", company="腾讯科技")
    assert [d.customer_id for d in find_duplicates(new, [old])] == ["old"]
    assert company_key(f"Ac{char}me Co., Ltd.") == company_key("ACME")
