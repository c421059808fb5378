"""The answer service every front end calls: ``Engine.answer(question) -> Answer``.

It owns the live index and swaps in a new one, built here or by another process, without stopping
the questions in flight: a question works on the index it started with, and the swap is a single
reference assignment. Loading and installing a version (``reindex``, ``reload_if_changed``) hold one
lock, and a version older than the live one is never installed. While another process builds, the
engine answers from the live index. Plain synchronous Python; front ends call it from worker threads.

The one module of the core that front ends and the service import: ``__all__`` names, besides the
engine, what they read of its answers (``Answer``, ``Source``, a conversation's ``Turn``), the
question check they run before queueing a question, the errors they report, the PostgreSQL
connection helpers the state store shares with the index (``postgres_connections``), what
maintainers bring in (a ``Request`` for a link or a file, its ``Outcome``, a feed poll's
``Watched``, a ``Document``), and the moderators' notes, which are knowledge documents
(``ingest/notes.py``).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from bot.config import Settings
from bot.core.answering.aliases import load_aliases
from bot.core.answering.answerability import Decider, load_calibration
from bot.core.answering.compose import DETAILS, DETAILS_LABEL, Answer, Source
from bot.core.answering.conversation import Turn, context_for, quoted_sentences, turn_of
from bot.core.answering.notes import NoteAnswers, articles_lexicon, topic_vectors
from bot.core.answering.pipeline import AnswerSettings, Helpers, answer_question, ranking_candidates
from bot.core.answering.question import INVISIBLE, clean_question
from bot.core.answering.ranking import Ranking, ranking_of
from bot.core.answering.reader import shared_reader
from bot.core.answering.retrieval import Retriever
from bot.core.embed.embedding import Embedder, ModelLoadError
from bot.core.ingest import Refused
from bot.core.ingest.feeds import Watched, watch_once
from bot.core.ingest.importer import Importer, Outcome, Request
from bot.core.ingest.knowledge import NOTE, Document, load_documents
from bot.core.ingest.lexical import Lexicon
from bot.core.ingest.notes import NoteFile, NoteMissing, read_notes, remove_note, write_note
from bot.core.store import index_store
from bot.core.store.faiss_versions import build_running, wait_for_build
from bot.core.store.index import (
    BuildProgress,
    BuildProgressCallback,
    BuildReport,
    Freshness,
    IndexBusy,
    IndexMissing,
    IndexProblem,
    IndexSettings,
    IndexWriteFailed,
    KnowledgeIndex,
    freshness,
    version_order,
)

__all__ = [
    "DETAILS",
    "DETAILS_LABEL",
    "INVISIBLE",
    "NOTE",
    "Answer",
    "BuildProgress",
    "BuildReport",
    "Document",
    "Engine",
    "IndexBusy",
    "IndexMissing",
    "IndexProblem",
    "ModelLoadError",
    "NoteFile",
    "NoteMissing",
    "Outcome",
    "Refused",
    "Request",
    "Source",
    "Turn",
    "Watched",
    "clean_question",
    "postgres_connections",
    "quoted_sentences",
    "read_notes",
    "remove_note",
    "turn_of",
    "write_note",
]

logger = logging.getLogger(__name__)

_BEING_UPDATED = (
    "The index in {index_dir} is being updated by another process: answering from the live index meanwhile."
)


@dataclass(frozen=True)
class _Live:
    index: KnowledgeIndex
    retriever: Retriever
    helpers: Helpers
    articles_lexicon: Lexicon  # the index's, without its moderator notes (``question_vectors``)


class Engine:
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or Embedder(
            settings.model, settings.batch_size, settings.embedding_backend, settings.onnx_cache_dir
        )
        self.store = index_store(settings)
        self._live: _Live | None = None
        self._reindexing = threading.Lock()  # one reindex at a time in this process
        self._swapping = threading.Lock()  # loading and installing a version, by reindex or reload
        self._watching = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def index_settings(self) -> IndexSettings:
        s = self.settings
        return IndexSettings(
            self.embedder.name, s.chunk_size, s.chunk_overlap, s.hnsw_threshold, self.embedder.vector_source
        )

    @property
    def answer_settings(self) -> AnswerSettings:
        s = self.settings
        return AnswerSettings(
            top_k=s.top_k,
            sentence_candidates=s.sentence_candidates,
            answer_chars=s.answer_chars,
            follow_ratio=s.follow_ratio,
            min_confidence=s.min_confidence,
            max_question_chars=s.max_question_chars,
        )

    def open(self, notify: Callable[[str], None] = logger.info, progress: BuildProgressCallback | None = None) -> None:
        """Load the index, building or updating it first when it is missing or stale, and warm the
        model so the first question is as fast as the rest. While another process builds, a stale
        index is served as it is, and a missing one is waited for; a stale one that cannot be
        updated (a full disk, a directory this user cannot write) is served as it is, saying why.
        ``progress`` hears how far a build is."""
        index_dir = self.settings.index_dir
        try:
            self.load()
        except IndexMissing:
            if not self.settings.knowledge_dir.is_dir():
                raise FileNotFoundError(
                    f"no index in {index_dir} and knowledge directory not found: {self.settings.knowledge_dir}"
                ) from None
            if build_running(index_dir):
                notify(f"Another process is building the index in {index_dir}: waiting for it…")
                wait_for_build(index_dir)
                self.load()
            else:
                notify(f"No index in {index_dir} yet: building it from {self.settings.knowledge_dir}…")
                self._reindex_or_serve(notify, progress)
        else:
            stale = self.freshness()
            if stale.stale and self.store.shared:
                # Every process of a shared index opens it: one rebuilding on its own would race the
                # others and could build from a knowledge directory this machine does not have.
                notify(
                    f"The shared index is out of date here ({stale.describe()}): run `launchbot index` to update it."
                )
            elif stale.stale and build_running(index_dir):
                notify(_BEING_UPDATED.format(index_dir=index_dir))
            elif stale.stale:
                notify(f"The index is out of date ({stale.describe()}): updating it…")
                self._reindex_or_serve(notify, progress, stale.describe())
        self.embedder.encode_query("warm-up")

    def _reindex_or_serve(
        self, notify: Callable[[str], None], progress: BuildProgressCallback | None, stale: str = ""
    ) -> None:
        try:
            report = self.reindex(progress=progress)
        except IndexBusy:  # another process started a build first
            if self._live is None:
                wait_for_build(self.settings.index_dir)
                self.load()
            else:
                notify(_BEING_UPDATED.format(index_dir=self.settings.index_dir))
        except IndexWriteFailed as exc:
            if self._live is None:  # nothing to answer from
                raise
            notify(f"Answering from the out-of-date index ({stale}): it could not be updated: {exc}")
        else:
            if report.warning():
                notify(f"Warning: {report.warning()}.")

    def load(self) -> None:
        """Serve the live index as it is (IndexMissing / IndexCorrupt if it cannot be read)."""
        self._install(self.store.load())

    @property
    def serving(self) -> KnowledgeIndex | None:
        """The index being served, or None before one is loaded."""
        return self._live.index if self._live is not None else None

    def ping(self) -> None:
        """Raise unless where the index lives answers (the PostgreSQL index's database; ``/readyz``)."""
        self.store.ping()

    def close(self) -> None:
        """Let go of the index store's connections and listeners."""
        self.store.close()

    def watch(self) -> None:
        """Reload as soon as another process swaps in a new version, where the store can tell
        (PostgreSQL's NOTIFY); the FAISS store is polled by the front ends instead. Idempotent."""
        if not self._watching:
            self._watching = True
            self.store.watch(self.reload_if_changed)

    @property
    def index(self) -> KnowledgeIndex:
        return self._require_live().index

    def freshness(self) -> Freshness:
        documents = load_documents(self.settings.knowledge_dir, self.settings.max_document_bytes)
        return freshness(self.index, documents, self.index_settings)

    def _install(self, index: KnowledgeIndex) -> bool:
        """Serve ``index`` unless the live one is newer (a slow load must not undo a faster one)."""
        live = self._live
        if live is not None and version_order(index.path) < version_order(live.index.path):
            logger.info("not installing %s: %s is newer", index.path.name, live.index.path.name)
            return False
        s = self.settings
        retriever = Retriever(
            index,
            self.embedder,
            candidates=s.candidates,
            rrf_k=s.rrf_k,
            cross_script_dense_weight=s.cross_script_dense_weight,
        )
        calibration = load_calibration(index.model)
        decider = Decider(calibration, s.min_confidence, s.answer_threshold)
        ranking = ranking_of(calibration)
        lexicon = articles_lexicon(index)
        notes = NoteAnswers.for_index(index, self.embedder, lexicon)
        helpers = Helpers.for_index(
            index,
            load_aliases(s.knowledge_dir),
            decider,
            ranking,
            shared_reader(),
            notes,
        )
        self._live = _Live(index, retriever, helpers, lexicon)
        logger.info("serving index %s (%d chunks)", index.path.name, len(index.chunks))
        return True

    # ------------------------------------------------------------------ work

    def answer(self, question: object, history: Sequence[Turn] | None = None) -> Answer:
        """Answer ``question``; ``history``: the earlier turns of its conversation, oldest first. A
        follow-up that leans on them is retrieved with their words; one that stands alone ignores them."""
        live = self._require_live()
        context = context_for(question, history) if isinstance(question, str) else None
        return answer_question(question, live.retriever, self.answer_settings, context, live.helpers)

    def question_vectors(self, questions: Sequence[str]) -> np.ndarray:
        """Unit vectors for grouping questions by what they ask (the gaps report; ``answering/notes.py``):
        each question's own vector plus the vector of its words the articles never use. The articles'
        own subjects (Gerst, Soyuz, Baikonur) are in most questions about them and would pull "How
        old is Gerst?" towards "Where does Gerst live?"; what is asked (age, home) tells them apart."""
        return topic_vectors(questions, self.embedder, self._require_live().articles_lexicon)

    def ranking_candidates(self, question: str, read: bool = False) -> list[tuple[str, dict[str, float]]]:
        """Every candidate sentence of ``question`` with its ranking features (``make calibrate``);
        ``read``: the ones the reader read, with what it said."""
        live = self._require_live()
        return ranking_candidates(question, live.retriever, self.answer_settings, live.helpers, read)

    def use_ranking(self, ranking: Ranking) -> None:
        """Rank with these weights from now on (``make calibrate`` fits them before the rest)."""
        live = self._require_live()
        self._live = replace(live, helpers=replace(live.helpers, ranking=ranking))

    def _require_live(self) -> _Live:
        if self._live is None:
            raise IndexMissing("the engine has no index loaded: call open() first")
        return self._live

    @property
    def decider(self) -> Decider:
        """How the live index decides to answer or decline (calibrated model or relevance threshold)."""
        return self._require_live().helpers.decider

    def reindex(self, rebuild: bool = False, progress: BuildProgressCallback | None = None) -> BuildReport:
        """Build and swap in a new index. Raises IndexBusy if a build is already running here or
        in another process; on any failure the index being served stays as it was. ``progress``
        hears how far the build is (``BuildProgress``: documents, chunks, texts embedded so far)."""
        if not self._reindexing.acquire(blocking=False):
            raise IndexBusy("a reindex is already running; try again when it finishes")
        try:
            report = self.store.build(
                self.settings.knowledge_dir,
                self.embedder,
                self.index_settings,
                rebuild=rebuild,
                max_document_bytes=self.settings.max_document_bytes,
                progress=progress,
            )
            with self._swapping:
                self._install(self.store.load())
            return report
        finally:
            self._reindexing.release()

    def reload_if_changed(self) -> bool:
        """Pick up an index another process (``launchbot index``) swapped in; True if reloaded.
        Skipped while this engine reindexes or reloads: that will install the newest version."""
        if self._live is None or self._reindexing.locked() or not self._swapping.acquire(blocking=False):
            return False
        try:
            version = self.store.current_version()
            if version is None or version_order(version) <= version_order(self._live.index.path):
                return False
            return self._install(self.store.load())
        finally:
            self._swapping.release()

    # ------------------------------------------------------------------ articles in (ingest: importer, feeds)

    @functools.cached_property
    def importer(self) -> Importer:
        """Brings links, files and feed items into the knowledge directory (one fetcher per engine,
        so its per-host delays and robots.txt cache hold across commands)."""
        from bot.core.ingest.fetch import Fetcher  # here: answering never loads the HTTP client

        s = self.settings
        return Importer(s.knowledge_dir, Fetcher(s.fetch), max_document_bytes=s.max_document_bytes)

    def add(self, sources: Iterable[Request | str], details: dict[str, str] | None = None) -> list[Outcome]:
        """Bring each link or file in and update the index once for all of them; ``details``: front
        matter fields given by a maintainer, over the extracted ones. Refusals are outcomes, not
        exceptions; if the index update fails (IndexBusy included), no file is left changed and the
        error is raised."""
        requests = [Request(s, details=details or {}) if isinstance(s, str) else s for s in sources]
        outcomes = self.importer.prepare(requests)
        self.importer.apply(outcomes, self.reindex)
        return self._with_chunks(outcomes)

    def remove(self, doc_id: str) -> tuple[Document, BuildReport]:
        """Take a document out of the knowledge base (kept in ``knowledge/.removed/``) and the index."""
        return self.importer.remove(doc_id, self.reindex)

    def documents(self) -> list[Document]:
        """The documents in the knowledge directory now, as maintainers list them."""
        return self.importer.documents()

    def watch_feeds(self) -> Watched:
        """Poll ``knowledge/feeds.yaml``'s feeds once and bring their new items in."""
        watched = watch_once(self.importer, self.reindex)
        items = [item for item, _ in watched.outcomes]
        outcomes = self._with_chunks([outcome for _, outcome in watched.outcomes])
        watched.outcomes = list(zip(items, outcomes, strict=True))
        return watched

    def _with_chunks(self, outcomes: list[Outcome]) -> list[Outcome]:
        if not any(outcome.changed for outcome in outcomes) or self._live is None:
            return outcomes
        documents = self.index.manifest["documents"]
        return [
            replace(outcome, chunks=documents.get(outcome.doc_id, {}).get("chunks")) if outcome.changed else outcome
            for outcome in outcomes
        ]


def postgres_connections():
    """The module of PostgreSQL connection helpers (a checked pool, one safe retry, the error and
    retry counts: ``bot.core.store.postgres_pool``), imported on first use: psycopg costs a
    FAISS-only process a fifth of a second of its start."""
    from bot.core.store import postgres_pool

    return postgres_pool
