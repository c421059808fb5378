"""A realistic week of community questions, seeded, for the moderators' reports (gaps, charts, the
HTML report): what members ask in the days after the launch video went round, in English and Hindi.

Half the questions are ones the articles answer, worded as members word them; about a third are the
launch's near-topic questions the articles never cover (the weather at Baikonur, Gerst's age, the
mission's cost, the Soyuz commander…), each asked by several people in several wordings and in Hindi;
the rest are off-topic. The week before is quieter, with other proportions, so topics have a trend.
Every question is answered by the real engine (each distinct wording once) and stored as the bot
stores it, with its time, its member and the votes members gave.

``python -m tests.week DATABASE`` writes a week into a SQLite state database (for trying
``launchbot gaps`` and ``launchbot report --html`` by hand).
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from bot.core.engine import Engine
from bot.service.charts import period_start
from bot.service.reports import DAY
from bot.service.storage import DOWN, UP, Origin, Storage
from bot.service.text import stored_sources

# Subjects the articles do not cover: wordings (Hindi last), and how often each is asked this week
# and the week before.
GAP_SUBJECTS: dict[str, tuple[list[str], float, float]] = {
    "weather": (
        [
            "What was the weather at Baikonur during the launch?",
            "How was the weather at Baikonur on launch day?",
            "weather at baikonur?",
            "What was the weather like for the launch?",
            "लॉन्च के समय बैकोनूर में मौसम कैसा था?",
        ],
        0.24,
        0.08,
    ),
    "cost": (
        [
            "How much did the mission cost?",
            "What did the Progress MS-10 launch cost?",
            "How much does a Progress launch cost?",
            "इस मिशन की लागत कितनी थी?",
        ],
        0.19,
        0.30,
    ),
    "gerst_age": (
        [
            "How old is Alexander Gerst?",
            "What is Gerst's age?",
            "how old is gerst",
            "अलेक्जेंडर गेर्स्ट की उम्र कितनी है?",
        ],
        0.17,
        0.12,
    ),
    "soyuz_commander": (
        [
            "Who was the commander of the Soyuz?",
            "Who commanded the Soyuz rocket?",
            "Who was the Soyuz commander?",
        ],
        0.14,
        0.10,
    ),
    "fuel": (["What fuel does the Soyuz rocket use?", "What fuel did the rocket burn?"], 0.08, 0.14),
    "livestream": (["Where can I watch the launch live?", "Was the launch streamed live anywhere?"], 0.07, 0.16),
    "gerst_wife": (["Is Alexander Gerst married?", "Who is Gerst's wife?"], 0.06, 0.06),
    "height": (["How tall is the Soyuz rocket?", "What is the height of the Soyuz rocket?"], 0.05, 0.04),
}
ANSWERABLE = [
    "When did Progress MS-10 launch?",
    "When was the Progress MS-10 launched?",
    "Where was the rocket launched from?",
    "Who filmed the launch from space?",
    "Who recorded the launch video from the ISS?",
    "How much cargo did Progress 71 carry?",
    "When did Progress 71 reach the space station?",
    "What is Progress 71?",
    "How long does the timelapse last in real time?",
    "Which window did Gerst film the launch from?",
    "Who is the commander of Expedition 57?",
    "प्रोग्रेस MS-10 का प्रक्षेपण कब हुआ?",
    "अंतरिक्ष यान कितना सामान लेकर गया?",
]
OFF_TOPIC = [
    "How do I bake a chocolate cake?",
    "Who won the football World Cup in 2018?",
    "What is the capital of Australia?",
    "Can you recommend a good laptop?",
]
THIS_WEEK = (18, 34, 41, 29, 22, 17, 15)  # questions a day, oldest first: the video went round on day 2
WEEK_BEFORE = (6, 8, 5, 9, 7, 6, 8)
MEMBERS = 90
HINDI_SHARE = 0.25  # of a subject's questions, asked in Hindi where it has a Hindi wording


@dataclass(frozen=True)
class Question:
    text: str
    subject: str  # a GAP_SUBJECTS key, "answerable" or "off-topic"
    created: float
    member: str
    vote: int = 0  # the asker's vote on the answer: UP, DOWN or 0


@dataclass
class Week:
    questions: list[Question]
    start: float  # when this week began (the week before is as long, before it)
    answered: dict[str, bool] = field(default_factory=dict)  # each distinct wording: did the engine answer it

    def unserved(self, question: Question) -> bool:
        """What the gaps report counts: declined, or answered and voted down by its asker."""
        return not self.answered[question.text] or question.vote == DOWN

    def people(self, subject: str, *, before: bool = False) -> int:
        """How many members asked about ``subject`` this week (or the week before) and were not served."""
        return len(
            {
                q.member
                for q in self.questions
                if q.subject == subject and (q.created < self.start) == before and self.unserved(q)
            }
        )


def generate(seed: int = 2018, now: float | None = None) -> Week:
    """Two periods of questions ending at ``now``, the same for the same seed: this week as the
    reports count it (the last 7 days, today the last: ``period_start``) and as long a period before."""
    rng = random.Random(seed)
    now = time.time() if now is None else now
    start = period_start(7, now)
    span = (now - start) / 7  # the week before, in 7 equal parts
    members = [f"member-{n:03d}" for n in range(MEMBERS)]
    regulars = members[:15]  # a few ask much more than the rest
    questions: list[Question] = []
    for this_week, per_day in ((False, WEEK_BEFORE), (True, THIS_WEEK)):
        weights = {subject: (w if this_week else b) for subject, (_, w, b) in GAP_SUBJECTS.items()}
        for day, count in enumerate(per_day):
            begins = start + day * DAY if this_week else start - (7 - day) * span
            length = min(DAY, now - begins) if this_week else span
            for _ in range(count):
                created = begins + rng.uniform(0, length * 0.999)
                member = rng.choice(regulars) if rng.random() < 0.3 else rng.choice(members)
                questions.append(_question(rng, weights, created, member))
    questions.sort(key=lambda q: q.created)
    return Week(questions, start)


def _question(rng: random.Random, weights: dict[str, float], created: float, member: str) -> Question:
    roll = rng.random()
    if roll < 0.50:
        return Question(rng.choice(ANSWERABLE), "answerable", created, member, _vote(rng, up=0.35, down=0.04))
    if roll < 0.88:
        subject = rng.choices(list(weights), weights=list(weights.values()))[0]
        wordings = GAP_SUBJECTS[subject][0]
        hindi = [w for w in wordings if not w.isascii()]
        english = [w for w in wordings if w.isascii()]
        text = rng.choice(hindi) if hindi and rng.random() < HINDI_SHARE else rng.choice(english)
        return Question(text, subject, created, member, _vote(rng, up=0.05, down=0.4))
    return Question(rng.choice(OFF_TOPIC), "off-topic", created, member)


def _vote(rng: random.Random, *, up: float, down: float) -> int:
    roll = rng.random()
    return UP if roll < up else DOWN if roll < up + down else 0


def fill(storage: Storage, engine: Engine, week: Week, platform: str, community: str | None) -> Week:
    """Answer every question with ``engine`` (each wording once) and store them as the bot does, with
    the asker's vote on answers (declines get no votes, as in the chats)."""
    answers = {text: engine.answer(text) for text in dict.fromkeys(q.text for q in week.questions)}
    week.answered = {text: answer.answered for text, answer in answers.items()}
    chat = community or "private"
    for question in week.questions:
        answer = answers[question.text]
        origin = Origin(platform, community, chat, question.member)
        question_id = storage.record_question(
            origin,
            question=answer.question,
            answered=answer.answered,
            answer=answer.text,
            sources=stored_sources(answer),
            confidence=answer.confidence,
            latency_ms=20.0,
            created=question.created,
        )
        storage.mark_delivered(question_id, f"answer-{question_id}")
        if question.vote and answer.answered:
            storage.vote(question_id, question.member, question.vote)
    return week


def summary(week: Week) -> Counter[str]:
    """Members per gap subject this week whose questions were not served."""
    return Counter({subject: week.people(subject) for subject in GAP_SUBJECTS})


def main() -> None:
    from pathlib import Path

    from bot.config import load_settings
    from bot.service.storage import SQLiteStorage

    parser = argparse.ArgumentParser(description="Write a realistic week of questions into a state database.")
    parser.add_argument("database", type=Path, help="SQLite state database (created if missing)")
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--platform", default="discord")
    parser.add_argument("--community", default="500000000000000001")
    args = parser.parse_args()
    engine = Engine(load_settings())
    engine.open()
    storage = SQLiteStorage(args.database)
    try:
        week = fill(storage, engine, generate(args.seed), args.platform, args.community)
    finally:
        storage.close()
    print(f"{len(week.questions)} questions in {args.database} ({args.platform} {args.community})")
    for subject, people in summary(week).most_common():
        print(f"  {people:3d} people asked about {subject} and were not served")


if __name__ == "__main__":
    main()
