"""Reading a PostgreSQL index version in the server: connections (one per thread), FAISS's
``search`` as SQL over pgvector, the candidate sentences' vectors fetched per question, and the
lexical side (bm25s loaded from the version's files, or PostgreSQL full-text ranking).
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import bm25s
import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from bot.core.store.index import HNSW_EF_SEARCH


def connect(url: str, **kwargs) -> psycopg.Connection:
    """A connection with pgvector's types and the HNSW search breadth set."""
    conn = psycopg.connect(url, **kwargs)
    register_vector(conn)
    conn.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")
    if not conn.autocommit:
        conn.commit()
    return conn


class Connections:
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

    def __init__(self, connections: Connections, table: str, key: str, count: int, dimension: int, hnsw: bool):
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

    def __init__(self, connections: Connections, table: str, count: int, dimension: int) -> None:
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
        with self.connections.cursor() as cursor:
            rows = cursor.execute(self._sql, (query, k)).fetchall()
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
