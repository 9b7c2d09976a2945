"""TF Serving's gRPC ``PredictionService`` (Predict, GetModelMetadata) over the model store.

The servicer is generated from the ``tensorflow-serving-api`` protos, so the
official ``PredictionServiceStub`` talks to it unchanged.
"""

from __future__ import annotations

from concurrent import futures

import grpc

import braidrec  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from braidrec.serving.store import ModelStore, ServingError
from braidrec.serving.validate import Limits, check_inputs

GRPC_CODES = {"NOT_FOUND": grpc.StatusCode.NOT_FOUND, "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT}


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata; Classify, Regress and MultiInference answer UNIMPLEMENTED.

    Args:
        store: the loaded models.
        limits: batch and k bounds.
    """

    def __init__(self, store: ModelStore, limits: Limits):
        self.store = store
        self.limits = limits

    @staticmethod
    def _abort(context, err: ServingError):
        context.abort(GRPC_CODES.get(err.code, grpc.StatusCode.INTERNAL), err.message)

    def _servable(self, spec):
        return self.store.get(spec.name, spec.version.value if spec.HasField("version") else None)

    def Predict(self, request, context):  # noqa: N802  (gRPC method name)
        try:
            servable = self._servable(request.model_spec)
            name = request.model_spec.signature_name or "serving_default"
            signature = servable.signature(name)
            try:
                inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            except (TypeError, ValueError) as err:
                raise ServingError("INVALID_ARGUMENT", f"malformed TensorProto: {err}") from err
            outputs = servable.run(name, check_inputs(name, signature, inputs, self.limits))
            wanted = list(request.output_filter) or list(outputs)
            unknown = sorted(set(wanted) - set(outputs))
            if unknown:
                raise ServingError("INVALID_ARGUMENT", f"output_filter names unknown outputs {unknown} (known: {sorted(outputs)})")
        except ServingError as err:
            self._abort(context, err)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = name
        for key in wanted:
            response.outputs[key].CopyFrom(tf.make_tensor_proto(outputs[key]))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802  (gRPC method name)
        try:
            if list(request.metadata_field) != ["signature_def"]:
                raise ServingError("INVALID_ARGUMENT", f"metadata_field must be ['signature_def'], got {list(request.metadata_field)}")
            servable = self._servable(request.model_spec)
        except ServingError as err:
            self._abort(context, err)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.metadata["signature_def"].Pack(servable.metadata())
        return response


def grpc_server(address: str, store: ModelStore, limits: Limits, max_message_bytes: int, threads: int) -> tuple[grpc.Server, int]:
    """A started-ready (not yet started) gRPC server bound to ``address``; returns it and its port.

    ``max_message_bytes`` bounds request size: grpc refuses larger messages
    with RESOURCE_EXHAUSTED before they reach the servicer.
    """
    options = [("grpc.max_receive_message_length", max_message_bytes)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads), options=options)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(store, limits), server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot bind the gRPC port at {address} (in use? pass --serve.grpc_port)")
    return server, port
