"""What the Telegram bot does with each update: questions, commands, inline queries and buttons.

Private chat: any text is a question. Groups: ``/ask``, a message that mentions the bot, or a reply
to one of its messages that reads as a question (``bot.service.addressing``, the rule Discord
shares); everything else is ignored, and nothing is answered until a group admin runs ``/enable``.
Mentions of anyone are removed from the question. The asking flow (refusals, limits, answering off
the event loop, storage) is the service's; here is only where a question came from and how its
answer is sent: HTML, split at sentence ends, the keyboard under the last piece, in the forum topic
it was asked in, with "typing…" shown while it is made. An answer counts as delivered once Telegram
accepted every piece.

Every message goes through one send queue per chat (``bot.service.outbox``): answers first, then
command replies, then notices, within Telegram's 20 messages a minute into a group. A refusal is
told once per window; in a group a member's cooldown is told with a 👀 reaction (no message, so
no place in the group's budget), the rest with one short reply. A member who blocked the bot, or a
group that removed it, is logged in one INFO line and sent nothing.

Admin commands are checked in code on every call: ``getChatMember`` for group admins (a "yes" is
remembered for ``telegram.admin_cache_seconds``, at most 10 s; a "no" is asked again every time),
the configured user ids for maintainers. ``/stats`` is a chart with the figures as its caption;
``/gaps`` lists the topics members asked that the articles miss, with a ✍️ button per topic: it
asks the admin to reply with the answer (Telegram's "force reply"), and that reply becomes a
moderator note (``/note add question | answer`` does the same). ``/forget`` is for every member.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import math
import re
import time
from collections.abc import Callable
from functools import partial

from telegram import (
    ChatMember,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputFile,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, MessageEntityType, ParseMode, ReactionEmoji
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.core.engine import IndexBusy, clean_question
from bot.service import library
from bot.service.addressing import is_question, without_mentions
from bot.service.asking import COOLDOWN, Asked, Refusal
from bot.service.gaps import GapReport, find_gaps
from bot.service.notes import Note, NoteProblem, parse_note
from bot.service.outbox import ANSWER, NOTICE, REPLY, Outbox, Place
from bot.service.reports import date_text, gaps_csv, held_back_text, since, stats_report
from bot.service.runtime import Services
from bot.service.storage import DOWN, UP, ChatConfig, Origin
from bot.service.text import cut, forgotten_text, provenance
from bot.telegram.render import (
    INLINE_TITLE_LIMIT,
    MESSAGE_LIMIT,
    SOURCES_PREFIX,
    answer_messages,
    escape,
    gaps_messages,
    keyboard,
    note_text,
    pack,
    plain,
    sources_messages,
    stats_caption,
)

logger = logging.getLogger(__name__)

PLATFORM = "telegram"
GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)
ADMIN_STATUSES = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)

WELCOME = (
    "I answer questions about the Progress MS-10 (“Progress 71”) cargo launch of 16 November 2018 by "
    "quoting news articles, with numbered sources. When the articles do not hold the answer, I say so."
)
MEMBER_HELP = (
    "<b>Asking</b>\n"
    "In a private chat with me, just send your question. In a group: /ask followed by your question, "
    "mention me with it, or reply to one of my answers.\n"
    "A reply to one of my answers is a question when it reads as one (ends with ? or starts with a "
    "question word); “thanks!” needs no answer.\n"
    "/sources lists the articles I answer from; /forget deletes every question you asked me and your votes.\n"
    "Under each answer: 📄 Sources (the full passages, here in private) and 👍/👎.\n"
    "One question each per {cooldown} s: in a group, 👀 on your message means you asked a moment ago; "
    "ask again shortly.\n"
    "In any chat, type @{username} and a question to share an answer."
)
ADMIN_HELP = (
    "<b>Group admins</b>\n"
    "/enable, /disable: let me answer in this group, or stop.\n"
    "/stats [days]: questions asked, answered, declined, votes, with a chart.\n"
    "/unanswered [days]: what the articles did not answer, as a CSV file.\n"
    "/gaps [days]: those questions grouped into topics; ✍️ under one to answer it with a note.\n"
    "/note add question | answer: a moderator note, quoted with your name wherever it answers; "
    "/note list, /note remove id."
)
MAINTAINER_HELP = (
    "<b>Maintainers</b>\n/reindex [rebuild]: re-read the knowledge folder and swap the new index in.\n"
    "/knowledge add &lt;url&gt;: fetch an article and answer from it. /knowledge list: the documents and "
    "their ids. /knowledge remove &lt;id&gt;: take one out."
)

NOT_ENABLED = "I'm not enabled in this group yet. A group admin can turn me on with /enable."
DISABLED = "I'm not enabled in this group. A group admin can turn me on again with /enable."
ASK_HINT = "Write your question after /ask, like this: /ask When did Progress MS-10 launch?"
MENTION_HINT = "Mention me with your question, or use /ask."
NOT_ADMIN = "Only this group's admins can use this command."
NOT_MAINTAINER = (
    "Only the bot's maintainers (listed by Telegram user id in the bot's configuration) can use /{command}."
)
KNOWLEDGE_USAGE = "Use /knowledge add <url>, /knowledge list, or /knowledge remove <id>."
GROUP_ONLY = "This command works in groups. In a private chat I always answer."
GONE = "I can't find that answer any more, sorry."
NOTE_PROMPT = "✍️ Gap #{ids}: {questions}"
NOTE_PROMPT_HELP = "Reply to this message with the answer. It becomes a moderator note, quoted with your name."
_NOTE_PROMPT = re.compile(r"^✍️ Gap #(\d+(?:,\d+){0,2}):")
NOTE_USAGE = "Use /note add question | answer, /note list, or /note remove id."
NOTIFIED = "There is now an answer to your question:"
GAP_BUTTONS = 5
APOLOGY = "Sorry — something went wrong on my side. It has been logged; please try again in a moment."
BUSY = "A reindex is already running; try again when it finishes."
NO_ANSWER_TITLE = "No answer in the articles"
UNKNOWN_BUTTON = "This button no longer works. Ask again for fresh buttons."
DAYS_LIMIT = 3650
SEEN = ReactionEmoji.EYES  # a member's cooldown, told in a group without a message
ADMIN_CACHE_LIMIT = 10.0  # seconds: a demoted admin keeps their commands no longer than this
TYPING_SECONDS = 4.0  # Telegram shows "typing…" for 5 s; one action per chat per this long


def origin(message: Message) -> Origin:
    """Where a Telegram question came from. A group is the community its reports are about; private
    chats have none (each is its own rate-limit bucket)."""
    chat = message.chat
    user = message.from_user
    return Origin(
        PLATFORM,
        str(chat.id) if chat.type in GROUPS else None,
        str(chat.id),
        str(user.id if user else chat.id),
        thread_id=str(message.message_thread_id) if message.is_topic_message else None,
    )


def mention_spans(message: Message, *, command: bool = False) -> list[tuple[int, int]]:
    """Where ``message.text`` names someone (@username and text_mention entities) and, with
    ``command``, its leading /command: character ranges (Telegram counts in UTF-16 code units)."""
    kinds = {MessageEntityType.MENTION, MessageEntityType.TEXT_MENTION}
    if command:
        kinds.add(MessageEntityType.BOT_COMMAND)
    text = message.text or ""
    units = text.encode("utf-16-le")
    spans = []
    for entity in message.entities:
        if entity.type in kinds and (entity.type != MessageEntityType.BOT_COMMAND or entity.offset == 0):
            start = len(units[: entity.offset * 2].decode("utf-16-le"))
            end = start + len(units[entity.offset * 2 : (entity.offset + entity.length) * 2].decode("utf-16-le"))
            spans.append((start, end))
    return spans


def question_in(message: Message, *, command: bool = False) -> str:
    """The text of a message without anyone's mention (and, with ``command``, without /ask)."""
    return without_mentions(message.text or "", mention_spans(message, command=command))


def addressed(message: Message, bot_id: int, bot_username: str | None) -> str | None:
    """The question in a group message for the bot, without mentions; None when the message is not
    for the bot: it neither mentions the bot nor replies to it reading as a question ("thanks!")."""
    mentioned = False
    for entity, value in message.parse_entities([MessageEntityType.MENTION, MessageEntityType.TEXT_MENTION]).items():
        by_name = entity.type == MessageEntityType.MENTION and bot_username
        if (by_name and value.lower() == f"@{bot_username.lower()}") or (entity.user and entity.user.id == bot_id):
            mentioned = True
    replied = message.reply_to_message
    to_bot = replied is not None and replied.from_user is not None and replied.from_user.id == bot_id
    question = question_in(message)
    return question if is_question(question, mentions_bot=mentioned, replies_to_bot=to_bot) else None


class TelegramBot:
    """The handlers and the little state they keep: the groups' allow-list, recent admin checks,
    when each chat last saw "typing…", and the send queue."""

    def __init__(self, services: Services, clock: Callable[[], float] = time.monotonic) -> None:
        self.services = services
        self.asking = services.asking
        self.storage = services.storage
        self.settings = services.settings.telegram
        self.chats: dict[str, ChatConfig] = {}
        self.clock = clock
        self._chats_loaded = -math.inf
        self._admins: dict[tuple[int, int], float] = {}  # (chat, user) -> until when "admin" is trusted
        self._typing: dict[int, float] = {}
        group_budget = self.settings.group_messages_per_minute
        self.outbox = Outbox(lambda chat_id: group_budget if chat_id < 0 else None)

    def register(self, application: Application) -> None:
        new = filters.UpdateType.MESSAGE  # edits of old messages are not new questions
        commands = {
            "start": self.start,
            "help": self.help,
            "ask": self.ask,
            "sources": self.sources,
            "enable": self.enable,
            "disable": self.disable,
            "stats": self.stats,
            "unanswered": self.unanswered,
            "gaps": self.gaps,
            "note": self.note,
            "forget": self.forget,
            "reindex": self.reindex,
            "knowledge": self.knowledge,
        }
        for name, callback in commands.items():
            application.add_handler(CommandHandler(name, callback, filters=new))
        application.add_handler(CallbackQueryHandler(self.vote, pattern=r"^vote:\d+:(up|down)$"))
        application.add_handler(CallbackQueryHandler(self.answer_gap, pattern=r"^gap:\d+(,\d+){0,2}$"))
        application.add_handler(CallbackQueryHandler(self.unknown_button))  # from an older version of the bot
        application.add_handler(InlineQueryHandler(self.inline))
        text = new & filters.TEXT & ~filters.COMMAND
        application.add_handler(MessageHandler(text & filters.ChatType.PRIVATE, self.private_text))
        application.add_handler(MessageHandler(text & filters.ChatType.GROUPS, self.group_text))
        application.add_error_handler(self.on_error)

    async def load(self) -> None:
        self._chats_loaded = self.clock()
        self.chats = await asyncio.to_thread(self.storage.chats, PLATFORM)

    async def enabled(self, message: Message) -> bool:
        """Private chats always; a group once an admin ran /enable. The groups' settings are read
        again once they are ``chat.reload_check_seconds`` old: with several processes (webhook
        mode) the /enable may have reached another one."""
        if message.chat.type not in GROUPS:
            return True
        if self.clock() - self._chats_loaded >= self.services.settings.chat.reload_check_seconds:
            await self.load()
        config = self.chats.get(str(message.chat.id))
        return config is not None and config.enabled

    def not_enabled(self, message: Message) -> str:
        """Why the bot is silent in this group: never enabled ("yet"), or disabled by an admin."""
        return NOT_ENABLED if str(message.chat.id) not in self.chats else DISABLED

    # ------------------------------------------------------------------ sending

    async def reply(
        self, message: Message, text: str, *, priority: int = REPLY, expires_in: float | None = None, **kwargs
    ) -> Message | None:
        """A reply through the chat's send queue (None: a notice that went stale unsent)."""
        sent = await self.outbox.post(
            message.chat_id, [partial(message.reply_text, text, **kwargs)], priority=priority, expires_in=expires_in
        )
        return sent[0] if sent else None

    async def notify(self, message: Message, refusal: Refusal) -> None:
        """Tell a refusal once per window; what follows in the window is dropped quietly (counted by
        the service). In a group a member's cooldown is a 👀 reaction; everything else a short reply."""
        if not refusal.notify:
            return
        if refusal.reason == COOLDOWN and message.chat.type in GROUPS:
            try:
                await self.outbox.post(
                    message.chat_id,
                    [partial(message.set_reaction, SEEN)],
                    priority=NOTICE,
                    counted=False,
                    expires_in=refusal.seconds,
                )
            except BadRequest as error:  # the group allows only some reactions, or none
                logger.info("telegram chat %s: could not react to a message on cooldown (%s)", message.chat_id, error)
            return
        await self.reply(message, plain(refusal.text), priority=NOTICE, expires_in=refusal.seconds)

    async def typing(self, message: Message) -> None:
        """Show "typing…" while an answer is made, at most once per chat every few seconds (a burst of
        questions in a group needs one). Only a member who blocked the bot stops the question here."""
        now = self.clock()
        if self._typing.get(message.chat_id, -math.inf) > now:
            return
        self._typing[message.chat_id] = now + TYPING_SECONDS
        if len(self._typing) > 10_000:
            self._typing = {chat: until for chat, until in self._typing.items() if until > now}
        try:
            await message.reply_chat_action(ChatAction.TYPING)
        except Forbidden:
            raise
        except TelegramError as error:
            logger.debug("telegram chat %s: no typing action (%s)", message.chat_id, error)

    # ------------------------------------------------------------------ asking

    async def private_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self._note_reply(update.effective_message, context):
            return
        await self._ask(update.effective_message, question_in(update.effective_message), context)

    async def group_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if await self._note_reply(message, context):
            return
        question = addressed(message, context.bot.id, context.bot.username)
        if question is None or not await self.enabled(message):
            return  # not for the bot, or not enabled here: stay silent rather than nag
        await self._ask(message, question, context, hint=MENTION_HINT)

    async def ask(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        await self._ask(message, question_in(message, command=True), context, hint=ASK_HINT, check_enabled=True)

    async def _ask(
        self,
        message: Message,
        question: str,
        context: ContextTypes.DEFAULT_TYPE,
        *,
        hint: str = "",
        check_enabled: bool = False,
    ) -> None:
        where = origin(message)
        enabled = not check_enabled or await self.enabled(message)
        not_enabled = self.not_enabled(message)
        refusal = self.asking.refusal(question, where, enabled=enabled, not_enabled=not_enabled, hint=hint)
        if refusal is not None:
            await self.notify(message, refusal)
            return
        async with self.services.question():  # a graceful stop waits for it to be sent
            place = self.outbox.hold(message.chat_id)  # from now on, no notice takes this answer's place
            try:
                await self.typing(message)
                asked = await self.asking.answer(question, where, conversation=await self.conversation_of(message))
                sent = await self._send(message, asked, context.bot.username, place)
            finally:
                place.release()
            await self.asking.delivered(
                asked, conversation=_message_key(message), message_ids=[_message_key(piece) for piece in sent]
            )

    async def conversation_of(self, message: Message) -> str | None:
        """A reply to one of the bot's answers continues that answer's conversation."""
        replied = message.reply_to_message
        if replied is None:
            return None
        return await self.asking.replied_to(PLATFORM, _message_key(replied))

    async def _send(self, message: Message, asked: Asked, bot_username: str | None, place: Place) -> list[Message]:
        """Every piece of the answer, the first quoting the question, the keyboard under the last
        (no votes under a decline: it is on the unanswered list already); first in the chat's queue."""
        pieces = answer_messages(asked.answer)
        markup = keyboard(
            asked.question_id, bot_username, with_sources=asked.has_sources, with_votes=asked.answer.answered
        )
        last = len(pieces)
        sends = [
            partial(message.reply_text, piece, do_quote=number == 1, reply_markup=markup if number == last else None)
            for number, piece in enumerate(pieces, start=1)
        ]
        return await self.outbox.post(message.chat_id, sends, priority=ANSWER, place=place)

    # ------------------------------------------------------------------ members' commands

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        argument = context.args[0] if context.args else ""
        if argument.startswith(SOURCES_PREFIX) and argument[len(SOURCES_PREFIX) :].isdigit():
            await self._show_sources(update.effective_message, int(argument[len(SOURCES_PREFIX) :]))
            return
        await self.help(update, context)

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        parts = [
            escape(WELCOME),
            MEMBER_HELP.format(
                username=context.bot.username, cooldown=f"{self.services.settings.chat.user_cooldown_seconds:g}"
            ),
            ADMIN_HELP,
        ]
        user = update.effective_user
        if user is not None and user.id in self.settings.maintainers:
            parts.append(MAINTAINER_HELP)
        await self.reply(update.effective_message, "\n\n".join(parts))

    async def _show_sources(self, message: Message, question_id: int) -> None:
        stored = await asyncio.to_thread(self.storage.get_answer, question_id)
        if stored is None:
            await self.reply(message, plain(GONE))
            return
        for piece in sources_messages(stored.question, stored.sources, answered=stored.answered):
            await self.reply(message, piece)

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        index = self.services.engine.index
        documents = list(index.manifest["documents"].items())
        lines = [f"<b>{len(documents)} article(s)</b> I answer from:"]
        for doc_id, meta in documents[:20]:
            document = index.documents.get(doc_id)
            details = f"\n  {escape(cut(provenance(document), 300))}" if document is not None else ""
            lines.append(f"• {escape(cut(meta['title'], 200))} ({meta['chunks']} passages){details}")
        if len(documents) > 20:
            lines.append(f"…and {len(documents) - 20} more")
        for piece in pack(lines, separator="\n"):
            await self.reply(update.effective_message, piece)

    # ------------------------------------------------------------------ buttons and inline mode

    async def vote(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        _, question_id, direction = query.data.split(":")
        vote = UP if direction == "up" else DOWN
        stored = await asyncio.to_thread(self.storage.vote, int(question_id), str(query.from_user.id), vote)
        emoji = "👍" if vote == UP else "👎"
        await query.answer(f"Thanks — your {emoji} is recorded (tap the other one to change it)." if stored else GONE)

    async def unknown_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button this version does not know (sent by an older one): stop its spinner, say so."""
        query = update.callback_query
        logger.info("telegram: a button with unknown data (%d bytes) was pressed", len(query.data or ""))
        await query.answer(UNKNOWN_BUTTON)

    async def inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``@bot question`` in any chat: the quoted answer, offered to share. Not stored: inline
        queries arrive while the member is still typing."""
        query = update.inline_query
        clean = clean_question(query.query, self.asking.max_question_chars)
        if clean.text is None:
            await query.answer([], cache_time=5)
            return
        async with self.asking.slots:
            answer = await asyncio.to_thread(self.services.engine.answer, clean.text)
        if answer.answered:
            title = cut(answer.text, INLINE_TITLE_LIMIT)
            description = " · ".join(dict.fromkeys(s.title for s in answer.sources))
        else:
            title, description = NO_ANSWER_TITLE, cut(answer.text, 200)
        header = f"<b>{escape(cut(clean.text, 300))}</b>\n\n"
        shown = header + answer_messages(answer, MESSAGE_LIMIT - len(header))[0]  # the rest: ask in private
        result = InlineQueryResultArticle(
            id=hashlib.sha256(clean.text.encode()).hexdigest()[:32],
            title=title,
            description=cut(description, 200),
            input_message_content=InputTextMessageContent(
                shown, parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
            ),
        )
        await query.answer([result], cache_time=300)

    # ------------------------------------------------------------------ admins

    async def is_admin(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """A group admin (getChatMember; a "yes" is remembered for at most 10 s, a "no" never), an
        anonymous admin posting as the group, or a maintainer."""
        user = message.from_user
        if message.sender_chat is not None and message.sender_chat.id == message.chat.id:
            return True
        if user is None:
            return False
        if user.id in self.settings.maintainers:
            return True
        return await self._is_admin_user(message, user.id, context)

    async def _is_admin_user(self, message: Message, user_id: int, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """``getChatMember`` says this user administers the message's group (a "yes" remembered briefly)."""
        key, now = (message.chat.id, user_id), self.clock()
        if self._admins.get(key, -math.inf) > now:
            return True
        member = await context.bot.get_chat_member(message.chat.id, user_id)
        if member.status not in ADMIN_STATUSES:
            self._admins.pop(key, None)
            return False  # not remembered: a member made admin a moment ago is let in at once
        self._admins[key] = now + min(self.settings.admin_cache_seconds, ADMIN_CACHE_LIMIT)
        if len(self._admins) > 10_000:
            self._admins = {k: until for k, until in self._admins.items() if until > now}
        return True

    async def _admin_in_group(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """True to go ahead; otherwise the member has been told why not."""
        if message.chat.type not in GROUPS:
            await self.reply(message, plain(GROUP_ONLY))
            return False
        if not await self.is_admin(message, context):
            await self.reply(message, plain(NOT_ADMIN))
            return False
        return True

    async def enable(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._set_enabled(update.effective_message, context, True)

    async def disable(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._set_enabled(update.effective_message, context, False)

    async def _set_enabled(self, message: Message, context: ContextTypes.DEFAULT_TYPE, enabled: bool) -> None:
        if not await self._admin_in_group(message, context):
            return
        chat_id = str(message.chat.id)
        config = await asyncio.to_thread(self.storage.set_chat, PLATFORM, chat_id, chat_id, enabled=enabled)
        self.chats[chat_id] = config
        logger.info("telegram chat %s %s", chat_id, "enabled" if enabled else "disabled")
        await self.reply(
            message,
            "Enabled: members can ask with /ask, by mentioning me, or by replying to my answers."
            if enabled
            else "Disabled: I won't answer in this group until an admin runs /enable.",
        )

    async def _report_scope(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> str | bool | None:
        """The community a report is about (a group; None: the private chats, for maintainers), or
        False when the member may not see it (they have been told)."""
        if message.chat.type in GROUPS:
            return str(message.chat.id) if await self._admin_in_group(message, context) else False
        user = message.from_user
        if user is not None and user.id in self.settings.maintainers:
            return None
        await self.reply(message, plain(GROUP_ONLY))
        return False

    async def _report_request(
        self, message: Message, context: ContextTypes.DEFAULT_TYPE, default_days: int
    ) -> tuple[int, str | None] | None:
        """(days, community) of a report the member may see, or None once told why not."""
        days = await self._days(message, context.args, default_days)
        scope = await self._report_scope(message, context) if days else False
        return None if scope is False else (days, scope)

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The chart, with the figures as its caption (one message of the group's budget)."""
        message = update.effective_message
        request = await self._report_request(message, context, 7)
        if request is None:
            return
        days, scope = request
        report = await asyncio.to_thread(stats_report, self.storage, PLATFORM, scope, days)
        where = "this group" if scope else "private chats"
        held_back = held_back_text(self.asking.held_back_in(PLATFORM, scope))
        caption = stats_caption(report.stats, f"Last {days} day(s) in {where}", held_back)
        photo = InputFile(io.BytesIO(report.chart), filename="stats.png")
        await self.outbox.post(message.chat_id, [partial(message.reply_photo, photo, caption=caption)], priority=REPLY)

    async def gaps(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The topics members asked that the articles miss; ✍️ buttons where notes may be written."""
        message = update.effective_message
        request = await self._report_request(message, context, 7)
        if request is None:
            return
        days, scope = request
        report: GapReport = await asyncio.to_thread(
            find_gaps, self.storage, self.services.engine, PLATFORM, scope, days
        )
        refusal = self._note_refusal(message)
        pieces = gaps_messages(report, refusal)
        buttons = [
            InlineKeyboardButton(f"✍️ {number}", callback_data="gap:" + ",".join(map(str, topic.question_ids)))
            for number, topic in enumerate(report.topics[:GAP_BUTTONS], start=1)
        ]
        markup = InlineKeyboardMarkup([buttons]) if buttons and not refusal else None
        last = len(pieces)
        sends = [
            partial(message.reply_text, piece, reply_markup=markup if number == last else None)
            for number, piece in enumerate(pieces, start=1)
        ]
        await self.outbox.post(message.chat_id, sends, priority=REPLY)

    # ------------------------------------------------------------------ notes

    def _note_refusal(self, message: Message) -> str:
        """Why notes may not be written from this chat ("" when they may): maintainers always may,
        group admins in the groups listed in ``notes.communities`` (the caller checked admin)."""
        user = message.from_user
        if user is not None and user.id in self.settings.maintainers:
            return ""
        community = str(message.chat.id) if message.chat.type in GROUPS else None
        return self.services.notes.refusal(PLATFORM, community)

    async def _may_write_notes(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """Admins of a listed group, or maintainers; anyone else has been told why not."""
        user = message.from_user
        if user is not None and user.id in self.settings.maintainers:
            return True
        if not await self._admin_in_group(message, context):
            return False
        refusal = self._note_refusal(message)
        if refusal:
            await self.reply(message, plain(refusal))
        return not refusal

    async def note(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/note add question | answer``, ``/note list``, ``/note remove id``."""
        message = update.effective_message
        action, _, rest = question_in(message, command=True).strip().partition(" ")
        action = action.lower()
        if action not in {"add", "list", "remove"}:
            await self.reply(message, plain(NOTE_USAGE))
            return
        if not await self._may_write_notes(message, context):
            return
        notes = self.services.notes
        try:
            if action == "list":
                listed = await asyncio.to_thread(notes.list)
                lines = [
                    f"<b>{escape(n.id)}</b> {escape(n.attribution)}: {escape(cut(' / '.join(n.questions), 200))}"
                    for n in listed
                ]
                for piece in pack(lines, separator="\n") or [plain("No notes yet.")]:
                    await self.reply(message, piece)
            elif action == "remove":
                removed = await asyncio.to_thread(notes.remove, rest)
                await self.reply(message, plain(f"Removed note {removed.id}: it no longer answers."))
            else:
                questions, answer = parse_note([rest])
                await self._add_note(message, questions, answer)
        except NoteProblem as problem:
            await self.reply(message, plain(str(problem)))

    async def _add_note(self, message: Message, questions: list[str], answer: str) -> None:
        user = message.from_user
        author = user.full_name if user is not None else message.chat.title or "a moderator"
        await message.reply_chat_action(ChatAction.TYPING)
        added = await asyncio.to_thread(self.services.notes.add, questions, answer, author)
        logger.info("moderator note %s added in telegram chat %s", added.note.id, message.chat_id)
        told = await self._tell_askers(message, added.note)
        extra = f"\nTold {told} member(s) in their reply chains." if told else ""
        await self.reply(message, note_text(added.note, added.check_text() + extra))

    async def answer_gap(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """✍️ under a /gaps topic: ask the admin (only) to reply with the answer."""
        query = update.callback_query
        message = query.message
        if message is None or not isinstance(message, Message):
            await query.answer(GONE)
            return
        user = query.from_user
        maintainer = user.id in self.settings.maintainers
        if not maintainer and (
            message.chat.type not in GROUPS or not await self._is_admin_user(message, user.id, context)
        ):
            await query.answer(NOT_ADMIN)
            return
        refusal = "" if maintainer else self.services.notes.refusal(PLATFORM, str(message.chat.id))
        if refusal:
            await query.answer(cut(refusal, 200), show_alert=True)
            return
        ids = query.data.split(":")[1]
        questions = await asyncio.to_thread(self.services.notes.questions_of, [int(n) for n in ids.split(",")])
        if not questions:
            await query.answer(GONE)
            return
        await query.answer()
        listed = " / ".join(f"“{cut(question, 200)}”" for question in questions)
        prompt = NOTE_PROMPT.format(ids=ids, questions=listed) + "\n" + NOTE_PROMPT_HELP
        command = message.reply_to_message  # the admin's /gaps: "selective" asks only its sender to reply
        target = command if command is not None and command.from_user is not None else message
        await self.outbox.post(
            message.chat_id,
            [
                partial(
                    target.reply_text,
                    plain(prompt),
                    reply_markup=ForceReply(selective=target is command, input_field_placeholder="The answer"),
                )
            ],
            priority=REPLY,
        )

    async def _note_reply(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """A reply to a ✍️ prompt, by someone who may write notes: the answer becomes a note. True
        when the message was such a reply (handled: a note, or a refusal); False for anything else."""
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
            return False
        found = _NOTE_PROMPT.match(replied.text or "")
        if found is None:
            return False
        if not await self._may_write_notes(message, context):
            return True
        ids = [int(n) for n in found[1].split(",")]
        questions = await asyncio.to_thread(self.services.notes.questions_of, ids)
        if not questions:
            await self.reply(message, plain(GONE))
            return True
        try:
            await self._add_note(message, questions, question_in(message))
        except NoteProblem as problem:
            await self.reply(message, plain(str(problem)))
        return True

    async def _tell_askers(self, message: Message, note: Note) -> int:
        """With ``notes.notify_days``: reply to each recent declined question's answer in this chat
        that ``note`` now answers. How many were told."""
        community = str(message.chat.id) if message.chat.type in GROUPS else None
        if community is None:
            return 0
        followups = await asyncio.to_thread(self.services.notes.followups, PLATFORM, community, note)
        bot = message.get_bot()
        told = 0
        for waiting, answer in followups:
            chat_id = int(waiting.chat_id or community)
            _, _, answer_id = (waiting.answer_message or "").partition(":")
            reply = ReplyParameters(int(answer_id), allow_sending_without_reply=True) if answer_id.isdigit() else None
            thread = int(waiting.thread_id) if waiting.thread_id and waiting.thread_id.isdigit() else None
            text = f"<i>{escape(NOTIFIED)}</i>\n" + answer_messages(answer, MESSAGE_LIMIT - 100)[0]
            try:
                await self.outbox.post(
                    chat_id,
                    [partial(bot.send_message, chat_id, text, reply_parameters=reply, message_thread_id=thread)],
                    priority=NOTICE,
                )
                told += 1
            except TelegramError as error:
                logger.info("could not tell a member that question %d has an answer (%s)", waiting.id, error)
        return told

    async def forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every member: delete the questions they asked and the votes they gave, on Telegram."""
        message = update.effective_message
        user = message.from_user
        if user is None:
            return
        forgotten = await asyncio.to_thread(self.storage.forget_member, PLATFORM, str(user.id))
        logger.info("a member's questions (%d) and votes (%d) were forgotten", forgotten.questions, forgotten.votes)
        await self.reply(message, plain(forgotten_text(forgotten, self.services.settings.state.retention_days)))

    async def unanswered(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        request = await self._report_request(message, context, 30)
        if request is None:
            return
        days, scope = request
        gaps = await asyncio.to_thread(self.storage.gaps, PLATFORM, scope, since(days))
        if not gaps:
            await self.reply(message, f"Nothing unanswered or voted down in the last {days} day(s).")
            return
        lines = [
            f"{date_text(g.created)} {'👎' if g.answered else '∅'} {escape(cut(g.question, 150))}" for g in gaps[:10]
        ]
        caption = f"<b>{len(gaps)} question(s) the articles did not serve ({days} days)</b>\n" + "\n".join(lines)
        document = InputFile(io.BytesIO(gaps_csv(gaps)), filename="unanswered.csv")
        await self.outbox.post(
            message.chat_id, [partial(message.reply_document, document, caption=cut(caption, 1000))], priority=REPLY
        )

    async def reindex(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        user = message.from_user
        if user is None or user.id not in self.settings.maintainers:
            await self.reply(message, plain(NOT_MAINTAINER.format(command="reindex")))
            return
        rebuild = bool(context.args) and context.args[0].lower() in {"rebuild", "full", "true"}
        logger.info("telegram reindex requested (rebuild=%s) by user %s", rebuild, user.id)
        await message.reply_chat_action(ChatAction.TYPING)
        try:
            report = await asyncio.to_thread(self.services.engine.reindex, rebuild)
        except IndexBusy:
            await self.reply(message, plain(BUSY))
            return
        except Exception as error:
            logger.error("reindex failed; the previous index keeps serving", exc_info=error)
            reason = f"{type(error).__name__}: {error}"
            await self.reply(
                message, plain(f"The reindex failed — {reason}. The previous index is still answering questions.")
            )
            return
        skipped = f"\nSkipped: {len(report.errors)}" if report.errors else ""
        warning = f"\nWarning: {report.warning()}." if report.warning() else ""
        await self.reply(message, plain(f"Reindexed: {report.summary()}{warning}") + skipped)

    async def knowledge(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/knowledge add <url>``, ``list``, ``remove <id>``: maintainers only, checked on every call;
        the work runs off the event loop (``bot.service.library``)."""
        message = update.effective_message
        user = message.from_user
        if user is None or user.id not in self.settings.maintainers:
            await self.reply(message, plain(NOT_MAINTAINER.format(command="knowledge")))
            return
        action, *rest = context.args or [""]
        argument = " ".join(rest)
        engine = self.services.engine
        if action == "add" and argument:
            await message.reply_chat_action(ChatAction.TYPING)
            await self.reply(message, plain(await library.add_link(engine, argument)))
        elif action == "list" and not argument:
            lines = await library.document_lines(engine)
            blocks = [escape(line) for line in lines]
            for piece in pack(["<b>Knowledge base</b> (id — title)", *blocks], separator="\n"):
                await self.reply(message, piece)
        elif action == "remove" and argument:
            await self.reply(message, plain(await library.remove(engine, argument)))
        else:
            await self.reply(message, plain(KNOWLEDGE_USAGE))

    async def _days(self, message: Message, args: list[str] | None, default: int) -> int:
        """The optional [days] argument, or 0 after telling the member what is wrong with it."""
        if not args:
            return default
        if args[0].isdigit() and 1 <= int(args[0]) <= DAYS_LIMIT:
            return int(args[0])
        await self.reply(message, plain(f"The number of days must be a whole number from 1 to {DAYS_LIMIT:,}."))
        return 0

    # ------------------------------------------------------------------ errors

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the traceback and tell the member briefly; never raise (the bot outlives any error). A
        member who blocked the bot (or a group that removed it) is one INFO line: nothing can be sent."""
        message = update.effective_message if isinstance(update, Update) else None
        if isinstance(context.error, Forbidden):
            chat = message.chat_id if message is not None else "?"
            logger.info("telegram chat %s: the bot is blocked or was removed; nothing sent (%s)", chat, context.error)
            return
        logger.error("handling a Telegram update failed", exc_info=context.error)
        if message is None:
            return
        try:
            await self.reply(message, plain(APOLOGY))
        except Exception:
            logger.warning("could not send the apology", exc_info=True)


def _message_key(message: Message) -> str:
    """A message's id made unique across chats (Telegram numbers messages per chat)."""
    return f"{message.chat_id}:{message.message_id}"
