"""``braid serve``'s fallback server over real sockets: TF Serving's REST and gRPC APIs, errors, hot reload."""

import json
import shutil
import time
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest

import braidrec  # noqa: F401
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from braidrec.config import ServeConfig
from braidrec.serving.serve import start_server


@pytest.fixture(scope="module")
def server(tiny_run, tmp_path_factory):
    base = tmp_path_factory.mktemp("serve_base")
    shutil.copytree(tiny_run["export"], base / "tiny" / "1")
    running = start_server(base, ServeConfig(port=0, grpc_port=0, max_body_bytes=20_000, max_batch=8, max_k=50, poll_seconds=0.2, threads=4))
    yield running, base
    running.stop()


def _http(server, path, body=None, raw=None):
    """(status, parsed JSON) of GET (no body) or POST to the server."""
    url = f"http://127.0.0.1:{server[0].rest_port}{path}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture(scope="module")
def users(tiny_run):
    model = tf.saved_model.load(str(tiny_run["export"]))
    return [u.decode() for u in model.all_user_ids().numpy()[:2]]


def test_row_format_predict_equals_the_savedmodel(server, users, tiny_run):
    status, reply = _http(server, "/v1/models/tiny:predict", {"instances": users + ["nobody"]})
    assert status == 200
    expected = tf.saved_model.load(str(tiny_run["export"])).signatures["serving_default"](user_id=tf.constant(users + ["nobody"]))
    assert [p["item_ids"] for p in reply["predictions"]] == expected["item_ids"].numpy().astype(str).tolist()
    np.testing.assert_allclose([p["scores"] for p in reply["predictions"]], expected["scores"].numpy(), rtol=1e-5)


@pytest.mark.parametrize(
    "signature, inputs, outputs",
    [
        ("embed_items", {"item_id": ["i00001", "zzz"]}, {"embeddings", "modality_weights", "score_offsets", "has_id", "found"}),
        ("recommend_history", {"history": [["", "i00001"], ["i00002", "i00003"]]}, {"item_ids", "scores"}),
        (
            "recommend_profile",
            {"history": [["i00001"]], "user_categorical": [["segment=segment_00"]], "user_numeric": [[31.0]], "user_numeric_mask": [[1.0]]},
            {"item_ids", "scores"},
        ),
        ("search_text", {"query": ["some words"]}, {"item_ids", "scores"}),
        ("recommend_candidates", {"user_id": ["nobody"], "candidates": ["i00001", "i00002"], "k": 2}, {"item_ids", "scores"}),
        ("explain", {"user_id": ["nobody"], "item_ids": [["i00001", ""]]}, {"contributions", "base", "scores", "driver", "found"}),
        ("explain_history", {"history": [["i00002"]], "item_ids": [["i00001"]]}, {"contributions", "base", "scores", "driver", "found"}),
    ],
)
def test_columnar_predict_per_signature(server, signature, inputs, outputs):
    status, reply = _http(server, "/v1/models/tiny/versions/1:predict", {"signature_name": signature, "inputs": inputs})
    assert status == 200, reply
    assert set(reply["outputs"]) == outputs


def test_status_and_metadata(server):
    assert _http(server, "/v1/models/tiny") == (200, {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]})
    status, meta = _http(server, "/v1/models/tiny/metadata")
    assert status == 200 and meta["model_spec"]["version"] == "1"
    assert "search_text" in meta["metadata"]["signature_def"]["signature_def"]


@pytest.mark.parametrize(
    "path, body, code, words",
    [
        ("/v1/models/nope:predict", {"instances": ["u1"]}, 404, "nope"),
        ("/v1/models/tiny/versions/9:predict", {"instances": ["u1"]}, 404, "9"),
        ("/v1/models/tiny:predict", {"signature_name": "nope", "instances": ["u1"]}, 400, "nope"),
        ("/v1/models/tiny:predict", {"instances": [1, 2]}, 400, "string"),
        ("/v1/models/tiny:predict", {"signature_name": "recommend_candidates", "inputs": {"user_id": ["u"], "candidates": ["i"], "k": 51}}, 400, "max_k"),
        ("/v1/models/tiny:predict", {"instances": [f"u{i}" for i in range(9)]}, 400, "max_batch"),
        ("/v1/models/tiny:predict", {"signature_name": "explain", "inputs": {"user_id": ["u"], "item_ids": [["i"] * 51]}}, 400, "max_k"),
        ("/v1/models/tiny:predict", {"inputs": ["u"] * 5000}, 400, "max_body_bytes"),
        ("/v1/models/tiny:predict", None, 400, "JSON"),
        ("/v1/models/tiny:predict", {"signature_name": "recommend_history", "inputs": {"history": [["a"], ["b", "c"]]}}, 400, "same length"),
    ],
)
def test_bad_requests_get_tf_serving_errors_and_the_server_keeps_serving(server, users, path, body, code, words):
    status, reply = _http(server, path, body, raw=b"{not json" if body is None else None)
    assert status == code and words in reply["error"], reply
    assert _http(server, "/v1/models/tiny:predict", {"instances": users})[0] == 200


def test_grpc_predict_and_metadata_with_the_official_stub(server, users):
    with grpc.insecure_channel(f"127.0.0.1:{server[0].grpc_port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "tiny"
        request.model_spec.signature_name = "serving_default"
        request.inputs["user_id"].CopyFrom(tf.make_tensor_proto(users))
        reply = stub.Predict(request, timeout=30)
        assert tf.make_ndarray(reply.outputs["item_ids"]).shape == (2, 10)
        assert reply.model_spec.version.value == 1
        meta = stub.GetModelMetadata(get_model_metadata_pb2.GetModelMetadataRequest(model_spec=request.model_spec, metadata_field=["signature_def"]), timeout=30)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        meta.metadata["signature_def"].Unpack(signatures)
        assert "embed_users" in signatures.signature_def
        request.inputs["user_id"].CopyFrom(tf.make_tensor_proto([1, 2]))
        with pytest.raises(grpc.RpcError) as err:
            stub.Predict(request, timeout=30)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        request.model_spec.name = "nope"
        with pytest.raises(grpc.RpcError) as err:
            stub.Predict(request, timeout=30)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_new_version_is_served_without_restart(server, tiny_run):
    running, base = server
    staging = base / "tiny" / ".staging"
    shutil.copytree(tiny_run["export"], staging)
    staging.rename(base / "tiny" / "2")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _http(server, "/v1/models/tiny")[1]["model_version_status"][0]["version"] != "2":
        time.sleep(0.2)
    assert _http(server, "/v1/models/tiny")[1]["model_version_status"][0]["version"] == "2"
    assert _http(server, "/v1/models/tiny/versions/2:predict", {"instances": ["nobody"]})[0] == 200


def test_tf_serving_command_points_at_host_paths(server, tmp_path):
    from braidrec.serving.model_config import parse_model_config
    from braidrec.serving.serve import tf_serving_command

    command = tf_serving_command(server[1], ServeConfig(port=8601, grpc_port=8600), tmp_path / "models.config")
    assert command[:3] == ["tensorflow_model_server", "--port=8600", "--rest_api_port=8601"]
    (model,) = parse_model_config((tmp_path / "models.config").read_text()).model_config_list.config
    assert model.base_path == str((server[1] / "tiny").resolve())
