"""1, 2 and 4 CPU processes (local jax.distributed over 127.0.0.1), each building only the rows its
devices hold, assemble the same global batches; a position saved by 4 processes resumes in 1.

Run as a script, this file is one worker process:
    python tests/test_input_multiprocess.py OUT.npz PORT NUM_PROCESSES PROCESS_ID
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEVICES = 4  # in all, split evenly over the processes
BATCH = 8
STEPS = 4
SAVE_AFTER = 2
LENGTHS = {"inputs": 256, "targets": 32}


def _source():
    from snitk.training.sources import SelectionSource
    from snitk.vocab import get_vocabulary

    return SelectionSource.from_corpus(REPO / "tasks", "default", "tk_mix", get_vocabulary(), LENGTHS,
                                       max_train_per_task=4)


def worker(out: str, port: int, nproc: int, pid: int) -> None:
    import jax
    from jax.experimental import multihost_utils
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from snitk.training.data import InputPipeline, local_rows, to_global_arrays

    if nproc > 1:
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=nproc, process_id=pid)
    sharding = NamedSharding(Mesh(np.array(jax.devices()), ("data",)), PartitionSpec("data"))
    rows = local_rows(sharding, BATCH)
    assert len(rows) == BATCH // nproc, rows
    pipe = InputPipeline(_source(), LENGTHS, BATCH, seed=5, rows=rows)
    saved, batches = None, {}
    for step in range(STEPS):
        if step == SAVE_AFTER:
            saved = pipe.global_cursors()  # collective, as at a checkpoint
        placed = to_global_arrays(next(pipe), sharding, pipe.rows, BATCH)
        for k, v in placed.items():
            batches[f"{step}/{k}"] = np.asarray(multihost_utils.process_allgather(v, tiled=True))
    if pid == 0:
        np.savez(out, saved=np.asarray(saved), **batches)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(tmp: Path, nproc: int) -> dict:
    out = tmp / f"batches_{nproc}.npz"
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO),
               XLA_FLAGS=f"--xla_force_host_platform_device_count={DEVICES // nproc}")
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, __file__, str(out), str(port), str(nproc), str(pid)], env=env,
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for pid in range(nproc)]
    for p in procs:
        try:
            log, _ = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        assert p.returncode == 0, log.decode()[-3000:]
    return dict(np.load(out))


def test_global_batches_do_not_depend_on_the_number_of_processes(tmp_path):
    runs = {n: _run(tmp_path, n) for n in (1, 2, 4)}
    ref = runs[1]
    assert ref["0/encoder_input_tokens"].shape == (BATCH, LENGTHS["inputs"])
    assert int(ref["0/encoder_segment_ids"].max()) > 1  # packed rows
    for n in (2, 4):
        assert set(runs[n]) == set(ref)
        for k in ref:
            np.testing.assert_array_equal(runs[n][k], ref[k], err_msg=f"{n} processes, {k}")

    # the position saved by 4 processes resumes in one process: same next batches
    from snitk.training.data import InputPipeline

    resumed = InputPipeline(_source(), LENGTHS, BATCH, seed=5, cursors=runs[4]["saved"].tolist())
    for step in range(SAVE_AFTER, STEPS):
        batch = next(resumed)
        for k, v in batch.items():
            np.testing.assert_array_equal(v, ref[f"{step}/{k}"], err_msg=f"resumed step {step}, {k}")


if __name__ == "__main__":
    worker(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
