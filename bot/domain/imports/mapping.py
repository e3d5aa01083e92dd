"""Which column is which card field, from its header (Chinese and English), and where the header is.

A mapping is a list of targets, one per column: a card field key (``bot.domain.card.FIELDS``),
a purchase part (``purchase.product`` / ``.amount`` / ``.date`` / ``.quantity``), :data:`NOTE`
(kept in the notes as "header: value") or :data:`IGNORE`. Headers are compared without case,
width, spaces and punctuation (``手机号码：``, ``Mobile Phone`` and ``mobile_phone`` are one).
A column whose header is unknown is kept as a note until the user says otherwise; a second
column for a one-value field too (two phone columns both go to the phones).
"""

from __future__ import annotations

import re

from bot.domain.validation import nfkc

IGNORE = "ignore"
NOTE = "note"
Mapping = list[str]

# target -> header spellings (compared normalised; see _key)
ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "客户名称", "客户姓名", "客户", "名字", "联系人", "联系人姓名", "名称", "name", "fullname",
             "customername", "customer", "contact", "contactname", "displayname", "firstname"),
    "phones": ("电话", "手机", "手机号", "手机号码", "联系电话", "电话号码", "联系方式", "移动电话", "座机", "固话",
               "办公电话", "mobile", "phone", "phonenumber", "mobilephone", "cell", "cellphone", "tel",
               "telephone", "mobilenumber", "businessphone", "homephone", "workphone"),
    "company": ("公司", "单位", "公司名称", "单位名称", "工作单位", "企业", "企业名称", "所属公司", "company",
                "companyname", "organization", "organisation", "org", "employer", "account", "accountname"),
    "title": ("职位", "职务", "头衔", "岗位", "title", "jobtitle", "position", "role"),
    "birthday": ("生日", "出生日期", "出生年月", "出生年月日", "birthday", "dateofbirth", "dob", "birthdate",
                 "birth"),
    "email": ("邮箱", "电子邮箱", "电子邮件", "邮件", "email", "emailaddress", "mail", "e-mail"),
    "address": ("地址", "联系地址", "详细地址", "通讯地址", "住址", "公司地址", "address", "street",
                "streetaddress", "mailingaddress"),
    "city": ("城市", "所在城市", "city", "town"),
    "wechat": ("微信", "微信号", "wechat", "wechatid", "weixin", "wx"),
    "telegram": ("telegram", "tg"),
    "tags": ("标签", "tags", "tag", "labels", "label"),
    "source": ("来源", "客户来源", "渠道", "source", "leadsource", "channel"),
    "industry": ("行业", "所属行业", "industry", "sector"),
    "gender": ("性别", "gender", "sex"),
    "notes": ("备注", "说明", "附注", "notes", "note", "remark", "remarks", "comment", "comments",
              "description"),
    "preferences": ("偏好", "需求", "喜好", "preferences", "needs", "interests"),
    "purchase.product": ("产品", "产品名称", "商品", "商品名称", "购买产品", "product", "productname", "item"),
    "purchase.amount": ("金额", "购买金额", "消费金额", "成交金额", "订单金额", "价格", "amount", "price", "total",
                        "revenue", "value"),
    "purchase.date": ("购买日期", "购买时间", "成交日期", "下单日期", "订单日期", "purchasedate", "purchasedon",
                      "orderdate", "dateofpurchase", "date"),
    "purchase.quantity": ("数量", "购买数量", "quantity", "qty"),
}
TARGETS: tuple[str, ...] = (*ALIASES, NOTE, IGNORE)
MULTI = frozenset({"phones", "tags", "notes", NOTE, IGNORE})  # targets several columns may share
_PUNCT = re.compile(r"[\W_]+")
_BY_KEY: dict[str, str] = {}


def _key(header: str) -> str:
    return _PUNCT.sub("", nfkc(header).casefold()).removesuffix("*")


# the reason column of a rejected-rows file (bot/services/imports.py): sent back fixed, it is no data
IGNORED_HEADERS = ("导入问题", "importproblem")
for _name in IGNORED_HEADERS:
    _BY_KEY[_name] = IGNORE
for _target, _names in ALIASES.items():
    for _name in _names:
        _BY_KEY.setdefault(_key(_name), _target)


def target_for(header: str) -> str | None:
    """The field a header names, or None when unknown."""
    key = _key(header)
    if not key:
        return None
    if key in _BY_KEY:
        return _BY_KEY[key]
    # "客户电话", "手机1", "Phone (mobile)": a known name inside a longer header; the longest
    # wins, and of two as long the one the header ends with (a Chinese header's head noun)
    found = [k for k in _BY_KEY if k in key and (len(k) >= 4 or (len(k) >= 2 and not k.isascii()))]
    if found:
        return _BY_KEY[max(found, key=lambda k: (len(k), key.endswith(k)))]
    return None


def guess_mapping(header: list[str]) -> Mapping:
    mapping: Mapping = []
    used: set[str] = set()
    for cell in header:
        target = target_for(cell) if cell else None
        if target is None:
            target = NOTE if cell.strip() else IGNORE
        elif target in used and target not in MULTI:
            target = NOTE
        used.add(target)
        mapping.append(target)
    return mapping


def find_header(rows: list[list[str]], scan: int = 20) -> int:
    """The index of the header row: the first of the rows that name the most known fields.

    Title rows above it ("2024 客户名单", a merged cell over the whole width) and blank rows
    are skipped; with no known header at all, the first row with two or more cells.
    """
    best, best_score = None, 0
    for index, row in enumerate(rows[:scan]):
        score = sum(1 for cell in row if cell and target_for(cell) is not None)
        if score > best_score:
            best, best_score = index, score
    if best is not None and best_score >= 1:
        return best
    for index, row in enumerate(rows[:scan]):
        if sum(1 for cell in row if cell) >= 2:
            return index
    return 0


def unknown_columns(header: list[str], mapping: Mapping) -> list[int]:
    """The columns whose header named no field (kept as a note or ignored)."""
    return [i for i, cell in enumerate(header) if cell and target_for(cell) is None]
