"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the delivery tests."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
from collections import Counter
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class RecordingHandler:
    """Accepts mail, refuses recipients containing 'refuse' with 550, and can answer the
    first `busy_replies` DATA commands with a transient 451."""

    busy_replies: int = 0
    refuse: set[str] = field(default_factory=set)  # further addresses to refuse
    messages: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    busy_recipients: int = 0  # the first N RCPT commands are answered 451

    def reset(self) -> None:
        """As new: the session's one server serves every test (tests/conftest.py `server`)."""
        fresh = type(self)()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "refuse" in address or address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        if self.busy_recipients > 0:
            self.busy_recipients -= 1
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.busy_replies > 0:
            self.busy_replies -= 1
            return "451 4.3.0 try again later"
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


@dataclass
class FaultyHandler(RecordingHandler):
    """A mail server that stores a message and then misbehaves, as real ones do:
    - late: holds its answer (250) until the test calls `answer()`, which a test does only
      after the client gave up (its error, or its process's exit): a late acknowledgement;
    - drop: closes the connection right after storing the data, without an answer.
    `stored` is set each time a message is stored (a test may kill the client then). Mail to
    `spared` addresses (the owners) is handled normally; `fault = ""` makes it a normal server."""

    fault: str = ""
    spared: set[str] = field(default_factory=set)
    stored: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        if not self.fault or set(envelope.rcpt_tos) & self.spared or not answer.startswith("250"):
            return answer
        self.stored.set()
        if self.fault == "drop":
            server.transport.close()
            return answer
        while not self.released.is_set():  # waits for the test's signal, not for a time
            await asyncio.sleep(0.01)
        return answer

    def answer(self) -> None:
        self.released.set()

    def copies(self, excluding: set[str] = frozenset()) -> Counter:
        """How many copies each recipient received (owners' notices left out)."""
        return Counter(address for message in self.messages for address in message.rcpt_tos
                       if address not in excluding)

    def message_ids(self, excluding: set[str] = frozenset()) -> set[str]:
        return {parse(message.content)["Message-ID"] for message in self.messages
                if not set(message.rcpt_tos) & excluding}

    def notices(self, owner: str) -> list[str]:
        """The subjects of the notices the owner received."""
        return [parse(message.content)["Subject"] for message in self.messages if owner in message.rcpt_tos]


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


class Authenticator:
    def __init__(self, username: str, password: str, handler: RecordingHandler):
        self.username, self.password, self.handler = username, password, handler

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.username
              and auth_data.password.decode() == self.password)
        if ok:
            self.handler.logins.append(self.username)
        return AuthResult(success=ok)


def start_server(handler: RecordingHandler, tls: ssl.SSLContext | None = None,
                 implicit_tls: bool = False, login: tuple[str, str] | None = None) -> Controller:
    options: dict = {}
    if tls is not None and implicit_tls:
        options["ssl_context"] = tls
    elif tls is not None:
        options.update(tls_context=tls, require_starttls=True)
    if login is not None:
        options.update(authenticator=Authenticator(*login, handler), auth_required=True,
                       auth_require_tls=tls is not None)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return controller
