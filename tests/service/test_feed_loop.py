"""The feed loop `serve` runs: off by default, and with `feeds.refresh_minutes` set it polls at start
and brings new items in without blocking the event loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.service.runtime import Services
from bot.service.storage import SQLiteStorage


async def test_the_feed_loop_is_off_by_default_and_polls_when_set(engine, tmp_path, newsroom):
    storage = SQLiteStorage(tmp_path / "bot.sqlite3")
    try:
        services = Services(engine.settings, engine, storage)
        services.start_reloading()
        assert services._feeds is None  # feeds.refresh_minutes: 0
        await services.stop_reloading()

        (engine.settings.knowledge_dir / "feeds.yaml").write_text(f"feeds:\n  - {newsroom.url('/feed.xml')}\n")
        newsroom.publish("Zucchini on the station", "/bulletins/zucchini", "", datetime(2018, 11, 28, tzinfo=UTC))
        settings = engine.settings.model_copy(
            update={"feeds": engine.settings.feeds.model_copy(update={"refresh_minutes": 60})}
        )
        services = Services(settings, engine, storage)
        services.start_reloading()
        for _ in range(300):
            if "station-crew-harvests-its-first-zucchini" in engine.index.documents:
                break
            await asyncio.sleep(0.1)  # the loop keeps running while the poll works in a thread
        assert "station-crew-harvests-its-first-zucchini" in engine.index.documents
        assert not services._feeds.done()  # asleep until the next poll
        await services.stop_reloading()
    finally:
        storage.close()
