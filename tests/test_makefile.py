"""The Makefile in a plain clone: the install step says what it does, and the targets that need the
shared evaluation files (beside the checkout in ../shared/eval, never in it) say so before anything
else. ``make -n`` only prints recipes, so nothing here installs anything."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.helpers import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", *argv], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_the_install_step_says_what_it_is_doing():
    recipe = make("-n", "-B", "install").stdout.splitlines()  # -B: the recipe even when installed
    pips = [line for line in recipe if "pip install" in line]
    assert len(pips) == 2 and not any("--quiet" in line or " -q " in line for line in pips)
    for pip in pips:  # each pip step is announced by the line before it
        assert recipe[recipe.index(pip) - 1].startswith("echo")


@pytest.mark.parametrize("target", ["eval-squad", "calibrate", "bench"])
def test_targets_needing_the_shared_files_check_for_them_before_installing(target, tmp_path: Path):
    recipe = make("-n", "-B", target, f"SHARED_EVAL={tmp_path}").stdout
    assert recipe.index(f"test -f {tmp_path}/squad2/dev-v2.0-half.json") < recipe.index("pip install")
    checked = make("-s", "shared-eval", f"SHARED_EVAL={tmp_path}")
    assert checked.returncode == 2
    assert "shared evaluation files" in checked.stderr and str(tmp_path) in checked.stderr
    assert "beside the repository" in checked.stderr


def test_eval_of_a_missing_shared_file_names_where_those_files_live(capsys, tmp_path: Path):
    absent = tmp_path / "shared" / "eval" / "launch_hard.yaml"  # as a clone without ../shared would have it
    code = main(["eval", "--home", str(tmp_path), str(absent)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "question set not found" in err and "../shared/eval" in err and "tests/data" in err
    code = main(["eval", "--home", str(tmp_path), str(tmp_path / "mine.yaml")])
    assert code == 2 and "beside the repository" not in capsys.readouterr().err  # any other file: not found


def test_training_the_reader_checks_for_the_squad_data_before_installing(tmp_path: Path):
    absent = tmp_path / "squad11-train.json.gz"
    recipe = make("-n", "-B", "train-reader", f"SHARED_SQUAD={absent}").stdout
    assert recipe.index(f"test -f {absent}") < recipe.index("pip install")
    checked = make("-s", "shared-squad", f"SHARED_SQUAD={absent}")
    assert checked.returncode == 2 and str(absent) in checked.stderr
    assert "already shipped" in checked.stderr
