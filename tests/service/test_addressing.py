"""What counts as a question for the bot, and the question without the people it names: one rule,
shared by Discord and Telegram."""

from __future__ import annotations

import pytest

from bot.service.addressing import is_question, reads_as_question, without_mentions


@pytest.mark.parametrize(
    "text",
    [
        "When did it dock?",
        "when did it dock",
        "Did it dock on time",
        "What's Progress 71",
        "launch site? 🙂",
        "How many crew were aboard!",
        "यह कब लॉन्च हुआ",
        "क्या यह सफल रहा",
        "रॉकेट कहाँ से लॉन्च हुआ",
        "प्रक्षेपण कैसे हुआ?",
    ],
)
def test_questions_read_as_questions(text):
    assert reads_as_question(text)


@pytest.mark.parametrize(
    "text", ["thanks, that helped!", "thanks!", "👍", "ok cool", "धन्यवाद, बहुत अच्छा!", "great answer", ""]
)
def test_thanks_and_chatter_do_not(text):
    assert not reads_as_question(text)


def test_a_mention_always_asks_a_reply_only_when_it_reads_as_a_question_and_chatter_never():
    assert is_question("thanks!", mentions_bot=True, replies_to_bot=False)
    assert is_question("", mentions_bot=True, replies_to_bot=False)  # an empty mention gets a hint
    assert not is_question("thanks!", mentions_bot=False, replies_to_bot=True)
    assert is_question("when did it dock", mentions_bot=False, replies_to_bot=True)
    assert not is_question("when did it dock?", mentions_bot=False, replies_to_bot=False)


def test_every_mention_is_removed_and_nothing_else():
    assert (
        without_mentions("@bob_b @carol_admin where was Progress MS-10 launched from?")
        == "where was Progress MS-10 launched from?"
    )
    assert without_mentions("<@123> <@!456> <@&789> <#10> @everyone @here why?") == "why?"
    assert without_mentions("mail ops@example.org about it") == "mail ops@example.org about it"
    assert without_mentions("Carol Smith when did it dock?", [(0, 11)]) == "when did it dock?"
    assert without_mentions("नमस्ते Carol, कब?", [(7, 12)]) == "नमस्ते , कब?"
