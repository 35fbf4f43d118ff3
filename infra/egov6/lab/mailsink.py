"""The lab's mail relay: a real SMTP server (aiosmtpd) on the bridge that keeps every mail in a Maildir instead of
delivering it, so that tests can read an invitation and follow its link. It insists on STARTTLS with a certificate
from the lab CA, as a production relay insists on TLS.

    python -m egov6.lab.mailsink --address 10.66.1.1 --port 2525 --maildir DIR --cert FILE --key FILE
"""

from __future__ import annotations

import argparse
import mailbox
import signal
import socket
import ssl
import sys
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

from egov6.lab import daemons

PIDFILE = "mailsink.pid"


class KeepInMaildir:
    def __init__(self, folder: Path) -> None:
        self.box = mailbox.Maildir(folder, create=True)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        message = message_from_bytes(envelope.original_content or envelope.content)
        message["X-Egov6-Rcpt-To"] = ", ".join(envelope.rcpt_tos)
        self.box.add(message)
        return "250 kept by the lab's mail sink"


def serve(address: str, port: int, maildir: Path, cert: Path, key: Path) -> None:
    from aiosmtpd.controller import Controller

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller = Controller(
        KeepInMaildir(maildir), hostname=address, port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    stop = False

    def _stop(*_args: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    while not stop:
        time.sleep(0.2)
    controller.stop()


def start(state: Path, address: str, port: int, cert: Path, key: Path) -> Path:
    """Starts the sink (or finds it running); returns its Maildir."""
    maildir = state / "mail"
    pidfile = state / PIDFILE
    if daemons.running(pidfile):
        return maildir
    process = daemons.spawn(
        [sys.executable, "-m", "egov6.lab.mailsink", "--address", address, "--port", str(port),
         "--maildir", str(maildir), "--cert", str(cert), "--key", str(key)],
        state / "mailsink.log", pidfile,
    )  # fmt: skip

    def answers() -> bool:
        with socket.create_connection((address, port), timeout=1) as sock:
            return sock.recv(64).startswith(b"220")

    daemons.wait_until_answering(process, answers, f"the lab's mail sink on {address}:{port}", state / "mailsink.log")
    return maildir


def stop(state: Path) -> None:
    daemons.stop(state / PIDFILE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    args = parser.parse_args()
    serve(args.address, args.port, args.maildir, args.cert, args.key)


if __name__ == "__main__":
    main()
