"""Privacy: stored questions expire after ``state.retention_days`` on both state backends, swept by
every running process (and by the report commands); the setting is checked like any other."""

from __future__ import annotations

import time

import pytest

from bot.config import ConfigError, Settings, load_settings
from bot.service.reports import DAY
from bot.service.runtime import Services, expire_old_questions
from bot.service.storage import EVERY, Origin
from tests.helpers import ON_BOTH_STATE_BACKENDS


@ON_BOTH_STATE_BACKENDS
async def test_questions_older_than_the_retention_period_are_deleted_with_their_votes(state, state_settings):
    now = time.time()
    where = Origin("telegram", "-1", "-1", "7")
    old = state.record_question(where, question="Long ago?", answered=True, created=now - 181 * DAY)
    state.vote(old, "8", 1)
    kept = state.record_question(where, question="Last month?", answered=False, created=now - 30 * DAY)
    assert state_settings.state.retention_days == 180
    assert expire_old_questions(state, 180, now=now) == 1
    assert state.get_answer(old) is None and state.votes(old) == (0, 0) and state.get_answer(kept) is not None

    state.record_question(where, question="Also long ago?", answered=False, created=time.time() - 200 * DAY)
    services = Services(state_settings, None, state)
    assert await services.expire_once() == 1  # what every bot process does, hourly
    assert state.stats(EVERY, EVERY, since=0).asked == 1


def test_retention_days_is_a_checked_setting(tmp_path, monkeypatch):
    assert Settings().state.retention_days == 180
    (tmp_path / "launchbot.yaml").write_text("state:\n  retention_days: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"state\.retention_days = 0"):
        load_settings(home=tmp_path)
    monkeypatch.setenv("LAUNCHBOT_STATE__RETENTION_DAYS", "30")
    (tmp_path / "launchbot.yaml").write_text("state:\n  retention_days: 90\n", encoding="utf-8")
    assert load_settings(home=tmp_path).state.retention_days == 30  # the environment wins over the file
