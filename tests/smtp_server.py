"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the delivery tests."""

from __future__ import annotations

import socket
import ssl
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

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "refuse" in address or address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.busy_replies > 0:
            self.busy_replies -= 1
            return "451 4.3.0 try again later"
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


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
