"""Process-wide TensorFlow settings: threads per op (``train.op_threads``)."""

import subprocess
import sys

import pytest
import tensorflow as tf

from braidrec.config import TrainConfig
from braidrec.pipeline import cli
from braidrec.runtime import set_op_threads


def test_the_count_in_force_is_accepted_again():
    tf.constant(1.0) + 1.0  # TensorFlow has run an op: the count is fixed now
    set_op_threads(TrainConfig().op_threads)
    assert tf.config.threading.get_intra_op_parallelism_threads() == TrainConfig().op_threads


@pytest.mark.parametrize("threads, message", [(-1, "must be >= 0"), (TrainConfig().op_threads + 2, "--train.op_threads")])
def test_bad_or_late_counts_say_what_to_pass(threads, message):
    tf.constant(1.0) + 1.0
    with pytest.raises(ValueError, match=message):
        set_op_threads(threads)


def test_braid_train_refuses_a_count_it_cannot_apply(tmp_path, capsys):
    tf.constant(1.0) + 1.0
    code = cli.main(["train", "--features", str(tmp_path), "--out", str(tmp_path / "model"),
                     "--train.op_threads", str(TrainConfig().op_threads + 2)])
    assert code == 1
    assert "train.op_threads" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()


def test_a_fresh_process_runs_with_the_count_it_sets():
    script = ("from braidrec.runtime import set_op_threads; set_op_threads(3); import tensorflow as tf; "
              "tf.constant(1.0) + 1.0; print(tf.config.threading.get_intra_op_parallelism_threads())")
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    assert out.split()[-1] == "3"
