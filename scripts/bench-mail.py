#!/usr/bin/env python3
"""Inbound mail throughput: mails per second through SMTP into conversations, against a release parley.

Starts `parley serve --smtp-listen` on a fresh SQLite database (loopback only), creates the mailbox
support@acme.test through the admin API, then C clients (Python's smtplib, one connection each, reused)
send N mails between them: new conversations from a pool of customers (some known, some new), a mix of
shapes (plain text, Gmail-style multipart/alternative with quoted history, Outlook HTML, a 40 KB PDF
attachment), and every fifth mail a reply threaded to the sender's own earlier mail by In-Reply-To. A mail
counts once the server answered 250 (the listener answers only once it is stored).

Prints mails/s, per-mail latency (MAIL FROM to 250) p50/p90/p99/max, the server's CPU per mail (from
/proc/PID/stat) and the client's, the load average, and checks the database's counts at the end.

Usage: scripts/bench-mail.py [--parley BIN] [--mails N] [--concurrency C] [--warmup W]
  BIN defaults to .build-release/release/parley (swift build -c release --product parley --scratch-path .build-release).
"""
import argparse, base64, json, os, smtplib, socket, sqlite3, subprocess, sys, tempfile, threading, time, urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("--parley", default=os.environ.get("PARLEY", ".build-release/release/parley"))
parser.add_argument("--mails", type=int, default=5000)
parser.add_argument("--concurrency", type=int, default=8)
parser.add_argument("--warmup", type=int, default=200)
parser.add_argument("--customers", type=int, default=500)
args = parser.parse_args()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PDF = b"%PDF-1.4\n" + bytes((i * 31 + 7) % 256 for i in range(40_000)) + b"\n%%EOF\n"
PDF64 = "\r\n".join(base64.b64encode(PDF).decode()[i:i + 76] for i in range(0, len(base64.b64encode(PDF)), 76))


def message(n, sender, reply_to=None):
    """The n-th mail: one of four shapes, each realistic in size (1–55 KB)."""
    mid = f"<bench-{n}-{sender.split('@')[0]}@example.test>"
    head = (f"From: Customer {sender.split('@')[0]} <{sender}>\r\nTo: Acme Support <support@acme.test>\r\n"
            f"Date: Thu, 3 Dec 2026 10:00:00 +0000\r\nMessage-ID: {mid}\r\nMIME-Version: 1.0\r\n")
    if reply_to:
        head += f"In-Reply-To: {reply_to}\r\nReferences: {reply_to}\r\n"
    subject = f"{'Re: ' if reply_to else ''}Export {n} fails with error {n % 97}"
    shape = n % 4
    if shape == 0:
        body = (f"Subject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                f"Hello,\r\n\r\nThe export of project {n} fails after two minutes with error {n % 97}.\r\n"
                "We tried twice this morning.\r\n\r\nThanks,\r\nA customer\r\n")
    elif shape == 1:
        quoted = "".join(f"> line {i} of the earlier message in this thread, as Gmail quotes it\r\n" for i in range(30))
        body = (f"Subject: {subject}\r\nContent-Type: multipart/alternative; boundary=\"000000000000b{n}\"\r\n\r\n"
                f"--000000000000b{n}\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\n"
                f"Still failing for project {n}, see below.\r\n\r\nOn Wed, Dec 2, 2026 at 9:00 AM Acme Support <support@acme.test> wrote:\r\n\r\n"
                f"{quoted}\r\n--000000000000b{n}\r\nContent-Type: text/html; charset=\"UTF-8\"\r\n\r\n"
                f"<div dir=\"ltr\">Still failing for project {n}, see below.</div><blockquote>{'<div>earlier</div>' * 60}</blockquote>\r\n"
                f"--000000000000b{n}--\r\n")
    elif shape == 2:
        paragraphs = "".join(f"<p class=3DMsoNormal>Paragraph {i} about project {n}.<o:p></o:p></p>\r\n" for i in range(20))
        body = (f"Subject: {subject}\r\nContent-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                f"<html><head><style><!-- p.MsoNormal {{margin:0cm}} --></style></head><body>{paragraphs}</body></html>\r\n")
    else:
        body = (f"Subject: {subject}\r\nContent-Type: multipart/mixed; boundary=\"mixed{n}\"\r\n\r\n--mixed{n}\r\n"
                f"Content-Type: text/plain; charset=utf-8\r\n\r\nThe invoice for project {n} is attached.\r\n--mixed{n}\r\n"
                f"Content-Type: application/pdf; name=\"invoice-{n}.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice-{n}.pdf\"\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{PDF64}\r\n--mixed{n}--\r\n")
    return mid, (head + body).encode()


workdir = tempfile.mkdtemp(prefix="parley-bench-mail-")
db = os.path.join(workdir, "bench.sqlite")
http_port, smtp_port = free_port(), free_port()
server = subprocess.Popen([args.parley, "serve", "--port", str(http_port), "--db", db, "--log-level", "error",
                           "--smtp-listen", f"127.0.0.1:{smtp_port}"], env={**os.environ, "PARLEY_ADMIN_TOKEN": "bench"},
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{http_port}/health", timeout=1).read()
            break
        except Exception:
            if time.time() > deadline or server.poll() is not None:
                sys.exit("parley did not start")
            time.sleep(0.05)
    request = urllib.request.Request(f"http://127.0.0.1:{http_port}/mailboxes.create", data=json.dumps({"address": "support@acme.test"}).encode(),
                                     headers={"Authorization": "Bearer bench", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).read()

    customers = [f"customer{i}@example.test" for i in range(args.customers)]
    lock = threading.Lock()
    latencies, failures = [], []
    sent_ids = {}  # sender → Message-ID of an earlier mail of theirs

    def run(indices, record):
        client = smtplib.SMTP("127.0.0.1", smtp_port, timeout=60)
        client.ehlo("bench.example.test")
        for n in indices:
            sender = customers[n % len(customers)]
            with lock:
                earlier = sent_ids.get(sender) if n % 5 == 4 else None
            mid, raw = message(n, sender, earlier)
            start = time.perf_counter()
            try:
                client.sendmail(sender, ["support@acme.test"], raw)
                elapsed = time.perf_counter() - start
                with lock:
                    if record:
                        latencies.append(elapsed)
                    sent_ids.setdefault(sender, mid)
            except smtplib.SMTPException as error:
                with lock:
                    failures.append(f"{n}: {error}")
        client.quit()

    def phase(first, count, record):
        threads = [threading.Thread(target=run, args=(range(first + i, first + count, args.concurrency), record)) for i in range(args.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    phase(0, args.warmup, False)
    load_before = os.getloadavg()
    cpu_before, client_before, wall_before = cpu_seconds(server.pid), os.times(), time.perf_counter()
    phase(args.warmup, args.mails, True)
    wall = time.perf_counter() - wall_before
    cpu = cpu_seconds(server.pid) - cpu_before
    client_after = os.times()
    client_cpu = (client_after.user - client_before.user) + (client_after.system - client_before.system)
    load_after = os.getloadavg()

    latencies.sort()
    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")
    print(f"bench-mail: {len(latencies)} mails stored ({args.concurrency} SMTP connections, after {args.warmup} warm-up), "
          f"{len(failures)} refused")
    print(f"  throughput  {len(latencies) / wall:8.1f} mails/s  ({wall:.2f} s)")
    print(f"  per mail    p50 {pct(0.50):.2f} ms  p90 {pct(0.90):.2f} ms  p99 {pct(0.99):.2f} ms  max {pct(1.0):.2f} ms")
    print(f"  server CPU  {cpu / max(1, len(latencies)) * 1000:.3f} ms per mail ({cpu:.2f} s, {cpu / wall * 100:.0f}% of one core)")
    print(f"  client CPU  {client_cpu / max(1, len(latencies)) * 1000:.3f} ms per mail (Python smtplib, same machine)")
    print(f"  load avg    {load_before[0]:.2f} before, {load_after[0]:.2f} after (1-min)")
    for failure in failures[:5]:
        print("  refused:", failure)
    # What the store holds: every mail one conversation, but the replies threaded into their sender's earlier one.
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        conversations = connection.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
        entries = connection.execute("SELECT COUNT(*) FROM timeline_entries").fetchone()[0]
        attached, kept = connection.execute("SELECT COUNT(comment), COUNT(*) - COUNT(comment) FROM artifacts").fetchone()
    print(f"  stored      {conversations} conversations, {entries} timeline entries, {attached} attached files, "
          f"{kept} other artifacts (the raw messages kept)")
    sys.exit(1 if failures else 0)
finally:
    server.terminate()
    server.wait(timeout=30)
