"""The index in PostgreSQL + pgvector, shared by every bot process (``index_backend: postgres``).

It holds what the FAISS files hold, and answers come out the same. Layout in the database::

    index_versions     one row per built version: name, manifest (JSON)
    index_live         one row: the live version; a build swaps it in a transaction
    idx_<id>.documents the version's documents (text and metadata)
    idx_<id>.chunks    chunk spans, their sentences, vector(d), and their terms as a tsvector
    idx_<id>.sentences sentence spans and vector(d)
    idx_<id>.files     the lexical side: bm25s arrays and document frequencies, built once

A build writes a whole version and swaps the pointer in ONE transaction, and then ``NOTIFY``s
``launchbot_index``: a build that dies (even ``kill -9``) is rolled back by the server and leaves
nothing, readers see the old version or the new one, and every process listening loads the new one
without a restart. A session advisory lock keeps builds one at a time; the server releases it when
the builder's connection dies.

Dense search runs in the server: exact inner product up to ``hnsw_threshold`` vectors, as FAISS does,
and an HNSW index (same M / ef_construction / ef_search as FAISS) above it. Sentence vectors for the
answer's candidates are fetched by id per question, so a process never holds the vectors in memory.
The lexical side is bm25s, built once per version by the builder and loaded by each process
(``postgres_lexical: fts`` ranks with PostgreSQL full-text search instead; measured in the README).
Reading runs through ``postgres_search``, the tables are written by ``postgres_write``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from bot.config import MAX_DOCUMENT_BYTES
from bot.core.embed.embedding import Embedder
from bot.core.ingest.chunking import Chunk, Sentence, chunk_documents
from bot.core.ingest.knowledge import Document, load_documents
from bot.core.ingest.lexical import Lexicon, tokenize_many
from bot.core.store.index import (
    FORMAT_VERSION,
    BuildProgress,
    BuildProgressCallback,
    BuildReport,
    IndexBusy,
    IndexCorrupt,
    IndexMissing,
    IndexSettings,
    KnowledgeIndex,
    build_manifest,
    compare_documents,
    embed_reporting,
    version_order,
)
from bot.core.store.postgres_pool import connection_lost, retrying
from bot.core.store.postgres_search import (
    STORE,
    Connections,
    FullTextLexical,
    PgSentenceVectors,
    PgVectorSearch,
    connect,
    load_bm25,
)
from bot.core.store.postgres_write import vector_cache, write_version

logger = logging.getLogger(__name__)

CHANNEL = "launchbot_index"
KEEP_VERSIONS = 2
BUILD_LOCK = 0x1A0C4B07  # pg_advisory_lock key: one build at a time per database
SCHEMA_LOCK = 0x1A0C4B08

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS index_versions (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created TIMESTAMPTZ NOT NULL DEFAULT now(),
    manifest JSONB NOT NULL
);
CREATE TABLE IF NOT EXISTS index_live (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    version_id BIGINT NOT NULL REFERENCES index_versions (id)
);
"""


class PostgresIndexStore:
    """Build, load and watch index versions in one PostgreSQL database."""

    shared = True  # many processes: a stale index is reported, rebuilt only when a maintainer asks

    def __init__(self, url: str, lexical: str = "bm25", connections: int = 3) -> None:
        self.url = url
        self.lexical = lexical
        self._connections = Connections(url, connections)  # answers' reads: about one per answer worker
        self._schema_ready = False
        self._stop = threading.Event()  # ends the notification listener (``close``)

    def ping(self) -> None:
        """Raises unless the database answers within a few seconds (``/readyz``)."""
        self._connections.ping()

    def close(self) -> None:
        """Close the pool and stop listening for new versions."""
        self._stop.set()
        self._connections.close()

    # ------------------------------------------------------------------ reading

    def ensure_schema(self, conn: psycopg.Connection) -> None:
        if self._schema_ready:
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            for statement in filter(str.strip, SCHEMA.split(";")):
                conn.execute(statement)
        self._schema_ready = True

    def current_version(self) -> Path | None:
        """The live version's name as a Path (the FAISS store's version directories are Paths too)."""

        def live(cursor: psycopg.Cursor) -> tuple | None:
            if not self._tables_exist(cursor):
                return None
            return cursor.execute(
                "SELECT v.name FROM index_live l JOIN index_versions v ON v.id = l.version_id"
            ).fetchone()

        row = self._connections.read(live)
        return Path(row[0]) if row else None

    @staticmethod
    def _tables_exist(cursor: psycopg.Cursor) -> bool:
        return cursor.execute("SELECT to_regclass('index_live') IS NOT NULL").fetchone()[0]

    def load(self) -> KnowledgeIndex:
        """The live version: texts and lexical side in memory, vectors left in the server (a load
        whose connection was lost is read again on a new one)."""
        return retrying(STORE, self._load)

    def _load(self) -> KnowledgeIndex:
        with connect(self.url, autocommit=True) as conn:
            if not self._tables_exist(conn.cursor()):
                raise IndexMissing("no index in the database yet. Run `launchbot index` to build it.")
            with conn.transaction():  # one snapshot: a swap during the load cannot mix versions
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                row = conn.execute(
                    "SELECT v.id, v.name, v.manifest FROM index_live l JOIN index_versions v ON v.id = l.version_id"
                ).fetchone()
                if row is None:
                    raise IndexMissing("no index in the database yet. Run `launchbot index` to build it.")
                version_id, name, manifest = row
                if manifest.get("format") != FORMAT_VERSION:
                    raise IndexMissing(
                        f"index {name} has format {manifest.get('format')!r}, this launchbot reads {FORMAT_VERSION}."
                        " Run `launchbot index --rebuild`."
                    )
                try:
                    return self._load_version(conn, version_id, name, manifest)
                except psycopg.Error as exc:
                    if connection_lost(exc):
                        raise  # not the index's fault: read it again
                    raise IndexCorrupt(f"index {name} in the database cannot be read: {exc}") from exc

    def _load_version(self, conn: psycopg.Connection, version_id: int, name: str, manifest: dict) -> KnowledgeIndex:
        schema = f"idx_{version_id}"
        documents = {
            record["doc_id"]: Document(**record)
            for (record,) in conn.execute(f"SELECT record FROM {schema}.documents ORDER BY position")
        }
        sentences = [
            Sentence(*row)
            for row in conn.execute(f'SELECT doc_id, start, "end" FROM {schema}.sentences ORDER BY sentence_id')
        ]
        chunks = [
            Chunk(row[0], row[1], row[2], tuple(row[3]))
            for row in conn.execute(f'SELECT doc_id, start, "end", sentences FROM {schema}.chunks ORDER BY chunk_id')
        ]
        files = dict(conn.execute(f"SELECT name, data FROM {schema}.files"))
        lexicon_data = json.loads(files.pop("lexicon.json"))
        lexicon = Lexicon(lexicon_data["df"], lexicon_data["documents"])
        hnsw = set(manifest.get("hnsw_tables", []))  # as FAISS: per table, by its own size
        dimension = manifest["dimension"]
        chunk_search = PgVectorSearch(
            self._connections, f"{schema}.chunks", "chunk_id", len(chunks), dimension, "chunks" in hnsw
        )
        sentence_search = PgVectorSearch(
            self._connections, f"{schema}.sentences", "sentence_id", len(sentences), dimension, "sentences" in hnsw
        )
        sentence_vectors = PgSentenceVectors(self._connections, f"{schema}.sentences", len(sentences), dimension)
        if self.lexical == "fts":
            bm25 = FullTextLexical(self._connections, f"{schema}.chunks", lexicon.df)
        else:
            bm25 = load_bm25(files)
        return KnowledgeIndex(
            Path(name),
            manifest,
            documents,
            chunks,
            sentences,
            chunk_search,
            sentence_vectors,
            sentence_search,
            bm25,
            lexicon,
        )

    # ------------------------------------------------------------------ building

    def build(
        self,
        knowledge_dir: Path,
        embedder: Embedder,
        settings: IndexSettings,
        *,
        rebuild: bool = False,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
        progress: BuildProgressCallback | None = None,
    ) -> BuildReport:
        """Build a new version from ``knowledge_dir`` and make it live in one transaction."""
        started = time.perf_counter()
        with connect(self.url, autocommit=True, application_name="launchbot index") as conn:
            self.ensure_schema(conn)
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", (BUILD_LOCK,)).fetchone()[0]:
                raise IndexBusy("another reindex of the database index is running; try again when it finishes")
            loaded = load_documents(knowledge_dir, max_document_bytes)
            live = conn.execute(
                "SELECT v.id, v.manifest, v.name FROM index_live l JOIN index_versions v ON v.id = l.version_id"
            ).fetchone()
            old_docs = live[1]["documents"] if live else {}
            chunking = chunk_documents(loaded.documents, settings.chunk_size, settings.chunk_overlap)
            texts_by_doc = {doc.doc_id: doc.text for doc in loaded.documents}
            chunk_texts = [texts_by_doc[c.doc_id][c.start : c.end] for c in chunking.chunks]
            sentence_texts = [texts_by_doc[s.doc_id][s.start : s.end] for s in chunking.sentences]
            reusable = live is not None and not rebuild and _same_vectors(live[1], settings)
            cache = vector_cache(conn, live[0]) if reusable else {}
            unique = set(chunk_texts) | set(sentence_texts)
            reused = len(unique & cache.keys())
            missing = sorted(unique - cache.keys())
            status = BuildProgress(len(loaded.documents), len(chunk_texts), len(sentence_texts), len(missing))
            if progress is not None:
                progress(status)
            if missing:
                cache.update(zip(missing, embed_reporting(embedder, missing, status, progress), strict=True))
            tokenized = tokenize_many(chunk_texts)
            # As make_faiss_index decides for each FAISS index: HNSW only for a table above the threshold.
            hnsw = [
                table
                for table, count in (("chunks", len(chunk_texts)), ("sentences", len(sentence_texts)))
                if count > settings.hnsw_threshold
            ]
            # Engines install only a version newer than theirs, by the time in its name: never let a
            # builder whose clock runs behind the last builder's name an older one.
            stamp = max(time.time_ns(), version_order(Path(live[2]))[0] + 1) if live else time.time_ns()
            name = f"v{stamp}-{uuid.uuid4().hex[:8]}"
            manifest = _manifest(loaded, chunking, embedder, settings, hnsw)
            with conn.transaction():
                version_id = conn.execute(
                    "INSERT INTO index_versions (name, manifest) VALUES (%s, %s) RETURNING id",
                    (name, psycopg.types.json.Jsonb(manifest)),
                ).fetchone()[0]
                write_version(
                    conn,
                    version_id,
                    loaded.documents,
                    chunking,
                    chunk_texts,
                    sentence_texts,
                    tokenized,
                    cache,
                    embedder.dimension,
                    hnsw,
                    progress is not None,
                )
                conn.execute(
                    "INSERT INTO index_live (one, version_id) VALUES (TRUE, %s)"
                    " ON CONFLICT (one) DO UPDATE SET version_id = excluded.version_id",
                    (version_id,),
                )
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, name))
            self._drop_old_versions(conn, version_id)
            conn.execute("SELECT pg_advisory_unlock(%s)", (BUILD_LOCK,))
        changes = compare_documents(old_docs, loaded)
        report = BuildReport(
            path=Path(name),
            added=changes.added,
            updated=changes.updated,
            removed=changes.removed,
            unchanged=sorted({d.doc_id for d in loaded.documents} - set(changes.added) - set(changes.updated)),
            errors=loaded.errors,
            chunks=len(chunking.chunks),
            sentences=len(chunking.sentences),
            embedded=len(missing),
            reused=reused,
            seconds=time.perf_counter() - started,
            full_rebuild=not reusable,
            knowledge_dir=knowledge_dir,
        )
        logger.info("%s", report.summary())
        return report

    def _drop_old_versions(self, conn: psycopg.Connection, live_id: int) -> None:
        """Keep the live version and the one before (a process may still be switching from it)."""
        old = conn.execute(
            "SELECT id FROM index_versions WHERE id <> %s ORDER BY id DESC OFFSET %s", (live_id, KEEP_VERSIONS - 1)
        ).fetchall()
        for (version_id,) in old:
            with conn.transaction():
                conn.execute(f"DROP SCHEMA IF EXISTS idx_{version_id} CASCADE")
                conn.execute("DELETE FROM index_versions WHERE id = %s", (version_id,))

    # ------------------------------------------------------------------ watching

    def watch(self, on_change: Callable[[], object], stop: threading.Event | None = None) -> threading.Thread:
        """Call ``on_change`` whenever a build swaps a version in (LISTEN/NOTIFY), from a daemon thread;
        reconnects after a lost connection (and calls ``on_change`` then, in case it missed one).
        ``stop`` (default: ``close``) ends it."""
        stop = stop or self._stop

        def listen() -> None:
            delay = 1.0
            while not stop.is_set():
                try:
                    with psycopg.connect(self.url, autocommit=True) as conn:
                        conn.execute(f"LISTEN {CHANNEL}")
                        on_change()
                        delay = 1.0
                        while not stop.is_set():
                            for _ in conn.notifies(timeout=1.0, stop_after=1):
                                on_change()
                except psycopg.Error as exc:
                    logger.warning("index notifications lost (%s); reconnecting in %.0f s", exc, delay)
                except Exception:
                    logger.exception("reloading the index after a notification failed")
                stop.wait(delay)
                delay = min(delay * 2, 30.0)

        thread = threading.Thread(target=listen, name="index-notify", daemon=True)
        thread.start()
        return thread


def _same_vectors(manifest: dict, settings: IndexSettings) -> bool:
    built = manifest.get("settings", {})
    return {key: built.get(key) for key in settings.vector_fingerprint()} == settings.vector_fingerprint()


def _manifest(loaded, chunking, embedder: Embedder, settings: IndexSettings, hnsw: list[str]) -> dict:
    index_type = "hnsw" if "chunks" in hnsw else "flat"
    manifest = build_manifest(loaded, chunking, embedder, settings, index_type=index_type, hnsw_tables=hnsw)
    return {"store": "postgres", **manifest, "files": {}}
