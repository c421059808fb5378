"""Documents in: the knowledge directory loaded (``knowledge``), cut into sentences and chunks
(``chunking``), and the lexical tokens BM25 and term overlap count (``lexical``).

The bottom floor: imports nothing else of the core (``bot.config`` for the document size limit).
"""
