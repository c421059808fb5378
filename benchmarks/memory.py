"""Peak memory of an index rebuild against the size of the index it builds.

``python -m benchmarks.memory [--chunks 100000]`` writes a synthetic corpus of about that many
chunks, then runs, each in a fresh process: a full build (``launchbot index --rebuild``), an
incremental build after one document changed (``launchbot index``), and a plain load of the
result (what a process serving the index holds). Each reports its peak RSS (``VmHWM``) above the
RSS it had before the work began, with the modules imported and the embedder ready.

The embedder is a cheap stand-in (a vector drawn from each text's hash): it keeps 100k chunks to
minutes and has next to no memory of its own, so what is measured is the index machinery alone.
The figure is peak(build) / size(loaded index); the goal (issue 11) is at most 1.5.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.common import REPO

WORDS = (
    "rocket launch orbit station module crew cargo supply docking engine stage booster capsule "
    "astronaut cosmonaut mission control telemetry payload fuel oxygen thruster hatch solar panel "
    "antenna signal ground track window weather delay sensor failure abort recovery landing "
    "parachute altitude velocity trajectory pad tower countdown ignition liftoff separation"
).split()
SENTENCES_PER_PARAGRAPH = 4
PARAGRAPHS_PER_DOCUMENT = 20

_RUN = """
import json, sys, time
sys.path.insert(0, {repo!r})
from benchmarks.memory import HashEmbedder, peak_kib, reset_peak, rss_kib
from bot.core.store.faiss_build import build_index
from bot.core.store.faiss_store import load_index
from bot.core.store.index import IndexSettings
from pathlib import Path
embedder = HashEmbedder()
settings = IndexSettings(embedder.name, 800, 150, {hnsw_threshold})
reset_peak()
base = rss_kib()
started = time.perf_counter()
if {mode!r} == "load":
    index = load_index(Path({index!r}))
    chunks = len(index.chunks)
else:
    report = build_index(Path({knowledge!r}), Path({index!r}), embedder, settings, rebuild={mode!r} == "full")
    chunks = report.chunks
print(json.dumps({{"peak_mib": (peak_kib() - base) / 1024, "held_mib": (rss_kib() - base) / 1024,
                  "chunks": chunks, "seconds": time.perf_counter() - started}}))
"""


class HashEmbedder:
    """Stands in for the model: a unit vector seeded by each text's hash. Same text, same vector."""

    name = "hash-embedder"
    dimension = 384
    backend = "hash"

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            out[row] = np.random.default_rng(seed).standard_normal(self.dimension, dtype=np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_passages([text])[0]


def _status(field: str) -> int:
    with open("/proc/self/status") as handle:
        return int(next(line for line in handle if line.startswith(field)).split()[1])


def rss_kib() -> int:
    return _status("VmRSS:")


def peak_kib() -> int:
    return _status("VmHWM:")


def reset_peak() -> None:
    """Start VmHWM again from the current RSS (Linux: write 5 to clear_refs)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def write_corpus(directory: Path, chunks: int, seed: int = 11) -> None:
    """About ``chunks`` chunks: distinct random sentences, four to a paragraph, twenty paragraphs a
    document (sentence numbers make every sentence distinct, as in real articles)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    documents = max(1, chunks // PARAGRAPHS_PER_DOCUMENT)
    number = 0
    for doc in range(documents):
        paragraphs = []
        for _ in range(PARAGRAPHS_PER_DOCUMENT):
            sentences = []
            for _ in range(SENTENCES_PER_PARAGRAPH):
                number += 1
                words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(18, 30)))
                sentences.append(f"Report {number} says the {words}.")
            paragraphs.append(" ".join(sentences))
        body = "\n\n".join(paragraphs)
        (directory / f"doc-{doc:05d}.md").write_text(f"---\ntitle: Document {doc}\n---\n{body}\n", encoding="utf-8")


def measure(mode: str, knowledge: Path, index: Path, hnsw_threshold: int) -> dict:
    code = _RUN.format(
        repo=str(REPO), mode=mode, knowledge=str(knowledge), index=str(index), hnsw_threshold=hnsw_threshold
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--hnsw-threshold", type=int, default=10**9, help="default: exact (flat) indexes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="launchbot-memory-") as tmp:
        knowledge, index = Path(tmp) / "knowledge", Path(tmp) / "index"
        write_corpus(knowledge, args.chunks)
        full = measure("full", knowledge, index, args.hnsw_threshold)
        changed = sorted(knowledge.glob("*.md"))[0]
        changed.write_text(changed.read_text(encoding="utf-8") + "\nOne more sentence was added.\n", encoding="utf-8")
        incremental = measure("incremental", knowledge, index, args.hnsw_threshold)
        loaded = measure("load", knowledge, index, args.hnsw_threshold)
    size = loaded["held_mib"]
    print(f"index: {loaded['chunks']:,} chunks, {size:,.0f} MiB when loaded")
    for name, run in (("full rebuild", full), ("incremental build", incremental)):
        print(
            f"{name}: peak {run['peak_mib']:,.0f} MiB above the starting RSS = {run['peak_mib'] / size:.2f}x "
            f"the loaded index (goal <= 1.5), {run['seconds']:.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
