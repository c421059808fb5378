"""Writing a PostgreSQL index version: its schema ``idx_<id>`` with documents, chunks (vectors and
terms), sentences and the lexical side's files, inside the builder's transaction; and the live
version's vectors by text, so a build embeds only new or changed texts.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import asdict
from pathlib import Path

import bm25s
import numpy as np
import psycopg

from bot.core.ingest.knowledge import Document
from bot.core.ingest.lexical import Lexicon
from bot.core.store.index import HNSW_EF_CONSTRUCTION, HNSW_M
from bot.core.store.postgres_search import as_numpy

logger = logging.getLogger(__name__)


def vector_cache(conn: psycopg.Connection, version_id: int) -> dict[str, np.ndarray]:
    """Text -> vector of the live version, so only new or changed texts are embedded."""
    schema = f"idx_{version_id}"
    texts = {doc_id: text for doc_id, text in conn.execute(f"SELECT doc_id, record->>'text' FROM {schema}.documents")}
    cache: dict[str, np.ndarray] = {}
    for table in ("chunks", "sentences"):
        with conn.transaction(), conn.cursor(name=f"reuse_{table}") as cursor:
            cursor.itersize = 10_000
            cursor.execute(f'SELECT doc_id, start, "end", embedding FROM {schema}.{table}')
            for doc_id, start, end, vector in cursor:
                cache.setdefault(texts[doc_id][start:end], as_numpy(vector))
    return cache


def write_version(
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


def _tsvector(terms: list[str]) -> str:
    """A tsvector literal keeping every term as is, with its positions (so frequencies count)."""
    return " ".join(f"'{term}':{min(position, 16383)}" for position, term in enumerate(terms, start=1))


def _dump_bm25(tokenized: list[list[str]]) -> dict[str, bytes]:
    if not tokenized:
        return {}
    bm25 = bm25s.BM25()
    bm25.index(tokenized, show_progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        bm25.save(tmp, show_progress=False)
        return {f"bm25/{p.name}": p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}
