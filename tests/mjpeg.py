"""An HTTP MJPEG camera on loopback (what cheap network cameras serve), that a test can
switch off and on again on the same port."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

BOUNDARY = "gatecheckframe"


class MjpegCamera:
    """Serves ``image`` as a multipart/x-mixed-replace stream at ``url`` (10 frames/s)."""

    def __init__(self, image: np.ndarray, port: int = 0) -> None:
        self.image = image
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/video.mjpg"

    def start(self) -> MjpegCamera:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                try:
                    while not camera._stopped.is_set():
                        ok, jpeg = cv2.imencode(".jpg", camera.image)
                        assert ok
                        part = jpeg.tobytes()
                        head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                        head += f"Content-Length: {len(part)}\r\n\r\n"
                        self.wfile.write(head.encode())
                        self.wfile.write(part + b"\r\n")
                        time.sleep(0.1)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self._stopped.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """The camera goes away: open streams end, new connections are refused."""
        self._stopped.set()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
