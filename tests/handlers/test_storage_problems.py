"""A write the store refuses (disk full, damaged data) is told as a storage problem (issue 14.4).

End to end through the sandbox, with the store's own fault injection (ENOSPC at the
journal's write, as in tests/storage/test_disk_full.py): the user reads that it is a
storage problem and that an admin has been told (not "something went wrong… try
again"), nothing unsaved is shown as saved, and the admins get one message per episode —
not one per refused update — and again only after a recovery and a new episode.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.models import Role
from handlers.common import SERVICES_KEY
from storage import StoreDamagedError
from tests.handlers.test_buttons import add_staff
from tests.storage.test_disk_full import injected

REP_ID = 721
SAVE = {"en": "✅ Save", "zh": "✅ 保存"}
USER_TEXT = {
    "en": ("storage is full", "An admin has been told", "Nothing was saved"),
    "zh": ("存储空间已满", "已通知管理员", "没有保存"),
}
GENERIC = ("something went wrong", "出了点问题", "please try again", "请再试一次")
ALERT = "Storage problem"
RECOVERED = "Storage works again"


async def draft(user: Any, name: str) -> None:
    await user.send(f"/add {name} 13800138{len(name):03d}")


def alerts(admin: Any, text: str) -> list[Any]:
    return [m for m in admin.bot_messages() if text in (m.text or "")]


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_disk_full_is_told_as_such_and_the_admins_once_per_episode(
    bot: Any, sandbox: Any, admin: Any, language: str
) -> None:
    rep = await add_staff(bot, sandbox, REP_ID, "Wang Fang", Role.REP, ["east"], language)
    store = bot.bot_data[SERVICES_KEY].store
    await admin.send("/start")  # the admin's chat exists
    disk = injected(store)
    await draft(rep, "Zhang Wei")
    disk.full = True
    for _attempt in range(3):  # the user tries again; the admins hear of it once
        replies = await rep.press(SAVE[language])
        text = " ".join(m.text or "" for m in replies)
        assert all(part in text for part in USER_TEXT[language]), text
        assert not any(g in text for g in GENERIC), text
        assert "Zhang Wei" not in text or "✅" not in text  # no card shown as saved
    assert await store.customers.count() == 0
    assert len(alerts(admin, ALERT)) == 1
    assert "full" in alerts(admin, ALERT)[0].text

    # space returns: the store takes writes again by itself, the admins hear it is over
    disk.full = False
    replies = await rep.press(SAVE[language])  # the draft was kept: saving it now works
    assert "Zhang Wei" in replies[-1].text
    assert await store.customers.count() == 1
    assert len(alerts(admin, RECOVERED)) == 1

    # a new episode is told again, once
    await draft(rep, "Li Lei")
    disk.full = True
    await rep.press(SAVE[language])
    await rep.press(SAVE[language])
    assert len(alerts(admin, ALERT)) == 2
    assert await store.customers.count() == 1


async def test_damaged_store_is_told_as_such(
    bot: Any, sandbox: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rep = await add_staff(bot, sandbox, REP_ID, "Wang Fang", Role.REP, ["east"])
    store = bot.bot_data[SERVICES_KEY].store
    await admin.send("/start")

    async def damaged(*_args: Any, **_kwargs: Any) -> Any:
        raise StoreDamagedError("customers-0003.json: checksum mismatch")

    await draft(rep, "Zhang Wei")
    monkeypatch.setattr(store.customers, "insert", damaged)
    replies = await rep.press(SAVE["en"])
    text = " ".join(m.text or "" for m in replies)
    assert "stored data is damaged" in text and "An admin has been told" in text
    assert not any(g in text for g in GENERIC)
    (alert,) = alerts(admin, ALERT)
    assert "damaged" in alert.text and "checksum mismatch" in alert.text and "backup" in alert.text
    await rep.press(SAVE["en"])
    assert len(alerts(admin, ALERT)) == 1
