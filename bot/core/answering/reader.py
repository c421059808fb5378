"""The reader: a small cross-encoder that reads a question and one candidate sentence together and
says how likely that sentence answers it.

Similarity models embed the question and the sentence apart, so "How old is Gerst?" and "Gerst set up
the camera" look alike: both are about Gerst. The reader sees both texts in one sequence, with the
sentence's context (its article's title and the sentence before it, which a sentence opening with
"He" leans on), and was trained on SQuAD to tell the sentence that holds the answer from the
sentences around it (``make train-reader``; model card: ``reader_model/README.md``).

It is English only (all-MiniLM-L6-v2's vocabulary): callers ask it about pairs in Latin script and
judge the rest as before. It runs in ONNX Runtime (int8), one thread, one pair at a time (no
padding); nothing here imports torch. ``encode_pair`` is the one definition of the model's input:
the training code builds its examples with it too, so training and answering cannot drift apart.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bot.core.answering.passages import adjacent
from bot.core.answering.reading import Asked
from bot.core.answering.scoring import Scored
from bot.core.ingest.lexical import latin_share
from bot.core.store.index import KnowledgeIndex

logger = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).parent / "reader_model"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
MAX_TOKENS = 96  # the whole sequence; training measured the same
MAX_QUESTION_TOKENS = 32
MAX_CONTEXT_TOKENS = 24  # title and the start of the sentence before
CLS, SEP, PAD = "[CLS]", "[SEP]", "[PAD]"
READ_LIMIT = 16  # the best candidates of the first ranking that the reader reads
LOGIT_CLIP = 8.0  # a logit beyond this says nothing more (and keeps a linear ranking's scale sane)


@dataclass(frozen=True)
class Passage:
    """A candidate sentence as the reader sees it: the sentence, its article's title, and the
    sentence before it in the same article ("" when there is none)."""

    sentence: str
    title: str = ""
    previous: str = ""

    @property
    def context(self) -> str:
        return f"{self.title} : {self.previous}".strip(" :") if self.previous else self.title


@dataclass(frozen=True)
class Encoded:
    ids: list[int]
    types: list[int]


def encode_pair(tokenizer, question: str, passage: Passage, max_tokens: int = MAX_TOKENS) -> Encoded:
    """``[CLS] question [SEP] sentence [SEP] context [SEP]`` as token ids and segment ids: the question
    first (at most ``MAX_QUESTION_TOKENS``), then the sentence (cut only when longer than what is
    left), then as much context as fits, at most ``MAX_CONTEXT_TOKENS``."""
    cls, sep = tokenizer.token_to_id(CLS), tokenizer.token_to_id(SEP)
    q = tokenizer.encode(question, add_special_tokens=False).ids[:MAX_QUESTION_TOKENS]
    s = tokenizer.encode(passage.sentence, add_special_tokens=False).ids[: max_tokens - 4 - len(q)]
    room = min(MAX_CONTEXT_TOKENS, max_tokens - 4 - len(q) - len(s))
    c = tokenizer.encode(passage.context, add_special_tokens=False).ids[:room] if room > 0 and passage.context else []
    first = [cls, *q, sep]
    second = [*s, sep, *c, sep] if c else [*s, sep]
    return Encoded(first + second, [0] * len(first) + [1] * len(second))


def batch_arrays(encoded: list[Encoded], pad_id: int = 0) -> dict[str, np.ndarray]:
    """Pad a batch to its longest sequence: the model's three inputs as int64 arrays."""
    width = max(len(e.ids) for e in encoded)
    ids = np.full((len(encoded), width), pad_id, dtype=np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for row, e in enumerate(encoded):
        ids[row, : len(e.ids)] = e.ids
        types[row, : len(e.types)] = e.types
        mask[row, : len(e.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def load_tokenizer(path: Path):
    """The reader's WordPiece tokenizer with its stored padding and truncation switched off:
    ``encode_pair`` does both itself."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class ReaderUnavailable(RuntimeError):
    """The reader's files are missing or unreadable."""


class Reader:
    """Scores (question, passage) pairs: logits, higher = more likely the passage answers."""

    def __init__(self, directory: Path = MODEL_DIR, threads: int = 1) -> None:
        model, tokenizer = directory / MODEL_FILE, directory / TOKENIZER_FILE
        if not model.is_file() or not tokenizer.is_file():
            raise ReaderUnavailable(f"the reader model is missing from {directory} (run `make train-reader`)")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
            raise ReaderUnavailable(f"cannot load the reader model {model}: {exc}") from exc
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = load_tokenizer(tokenizer)
        self._pad = self._tokenizer.token_to_id(PAD) or 0
        self.directory = directory

    def scores(self, question: str, passages: list[Passage]) -> np.ndarray:
        """One logit per passage, each pair run alone. A batch padded to its longest pair took half
        as long again as the pairs alone (92 ms against 60 for the 16 sentences of a launch question
        here), and the int8 model quantises its activations per run: alone, a sentence's logit does not
        depend on which other sentences were retrieved with it."""
        logits = [self._logit(encode_pair(self._tokenizer, question, p)) for p in passages]
        return np.asarray(logits, dtype=np.float32).reshape(-1)

    def _logit(self, pair: Encoded) -> float:
        feed = {k: v for k, v in batch_arrays([pair], self._pad).items() if k in self._inputs}
        (logits,) = self._session.run(None, feed)  # thread-safe: answer workers share one session
        return float(np.asarray(logits).reshape(-1)[0])


_shared: list[Reader | None] = []  # loaded once per process: [] not yet, [None] unavailable
_shared_lock = threading.Lock()


def shared_reader() -> Reader | None:
    """The packaged reader, loaded once per process; None (warned once) when it cannot be loaded,
    and answering goes on as it did before the reader."""
    with _shared_lock:
        if not _shared:
            try:
                _shared.append(Reader(MODEL_DIR))
            except ReaderUnavailable as exc:
                logger.warning("%s: answering without the reader", exc)
                _shared.append(None)
        return _shared[0]


# --------------------------------------------------------------------------- the reading stage


def passage_of(index: KnowledgeIndex, sentence_id: int) -> Passage:
    """A sentence as the reader is given it: with its article's title and the sentence before it in
    the same paragraph (what "He" or "It" at its start refers to)."""
    sentence = index.sentences[sentence_id]
    title = index.documents[sentence.doc_id].title
    before = sentence_id - 1
    previous = index.sentence_text(before) if before >= 0 and adjacent(index, before, sentence_id) else ""
    return Passage(index.sentence_text(sentence_id), title, previous)


def reader_values(logit: float | None) -> dict[str, float]:
    """What the decision reads of the reader for one sentence: its logit, clipped, or that it was not
    read (another script, or beyond the ``READ_LIMIT`` best)."""
    if logit is None:
        return {"reader": 0.0, "unread": 1.0}
    return {"reader": float(np.clip(logit, -LOGIT_CLIP, LOGIT_CLIP)), "unread": 0.0}


def read_candidates(index: KnowledgeIndex, asked: Asked, ranked: list[Scored], reader: Reader | None) -> list[Scored]:
    """Stage 4b: the reader reads the ``READ_LIMIT`` best candidates with the question; what it says
    of each goes to the decision (``decision._reading``) and to the composer, which quotes a runner-up
    only when the reader says it answers. The order stays the ranking's: re-ranked by a fitted
    ranking led by the reader's logit, SQuAD's first sentences rose from 82% to 89%, but launch
    questions lost theirs (a delivery date read as the launch date; docs/experiments.md)."""
    if reader is None or not ranked:
        return ranked
    head, tail = ranked[:READ_LIMIT], ranked[READ_LIMIT:]
    english = latin_share(asked.text) >= 0.5  # it reads English, and sentences in the question's script
    chosen = [c for c in head if english and not c.features.cross]
    logits = reader.scores(asked.text, [passage_of(index, c.sentence_id) for c in chosen])
    by_id = {c.sentence_id: float(v) for c, v in zip(chosen, logits, strict=True)}
    read = []
    for candidate in head:
        logit = by_id.get(candidate.sentence_id)
        read.append(replace(candidate, values={**candidate.values, **reader_values(logit)}, reader=logit))
    return read + tail
