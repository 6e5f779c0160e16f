"""The delivery baseline: a bare smtplib loop, one new connection (STARTTLS + AUTH) per pre-rendered message.

`python -m bench.smtp_loop --port P --ca CA --messages FILE --start K --count N`: builds its messages,
prints `ready`, waits for a line on stdin, sends, then prints one JSON line with its finish time.
"""

from __future__ import annotations

import argparse
import json
import smtplib
import ssl
import sys
import time

from bench.sink import PASSWORD, USERNAME


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--messages", required=True, help="JSON file: list of {from, to, data}")
    parser.add_argument("--start", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()

    with open(args.messages, encoding="utf-8") as handle:
        everything = json.load(handle)
    messages = [(m["from"], m["to"], m["data"].encode()) for m in everything[args.start : args.start + args.count]]
    context = ssl.create_default_context()  # one context for the whole loop, as any bare client would
    context.load_verify_locations(cafile=args.ca)
    print("ready", flush=True)
    sys.stdin.readline()
    started, cpu = time.time(), time.process_time()
    sent = errors = 0
    for sender, recipient, data in messages:
        try:
            connection = smtplib.SMTP(args.host, args.port, timeout=30)
            connection.ehlo()
            connection.starttls(context=context)
            connection.ehlo()
            connection.login(USERNAME, PASSWORD)
            connection.sendmail(sender, [recipient], data)
            connection.quit()
            sent += 1
        except (smtplib.SMTPException, OSError):
            errors += 1
    finished, cpu = time.time(), time.process_time() - cpu
    print(
        json.dumps({"started": started, "finished": finished, "cpu": cpu, "sent": sent, "errors": errors}), flush=True
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
