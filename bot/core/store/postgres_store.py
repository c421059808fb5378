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
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import bm25s
import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from bot.config import MAX_DOCUMENT_BYTES
from bot.core.embed.embedding import Embedder
from bot.core.ingest.chunking import Chunk, Sentence, chunk_documents
from bot.core.ingest.knowledge import Document, load_documents
from bot.core.ingest.lexical import Lexicon, tokenize_many
from bot.core.store.faiss_store import (
    FORMAT_VERSION,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    BuildReport,
    IndexBusy,
    IndexCorrupt,
    IndexMissing,
    IndexSettings,
    KnowledgeIndex,
    build_manifest,
    compare_documents,
    version_order,
)

logger = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)

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


def connect(url: str, **kwargs) -> psycopg.Connection:
    """A connection with pgvector's types and the HNSW search breadth set."""
    conn = psycopg.connect(url, **kwargs)
    register_vector(conn)
    conn.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")
    if not conn.autocommit:
        conn.commit()
    return conn


class _Connections:
    """One connection per thread (answers run in worker threads), reopened after a failure."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()

    @contextlib.contextmanager
    def cursor(self) -> Iterator[psycopg.Cursor]:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = connect(self.url, autocommit=True)
        try:
            with conn.cursor() as cursor:
                yield cursor
        except psycopg.OperationalError:
            conn.close()  # the next call reconnects
            raise


class PgVectorSearch:
    """FAISS's ``search`` over one version's vectors, run by the server."""

    def __init__(self, connections: _Connections, table: str, key: str, count: int, dimension: int, hnsw: bool):
        self.connections = connections
        self.ntotal, self.d = count, dimension
        # Exact search ties break by id, as FAISS's do; an HNSW scan can only order by distance.
        order = "embedding <#> %s" + ("" if hnsw else f", {key}")
        self._sql = f"SELECT {key} FROM {table} ORDER BY {order} LIMIT %s"

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        with self.connections.cursor() as cursor:
            for row, query in enumerate(queries):
                found = [r[0] for r in cursor.execute(self._sql, (np.asarray(query, dtype=np.float32), k))]
                ids[row, : len(found)] = found
        return np.zeros_like(ids, dtype=np.float32), ids  # retrieval reads only the ids


class PgSentenceVectors:
    """``sentence_vectors[ids]``: the vectors of the answer's candidate sentences, fetched per question."""

    def __init__(self, connections: _Connections, table: str, count: int, dimension: int) -> None:
        self.connections = connections
        self.table = table
        self.shape = (count, dimension)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, ids) -> np.ndarray:
        wanted = [int(i) for i in np.atleast_1d(ids)]
        with self.connections.cursor() as cursor:
            rows = dict(
                cursor.execute(
                    f"SELECT sentence_id, embedding FROM {self.table} WHERE sentence_id = ANY(%s)", (wanted,)
                )
            )
        if not wanted:
            return np.zeros((0, self.shape[1]), dtype=np.float32)
        return np.stack([_array(rows[i]) for i in wanted])


class FullTextLexical:
    """bm25s's ``vocab_dict`` / ``retrieve`` answered by PostgreSQL full-text search over the same terms
    (``ts_rank_cd`` over a tsvector of launchbot's own tokens: Hindi and identifiers match as in BM25)."""

    def __init__(self, connections: _Connections, table: str, vocabulary: dict[str, int]) -> None:
        self.connections = connections
        self.vocab_dict = vocabulary
        self._sql = (
            f"SELECT chunk_id, ts_rank_cd(terms, q, 1) AS score FROM {table}, CAST(%s AS tsquery) AS q"
            " WHERE terms @@ q ORDER BY score DESC, chunk_id LIMIT %s"
        )

    def retrieve(self, queries: list[list[str]], k: int, **_: object) -> tuple[np.ndarray, np.ndarray]:
        query = " | ".join(f"'{term}'" for term in dict.fromkeys(queries[0]))
        with self.connections.cursor() as cursor:
            rows = cursor.execute(self._sql, (query, k)).fetchall()
        return np.array([[r[0] for r in rows]]), np.array([[r[1] for r in rows]], dtype=np.float32)


def _tsvector(terms: list[str]) -> str:
    """A tsvector literal keeping every term as is, with its positions (so frequencies count)."""
    return " ".join(f"'{term}':{min(position, 16383)}" for position, term in enumerate(terms, start=1))


class PostgresIndexStore:
    """Build, load and watch index versions in one PostgreSQL database."""

    shared = True  # many processes: a stale index is reported, rebuilt only when a maintainer asks

    def __init__(self, url: str, lexical: str = "bm25") -> None:
        self.url = url
        self.lexical = lexical
        self._connections = _Connections(url)
        self._schema_ready = False

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
        with self._connections.cursor() as cursor:
            if not self._tables_exist(cursor):
                return None
            row = cursor.execute(
                "SELECT v.name FROM index_live l JOIN index_versions v ON v.id = l.version_id"
            ).fetchone()
        return Path(row[0]) if row else None

    @staticmethod
    def _tables_exist(cursor: psycopg.Cursor) -> bool:
        return cursor.execute("SELECT to_regclass('index_live') IS NOT NULL").fetchone()[0]

    def load(self) -> KnowledgeIndex:
        """The live version: texts and lexical side in memory, vectors left in the server."""
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
            bm25 = _load_bm25(files)
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
        progress: bool = False,
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
            cache = self._vector_cache(conn, live[0]) if reusable else {}
            unique = set(chunk_texts) | set(sentence_texts)
            reused = len(unique & cache.keys())
            missing = sorted(unique - cache.keys())
            if missing:
                cache.update(zip(missing, embedder.encode_passages(missing, progress=progress), strict=True))
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
                self._write_version(
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
                    progress,
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
        )
        logger.info("%s", report.summary())
        return report

    def _vector_cache(self, conn: psycopg.Connection, version_id: int) -> dict[str, np.ndarray]:
        """Text -> vector of the live version, so only new or changed texts are embedded."""
        schema = f"idx_{version_id}"
        texts = {
            doc_id: text for doc_id, text in conn.execute(f"SELECT doc_id, record->>'text' FROM {schema}.documents")
        }
        cache: dict[str, np.ndarray] = {}
        for table in ("chunks", "sentences"):
            with conn.transaction(), conn.cursor(name=f"reuse_{table}") as cursor:
                cursor.itersize = 10_000
                cursor.execute(f'SELECT doc_id, start, "end", embedding FROM {schema}.{table}')
                for doc_id, start, end, vector in cursor:
                    cache.setdefault(texts[doc_id][start:end], _array(vector))
        return cache

    def _write_version(
        self,
        conn: psycopg.Connection,
        version_id: int,
        documents: list[Document],
        chunking,
        chunk_texts: list[str],
        sentence_texts: list[str],
        tokenized: list[list[str]],
        cache: dict[str, np.ndarray],
        dimension: int,
        hnsw: list[str],
        progress: bool,
    ) -> None:
        schema = f"idx_{version_id}"
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(
            f"CREATE TABLE {schema}.documents"
            " (position INT PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE, record JSONB NOT NULL)"
        )
        conn.execute(
            f"CREATE TABLE {schema}.chunks (chunk_id INT PRIMARY KEY, doc_id TEXT NOT NULL, start INT NOT NULL,"
            f' "end" INT NOT NULL, sentences INT[] NOT NULL, embedding vector({dimension}) NOT NULL,'
            " tokens TEXT NOT NULL, terms tsvector GENERATED ALWAYS AS (CAST(tokens AS tsvector)) STORED)"
        )
        conn.execute(
            f"CREATE TABLE {schema}.sentences (sentence_id INT PRIMARY KEY, doc_id TEXT NOT NULL, start INT NOT NULL,"
            f' "end" INT NOT NULL, embedding vector({dimension}) NOT NULL)'
        )
        conn.execute(f"CREATE TABLE {schema}.files (name TEXT PRIMARY KEY, data BYTEA NOT NULL)")
        with conn.cursor().copy(f"COPY {schema}.documents (position, doc_id, record) FROM STDIN") as copy:
            for position, doc in enumerate(documents):
                copy.write_row((position, doc.doc_id, json.dumps(asdict(doc), ensure_ascii=False)))
        with conn.cursor().copy(
            f'COPY {schema}.chunks (chunk_id, doc_id, start, "end", sentences, embedding, tokens)'
            " FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int4", "text", "int4", "int4", "int4[]", "vector", "text"])
            for chunk_id, (chunk, text, terms) in enumerate(zip(chunking.chunks, chunk_texts, tokenized, strict=True)):
                copy.write_row(
                    (
                        chunk_id,
                        chunk.doc_id,
                        chunk.start,
                        chunk.end,
                        list(chunk.sentences),
                        cache[text],
                        _tsvector(terms),
                    )
                )
        with conn.cursor().copy(
            f'COPY {schema}.sentences (sentence_id, doc_id, start, "end", embedding) FROM STDIN WITH (FORMAT BINARY)'
        ) as copy:
            copy.set_types(["int4", "text", "int4", "int4", "vector"])
            for sentence_id, (sentence, text) in enumerate(zip(chunking.sentences, sentence_texts, strict=True)):
                copy.write_row((sentence_id, sentence.doc_id, sentence.start, sentence.end, cache[text]))
        lexicon = Lexicon.build(tokenized)
        files = {
            "lexicon.json": json.dumps({"documents": lexicon.documents, "df": lexicon.df}, ensure_ascii=False).encode()
        }
        files.update(_dump_bm25(tokenized))
        for file_name, data in files.items():
            conn.execute(f"INSERT INTO {schema}.files (name, data) VALUES (%s, %s)", (file_name, data))
        conn.execute(f"CREATE INDEX ON {schema}.chunks USING gin (terms)")
        if hnsw:
            if progress:
                logger.info("building the HNSW indexes in PostgreSQL")
            conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
            for table in hnsw:
                conn.execute(
                    f"CREATE INDEX ON {schema}.{table} USING hnsw (embedding vector_ip_ops)"
                    f" WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
                )
        conn.execute(f"ANALYZE {schema}.chunks")
        conn.execute(f"ANALYZE {schema}.sentences")

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
        reconnects after a lost connection (and calls ``on_change`` then, in case it missed one)."""
        stop = stop or threading.Event()

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


def _array(vector) -> np.ndarray:
    """pgvector's ``Vector`` as float32 numpy, the dtype FAISS stores (so scores match exactly)."""
    return np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, dtype=np.float32)


def _same_vectors(manifest: dict, settings: IndexSettings) -> bool:
    built = manifest.get("settings", {})
    return {key: built.get(key) for key in settings.vector_fingerprint()} == settings.vector_fingerprint()


def _manifest(loaded, chunking, embedder: Embedder, settings: IndexSettings, hnsw: list[str]) -> dict:
    index_type = "hnsw" if "chunks" in hnsw else "flat"
    manifest = build_manifest(loaded, chunking, embedder, settings, index_type=index_type, hnsw_tables=hnsw)
    return {"store": "postgres", **manifest, "files": {}}


def _dump_bm25(tokenized: list[list[str]]) -> dict[str, bytes]:
    if not tokenized:
        return {}
    bm25 = bm25s.BM25()
    bm25.index(tokenized, show_progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        bm25.save(tmp, show_progress=False)
        return {f"bm25/{p.name}": p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}


def _load_bm25(files: dict[str, bytes]) -> bm25s.BM25:
    bm25_files = {name.removeprefix("bm25/"): data for name, data in files.items() if name.startswith("bm25/")}
    if not bm25_files:
        return bm25s.BM25()
    with tempfile.TemporaryDirectory() as tmp:
        for file_name, data in bm25_files.items():
            (Path(tmp) / file_name).write_bytes(bytes(data))
        return bm25s.BM25.load(tmp, show_progress=False)
