"""The core: plain synchronous Python, no chat-platform import. Front ends and the service import
only ``bot.core.engine``; below it four rooms, and imports go down only (tests/test_layers.py)::

    engine.py     Engine.answer(question, history) -> Answer, reindex(), reload
    answering/    what a question passes through, from cleaning it to composing the answer
    store/        where the index lives: FAISS files or PostgreSQL, behind one interface
    embed/        question and passage vectors, behind one interface (Embedder)
    ingest/       documents in: loading the knowledge directory, chunking, lexical tokens

engine → answering → store → embed, ingest; embed and ingest import neither each other nor anything above.
"""
