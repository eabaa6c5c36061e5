#!/usr/bin/env python3
"""A real SMTP server for Slipway's email notification tests: aiosmtpd (PyPI) on
127.0.0.1 and a port the system picks, printing `ready PORT` once it listens.

Every DATA it answers is appended to --out as one JSON line: what the client said
(envelope, whether the session was TLS and who authenticated) and the message as
Python's own email parser reads it (subject, headers, the decoded body), so the tests
check the message a mail client would see, not just its bytes.

  --cert/--key      offer STARTTLS with this certificate (and require it before MAIL)
  --implicit        TLS from the first byte instead (smtps); needs --cert/--key
  --user/--password require AUTH (PLAIN or LOGIN) with these credentials
  --refuse-first N  answer the first N DATA commands with 451 (try again later)
  --refuse-rcpt A   answer RCPT TO:<A> with 550 (no such mailbox)
"""
import argparse
import asyncio
import email
import email.policy
import json
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def main():
    # A parent that ignores SIGTERM passes that on; this server must stop when told.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--implicit", action="store_true")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--refuse-first", type=int, default=0)
    parser.add_argument("--refuse-rcpt", action="append", default=[])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    tls = None
    if args.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)
    state = {"data": 0}

    def record(entry):
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address in args.refuse_rcpt:
                record({"event": "rcpt_refused", "address": address})
                return "550 5.1.1 no such mailbox"
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"

        async def handle_DATA(self, server, session, envelope):
            state["data"] += 1
            if state["data"] <= args.refuse_first:
                record({"event": "refused", "attempt": state["data"]})
                return "451 4.3.0 try again later"
            raw = envelope.original_content
            message = email.message_from_bytes(raw, policy=email.policy.default)
            login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
            record({
                "event": "delivered",
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                # The transport itself says whether the bytes went over TLS (STARTTLS or smtps).
                "tls": server.transport.get_extra_info("ssl_object") is not None,
                "login": login,
                "subject": str(message["subject"]),
                "headers": {k: str(v) for k, v in message.items()},
                "body": message.get_content(),
                "raw": raw.decode("utf-8", "replace"),
            })
            return "250 2.0.0 queued"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and args.user is not None
              and auth_data.login == args.user.encode() and auth_data.password == args.password.encode())
        if not ok:
            record({"event": "auth_refused", "mechanism": mechanism})
        # auth_data on success: aiosmtpd keeps it in session.auth_data (who logged in).
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def factory():
        options = dict(hostname="smtp.test", decode_data=False)
        if args.user:
            # With smtps every byte is TLS already (aiosmtpd only knows STARTTLS as TLS).
            options.update(authenticator=authenticator, auth_required=True, auth_require_tls=not args.implicit)
        if tls is not None and not args.implicit:
            options.update(tls_context=tls, require_starttls=True)
        return SMTP(Handler(), **options)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, "127.0.0.1", 0, ssl=tls if args.implicit else None)
        port = server.sockets[0].getsockname()[1]
        print(f"ready {port}", flush=True)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
