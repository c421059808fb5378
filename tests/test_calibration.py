"""``make calibrate``'s own data: the absent-fact questions are on the articles' subject and their
answer is nowhere in what is kept; the reader never trained on their articles."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from bot.calibration import absent_fact_set
from bot.evaluation import squad_corpus


def _paragraph(context: str, question: str, answer: str) -> dict:
    qa = {"id": question, "question": question, "answers": [{"text": answer, "answer_start": context.index(answer)}]}
    return {"context": context, "qas": [qa]}


def test_absent_fact_questions_lose_their_paragraph_and_their_answer_is_nowhere_else(tmp_path: Path):
    paragraphs = [
        _paragraph("The Meridian ferry began sailing in 1974.", "When did the ferry begin sailing?", "1974"),
        _paragraph("Its captain is Ruth Hale.", "Who is the ferry's captain?", "Ruth Hale"),
        _paragraph("It carries two hundred cars.", "How many cars does it carry?", "two hundred"),
        _paragraph("The ferry was built in 1974 too.", "When was the ferry built?", "1974"),
    ]
    articles = [{"title": "Ferry", "paragraphs": paragraphs}]
    articles += [{"title": f"Trained on {n}", "paragraphs": paragraphs} for n in range(1, 20)]
    source = tmp_path / "squad.json.gz"
    with gzip.open(source, "wt", encoding="utf-8") as handle:
        json.dump({"data": articles}, handle)
    target = absent_fact_set(source, tmp_path / "absent.json")
    documents, items = squad_corpus(target)
    assert len(documents) == 1  # only the reader's held-out article (every 20th)
    (text,) = documents.values()
    assert "Meridian" in text and "two hundred" in text and "Ruth Hale" not in text  # every other paragraph
    by_question = {item.question: item for item in items}
    assert by_question["When did the ferry begin sailing?"].answerable
    assert not by_question["Who is the ferry's captain?"].answerable  # its paragraph was dropped
    # dropped too, but "1974" is still said by a kept paragraph: not a question the articles cannot answer
    assert "When was the ferry built?" not in by_question
