"""What the Telegram bot does with each update: questions, commands, inline queries and buttons.

Private chat: any text is a question. Groups: ``/ask``, a message that mentions the bot, or a reply
to one of its messages; everything else is ignored, and nothing is answered until a group admin
runs ``/enable``. The asking flow (refusals, limits, answering off the event loop, storage) is the
service's; here is only where a question came from and how its answer is sent: HTML, split at
sentence ends, the keyboard under the last piece, in the forum topic it was asked in. An answer
counts as delivered once Telegram accepted every piece.

Admin commands are checked in code on every call: ``getChatMember`` (remembered for
``telegram.admin_cache_seconds``) for group admins, the configured user ids for maintainers.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import math
import time
from collections.abc import Callable

from telegram import (
    ChatMember,
    InlineQueryResultArticle,
    InputFile,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatType, MessageEntityType, ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.core.index import IndexBusy
from bot.core.question import clean_question
from bot.service.asking import Asked
from bot.service.reports import date_text, gaps_csv, since
from bot.service.runtime import Services
from bot.service.storage import DOWN, UP, ChatConfig, Origin
from bot.service.text import cut
from bot.telegram.render import (
    INLINE_TITLE_LIMIT,
    MESSAGE_LIMIT,
    SOURCES_PREFIX,
    answer_messages,
    escape,
    keyboard,
    plain,
    sources_messages,
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
    "/sources lists the articles I answer from.\n"
    "Under each answer: 📄 Sources (the full passages, here in private) and 👍/👎.\n"
    "In any chat, type @{username} and a question to share an answer."
)
ADMIN_HELP = (
    "<b>Group admins</b>\n"
    "/enable, /disable: let me answer in this group, or stop.\n"
    "/stats [days]: questions asked, answered, declined, votes.\n"
    "/unanswered [days]: what the articles did not answer, as a CSV file."
)
MAINTAINER_HELP = "<b>Maintainers</b>\n/reindex [rebuild]: re-read the knowledge folder and swap the new index in."

NOT_ENABLED = "I'm not enabled in this group yet. A group admin can turn me on with /enable."
ASK_HINT = "Write your question after /ask, like this: /ask When did Progress MS-10 launch?"
MENTION_HINT = "Mention me with your question, or use /ask."
NOT_ADMIN = "Only this group's admins can use this command."
NOT_MAINTAINER = "Only the bot's maintainers (listed by Telegram user id in the bot's configuration) can use /reindex."
GROUP_ONLY = "This command works in groups. In a private chat I always answer."
GONE = "I can't find that answer any more, sorry."
APOLOGY = "Sorry — something went wrong on my side. It has been logged; please try again in a moment."
BUSY = "A reindex is already running; try again when it finishes."
NO_ANSWER_TITLE = "No answer in the articles"
DAYS_LIMIT = 3650


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


def addressed(message: Message, bot_id: int, bot_username: str | None) -> str | None:
    """The question in a group message addressed to the bot (a mention of it, or a reply to one of
    its messages), without the mention; None when the message is not for the bot."""
    text = message.text or ""
    mentioned = False
    for entity, value in message.parse_entities([MessageEntityType.MENTION, MessageEntityType.TEXT_MENTION]).items():
        by_name = entity.type == MessageEntityType.MENTION and bot_username
        if (by_name and value.lower() == f"@{bot_username.lower()}") or (entity.user and entity.user.id == bot_id):
            text = text.replace(value, " ")
            mentioned = True
    replied = message.reply_to_message
    if mentioned or (replied is not None and replied.from_user is not None and replied.from_user.id == bot_id):
        return " ".join(text.split())
    return None


class TelegramBot:
    """The handlers and the little state they keep: the groups' allow-list and recent admin checks."""

    def __init__(self, services: Services, clock: Callable[[], float] = time.monotonic) -> None:
        self.services = services
        self.asking = services.asking
        self.storage = services.storage
        self.settings = services.settings.telegram
        self.chats: dict[str, ChatConfig] = {}
        self.clock = clock
        self._chats_loaded = -math.inf
        self._admins: dict[tuple[int, int], tuple[float, bool]] = {}

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
            "reindex": self.reindex,
        }
        for name, callback in commands.items():
            application.add_handler(CommandHandler(name, callback, filters=new))
        application.add_handler(CallbackQueryHandler(self.vote, pattern=r"^vote:\d+:(up|down)$"))
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

    # ------------------------------------------------------------------ asking

    async def private_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._ask(update.effective_message, update.effective_message.text or "", context)

    async def group_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        question = addressed(message, context.bot.id, context.bot.username)
        if question is None or not await self.enabled(message):
            return  # not for the bot, or not enabled here: stay silent rather than nag
        await self._ask(message, question, context, hint=MENTION_HINT)

    async def ask(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        await self._ask(message, " ".join(context.args or ()), context, hint=ASK_HINT, check_enabled=True)

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
        refusal = self.asking.refusal(question, where, enabled=enabled, not_enabled=NOT_ENABLED, hint=hint)
        if refusal is not None:
            await message.reply_text(plain(refusal))
            return
        # No "typing…" action: an answer takes milliseconds, and every Bot API call counts against
        # Telegram's ~30 messages a second that the rate limiter keeps to.
        asked = await self.asking.answer(question, where, conversation=await self.conversation_of(message))
        sent = await self._send(message, asked, context.bot.username)
        await self.asking.delivered(
            asked, conversation=_message_key(message), message_ids=[_message_key(piece) for piece in sent]
        )

    async def conversation_of(self, message: Message) -> str | None:
        """A reply to one of the bot's answers continues that answer's conversation."""
        replied = message.reply_to_message
        if replied is None:
            return None
        return await self.asking.replied_to(PLATFORM, _message_key(replied))

    async def _send(self, message: Message, asked: Asked, bot_username: str | None) -> list[Message]:
        """Every piece of the answer, the first quoting the question, the keyboard under the last."""
        pieces = answer_messages(asked.answer)
        markup = keyboard(asked.question_id, bot_username, with_sources=asked.has_sources)
        sent = []
        for number, piece in enumerate(pieces, start=1):
            sent.append(
                await message.reply_text(
                    piece, do_quote=number == 1, reply_markup=markup if number == len(pieces) else None
                )
            )
        return sent

    # ------------------------------------------------------------------ members' commands

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        argument = context.args[0] if context.args else ""
        if argument.startswith(SOURCES_PREFIX) and argument[len(SOURCES_PREFIX) :].isdigit():
            await self._show_sources(update.effective_message, int(argument[len(SOURCES_PREFIX) :]))
            return
        await self.help(update, context)

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        parts = [escape(WELCOME), MEMBER_HELP.format(username=context.bot.username), ADMIN_HELP]
        user = update.effective_user
        if user is not None and user.id in self.settings.maintainers:
            parts.append(MAINTAINER_HELP)
        await update.effective_message.reply_text("\n\n".join(parts))

    async def _show_sources(self, message: Message, question_id: int) -> None:
        stored = await asyncio.to_thread(self.storage.get_answer, question_id)
        if stored is None:
            await message.reply_text(plain(GONE))
            return
        for piece in sources_messages(stored.sources):
            await message.reply_text(piece)

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        manifest = self.services.engine.index.manifest
        documents = list(manifest["documents"].values())
        lines = [f"<b>{len(documents)} article(s)</b> I answer from:"]
        lines += [f"• {escape(cut(meta['title'], 200))} ({meta['chunks']} passages)" for meta in documents[:20]]
        if len(documents) > 20:
            lines.append(f"…and {len(documents) - 20} more")
        await update.effective_message.reply_text("\n".join(lines))

    # ------------------------------------------------------------------ buttons and inline mode

    async def vote(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        _, question_id, direction = query.data.split(":")
        vote = UP if direction == "up" else DOWN
        stored = await asyncio.to_thread(self.storage.vote, int(question_id), str(query.from_user.id), vote)
        emoji = "👍" if vote == UP else "👎"
        await query.answer(f"Thanks — your {emoji} is recorded (tap the other one to change it)." if stored else GONE)

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
        """A group admin (getChatMember, remembered briefly), an anonymous admin posting as the
        group, or a maintainer."""
        user = message.from_user
        if message.sender_chat is not None and message.sender_chat.id == message.chat.id:
            return True
        if user is None:
            return False
        if user.id in self.settings.maintainers:
            return True
        key, now = (message.chat.id, user.id), self.clock()
        cached = self._admins.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        member = await context.bot.get_chat_member(message.chat.id, user.id)
        admin = member.status in ADMIN_STATUSES
        self._admins[key] = (now + self.settings.admin_cache_seconds, admin)
        if len(self._admins) > 10_000:
            self._admins = {k: v for k, v in self._admins.items() if v[0] > now}
        return admin

    async def _admin_in_group(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """True to go ahead; otherwise the member has been told why not."""
        if message.chat.type not in GROUPS:
            await message.reply_text(plain(GROUP_ONLY))
            return False
        if not await self.is_admin(message, context):
            await message.reply_text(plain(NOT_ADMIN))
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
        await message.reply_text(
            "Enabled: members can ask with /ask, by mentioning me, or by replying to my answers."
            if enabled
            else "Disabled: I won't answer in this group until an admin runs /enable."
        )

    async def _report_scope(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> str | bool | None:
        """The community a report is about (a group; None: the private chats, for maintainers), or
        False when the member may not see it (they have been told)."""
        if message.chat.type in GROUPS:
            return str(message.chat.id) if await self._admin_in_group(message, context) else False
        user = message.from_user
        if user is not None and user.id in self.settings.maintainers:
            return None
        await message.reply_text(plain(GROUP_ONLY))
        return False

    async def _report_request(
        self, message: Message, context: ContextTypes.DEFAULT_TYPE, default_days: int
    ) -> tuple[int, str | None] | None:
        """(days, community) of a report the member may see, or None once told why not."""
        days = await _days(message, context.args, default_days)
        scope = await self._report_scope(message, context) if days else False
        return None if scope is False else (days, scope)

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        request = await self._report_request(message, context, 7)
        if request is None:
            return
        days, scope = request
        stats = await asyncio.to_thread(self.storage.stats, PLATFORM, scope, since(days))
        top = "\n".join(f"{n}× {escape(cut(question, 150))}" for question, n in stats.top) or "—"
        where = "this group" if scope else "private chats"
        await message.reply_text(
            f"<b>Last {days} day(s) in {where}</b>\n"
            f"Asked {stats.asked} · answered {stats.answered} · declined {stats.declined}\n"
            f"Feedback: 👍 {stats.up} · 👎 {stats.down}\n\n<b>Top questions</b>\n{top}"
        )

    async def unanswered(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        request = await self._report_request(message, context, 30)
        if request is None:
            return
        days, scope = request
        gaps = await asyncio.to_thread(self.storage.gaps, PLATFORM, scope, since(days))
        if not gaps:
            await message.reply_text(f"Nothing unanswered or voted down in the last {days} day(s).")
            return
        lines = [
            f"{date_text(g.created)} {'👎' if g.answered else '∅'} {escape(cut(g.question, 150))}" for g in gaps[:10]
        ]
        caption = f"<b>{len(gaps)} question(s) the articles did not serve ({days} days)</b>\n" + "\n".join(lines)
        await message.reply_document(
            InputFile(io.BytesIO(gaps_csv(gaps)), filename="unanswered.csv"), caption=cut(caption, 1000)
        )

    async def reindex(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        user = message.from_user
        if user is None or user.id not in self.settings.maintainers:
            await message.reply_text(plain(NOT_MAINTAINER))
            return
        rebuild = bool(context.args) and context.args[0].lower() in {"rebuild", "full", "true"}
        logger.info("telegram reindex requested (rebuild=%s) by user %s", rebuild, user.id)
        await message.reply_chat_action(ChatAction.TYPING)
        try:
            report = await asyncio.to_thread(self.services.engine.reindex, rebuild)
        except IndexBusy:
            await message.reply_text(plain(BUSY))
            return
        except Exception as error:
            logger.error("reindex failed; the previous index keeps serving", exc_info=error)
            reason = f"{type(error).__name__}: {error}"
            await message.reply_text(
                plain(f"The reindex failed — {reason}. The previous index is still answering questions.")
            )
            return
        skipped = f"\nSkipped: {len(report.errors)}" if report.errors else ""
        await message.reply_text(plain(f"Reindexed: {report.summary()}") + skipped)

    # ------------------------------------------------------------------ errors

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the traceback and tell the member briefly; never raise (the bot outlives any error)."""
        logger.error("handling a Telegram update failed", exc_info=context.error)
        message = update.effective_message if isinstance(update, Update) else None
        if message is None:
            return
        try:
            await message.reply_text(plain(APOLOGY))
        except Exception:
            logger.warning("could not send the apology", exc_info=True)


def _message_key(message: Message) -> str:
    """A message's id made unique across chats (Telegram numbers messages per chat)."""
    return f"{message.chat_id}:{message.message_id}"


async def _days(message: Message, args: list[str] | None, default: int) -> int:
    """The optional [days] argument, or 0 after telling the member what is wrong with it."""
    if not args:
        return default
    if args[0].isdigit() and 1 <= int(args[0]) <= DAYS_LIMIT:
        return int(args[0])
    await message.reply_text(plain(f"The number of days must be a whole number from 1 to {DAYS_LIMIT:,}."))
    return 0
