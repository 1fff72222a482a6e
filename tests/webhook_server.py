"""A real HTTP server on 127.0.0.1 receiving CRM webhooks: it checks each request's HMAC
signature, records what came, and can fail on purpose (a status for the first requests, or
hold the first request open until released, to kill a push half-way)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "webhook-test-secret"


@dataclass
class Received:
    delivery: str
    document: dict
    signed: bool  # the signature matched the body under SECRET


@dataclass
class Behaviour:
    fail_first: int = 0  # answer the first N requests with `status`
    status: int = 503
    hold_first: bool = False  # keep the first request open until `release` is set
    received: list[Received] = field(default_factory=list)
    answered: int = 0
    holding: threading.Event = field(default_factory=threading.Event)  # the handshake
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def customers(self) -> list[dict]:
        return [c for r in self.received for c in r.document["customers"]]


class Webhook:
    def __init__(self, behaviour: Behaviour):
        self.behaviour = behaviour
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(behaviour))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/personas"

    def stop(self) -> None:
        self.behaviour.release.set()
        self.server.shutdown()
        self.server.server_close()


def _handler(behaviour: Behaviour):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with behaviour.lock:
                number = behaviour.answered
                behaviour.answered += 1
            if behaviour.hold_first and number == 0:
                behaviour.holding.set()
                behaviour.release.wait(timeout=600)
                return  # the client was killed meanwhile: nothing to answer
            if number < behaviour.fail_first:
                self.send_response(behaviour.status)
                self.end_headers()
                return
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            signed = hmac.compare_digest(expected, self.headers.get("X-SmartCart-Signature", ""))
            with behaviour.lock:
                behaviour.received.append(Received(self.headers.get("X-SmartCart-Delivery", ""),
                                                   json.loads(body), signed))
            self.send_response(200 if signed else 401)
            self.end_headers()

        def log_message(self, *args):
            pass

    return Handler
