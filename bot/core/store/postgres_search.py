"""Reading a PostgreSQL index version in the server: connections (a pool of checked ones, each
read retried once after a lost connection: ``postgres_pool``), FAISS's ``search`` as SQL over
pgvector, the candidate sentences' vectors fetched per question, and the lexical side (bm25s loaded
from the version's files, or PostgreSQL full-text ranking).

A connection has pgvector's type only once the ``vector`` extension exists in the database, so
``connect`` creates it first (``ensure_vector``); a role that may not gets one line saying what a
superuser must run.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import bm25s
import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from bot.core.store.index import HNSW_EF_SEARCH, IndexProblem
from bot.core.store.postgres_pool import CONNECT_SECONDS, open_pool, retrying

STORE = "index"  # its name in the database metrics
T = TypeVar("T")


class VectorMissing(IndexProblem):
    """The ``vector`` extension is not in the database and this role may not create it."""


def connect(url: str, **kwargs) -> psycopg.Connection:
    """A connection with pgvector's types and the HNSW search breadth set (the extension created
    first if the database has none yet)."""
    conn = psycopg.connect(url, **{"connect_timeout": CONNECT_SECONDS, **kwargs})
    try:
        ensure_vector(conn)
        configure(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def configure(conn: psycopg.Connection) -> None:
    """pgvector's types and the HNSW search breadth, on a connection to a database that has ``vector``."""
    register_vector(conn)
    conn.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")
    if not conn.autocommit:
        conn.commit()


def ensure_vector(conn: psycopg.Connection) -> None:
    """Create the ``vector`` extension if the database lacks it (a fresh database made from
    template0); pgvector is not a trusted extension, so a role that is not a superuser is told what
    to run instead."""
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
        return
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.errors.UniqueViolation:
        pass  # another process created it a moment ago
    except psycopg.errors.InsufficientPrivilege:
        database, role = conn.info.dbname, conn.info.user
        raise VectorMissing(
            f"the vector extension (pgvector) is not installed in database {database} and role {role} may "
            f"not create it: a superuser must run `CREATE EXTENSION vector;` in it once "
            f"(psql -d {database} -c 'CREATE EXTENSION vector'), then run launchbot again"
        ) from None


class Connections:
    """A pool of checked connections with pgvector's types, opened at first use (answers run in
    worker threads, ``size`` at a time); a read whose connection was lost runs once more on a new one."""

    def __init__(self, url: str, size: int = 3) -> None:
        self.url, self.size = url, size
        self._pool = None
        self._opening = threading.Lock()

    @property
    def pool(self):
        with self._opening:
            if self._pool is None:
                connect(self.url, autocommit=True).close()  # the extension, and any error in PostgreSQL's words
                self._pool = open_pool(self.url, store=STORE, max_size=self.size, configure=configure, probe=False)
            return self._pool

    def read(self, query: Callable[[psycopg.Cursor], T]) -> T:
        """``query(cursor)``, retried once on a fresh connection if its connection was lost."""
        return retrying(STORE, lambda: self._read(query))

    def _read(self, query: Callable[[psycopg.Cursor], T]) -> T:
        with self.pool.connection() as conn, conn.cursor() as cursor:
            return query(cursor)

    def ping(self, timeout: float = 3.0) -> None:
        """Raises unless the database answers within ``timeout`` (``/readyz``)."""
        with self.pool.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        with self._opening:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


class PgVectorSearch:
    """FAISS's ``search`` over one version's vectors, run by the server."""

    def __init__(self, connections: Connections, table: str, key: str, count: int, dimension: int, hnsw: bool):
        self.connections = connections
        self.ntotal, self.d = count, dimension
        # Exact search ties break by id, as FAISS's do; an HNSW scan can only order by distance.
        order = "embedding <#> %s" + ("" if hnsw else f", {key}")
        self._sql = f"SELECT {key} FROM {table} ORDER BY {order} LIMIT %s"

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        def run(cursor: psycopg.Cursor) -> np.ndarray:
            ids = np.full((len(queries), k), -1, dtype=np.int64)
            for row, query in enumerate(queries):
                found = [r[0] for r in cursor.execute(self._sql, (np.asarray(query, dtype=np.float32), k))]
                ids[row, : len(found)] = found
            return ids

        ids = self.connections.read(run)
        return np.zeros_like(ids, dtype=np.float32), ids  # retrieval reads only the ids


class PgSentenceVectors:
    """``sentence_vectors[ids]``: the vectors of the answer's candidate sentences, fetched per question."""

    def __init__(self, connections: Connections, table: str, count: int, dimension: int) -> None:
        self.connections = connections
        self.table = table
        self.shape = (count, dimension)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, ids) -> np.ndarray:
        wanted = [int(i) for i in np.atleast_1d(ids)]
        sql = f"SELECT sentence_id, embedding FROM {self.table} WHERE sentence_id = ANY(%s)"
        rows = dict(self.connections.read(lambda cursor: cursor.execute(sql, (wanted,)).fetchall()))
        if not wanted:
            return np.zeros((0, self.shape[1]), dtype=np.float32)
        return np.stack([as_numpy(rows[i]) for i in wanted])


class FullTextLexical:
    """bm25s's ``vocab_dict`` / ``retrieve`` answered by PostgreSQL full-text search over the same terms
    (``ts_rank_cd`` over a tsvector of launchbot's own tokens: Hindi and identifiers match as in BM25)."""

    def __init__(self, connections: Connections, table: str, vocabulary: dict[str, int]) -> None:
        self.connections = connections
        self.vocab_dict = vocabulary
        self._sql = (
            f"SELECT chunk_id, ts_rank_cd(terms, q, 1) AS score FROM {table}, CAST(%s AS tsquery) AS q"
            " WHERE terms @@ q ORDER BY score DESC, chunk_id LIMIT %s"
        )

    def retrieve(self, queries: list[list[str]], k: int, **_: object) -> tuple[np.ndarray, np.ndarray]:
        query = " | ".join(f"'{term}'" for term in dict.fromkeys(queries[0]))
        rows = self.connections.read(lambda cursor: cursor.execute(self._sql, (query, k)).fetchall())
        return np.array([[r[0] for r in rows]]), np.array([[r[1] for r in rows]], dtype=np.float32)


def as_numpy(vector) -> np.ndarray:
    """pgvector's ``Vector`` as float32 numpy, the dtype FAISS stores (so scores match exactly)."""
    return np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, dtype=np.float32)


def load_bm25(files: dict[str, bytes]) -> bm25s.BM25:
    bm25_files = {name.removeprefix("bm25/"): data for name, data in files.items() if name.startswith("bm25/")}
    if not bm25_files:
        return bm25s.BM25()
    with tempfile.TemporaryDirectory() as tmp:
        for file_name, data in bm25_files.items():
            (Path(tmp) / file_name).write_bytes(bytes(data))
        return bm25s.BM25.load(tmp, show_progress=False)
