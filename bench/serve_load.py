"""Closed-loop load on ``braid serve``: N client threads, each sending batch-1 requests back to back.

REST clients keep one HTTP/1.1 connection each (as a pooled client would);
gRPC clients share one channel, each with the official PredictionServiceStub.
"""

from __future__ import annotations

import http.client
import json
import threading
import time

import grpc
import numpy as np

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc


def wait_ready(rest_port: int, name: str, timeout: float) -> None:
    """Polls ``GET /v1/models/NAME`` until it answers 200.

    Raises:
        TimeoutError: the server did not come up in ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", rest_port, timeout=5)
            conn.request("GET", f"/v1/models/{name}")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"braid serve on port {rest_port} did not answer within {timeout} s")


def _rest_client(port: int, name: str, users: list[str], stop: threading.Event, out: list, errors: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    rng = np.random.default_rng(threading.get_ident() % 2**32)
    while not stop.is_set():
        body = json.dumps({"instances": [users[rng.integers(len(users))]]})
        start = time.perf_counter()
        conn.request("POST", f"/v1/models/{name}:predict", body, {"Content-Type": "application/json"})
        reply = conn.getresponse()
        reply.read()
        out.append(time.perf_counter() - start)
        if reply.status != 200:
            errors.append(reply.status)


def _grpc_client(stub, name: str, users: list[str], stop: threading.Event, out: list, errors: list) -> None:
    rng = np.random.default_rng(threading.get_ident() % 2**32)
    while not stop.is_set():
        request = predict_pb2.PredictRequest()
        request.model_spec.name = name
        request.inputs["user_id"].CopyFrom(tf.make_tensor_proto([users[rng.integers(len(users))]]))
        start = time.perf_counter()
        try:
            stub.Predict(request, timeout=30)
        except grpc.RpcError as err:
            errors.append(str(err.code()))
        out.append(time.perf_counter() - start)


def _run(target, args_for, clients: int, seconds: float) -> dict:
    stop = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list = []
    threads = [threading.Thread(target=target, args=(*args_for(), stop, latencies[i], errors)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    flat = np.concatenate([np.asarray(x) for x in latencies])
    return {"requests": int(len(flat)), "requests_per_s": len(flat) / elapsed, "p50_ms": float(np.percentile(flat, 50) * 1e3),
            "p99_ms": float(np.percentile(flat, 99) * 1e3), "errors": len(errors)}


def load_test(rest_port: int, grpc_port: int, name: str, users: list[str], clients: int, seconds: float, ready_timeout: float) -> dict:
    """{"rest": stats, "grpc": stats}, each: requests/s, p50/p99 ms, error count."""
    wait_ready(rest_port, name, ready_timeout)
    rest = _run(_rest_client, lambda: (rest_port, name, users), clients, seconds)
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        grpc_stats = _run(_grpc_client, lambda: (stub, name, users), clients, seconds)
    return {"rest": rest, "grpc": grpc_stats, "clients": clients}
