"""The numpy module's BLAS thread policy: a call below ONE_BLAS_THREAD_BELOW multiply-adds
runs BLAS on one thread (through threadpoolctl when it is installed), the caller's setting
is back after it, and OPENBLAS_NUM_THREADS / OMP_NUM_THREADS are obeyed. Timings are
benchmarks/numpy_cpu.py --threads-policy's."""

from __future__ import annotations

import numpy as np
import pytest

import cnnc

threadpoolctl = pytest.importorskip("threadpoolctl")


def blas_threads() -> int:
    return max(i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas")


@pytest.fixture
def model(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    return cnnc.compile(cnnc.parse("input 6x6x2\nconv 4 3 relu\nflatten\ndense 3"), seed=0)


def spy_on_first_step(model, seen: list) -> None:
    node, fn, reads, frees = model.module.STEPS[0]

    def spy(s, *xs):
        seen.append(blas_threads())
        return fn(s, *xs)

    model.module.STEPS[0] = (node, spy, reads, frees)


def test_a_small_call_runs_blas_on_one_thread_and_restores_the_setting(model):
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() < 2:
            pytest.skip("BLAS runs one thread here whatever the policy")
        seen: list = []
        spy_on_first_step(model, seen)
        x = np.random.default_rng(0).standard_normal((3, 6, 6, 2)).astype(np.float32)
        y = model(x)
        assert seen == [1] and blas_threads() == 2
        # the limit changes the threads, not the numbers
        model.module.ONE_BLAS_THREAD_BELOW = 0
        np.testing.assert_allclose(model(x), y, rtol=1e-6, atol=1e-7)
        assert seen == [1, 2]
        assert np.abs(model(x + 1) - y).max() > 1e-3     # and another input moves them


def test_the_environment_and_the_threshold_decide(model, monkeypatch):
    x = np.zeros((2, 6, 6, 2), np.float32)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() < 2:
            pytest.skip("BLAS runs one thread here whatever the policy")
        seen: list = []
        spy_on_first_step(model, seen)
        model.module.ONE_BLAS_THREAD_BELOW = 2 * model.network.total_macs   # a batch of 2 is the limit
        model(x[:1])
        model(x)
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")   # the user's choice wins
        model(x[:1])
        assert seen == [1, 2, 2]
