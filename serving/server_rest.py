"""TF Serving's REST API over the model store (stdlib ``ThreadingHTTPServer``).

Endpoints (as in TF Serving):

- ``GET  /v1/models/NAME[/versions/V]``: version status.
- ``GET  /v1/models/NAME[/versions/V]/metadata``: signature definitions.
- ``POST /v1/models/NAME[/versions/V]:predict``: row or columnar predict.

Errors are ``{"error": "..."}`` with 404 (unknown model or version) or 400
(anything wrong with the request, including an oversize body).
"""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format

from braidrec.serving import rest_codec
from braidrec.serving.store import ModelStore, ServingError
from braidrec.serving.validate import Limits, check_inputs

LOG = logging.getLogger(__name__)
PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?(?P<rest>/metadata|:[a-z]+)?$")
HTTP_STATUS = {"NOT_FOUND": HTTPStatus.NOT_FOUND, "INVALID_ARGUMENT": HTTPStatus.BAD_REQUEST}


class RestServer(ThreadingHTTPServer):
    """An HTTP server answering TF Serving's REST API from ``store``.

    Args:
        address: (host, port); port 0 picks a free one (see ``server_address``).
        store: the loaded models.
        limits: batch and k bounds.
        max_body_bytes: larger request bodies are refused unread.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: ModelStore, limits: Limits, max_body_bytes: int):
        super().__init__(address, RestHandler)
        self.store = store
        self.limits = limits
        self.max_body_bytes = max_body_bytes


class RestHandler(BaseHTTPRequestHandler):
    """One request; the answer is always JSON."""

    # Keep-alive, as TF Serving's HTTP server offers: clients reuse connections.
    protocol_version = "HTTP/1.1"
    server: RestServer

    def log_message(self, format, *args):  # noqa: A002  (BaseHTTPRequestHandler's signature)
        LOG.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, err: ServingError) -> None:
        self._send(HTTP_STATUS.get(err.code, HTTPStatus.INTERNAL_SERVER_ERROR), {"error": err.message})

    def _route(self):
        match = PATH.match(self.path.split("?", 1)[0])
        if not match:
            raise ServingError("NOT_FOUND", f"Malformed request: {self.command} {self.path} (expected /v1/models/NAME[/versions/V][:predict|/metadata])")
        version = int(match["version"]) if match["version"] else None
        return match["name"], version, match["rest"] or ""

    def do_GET(self):  # noqa: N802  (http.server's naming)
        try:
            name, version, rest = self._route()
            if rest == "":
                self._send(HTTPStatus.OK, {"model_version_status": self.server.store.status(name, version)})
            elif rest == "/metadata":
                servable = self.server.store.get(name, version)
                signatures = json_format.MessageToDict(servable.metadata(), preserving_proto_field_name=True)
                spec = {"name": name, "signature_name": "", "version": str(servable.version)}
                self._send(HTTPStatus.OK, {"model_spec": spec, "metadata": {"signature_def": signatures}})
            else:
                raise ServingError("NOT_FOUND", f"Malformed request: GET {self.path}")
        except ServingError as err:
            self._error(err)

    def _body(self) -> object:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise ServingError("INVALID_ARGUMENT", "a Content-Length header is required")
        if int(length) > self.server.max_body_bytes:
            # The body is left unread, so this connection cannot carry another request.
            self.close_connection = True
            raise ServingError("INVALID_ARGUMENT", f"request body of {length} bytes exceeds the limit of {self.server.max_body_bytes} (--serve.max_body_bytes)")
        raw = self.rfile.read(int(length))
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ServingError("INVALID_ARGUMENT", f"JSON Parse error: {err}") from err

    def do_POST(self):  # noqa: N802  (http.server's naming)
        try:
            body = self._body()
            name, version, rest = self._route()
            if rest != ":predict":
                raise ServingError("INVALID_ARGUMENT", f"only :predict is served (got '{rest or self.path}'); this model has no classify/regress signatures")
            servable = self.server.store.get(name, version)
            input_names = None
            signature_name = body.get("signature_name", "") if isinstance(body, dict) else ""
            if isinstance(signature_name, str):
                input_names = sorted(servable.signature(signature_name).inputs)
            signature_name, inputs, row_format = rest_codec.decode_request(body, input_names or [])
            signature = servable.signature(signature_name)
            inputs = check_inputs(signature_name or "serving_default", signature, inputs, self.server.limits)
            self._send(HTTPStatus.OK, rest_codec.encode_response(servable.run(signature_name, inputs), row_format))
        except ServingError as err:
            self._error(err)
