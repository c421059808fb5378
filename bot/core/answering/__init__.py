"""Everything a question passes through, top to bottom: cleaned or refused (``question``), read
(spelling, aliases, the kind of answer asked), candidates gathered (retrieval), scored (ranking),
the decision to answer (answerability), and the answer composed from quoted sentences.
``pipeline.answer_question`` walks the stages once; ``calibration/`` holds the fitted ranking and
answerability weights, one file per embedding model.

May import ``store``, ``embed`` and ``ingest``; never ``engine``.
"""
