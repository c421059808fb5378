"""Cold start and peak memory of the answering process, each against the naive stack's floor.

The answering process is the real command, ``launchbot ask QUESTION`` (its entry point, run by
``python -c``), over an index already built. The floor is a process that does nothing but
``import sentence_transformers`` and load the model. Each is timed from spawn to exit, alternately,
and the median kept. Peak RSS is the child's own ``VmHWM``, printed at exit: ``ru_maxrss`` from
``wait4`` would not do, Linux carries the parent's peak over into a forked child.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.common import REPO, Figure, Results
from bot.config import Settings
from bot.core.embed.embedding import resolve_model

logger = logging.getLogger(__name__)

_PEAK = "VmHWM:"
_REPORT_PEAK = (
    "import atexit, sys\n"
    "atexit.register(lambda: print(next(l for l in open('/proc/self/status') if l.startswith("
    f"{_PEAK!r}))))\n"
)
_ANSWER = (
    _REPORT_PEAK + "from bot.cli.main import main\nsys.argv = ['launchbot', 'ask', {question!r}]\nsys.exit(main())\n"
)
_FLOOR = (
    _REPORT_PEAK + "import sentence_transformers\n"
    "sentence_transformers.SentenceTransformer({path!r}, device='cpu', local_files_only=True)\n"
)


def cold_start(results: Results, settings: Settings, question: str, runs: int) -> None:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "LAUNCHBOT_KNOWLEDGE_DIR": str(settings.knowledge_dir),
        "LAUNCHBOT_INDEX_DIR": str(settings.index_dir),
    }
    answer = [sys.executable, "-c", _ANSWER.format(question=question)]
    floor = [sys.executable, "-c", _FLOOR.format(path=resolve_model(settings.model))]
    _run(answer, env), _run(floor, env)  # warm the page cache for both
    ours, floors = [], []
    for _ in range(runs):
        ours.append(_run(answer, env))
        floors.append(_run(floor, env))
    seconds = float(np.median([s for s, _ in ours]))
    base = float(np.median([s for s, _ in floors]))
    note = f"median of {runs} runs; `launchbot ask` vs `import sentence_transformers` + model load"
    results.add(
        Figure(
            "startup",
            "cold start to first answer",
            seconds,
            base,
            "s",
            "import sentence_transformers + load",
            "ratio ≤ 0.5",
            seconds <= 0.5 * base,
            note,
        )
    )
    rss, base_rss = max(r for _, r in ours), max(r for _, r in floors)
    results.add(
        Figure(
            "startup",
            "peak RSS of the answering process",
            rss,
            base_rss,
            "MB",
            "import sentence_transformers + load",
            note="launch corpus, `launchbot ask`",
        )
    )


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds from spawn to exit, peak RSS in MB); fails loudly if the command fails."""
    with tempfile.TemporaryFile() as output:  # a file, not a pipe: a chatty child never blocks
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)
        process.wait()
        seconds = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{command[:2]} failed ({process.returncode}): {text[-2000:]}")
    logger.debug("%s -> %s", command[:2], text[:300])
    peak = next(line for line in text.splitlines() if line.startswith(_PEAK))
    return seconds, int(peak.split()[1]) / 1024
