"""Everything a question passes through. ``pipeline.answer_question`` walks it down the stages once,
each handing the next a small typed object:

    question.py     clean or refuse it            (metadata.py: questions about the articles themselves)
    reading.py      read it             -> Asked  (typos.py, aliases.py, answer_types.py, conversation.py)
    candidates.py   gather sentences    -> Candidate list  (retrieval.py: dense + BM25, rank fusion)
    scoring.py      score them          -> Scored list, best first  (ranking.py; passages.py)
    decision.py     answer or decline   -> Decision  (answerability.py)
    compose.py      quote and cite      -> Answer, Source

``calibration/`` holds the fitted ranking and answerability weights, one file per embedding model.
May import ``store``, ``embed`` and ``ingest``; never the engine.
"""
