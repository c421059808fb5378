"""`/knowledge add|list|remove` in Telegram: the maintainers listed in the configuration only."""

from __future__ import annotations

from bot.telegram.handlers import KNOWLEDGE_USAGE, NOT_MAINTAINER
from tests.telegram.botapi import message
from tests.telegram.test_telegram import MAINTAINER, harness_for


async def test_maintainers_add_list_and_remove_and_members_cannot(engine, tmp_path, newsroom):
    tg = await harness_for(engine, tmp_path)
    try:
        link = newsroom.url("/bulletins/treadmill")
        refused = await tg.replies(message(f"/knowledge add {link}", chat_id=5, user_id=5))
        assert refused == [NOT_MAINTAINER.format(command="knowledge")]
        assert "station-treadmill-repaired-after-a-month" not in engine.index.documents

        [added] = await tg.replies(message(f"/knowledge add {link}", chat_id=MAINTAINER, user_id=MAINTAINER))
        assert added.startswith("Added: “Station treadmill repaired after a month” — Orbit Daily") and link in added
        [listing] = await tg.replies(message("/knowledge list", chat_id=MAINTAINER, user_id=MAINTAINER))
        assert "station-treadmill-repaired-after-a-month — Station treadmill" in listing and "via link" in listing
        [again] = await tg.replies(message(f"/knowledge add {link}", chat_id=MAINTAINER, user_id=MAINTAINER))
        assert again.startswith("Unchanged: ")
        remove = "/knowledge remove station-treadmill-repaired-after-a-month"
        [gone] = await tg.replies(message(remove, chat_id=MAINTAINER, user_id=MAINTAINER))
        assert gone.startswith("Removed station-treadmill-repaired-after-a-month")
        [usage] = await tg.replies(message("/knowledge", chat_id=MAINTAINER, user_id=MAINTAINER))
        assert usage == KNOWLEDGE_USAGE.replace("<", "&lt;").replace(">", "&gt;")
    finally:
        await tg.application.shutdown()
        tg.services.storage.close()
