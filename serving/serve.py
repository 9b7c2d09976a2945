"""``braid serve``: TF Serving when installed, otherwise the compatible fallback server.

With ``tensorflow_model_server`` on PATH it is run (replacing this process)
with a ``models.config`` naming the host paths. Otherwise the SavedModels are
served here: REST and gRPC front ends over one :class:`ModelStore`, a thread
polling the model base for new versions.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import threading
from pathlib import Path

from braidrec.config import ServeConfig
from braidrec.serving.model_config import model_config_text, model_names
from braidrec.serving.server_grpc import grpc_server
from braidrec.serving.server_rest import RestServer
from braidrec.serving.store import ModelStore
from braidrec.serving.validate import Limits

TF_SERVING_BINARY = "tensorflow_model_server"


@dataclasses.dataclass
class RunningServer:
    """Handles of a started fallback server; :meth:`stop` shuts everything down."""

    store: ModelStore
    rest: RestServer
    grpc: object
    rest_port: int
    grpc_port: int
    stop_polling: threading.Event
    threads: list[threading.Thread]

    def stop(self) -> None:
        """Stops polling, the REST server and the gRPC server, and joins their threads."""
        self.stop_polling.set()
        self.rest.shutdown()
        self.rest.server_close()
        self.grpc.stop(grace=1).wait()
        for thread in self.threads:
            thread.join(timeout=5)


def start_server(model_base: str | Path, config: ServeConfig) -> RunningServer:
    """Loads every model under ``model_base`` and starts REST and gRPC in background threads.

    Ports 0 pick free ports (the chosen ones are in the result).

    Raises:
        FileNotFoundError: ``model_base`` holds no ``NAME/<version>`` SavedModel.
        OSError: a port cannot be bound.
    """
    base = Path(model_base)
    if not base.is_dir() or not model_names(base):
        raise FileNotFoundError(f"{base}: no NAME/<version>/ SavedModel here; pass the --out of `braid export` as --model-base")
    store = ModelStore(base)
    store.poll()
    limits = Limits(config.max_batch, config.max_k)
    rest = RestServer((config.host, config.port), store, limits, config.max_body_bytes)
    grpc_srv, grpc_port = grpc_server(f"{config.host}:{config.grpc_port}", store, limits, config.max_body_bytes, config.threads)
    grpc_srv.start()
    stop = threading.Event()

    def poll_forever() -> None:
        while not stop.wait(config.poll_seconds):
            store.poll()

    threads = [threading.Thread(target=rest.serve_forever, name="braid-rest", daemon=True),
               threading.Thread(target=poll_forever, name="braid-poll", daemon=True)]
    for thread in threads:
        thread.start()
    return RunningServer(store, rest, grpc_srv, rest.server_address[1], grpc_port, stop, threads)


def tf_serving_command(model_base: str | Path, config: ServeConfig, config_path: Path) -> list[str]:
    """The ``tensorflow_model_server`` command line serving ``model_base`` via ``config_path``."""
    config_path.write_text(model_config_text(model_names(model_base), str(Path(model_base).resolve())))
    return [
        TF_SERVING_BINARY,
        f"--port={config.grpc_port}",
        f"--rest_api_port={config.port}",
        f"--model_config_file={config_path}",
        f"--file_system_poll_wait_seconds={max(1, int(config.poll_seconds))}",
    ]


def run_serve(model_base: str | Path, config: ServeConfig) -> None:
    """Serves until interrupted (Ctrl-C); uses TF Serving itself when it is on PATH."""
    if shutil.which(TF_SERVING_BINARY):
        config_path = Path(tempfile.mkdtemp(prefix="braid-serve-")) / "models.config"
        command = tf_serving_command(model_base, config, config_path)
        print(" ".join(command), flush=True)
        os.execvp(command[0], command)
    server = start_server(model_base, config)
    print(f"serving {', '.join(model_names(model_base))} from {model_base}: REST http://{config.host}:{server.rest_port}, "
          f"gRPC {config.host}:{server.grpc_port} (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
