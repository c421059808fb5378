"""A Bot API server in a box for the Telegram tests: a ``telegram.request.BaseRequest`` that records
every call python-telegram-bot makes and answers it as Telegram would, and updates as Telegram sends
them. The real ``Application`` runs on top; nothing in the library is patched and nothing leaves
the machine.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_ID = 7_000_000_001
BOT_USERNAME = "launchbot_test_bot"
TOKEN = "7000000001:AAF-not-a-real-token-but-secret-xyz"
ADMIN_FIELDS = dict.fromkeys(
    [
        "can_be_edited",
        "is_anonymous",
        "can_manage_chat",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
    ],
    False,
)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    files: dict[str, bytes] = field(default_factory=dict)
    result: Any = None  # what the Bot API answered (e.g. the message sent, with its message_id)


SENDS = {"sendMessage", "sendDocument", "sendPhoto"}


class BotAPI(BaseRequest):
    """Answers getMe, sendMessage, getChatMember... and records them. ``admins``: the (chat, user)
    pairs getChatMember reports as administrators; ``retry_after``: method -> seconds, answered
    once with Telegram's 429 "Too Many Requests: retry after N"; ``group_limit``: (messages,
    seconds) Telegram allows into one group, beyond which it answers 429 (recorded in ``refused``);
    ``blocked``: chats whose member blocked the bot (403 Forbidden to everything sent there)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.admins: set[tuple[int, int]] = set()
        self.retry_after: dict[str, int] = {}
        self.group_limit: tuple[int, float] | None = None
        self.refused: list[Call] = []
        self.blocked: set[int] = set()
        self._message_ids = itertools.count(5000)

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        files = {}
        if request_data is not None and request_data.contains_files:
            files = {key: value[1] for key, value in request_data.multipart_data.items() if isinstance(value, tuple)}
        call = Call(name, params, time.monotonic(), files)
        self.calls.append(call)
        if name == "getUpdates":
            await asyncio.sleep(0.05)  # long polling with nothing new: Telegram holds the request
        chat_id = int(params.get("chat_id", 0))
        if chat_id in self.blocked:
            body = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
            return 403, json.dumps(body).encode()
        seconds = self.retry_after.pop(name, None)
        if seconds is None and self._over_group_limit(call, chat_id):
            seconds = 1
            self.refused.append(call)
        if seconds is not None:
            body = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {seconds}",
                "parameters": {"retry_after": seconds},
            }
            return 429, json.dumps(body).encode()
        call.result = self._result(name, params)
        return 200, json.dumps({"ok": True, "result": call.result}).encode()

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getUpdates":
            return []
        if name == "getMe":
            return {
                **BOT,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": True,
            }
        if name in SENDS:
            chat_id = int(params["chat_id"])
            message = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": BOT,
            }
            if "text" in params:
                message["text"] = params["text"]
            if "caption" in params:
                message["caption"] = params["caption"]
            if name == "sendPhoto":
                message["photo"] = [{"file_id": "p1", "file_unique_id": "u1", "width": 800, "height": 360}]
            return message
        if name == "getChatMember":
            key = (int(params["chat_id"]), int(params["user_id"]))
            user = {"id": key[1], "is_bot": False, "first_name": "Member"}
            if key in self.admins:
                return {"status": "administrator", "user": user, **ADMIN_FIELDS}
            return {"status": "member", "user": user}
        return True

    def _over_group_limit(self, call: Call, chat_id: int) -> bool:
        if self.group_limit is None or call.method not in SENDS or chat_id >= 0:
            return False
        limit, seconds = self.group_limit
        recent = [c for method in SENDS for c in self.sent(method, chat_id) if call.at - c.at < seconds]
        return len(recent) >= limit

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[Call]:
        """The calls of ``method`` Telegram accepted (to ``chat_id``, if given)."""
        return [
            call
            for call in self.calls
            if call.method == method
            and call.result is not None
            and (chat_id is None or int(call.params.get("chat_id", 0)) == chat_id)
        ]


BOT = {"id": BOT_ID, "is_bot": True, "first_name": "Launchbot", "username": BOT_USERNAME}
_update_ids = itertools.count(1)
_message_ids = itertools.count(100)
GROUP_ID = -1001234567890


def user(user_id: int, name: str = "Member") -> dict:
    return {"id": user_id, "is_bot": False, "first_name": name, "language_code": "en"}


def chat(chat_id: int) -> dict:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Member"}
    return {"id": chat_id, "type": "supergroup", "title": "Launch fans", "is_forum": True}


def message(
    text: str,
    *,
    chat_id: int,
    user_id: int,
    reply_to: dict | None = None,
    topic: int | None = None,
    text_mentions: dict[str, int] | None = None,
) -> dict:
    """A message update as Telegram sends it: entities for a leading /command, every @username, and
    ``text_mentions`` (a member's name as written -> their user id: members without a username)."""
    entities = []
    if text.startswith("/"):
        entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
    for found in re.finditer(r"(?<![\w/])@\w+", text):
        entities.append({"type": "mention", "offset": _utf16(text[: found.start()]), "length": _utf16(found[0])})
    for name, mentioned in (text_mentions or {}).items():
        start = text.index(name)
        entities.append(
            {"type": "text_mention", "offset": _utf16(text[:start]), "length": _utf16(name), "user": user(mentioned)}
        )
    body: dict[str, Any] = {
        "message_id": next(_message_ids),
        "from": user(user_id),
        "chat": chat(chat_id),
        "date": int(time.time()),
        "text": text,
    }
    if entities:
        body["entities"] = entities
    if reply_to is not None:
        body["reply_to_message"] = reply_to
    if topic is not None:
        body["message_thread_id"] = topic
        body["is_topic_message"] = True
    return {"update_id": next(_update_ids), "message": body}


def bot_message(chat_id: int, text: str = "“The ship was launched from Baikonur.” [1]") -> dict:
    """One of the bot's own messages, as it appears in ``reply_to_message``."""
    return {
        "message_id": next(_message_ids),
        "from": BOT,
        "chat": chat(chat_id),
        "date": int(time.time()),
        "text": text,
    }


def inline_query(text: str, *, user_id: int) -> dict:
    return {
        "update_id": next(_update_ids),
        "inline_query": {"id": str(next(_message_ids)), "from": user(user_id), "query": text, "offset": ""},
    }


def callback(data: str, *, user_id: int, chat_id: int) -> dict:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_message_ids)),
            "from": user(user_id),
            "chat_instance": "-42",
            "data": data,
            "message": bot_message(chat_id),
        },
    }


def _utf16(text: str) -> int:
    """Telegram counts entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2
