"""The reader's training examples: the answering sentence is the positive, negatives never hold the
answer, the edits that make a question unanswerable read as English, and the card is the run's."""

from __future__ import annotations

import json
import random
from pathlib import Path

from bot.core.ingest.chunking import split_sentences
from bot.training import card, pairs

TEXT = (
    "The Meridian ferry began sailing to Holm island in 1974. It carries two hundred cars. "
    "The largest ferry on the route is the Meridian. Its captain is Ruth Hale."
)
OTHER = "The harbour where the Meridian ferry docks was rebuilt in 1990. A lighthouse stands at its mouth."


def _article() -> pairs.Article:
    question = {"question": "When did the Meridian ferry begin sailing?", "answers": [{"text": "1974"}]}
    question["answers"][0]["answer_start"] = TEXT.index("1974")
    paragraphs = [
        pairs.Paragraph("Holm", TEXT, split_sentences(TEXT), [question]),
        pairs.Paragraph("Holm", OTHER, split_sentences(OTHER), []),
    ]
    return pairs.Article("Holm", paragraphs)


def test_a_group_holds_the_answering_sentence_and_its_hardest_neighbours():
    article = _article()
    qa = article.paragraphs[0].qas[0]
    group = pairs.answerable_group(article, pairs._Overlap(article), 0, qa, random.Random(1), [])
    assert group is not None
    positive, *negatives = group.examples
    assert positive.label == 1 and "1974" in positive.passage.sentence
    assert all(e.label == 0 and "1974" not in e.passage.sentence for e in negatives)
    assert negatives[0].passage.sentence.startswith("The largest ferry")  # shares "Meridian" and "ferry"
    assert any(e.passage.sentence.startswith("The harbour") for e in negatives)  # another paragraph
    assert positive.passage.title == "Holm" and positive.passage.previous == ""
    pronoun = article.paragraphs[0].passage(1)
    assert pronoun.sentence.startswith("It carries") and pronoun.previous.startswith("The Meridian ferry began")


def test_edits_make_the_question_one_the_sentence_no_longer_answers():
    sentence = "The largest ferry on the route is the Meridian."
    assert pairs.opposite_question("What is the largest ferry on the route?", sentence) == (
        "What is the smallest ferry on the route?"
    )
    assert pairs.opposite_question("What is the smallest ferry?", sentence) is None  # the sentence holds neither
    assert pairs.negated_question("Who was born in Holm?", "Ruth Hale was born in Holm.") == "Who was not born in Holm?"
    assert pairs.negated_question("When did Hale move?", "Hale moved in 1990.") is None  # would not read as English
    assert pairs.negated_question("Who was born here?", "Nobody was not born here.") is None
    positive = pairs.Example(pairs.Passage("The Meridian ferry began sailing to Holm island in 1974."), 1)
    swapped = pairs.swapped_group(
        _article(), positive, "When did the ferry begin sailing to Holm island?", random.Random(3)
    )
    assert swapped is not None and swapped.kind == "swapped" and "Holm" not in swapped.question
    assert swapped.examples[0].label == 0


def test_groups_round_trip_through_their_file(tmp_path: Path):
    article = _article()
    group = pairs.answerable_group(
        article, pairs._Overlap(article), 0, article.paragraphs[0].qas[0], random.Random(1), []
    )
    pairs.save_groups(tmp_path / "g.jsonl.gz", [group])
    assert pairs.load_groups(tmp_path / "g.jsonl.gz") == [group]


def test_the_card_is_written_from_the_run_and_says_whether_the_second_phase_shipped(tmp_path: Path):
    main, contrast = tmp_path / "main.jsonl", tmp_path / "contrast.jsonl"
    lines = [
        {"event": "start", "groups": 10, "pairs": 40, "steps": 2},
        {"event": "validate", "step": 2, "p_at_1": 0.8, "pair_auc": 0.9, "best_auc": 0.5},
        {"event": "done", "seconds": 600, "validation": {"p_at_1": 0.9, "pair_auc": 0.95, "best_auc": 0.51}},
    ]
    main.write_text("\n".join(json.dumps(r) for r in lines), encoding="utf-8")
    lines = [
        {"event": "start", "groups": 4, "pairs": 8, "steps": 1},
        {"event": "done", "seconds": 300, "validation": {"p_at_1": 0.89, "pair_auc": 0.94, "best_auc": 0.58}},
    ]
    contrast.write_text("\n".join(json.dumps(r) for r in lines), encoding="utf-8")
    figures = {"p_at_1": 0.81, "pair_auc": 0.91, "best_auc": 0.55}
    shipped = {"fp32": figures, "int8": figures, "bytes": 23_000_000}
    plan = {"questions": 5, "swap_share": 0.1, "seed": 1, "batch_pairs": 32, "lr": 1e-5, "warmup": 0.1}
    plan |= {"weight_decay": 0.01, "listwise": 0.5, "contrast_groups": 4, "contrast_lr": 2e-5}
    card.write(tmp_path / "README.md", plan, [main, contrast], shipped, ["A", "B"], contrast=False)
    text = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "23.0 MB" in text and "| main 2 | 80.0% | 0.900 | 0.500 |" in text and "81.0%" in text
    assert "CC BY-SA 4.0" in text and "10 minutes" in text  # the first phase's time only
    assert "is not what ships" in text and "0.510 → 0.580" in text and "90.0% → 89.0%" in text
    card.write(tmp_path / "README.md", plan, [main, contrast], shipped, ["A", "B"], contrast=True)
    text = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "15 minutes" in text and "These weights are that second phase's" in text
    assert "is not what ships" not in text
