"""Gaps as topics: unserved questions grouped by meaning across English and Hindi, counted by people,
with their trend, examples and closest passage; and, from a realistic week, the top missing subjects."""

from __future__ import annotations

import json

import pytest

from bot.service.gaps import MIN_TO_GROUP, find_gaps, form_vectors, group_questions
from bot.service.storage import Origin, SQLiteStorage
from tests.conftest import WEEK_COMMUNITY
from tests.week import ANSWERABLE, GAP_SUBJECTS, OFF_TOPIC

# Written for this test (not the set DISTANCE was chosen on): subjects the articles do not cover,
# each in English paraphrases and in Hindi, and questions about nothing else in the set.
SUBJECTS = {
    "temperature": [
        "What was the temperature at Baikonur on launch day?",
        "How cold was it at the cosmodrome?",
        "Was it freezing at Baikonur?",
        "बैकोनूर में तापमान कितना था?",
    ],
    "salary": ["How much does an astronaut earn?", "What is Gerst's salary?", "एस्ट्रोनॉट को कितनी सैलरी मिलती है?"],
    "married": ["Is Alexander Gerst married?", "Who is Gerst's wife?", "क्या अलेक्जेंडर गेर्स्ट शादीशुदा हैं?"],
    "visit": [
        "Can tourists watch a launch at Baikonur?",
        "How can I visit Baikonur to see a launch?",
        "क्या पर्यटक बैकोनूर में लॉन्च देख सकते हैं?",
    ],
    "expedition 58": ["Who is on the Expedition 58 crew?", "Which astronauts fly on Expedition 58?"],
    "insurance": ["Was the Progress MS-10 insured?", "Who insured the cargo ship?"],
    "music": ["What music is in the video?", "Which song plays in Gerst's timelapse?"],
    "pizza": ["Where can I order a pizza?"],
    "python": ["How do I install Python on Windows?"],
}


def test_paraphrases_in_english_and_hindi_share_a_topic_and_other_subjects_do_not(launch_engine):
    questions = [q for wordings in SUBJECTS.values() for q in wordings]
    subject_of = {q: subject for subject, wordings in SUBJECTS.items() for q in wordings}
    vectors = form_vectors(questions, launch_engine.question_vectors)
    topics = [{subject_of[questions[i]] for i in group} for group in group_questions(questions, vectors)]
    assert all(len(subjects) == 1 for subjects in topics), topics  # no topic mixes two subjects
    assert sorted(s for [s] in topics) == sorted(SUBJECTS)  # and each subject is one topic, Hindi included


def test_near_duplicates_share_a_topic_whatever_their_case_and_marks(launch_engine):
    questions = ["How old is Gerst?", "how old is gerst", "HOW OLD IS GERST???", "Where can I order a pizza?"]
    vectors = form_vectors(questions, launch_engine.question_vectors)
    assert len(vectors) == 2  # three wordings, one form: encoded once
    assert group_questions(questions, vectors) == [[0, 1, 2], [3]]


def test_a_realistic_week_shows_the_top_missing_subjects_with_their_counts(week, launch_engine):
    generated, database, _ = week
    storage = SQLiteStorage(database)
    try:
        report = find_gaps(storage, launch_engine, "discord", WEEK_COMMUNITY, 7)
    finally:
        storage.close()
    subject_of = {q: subject for subject, (wordings, _, _) in GAP_SUBJECTS.items() for q in wordings}
    subject_of |= {q: "off-topic: " + q for q in OFF_TOPIC} | {q: "answerable" for q in ANSWERABLE}
    unserved = [q for q in generated.questions if q.created >= generated.start and generated.unserved(q)]
    assert report.grouped and report.questions == len(unserved)
    assert report.people == len({q.member for q in unserved})

    missing = {subject: generated.people(subject) for subject in GAP_SUBJECTS}
    top_four = sorted(missing, key=missing.get, reverse=True)[:4]
    assert set(top_four) >= {"weather", "gerst_age", "cost"}  # the week as written: these are asked most
    shown = {}
    for topic in report.topics:
        subjects = {subject_of[example] for example in topic.examples}
        assert len(subjects) == 1, topic.examples  # one subject per topic
        shown[subjects.pop()] = topic
    for subject in top_four:  # each with its count of people, and the count of the week before
        topic = shown[subject]
        assert (topic.people, topic.before) == (missing[subject], generated.people(subject, before=True)), subject
    ranked = [topic.people for topic in report.topics]
    assert ranked == sorted(ranked, reverse=True) and report.topics[0] is shown[top_four[0]]
    weather = shown["weather"]
    assert weather.trend == f"+{weather.people - weather.before}" and len(weather.examples) == 3
    assert any(not example.isascii() for example in weather.examples)  # the Hindi wording is in the topic
    assert weather.closest is not None and weather.closest.quote  # what the articles have nearest (or said)
    assert "member-" not in json.dumps(report.to_json(), ensure_ascii=False)  # never who asked


def test_a_small_community_gets_a_plain_list(tmp_path, launch_engine):
    storage = SQLiteStorage(tmp_path / "state.sqlite3")
    group = "-1001"
    asked = ["What is the capital of Australia?", "what is the capital of australia", "How tall is Gerst?"]
    for member, question in enumerate(asked):
        storage.record_question(Origin("telegram", group, group, str(member)), question=question, answered=False)
    report = find_gaps(storage, launch_engine, "telegram", group, 7)
    storage.close()
    assert len(asked) < MIN_TO_GROUP and not report.grouped
    assert [(t.question, t.people, t.trend) for t in report.topics] == [
        ("what is the capital of australia", 2, "new"),  # two people, one question: its latest wording
        ("How tall is Gerst?", 1, "new"),
    ]


@pytest.mark.parametrize("days", [1, 30])
def test_nothing_unserved_is_an_empty_report(tmp_path, launch_engine, days):
    storage = SQLiteStorage(tmp_path / "state.sqlite3")
    report = find_gaps(storage, launch_engine, "discord", "1", days)
    storage.close()
    assert report.topics == [] and report.questions == 0
