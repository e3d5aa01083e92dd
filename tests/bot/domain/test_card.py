from __future__ import annotations

from datetime import date

from bot.domain.card import InputContext, quick_add_draft

CTX = InputContext(phone_region="CN", today=date(2026, 3, 2))


def test_name_phone_company() -> None:
    draft, failed, _error = quick_add_draft("张伟 13800138000 Acme 公司", CTX)
    assert failed is None
    assert draft == {"name": "张伟", "phones": ["+8613800138000"], "company": "Acme 公司"}


def test_without_a_phone_everything_is_the_name() -> None:
    draft, failed, _error = quick_add_draft("John Miller", CTX)
    assert failed is None and draft == {"name": "John Miller"}


def test_a_bad_name_is_reported_with_the_phone_kept() -> None:
    draft, failed, error = quick_add_draft("🙂 13800138000", CTX)
    assert failed == "name" and error is not None and error.reason_code == "name.no_letters"
    assert draft == {"phones": ["+8613800138000"]}


def test_a_spaced_phone_splits_name_and_company() -> None:
    draft, failed, _error = quick_add_draft("张伟 138 0013 8000 Acme", CTX)
    assert failed is None
    assert draft == {"name": "张伟", "phones": ["+8613800138000"], "company": "Acme"}


def test_an_international_phone_with_dashes_is_not_part_of_the_name() -> None:
    draft, failed, _error = quick_add_draft("Zhang Wei +86 138-0013-8000 Acme Co", CTX)
    assert failed is None
    assert draft == {"name": "Zhang Wei", "phones": ["+8613800138000"], "company": "Acme Co"}


def test_a_chinese_name_then_a_company_without_a_phone() -> None:
    draft, failed, _error = quick_add_draft("王五 上海某某公司", CTX)
    assert failed is None and draft == {"name": "王五", "company": "上海某某公司"}


def test_a_phone_alone_asks_for_the_name_without_complaining() -> None:
    draft, failed, error = quick_add_draft("13800138000", CTX)
    assert failed == "name" and error is None
    assert draft == {"phones": ["+8613800138000"]}
