"""The local stack gives Powertools ``Metrics`` a metric set per thread: execution environments
run as threads of one process there, and a flush must neither see another invocation's metrics
nor crash because another thread added one while it serialised."""

from __future__ import annotations

import json
import threading

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from tollgate_dev.local.powertools_threads import PerThreadDict, isolate_metrics

THREADS = 4
ROUNDS = 300


def test_a_per_thread_dict_keeps_each_threads_items_apart():
    shared = PerThreadDict()
    shared["main"] = 1
    seen: dict[str, list[str]] = {}

    def worker(name: str) -> None:
        shared[name] = 2
        seen[name] = list(shared)
        shared.clear()

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"t0": ["t0"], "t1": ["t1"], "t2": ["t2"]}
    assert dict(shared) == {"main": 1} and shared.get("t0") is None


def test_concurrent_invocations_flush_only_their_own_metrics(monkeypatch):
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf import cloudwatch

    flushed: list[dict] = []
    lock = threading.Lock()

    def emit(text: str, *_: object, **__: object) -> None:  # print() writes text and newline apart
        with lock:
            flushed.append(json.loads(text))

    monkeypatch.setattr(cloudwatch, "print", emit, raising=False)
    isolate_metrics()
    isolate_metrics()  # idempotent: the package's __init__ already ran it
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def invocation(n: int) -> None:
        metrics = Metrics(namespace="Local", service=f"fn{n}")  # one per environment, like each app.py
        try:
            start.wait()
            for _ in range(ROUNDS):
                metrics.add_metric(name=f"Calls{n}", unit=MetricUnit.Count, value=1)
                metrics.add_metric(name=f"Bytes{n}", unit=MetricUnit.Bytes, value=10)
                metrics.flush_metrics()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [threading.Thread(target=invocation, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(flushed) == THREADS * ROUNDS
    for blob in flushed:
        names = {m["Name"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
        service = blob["service"]
        assert names == {f"Calls{service[2:]}", f"Bytes{service[2:]}"}, blob  # never another thread's
        assert blob[f"Calls{service[2:]}"] == [1.0]  # one add per flush: nothing of the other rounds
