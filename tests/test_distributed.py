"""sorix.distributed and DistributedDataParallel across 2 processes started by mpiexec.

Each test starts the worker scripts of tests/mpi_workers/ under ``mpiexec -n 2``
(with a hard timeout) and checks what every rank saved against NumPy, and the
data-parallel training against one process training on the full batches.
Skipped where mpi4py or mpiexec is missing (pip install mpi4py mpich).
"""
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import numba
import sorix
from sorix import nn
from sorix.distributed.process_group import THREAD_SETTINGS, threads_per_rank

WORKERS = Path(__file__).parent / "mpi_workers"
sys.path.insert(0, str(WORKERS))
import common  # noqa: E402  (the workers' shared inputs and models)

WORLD = 2


def _mpiexec():
    beside_python = Path(sys.executable).parent / "mpiexec"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason="mpi4py or mpiexec is not installed (pip install mpi4py mpich)")


def launch(script, tmp_path, *args, env=None, timeout=60):
    """Run ``mpiexec -n 2 python <script> <tmp_path> <args>``; kill the whole job after
    ``timeout`` seconds. Returns (exit code, output)."""
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("NUMBA_ENABLE_CUDASIM", "SORIX_MPI_CUDA_AWARE")}
    # harmless for MPICH; lets Open MPI's mpiexec run as root on a 1-core CI machine
    environment.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                       OMPI_MCA_rmaps_base_oversubscribe="1")
    environment.update(env or {})
    command = [MPIEXEC, "-n", str(WORLD), sys.executable, str(WORKERS / script),
               str(tmp_path), *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=environment, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"{script} did not finish within {timeout} s:\n{output}")
    return process.returncode, output


def run_ranks(script, tmp_path, *args, env=None, timeout=60):
    """Run a worker that must succeed; returns every rank's saved results."""
    code, output = launch(script, tmp_path, *args, env=env, timeout=timeout)
    assert code == 0, f"{script} failed (exit {code}):\n{output}"
    return [dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(WORLD)]


# ---- without MPI ---------------------------------------------------------------------------

def test_import_sorix_never_imports_mpi4py():
    code = ("import sys, sorix, sorix.distributed, sorix.nn.parallel, sorix.utils.data; "
            "sorix.distributed.is_available(); print('mpi4py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=Path(__file__).parent.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_without_mpi4py_init_names_the_install_command(monkeypatch):
    import sorix.distributed as dist
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now fails
    assert not dist.is_available()
    with pytest.raises(ImportError, match=r"pip install mpi4py mpich.*sorix\[distributed\]"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_threads_per_rank_share_the_cores_unless_bound():
    assert threads_per_rank(16, 16, 2) == 8
    assert threads_per_rank(2, 2, 2) == 1
    assert threads_per_rank(2, 2, 4) == 1   # more ranks than cores: one thread each
    assert threads_per_rank(4, 16, 4) == 4  # the launcher bound each rank to 4 cores
    assert threads_per_rank(16, 16, 1) == 16


def test_errors_before_any_process_group():
    import sorix.distributed as dist
    with pytest.raises(ValueError, match="backend 'nccl' is not supported.*MPI"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="init_method"):
        dist.init_process_group("mpi", init_method="tcp://10.0.0.1:23456")
    with pytest.raises(ValueError, match="timeout"):
        dist.init_process_group("mpi", timeout=-1)
    for call in (dist.get_rank, dist.get_world_size, dist.barrier):
        with pytest.raises(ValueError, match="init_process_group"):
            call()
    with pytest.raises(ValueError, match="init_process_group"):
        dist.all_reduce(sorix.ones(2))
    with pytest.raises(ValueError, match="init_process_group"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))
    dist.destroy_process_group()  # without a group: nothing to do
    assert not dist.is_initialized()


# ---- collectives ----------------------------------------------------------------------------

def _reduce(op, values):
    stacked = np.stack(values)
    return {"SUM": stacked.sum(0), "AVG": stacked.mean(0), "MAX": stacked.max(0),
            "MIN": stacked.min(0), "PRODUCT": stacked.prod(0)}[op]


@needs_mpi
@pytest.mark.parametrize("calls", ["blocking", "timeout"])
def test_collectives_against_numpy(tmp_path, calls):
    ranks = run_ranks("collectives.py", tmp_path, calls)
    for rank, got in enumerate(ranks):
        assert int(got["rank"]) == rank and int(got["world_size"]) == WORLD
        for dtype in (np.float32, np.float64, np.int64):
            inputs = [common.inputs(r, dtype=dtype) for r in range(WORLD)]
            for op in ("SUM", "AVG", "MAX", "MIN", "PRODUCT"):
                if op == "AVG" and dtype is np.int64:
                    continue
                result = got[f"all_reduce_{op}_{np.dtype(dtype).name}"]
                assert result.dtype == np.dtype(dtype)
                # the inputs are quarters: every result is exact in float32
                np.testing.assert_array_equal(result, _reduce(op, inputs).astype(dtype))
        assert "AVG needs a floating-point tensor" in str(got["avg_int_message"])
        strided = [common.inputs(r, (4, 6)) for r in range(WORLD)]
        expected = strided[rank].copy()
        expected[:, ::2] = sum(s[:, ::2] for s in strided)
        np.testing.assert_array_equal(got["all_reduce_strided_base"], expected)
        np.testing.assert_array_equal(got["all_reduce_bool_sum"], [True, True, False])
        for src in range(WORLD):
            np.testing.assert_array_equal(got[f"broadcast_from_{src}"], common.inputs(src))
        np.testing.assert_array_equal(got["all_gather"],
                                      np.stack([common.inputs(r) for r in range(WORLD)]))
        assert "world_size=2" in str(got["all_gather_bad_list_message"])
        assert "src must be a rank in [0, 1]" in str(got["broadcast_bad_src_message"])
        assert "not supported" in str(got["bad_backend_message"])
        assert "init_process_group" in str(got["uninitialized_message"])
        assert not bool(got["cuda_aware"])  # the mpich wheel: no CUDA support
        if not any(os.environ.get(name) for name in THREAD_SETTINGS):
            # both ranks run here, free to use every core: each gets half of them
            cores = os.cpu_count()
            share = threads_per_rank(len(os.sched_getaffinity(0)), cores, WORLD)
            assert int(got["numba_threads"]) == min(share, numba.config.NUMBA_NUM_THREADS)


# ---- DistributedDataParallel ------------------------------------------------------------------

def _single_process_training():
    """One process, full batches: the initial state, first gradients and trained state."""
    model = common.make_model(seed=1)  # rank 0's seed: DDP starts every rank from it
    initial = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    optimizer = common.make_optimizer(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for X, y in common.batches():
        optimizer.zero_grad()
        loss_fn(model(sorix.tensor(X)), sorix.tensor(y)).backward()
        if first is None:
            first = {k: p.grad.numpy().copy() for k, p in model.named_parameters()}
        optimizer.step()
    trained = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    return initial, first, trained


def _grads_from(state, batches, rank=None):
    """Gradients summed over ``batches`` (each rank's share when ``rank`` is given),
    from the parameters in ``state``."""
    model = common.make_model(seed=0)
    model.load_state_dict({k: sorix.tensor(v) for k, v in state.items()}, strict=True)
    loss_fn = nn.CrossEntropyLoss()
    for batch in batches:
        X, y = batch if rank is None else common.shard(batch, rank, WORLD)
        loss_fn(model(sorix.tensor(X)), sorix.tensor(y)).backward()
    return {k: p.grad.numpy() for k, p in model.named_parameters()}


@pytest.fixture(scope="module")
def ddp_ranks(tmp_path_factory):
    """What every rank of tests/mpi_workers/ddp_train.py saved (one run for the module)."""
    return run_ranks("ddp_train.py", tmp_path_factory.mktemp("ddp"))


@needs_mpi
def test_ddp_on_two_ranks_matches_one_process_on_full_batches(ddp_ranks):
    ranks = ddp_ranks
    initial, first, trained = _single_process_training()
    keys = list(initial)
    assert list(ranks[0]["state_dict_keys"]) == [f"module.{k}" for k in keys]
    assert int(ranks[0]["bucket_count"]) > 1  # several buckets were exercised
    for got in ranks:
        for k in keys:
            # every rank starts from rank 0's initial weights, whatever its own seed gave
            np.testing.assert_array_equal(got[f"initial/{k}"], initial[k])
            np.testing.assert_allclose(got[f"first_grad/{k}"], first[k], rtol=0, atol=1e-12)
            np.testing.assert_allclose(got[f"trained/{k}"], trained[k], rtol=0, atol=1e-9)
    for k in keys:  # the replicas agree bit for bit
        np.testing.assert_array_equal(ranks[0][f"trained/{k}"], ranks[1][f"trained/{k}"])


@needs_mpi
def test_ddp_exchange_starts_while_backward_still_runs(ddp_ranks):
    for got in ddp_ranks:
        starts = got["bucket_starts"]  # per bucket: (gradients final by then, in the callback)
        assert len(starts) == int(got["bucket_count"])
        # the first buckets (the last layers) start before the first layer's gradients exist
        assert starts[0][0] < len(common.make_model(0).parameters())
        assert not starts[:-1, 1].any()  # all but possibly the last start during backward


@needs_mpi
def test_ddp_no_sync_accumulates_locally_then_averages_everything(ddp_ranks):
    ranks = ddp_ranks
    trained = {k[len("trained/"):]: v for k, v in ranks[0].items() if k.startswith("trained/")}
    micro = common.batches(seed=11, count=3)
    everything = _grads_from(trained, micro)  # full micro-batches, summed
    for rank, got in enumerate(ranks):
        local = _grads_from(trained, micro[:2], rank=rank)  # this rank's halves, not averaged
        for k in everything:
            np.testing.assert_allclose(got[f"local_grad/{k}"], local[k], rtol=0, atol=1e-12)
            np.testing.assert_allclose(got[f"accumulated_grad/{k}"], everything[k],
                                       rtol=0, atol=1e-12)


@needs_mpi
def test_ddp_parameter_used_on_one_rank_only(ddp_ranks):
    ranks = ddp_ranks
    per_rank = []
    for rank in range(WORLD):
        heads = common.make_heads()
        x = sorix.tensor(common.heads_input(rank))
        (heads(x, use_extra=rank == 0) ** 2).sum().backward()
        per_rank.append({k: (p.grad.numpy() if p.grad is not None else np.zeros(p.shape))
                         for k, p in heads.named_parameters()})
    for got in ranks:
        for k in per_rank[0]:
            expected = sum(g[k] for g in per_rank) / WORLD
            np.testing.assert_allclose(got[f"heads_grad/{k}"], expected, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(got["heads_grad/never.W"], 0.0)


# ---- the sampler across ranks -------------------------------------------------------------------

@needs_mpi
def test_distributed_sampler_shards_cover_without_overlap(tmp_path):
    ranks = run_ranks("sampler.py", tmp_path)
    n = 11
    for epoch in (0, 1):
        shares = [got[f"drop_last=False/epoch={epoch}"] for got in ranks]
        assert all(len(s) == 6 for s in shares)  # ceil(11 / 2), one index repeated
        together = np.concatenate(shares)
        assert set(together.tolist()) == set(range(n))
        assert len(together) - len(set(together.tolist())) == 1
        trimmed = [got[f"drop_last=True/epoch={epoch}"] for got in ranks]
        assert all(len(s) == 5 for s in trimmed)
        assert not set(trimmed[0].tolist()) & set(trimmed[1].tolist())
    assert not np.array_equal(ranks[0]["drop_last=False/epoch=0"],
                              ranks[0]["drop_last=False/epoch=1"])


# ---- a failing rank ends the job ------------------------------------------------------------

@needs_mpi
@pytest.mark.parametrize("mode", ["raise", "hang"])
def test_a_failing_rank_does_not_hang_the_others(tmp_path, mode):
    code, output = launch("failing_rank.py", tmp_path, mode, timeout=40)
    assert code != 0
    assert "never get here" not in output
    assert "calling MPI_Abort" in output
    if mode == "hang":
        assert "did not complete within 1 s" in output
    else:
        assert "rank 1 failed on purpose" in output


# ---- CUDA tensors (numba's simulator without a GPU) ----------------------------------------------

@needs_mpi
@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                    reason="numba-cuda is not installed (pip install 'sorix[cuda]')")
@pytest.mark.parametrize("aware", ["0", "1"])
def test_cuda_tensors_staged_or_direct(tmp_path, aware):
    env = {"SORIX_MPI_CUDA_AWARE": aware}
    if os.environ.get("SORIX_TEST_CUDA", "sim") == "gpu":
        if aware == "1":  # forcing it on an MPI that cannot read device memory would crash
            pytest.skip("the direct path on a GPU needs a CUDA-aware MPI: run the workers "
                        "with it by hand")
        env["SORIX_TEST_CUDA"] = "gpu"
    else:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    ranks = run_ranks("cuda_collectives.py", tmp_path, timeout=120, env=env)
    staged = aware == "0"
    inputs = [common.inputs(r, dtype=np.float32) for r in range(WORLD)]
    for rank, got in enumerate(ranks):
        assert bool(got["cuda_aware"]) is not staged
        for op in ("SUM", "AVG", "MAX"):
            np.testing.assert_array_equal(got[f"all_reduce_{op}"], _reduce(op, inputs))
            # staged: one copy out and one back; direct: none
            assert got[f"copies/all_reduce_{op}"].tolist() == ([1, 1] if staged else [0, 0])
        np.testing.assert_array_equal(got["broadcast_from_1"], inputs[1])
        assert got["copies/broadcast"].tolist() == (
            ([1, 0] if rank == 1 else [0, 1]) if staged else [0, 0])
        np.testing.assert_array_equal(got["all_gather"], np.stack(inputs))
        assert got["copies/all_gather"].tolist() == ([1, WORLD] if staged else [0, 0])
        buckets = int(got["ddp_buckets"])
        assert buckets > 1
        assert got["copies/ddp_backward_extra"].tolist() == (
            [buckets, buckets] if staged else [0, 0])
        for key in [k for k in got if k.startswith("ddp_cpu/")]:
            np.testing.assert_allclose(got["ddp_cuda/" + key[len("ddp_cpu/"):]], got[key],
                                       rtol=1e-12, atol=1e-12)
