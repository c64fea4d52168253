#!/usr/bin/env python3
"""Several `parley serve` nodes on one PostgreSQL database, behind nginx (deploy/nginx/parley.conf).

Scenario A: three nodes (the third given its database by PARLEY_DATABASE_URL rather than --database-url) under
the workflow load generator (through nginx); node 2 is SIGKILLed midway. Every write acknowledged meanwhile is
readable afterwards; each surviving node's live stream, and three through nginx (one on node 2 resumes on
another node with Last-Event-ID), received every event exactly once and in order; the webhook received every
event at least once, each under one X-Parley-Delivery id (repeats only under that same id), first deliveries
in outbox order; deliveries go on after the kill.
Scenario B: two nodes under load while PostgreSQL stops for a few seconds and starts again
(scripts/pg-cluster down/up): meanwhile requests answer 502/503 or fail to connect, never 2xx for a write
that is then lost, and /health answers 503; afterwards every node's /health is 200 again within 30 s, writes
succeed again, no node was restarted, every acknowledged write is there, streams and webhooks go on.

Before those, the tooling alone (no parley): scripts/pg-cluster (start, the URL's password, CREATE DATABASE
as parley, down/up/restart on the same port, stop), and nginx with deploy/nginx/parley.conf in front of
loopback stand-ins (server-sent events unbuffered, forwarded headers, keep-alive to upstreams, a POST
retried only when it never reached the failed upstream, a GET always).

Usage: multinode_test.py PATH_TO_PARLEY [--scenario a|b|all] [--workflows N] [--timeout SECONDS] [--keep]
       multinode_test.py --infrastructure [--keep]      # the tooling checks alone
Needs PostgreSQL's server programs and nginx (Debian: apt-get install postgresql nginx; .ci/run does).
Standard library only; loopback only. Prints 'multinode-test: N passed, M failed' last.
"""
import glob
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_CLUSTER = os.path.join(REPO, "scripts", "pg-cluster")
NGINX_TEMPLATE = os.path.join(REPO, "deploy", "nginx", "parley.conf")
TOKEN = "multinode-admin"
SECRET = "whsec_multinode_test"
DELIVERY_HEADER = "X-Parley-Delivery"
ALLOWED_OUTAGE_CODES = {502, 503}
# What stands in for an answer when there is none: refused, reset, timed out, cut short.
NO_ANSWER = (OSError, urllib.error.URLError, http.client.HTTPException)

passed = failed = 0
summary = []


def check(ok, what):
    global passed, failed
    print(("PASS " if ok else "FAIL ") + what, flush=True)
    if ok:
        passed += 1
    else:
        failed += 1
    return ok


def note(what):
    print("     " + what, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_process(process, seconds):
    """Waits up to `seconds` for a process to end; its exit status, or None if it still runs."""
    try:
        return process.wait(max(0.0, seconds))
    except subprocess.TimeoutExpired:
        return None


def wait_until(condition, seconds, step=0.1):
    """Polls `condition` until it is true or `seconds` pass; returns its last value."""
    deadline = time.time() + seconds
    while True:
        value = condition()
        if value or time.time() >= deadline:
            return value
        time.sleep(step)


# --------------------------------------------------------------------------------------------------
# Everything started is registered here and stopped in reverse order, once, whoever asks first (the
# finally of main, or the watchdog when the test overruns its cap).

class Cleanup:
    def __init__(self):
        self.lock = threading.Lock()
        self.actions = []

    def add(self, action):
        with self.lock:
            self.actions.append(action)
        return action

    def remove(self, action):
        with self.lock:
            if action in self.actions:
                self.actions.remove(action)

    def mark(self):
        with self.lock:
            return len(self.actions)

    def run(self, since=0):
        """Runs (and forgets) every action registered after `mark()` returned `since`, newest first."""
        while True:
            with self.lock:
                if len(self.actions) <= since:
                    return
                action = self.actions.pop()
            try:
                action()
            except Exception as error:  # cleanup goes on whatever one step does
                print(f"     cleanup: {error!r}", flush=True)


cleanup = Cleanup()


def stop_process(process, group=False, first=signal.SIGTERM, grace=10):
    """Stops a process we started (and its group, for nginx's workers) by its id: `first`, then SIGKILL."""
    if process.poll() is None:
        try:
            if group:
                os.killpg(process.pid, first)
            else:
                process.send_signal(first)
            process.wait(grace)
        except (subprocess.TimeoutExpired, ProcessLookupError, PermissionError):
            pass
    if group:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if process.poll() is None:
        process.kill()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        pass


def process_gone(pid):
    """Whether a process has exited (a zombie not yet reaped by init counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------------------------------
# HTTP

def call(port, path, body=None, token=TOKEN, timeout=10):
    """POSTs JSON (or GETs when body is None); returns (status, parsed answer or {}). Connection errors raise."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{path.lstrip('/')}", data=data, headers=headers,
                                     method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        text = error.read()
        status = error.code
    try:
        return status, json.loads(text or b"{}")
    except ValueError:
        return status, {"raw": text[:200].decode("latin1")}


def health(port, timeout=2):
    """The node's /health status, or the name of the error that stood in for an answer."""
    try:
        return call(port, "health", token=None, timeout=timeout)[0]
    except NO_ANSWER as error:
        return type(getattr(error, "reason", error)).__name__


class Chunked:
    """An incremental decoder of a chunked HTTP body."""

    def __init__(self):
        self.raw = b""
        self.state = "size"
        self.remaining = 0
        self.done = False

    def feed(self, data):
        self.raw += data
        out = []
        while not self.done:
            if self.state == "size":
                end = self.raw.find(b"\r\n")
                if end < 0:
                    break
                size = int(self.raw[:end].split(b";")[0].strip() or b"0", 16)
                self.raw = self.raw[end + 2:]
                if size == 0:
                    self.done = True
                    break
                self.remaining, self.state = size, "data"
            elif self.state == "data":
                piece = self.raw[:self.remaining]
                out.append(piece)
                self.raw = self.raw[len(piece):]
                self.remaining -= len(piece)
                if self.remaining:
                    break
                self.state = "crlf"
            else:
                if len(self.raw) < 2:
                    break
                self.raw, self.state = self.raw[2:], "size"
        return b"".join(out)


class EventStream(threading.Thread):
    """A live-stream client (GET /events.stream by default) on a raw socket, so that a read timeout never
    spoils it: records every event's id in arrival order across reconnections, each reconnection resuming with
    Last-Event-ID (from `after` at first). Counts the load generator's conversations as they are created."""

    def __init__(self, name, port, token=TOKEN, after=0, path="/events.stream", reconnect=True, follow=True):
        super().__init__(name=f"stream-{name}", daemon=True)
        self.label, self.port, self.token, self.path = name, port, token, path
        self.last_id = after
        self.reconnect = reconnect
        self.follow = follow
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.ids = []            # event ids in arrival order
        self.arrivals = []       # (id, time received, data)
        self.kinds = {}
        self.bench_created = 0   # conversation_created events of the load generator's conversations
        self.connections = 0     # answered 200 with an event stream
        self.refusals = []       # (time, status or error) of connection attempts that did not
        self.ends = []           # (time, why) a connection ended
        self.resets = 0
        self.out_of_order = []   # (previous id, id)
        self.finished = threading.Event()
        self.content_type = None

    @property
    def newest(self):
        with self.lock:
            return self.ids[-1] if self.ids else self.last_id

    def stop(self):
        self.halt.set()

    def run(self):
        try:
            while not self.halt.is_set():
                try:
                    self.read_once()
                except (OSError, ValueError) as error:
                    with self.lock:
                        self.refusals.append((time.time(), type(error).__name__))
                if not self.reconnect or not self.follow:
                    break
                self.halt.wait(0.3)
        finally:
            self.finished.set()

    def read_once(self):
        query = "" if self.follow else "?follow=false"
        request = (f"GET {self.path}{query} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAccept: text/event-stream\r\n"
                   + (f"Authorization: Bearer {self.token}\r\n" if self.token else "")
                   + f"Last-Event-ID: {self.last_id}\r\n\r\n")
        with socket.create_connection(("127.0.0.1", self.port), timeout=3) as s:
            s.sendall(request.encode())
            s.settimeout(0.5)
            raw, head = b"", None
            deadline = time.time() + 15
            while head is None:
                if self.halt.is_set():
                    return
                if time.time() > deadline:
                    raise TimeoutError("no answer head within 15 s")
                chunk = self.receive(s)
                if chunk is None:
                    continue
                if chunk == b"":
                    raise ConnectionError("closed before an answer")
                raw += chunk
                if b"\r\n\r\n" in raw:
                    head, raw = raw.split(b"\r\n\r\n", 1)
            lines = head.decode("latin1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
            if status != 200:
                with self.lock:
                    self.refusals.append((time.time(), status))
                return
            self.content_type = headers.get("content-type", "")
            with self.lock:
                self.connections += 1
            chunked = Chunked() if "chunked" in headers.get("transfer-encoding", "").lower() else None
            text = b""
            data = chunked.feed(raw) if chunked else raw
            while True:
                text = self.parse(text + data)
                if chunked and chunked.done:
                    why = "ended"
                    break
                data = None
                while data is None:
                    if self.halt.is_set():
                        return
                    data = self.receive(s)
                if data == b"":
                    why = "closed"
                    break
                if chunked:
                    data = chunked.feed(data)
            with self.lock:
                self.ends.append((time.time(), why))

    def receive(self, s):
        """Some bytes, b"" at the end, None when nothing came for a while."""
        try:
            return s.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return b""

    def parse(self, text):
        """Dispatches every complete event in `text` (bytes); returns what is left."""
        text = text.replace(b"\r\n", b"\n")
        blocks = text.split(b"\n\n")
        text = blocks.pop()
        for block in blocks:
            event_id, kind, data = None, "message", []
            for line in block.decode("utf-8", errors="replace").split("\n"):
                if line.startswith(":"):
                    continue
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "id":
                    event_id = value
                elif field == "event":
                    kind = value
                elif field == "data":
                    data.append(value)
            if kind == "reset":
                with self.lock:
                    self.resets += 1
                continue
            if event_id is None:
                continue
            number = int(event_id)
            payload = "\n".join(data)
            with self.lock:
                if self.ids and number <= self.ids[-1]:
                    self.out_of_order.append((self.ids[-1], number))
                self.ids.append(number)
                self.arrivals.append((number, time.time(), payload))
                self.kinds[number] = kind
                self.last_id = number
                if kind == "conversation_created" and "Bench conversation" in payload:
                    self.bench_created += 1
        return text


def read_all_events(port, after=0, seconds=60):
    """Every event the admin may see after `after`, from a node (`follow=false`): the outbox as it is."""
    stream = EventStream("truth", port, after=after, reconnect=False, follow=False)
    stream.start()
    stream.join(seconds)
    stream.stop()
    ok = stream.connections == 1 and not stream.out_of_order and len(stream.ends) == 1
    return stream.ids, ok


# --------------------------------------------------------------------------------------------------
# The webhook receiver: answers 200 to every delivery, records each with its X-Parley-Delivery id, the
# event it carries (the payload's id ends in webhook_event/<outbox sequence>) and whether it is signed.

class Receiver:
    def __init__(self, secret=SECRET):
        self.secret = secret.encode()
        self.lock = threading.Lock()
        self.deliveries = []     # (time, delivery id, sequence, signature ok)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The answer's head and body in one write: written apart (the default, unbuffered), the body waits
            # for the ACK of the head (Nagle) that the client delays 40 ms, and deliveries crawl at 20 a second.
            wbufsize = -1

            def log_message(self, *args):
                pass

            def do_POST(self):
                # A request cut short (its sender SIGKILLed while writing it) delivered nothing: a real receiver's
                # HTTP server drops it too, so it is not counted.
                complete = True
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    body = b""
                    while True:
                        line = self.rfile.readline()
                        if not line:
                            complete = False
                            break
                        size = int(line.split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        chunk = self.rfile.read(size)
                        if len(chunk) < size:
                            complete = False
                            break
                        body += chunk
                        self.rfile.readline()
                else:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(length)
                    complete = len(body) == length
                if not complete:
                    self.close_connection = True
                    return
                timestamp = self.headers.get("X-Parley-Timestamp", "")
                expected = "sha256=" + hmac.new(receiver.secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                signed = hmac.compare_digest(expected, self.headers.get("X-Parley-Signature", ""))
                try:
                    event = json.loads(body)
                    sequence = int(str(event.get("id", "")).rsplit("/", 1)[-1])
                except (ValueError, AttributeError):
                    sequence = None
                with receiver.lock:
                    receiver.deliveries.append((time.time(), self.headers.get(DELIVERY_HEADER), sequence, signed))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.server.handle_error = lambda *_: None   # a delivery cut short by a killed node is not news
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/parley-webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()
        cleanup.add(self.close)

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self):
        with self.lock:
            return list(self.deliveries)


# --------------------------------------------------------------------------------------------------
# PostgreSQL, nodes, nginx

class Cluster:
    """A throwaway cluster by scripts/pg-cluster."""

    def __init__(self, folder):
        self.folder = folder
        self.url = None

    def run(self, *args, timeout=120):
        return subprocess.run([PG_CLUSTER, *args], capture_output=True, text=True, timeout=timeout)

    def start(self):
        result = self.run("start", self.folder)
        if result.returncode != 0:
            raise RuntimeError(f"scripts/pg-cluster start failed: {result.stderr.strip()}")
        cleanup.add(self.stop)
        self.url = result.stdout.strip()
        return self.url

    def stop(self):
        if os.path.exists(self.folder):
            self.run("stop", self.folder, timeout=90)

    def down(self):
        return self.run("down", self.folder).returncode == 0

    def up(self):
        return self.run("up", self.folder).returncode == 0

    @property
    def port(self):
        return int(self.url.rsplit(":", 1)[1].split("/")[0])


class Node:
    def __init__(self, number, binary, database_url, workdir, url_in_environment=False):
        self.number, self.binary, self.database_url = number, binary, database_url
        self.url_in_environment = url_in_environment
        self.folder = os.path.join(workdir, f"node-{number}")
        os.makedirs(self.folder, exist_ok=True)
        self.log = os.path.join(self.folder, "serve.log")
        self.process = None
        self.port = None

    def start(self, seconds=60):
        """Starts on a free port (another if that one was taken meanwhile) and waits for /health 200."""
        for _ in range(3):
            self.port = free_port()
            environment = dict(os.environ, PARLEY_ADMIN_TOKEN=TOKEN)
            environment.pop("PARLEY_DATABASE_URL", None)
            database = ["--database-url", self.database_url]
            if self.url_in_environment:
                environment["PARLEY_DATABASE_URL"], database = self.database_url, []
            with open(self.log, "a") as log:
                self.process = subprocess.Popen(
                    [self.binary, "serve", "--host", "127.0.0.1", "--port", str(self.port), *database,
                     "--trusted-proxy", "127.0.0.1/32", "--allow-private-webhooks", "--log-level", "info",
                     # One admin token and one address (the proxy's client, the tests) make all the load.
                     "--rate-limit-per-token", "10000000", "--rate-limit-per-address", "10000000"],
                    cwd=self.folder, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            cleanup.add(self.stop)
            if wait_until(lambda: self.process.poll() is not None or health(self.port, timeout=1) == 200, seconds, 0.1) \
                    and self.process.poll() is None:
                return self
            self.stop()
            if "in use" not in tail(self.log, 5).lower():
                break
        raise RuntimeError(f"node {self.number} did not answer /health 200 within {seconds} s:\n{tail(self.log)}")

    def stop(self):
        if self.process:
            stop_process(self.process)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None


def find_nginx():
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if not found:
        raise RuntimeError("nginx is missing: apt-get install nginx (.ci/run does)")
    return found


def render_nginx(listen, upstreams, prefix):
    """deploy/nginx/parley.conf with its placeholders filled in: a line with {{UPSTREAM}} once per upstream."""
    out = []
    with open(NGINX_TEMPLATE) as f:
        for line in f:
            if line.lstrip().startswith("#"):
                out.append(line)
            elif "{{UPSTREAM}}" in line:
                out.extend(line.replace("{{UPSTREAM}}", upstream) for upstream in upstreams)
            else:
                out.append(line.replace("{{LISTEN}}", listen).replace("{{PREFIX}}", prefix))
    text = "".join(out)
    leftover = re.findall(r"^[^#\n]*(\{\{[A-Z]+\}\})", text, re.M)
    if leftover:
        raise RuntimeError(f"unfilled placeholders in the nginx configuration: {leftover}")
    return text


class Nginx:
    def __init__(self, folder, upstreams):
        self.prefix = folder
        self.upstreams = upstreams
        self.binary = find_nginx()
        self.process = None
        self.port = None
        os.makedirs(folder, exist_ok=True)
        os.chmod(folder, 0o755)  # run as root, its workers (nobody) create their temporary files in it
        self.conf = os.path.join(folder, "nginx.conf")

    def write(self, port):
        with open(self.conf, "w") as f:
            f.write(render_nginx(f"127.0.0.1:{port}", self.upstreams, self.prefix))

    def syntax(self):
        self.write(self.port or free_port())
        result = subprocess.run([self.binary, "-t", "-q", "-p", self.prefix + "/", "-c", self.conf, "-e", os.path.join(self.prefix, "startup.log")],
                                capture_output=True, text=True, timeout=30)
        return result.returncode == 0, (result.stderr + tail(os.path.join(self.prefix, "startup.log"))).strip()

    def start(self):
        for _ in range(3):
            self.port = free_port()
            self.write(self.port)
            self.output = os.path.join(self.prefix, "nginx.out")
            with open(self.output, "a") as out:
                self.process = subprocess.Popen([self.binary, "-p", self.prefix + "/", "-c", self.conf, "-e",
                                                 os.path.join(self.prefix, "startup.log"), "-g", "daemon off;"],
                                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            cleanup.add(self.stop)

            def listening():
                if self.process.poll() is not None:
                    return True
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return True
                except OSError:
                    return False
            if wait_until(listening, 10) and self.process.poll() is None:
                return self
            self.stop()
            logs = tail(os.path.join(self.prefix, "error.log")) + tail(os.path.join(self.prefix, "startup.log")) + tail(self.output)
            if "in use" not in logs.lower():
                break
        raise RuntimeError("nginx did not start:\n" + tail(os.path.join(self.prefix, "error.log")) + tail(self.output))

    def stop(self):
        if self.process:
            # SIGTERM is nginx's fast shutdown: open streams do not hold it up (SIGQUIT would wait for them).
            stop_process(self.process, group=True, grace=5)

    def error_log(self):
        return tail(os.path.join(self.prefix, "error.log"), 200)


# --------------------------------------------------------------------------------------------------
# The writer: acknowledged writes of its own, through nginx, every outcome recorded with its time.

class Writer(threading.Thread):
    def __init__(self, port, customer_token, label, pause=0.05, per_conversation=20):
        super().__init__(name=f"writer-{label}", daemon=True)
        self.port, self.customer, self.label = port, customer_token, label
        self.pause, self.per_conversation = pause, per_conversation
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.acknowledged = []   # ("conversation", id, title, time) and ("comment", conversation id, entry id, body, time)
        self.outcomes = []       # (time sent, time answered, path, status or error name)

    def stop(self):
        self.halt.set()

    def attempt(self, path, body, token):
        sent = time.time()
        try:
            status, answer = call(self.port, path, body, token=token, timeout=10)
            outcome = status
        except NO_ANSWER as error:
            answer, outcome = {}, type(getattr(error, "reason", error)).__name__
        with self.lock:
            self.outcomes.append((sent, time.time(), path, outcome))
        return outcome, answer

    def run(self):
        conversation, comments, n = None, 0, 0
        while not self.halt.is_set():
            n += 1
            if conversation is None or comments >= self.per_conversation:
                title = f"multinode {self.label} {n} {uuid.uuid4().hex[:8]}"
                outcome, answer = self.attempt("conversations.create", {"type": "support", "title": title,
                                                                       "messages": [{"body": "first " + title}]}, self.customer)
                if isinstance(outcome, int) and 200 <= outcome < 300 and "id" in answer.get("conversation", {}):
                    conversation, comments = answer["conversation"]["id"], 0
                    with self.lock:
                        self.acknowledged.append(("conversation", conversation, title, time.time()))
            else:
                text = f"writer {self.label} {n} {uuid.uuid4().hex}"
                outcome, answer = self.attempt("timeline-entries.create",
                                               {"type": "timeline_comment", "object": conversation, "body": text}, TOKEN)
                if isinstance(outcome, int) and 200 <= outcome < 300 and "id" in answer.get("timeline_entry", {}):
                    comments += 1
                    with self.lock:
                        self.acknowledged.append(("comment", conversation, answer["timeline_entry"]["id"], text, time.time()))
            ok = isinstance(outcome, int) and 200 <= outcome < 300
            self.halt.wait(self.pause if ok else 0.1)

    def acknowledged_after(self, moment):
        with self.lock:
            return [a for a in self.acknowledged if a[-1] > moment]

    def first_success_after(self, moment):
        with self.lock:
            times = [answered for sent, answered, _, outcome in self.outcomes
                     if sent >= moment and isinstance(outcome, int) and 200 <= outcome < 300]
        return min(times) if times else None


def verify_writes(port, acknowledged):
    """Problems with acknowledged writes, read back from a node directly."""
    problems = []
    comments = {}
    for item in acknowledged:
        if item[0] == "comment":
            comments.setdefault(item[1], {})[item[2]] = item[3]
    for item in acknowledged:
        if item[0] != "conversation":
            continue
        _, cid, title, _ = item
        status, body = call(port, "conversations.get", {"id": cid}, timeout=15)
        if status != 200:
            problems.append(f"acknowledged conversation {cid} answers {status}")
            continue
        if body["conversation"].get("title") != title:
            problems.append(f"{cid} has the wrong title")
        found, cursor = {}, None
        for _ in range(50):
            query = {"object": cid, "limit": 100}
            if cursor:
                query["cursor"] = cursor
            status, page = call(port, "timeline-entries.list", query, timeout=15)
            if status != 200:
                problems.append(f"timeline-entries.list of {cid} answers {status}")
                break
            for entry in page.get("timeline_entries", []):
                found[entry["id"]] = entry.get("body", "")
            cursor = page.get("next_cursor")
            if not cursor or not page.get("timeline_entries"):
                break
        if "first " + title not in found.values():
            problems.append(f"{cid} lost its first message")
        for entry, text in comments.get(cid, {}).items():
            if found.get(entry) != text:
                problems.append(f"acknowledged comment {entry} on {cid} is " + ("missing" if entry not in found else "changed"))
    return problems


def customer_session(port):
    status, user = call(port, "rev-users.create", {"display_name": "Multinode Customer",
                                                    "email": f"multinode-{uuid.uuid4().hex[:8]}@example.test"})
    if status != 201:
        raise RuntimeError(f"rev-users.create answered {status}: {user}")
    status, session = call(port, "auth-tokens.create", {
        "requested_token_type": "urn:devrev:params:oauth:token-type:session",
        "rev_info": {"user_id": user["rev_user"]["id"]}, "expires_in": 86400})
    if status != 201:
        raise RuntimeError(f"auth-tokens.create answered {status}: {session}")
    return session["access_token"]


def start_bench(binary, port, workflows, log):
    out = open(log, "w")
    process = subprocess.Popen([binary, "bench", "workflow", "--url", f"http://127.0.0.1:{port}", "--token", TOKEN,
                                "--concurrency", "8", "--workflows", str(workflows), "--phases", "workflow"],
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    cleanup.add(lambda: stop_process(process))
    return process


def bench_figures(log):
    text = tail(log, 50)
    done = re.search(r"workflows (\d+)", text)
    errors = re.search(r"errors (\d+)", text)
    return (int(done.group(1)) if done else None), (int(errors.group(1)) if errors else None), text


# --------------------------------------------------------------------------------------------------
# Checks shared by the scenarios

def check_streams(streams, truth, label, elsewhere=()):
    """Each stream received exactly the outbox's events, once each, in order. The outbox is what a node
    reads at the end (`truth`, through the same stream code) and every event seen anywhere else: on another
    stream, or delivered to the webhook (`elsewhere`)."""
    universe = set(truth) | set(elsewhere)
    for stream in streams:
        universe |= set(stream.ids)
    expected = sorted(universe)
    unread = sorted(universe - set(truth))
    check(not unread, f"{label}: the outbox read at the end has every event seen on a stream or by the webhook "
                      f"(missing {len(unread)} {unread[:5]})")
    for stream in streams:
        with stream.lock:
            ids = list(stream.ids)
            disorder = list(stream.out_of_order)
            reconnects = max(0, stream.connections - 1)
        duplicates = len(ids) - len(set(ids))
        check(not disorder and duplicates == 0,
              f"{label}: {stream.label}'s stream: ids strictly increasing, none twice ({len(ids)} events, "
              f"{reconnects} reconnections{', out of order: ' + str(disorder[:3]) if disorder else ''})")
        missing = sorted(set(expected) - set(ids))
        extra = sorted(set(ids) - set(expected))
        check(ids == expected, f"{label}: {stream.label}'s stream received every event, in order "
                               f"({len(expected)}), none other: missing {len(missing)} {missing[:5]}, not in the outbox {len(extra)} {extra[:5]}")
    sets = {stream.label: set(stream.ids) for stream in streams}
    check(len({frozenset(s) for s in sets.values()}) == 1, f"{label}: every stream saw the same events")


def check_webhook(receiver, truth, cursor, label, after_moment=None, after_sequence=None):
    deliveries = receiver.snapshot()
    by_sequence, by_id = {}, {}
    unsigned = [d for d in deliveries if not d[3]]
    without_id = [d for d in deliveries if not d[1]]
    unreadable = [d for d in deliveries if d[2] is None]
    for _, delivery, sequence, _ in deliveries:
        by_sequence.setdefault(sequence, set()).add(delivery)
        if delivery:
            by_id.setdefault(delivery, set()).add(sequence)
    expected = {s for s in truth if s > cursor}
    delivered = set(by_sequence) - {None}
    missing = sorted(expected - delivered)
    phantom = sorted(delivered - set(truth))
    conflicting = {s: ids for s, ids in by_sequence.items() if len(ids) > 1}
    shared = {d: s for d, s in by_id.items() if d and len(s) > 1}
    repeats = len(deliveries) - len(delivered)
    check(not without_id and not unreadable,
          f"{label}: every delivery carries {DELIVERY_HEADER} and names its event ({len(without_id)} without the header, {len(unreadable)} unreadable)")
    check(not unsigned, f"{label}: every delivery is signed with the webhook's secret ({len(unsigned)} not)")
    check(not missing, f"{label}: the webhook received every event after its creation at least once "
                       f"({len(expected)} events; missing {len(missing)} {missing[:5]})")
    check(not phantom, f"{label}: no delivery of an event the outbox does not have ({phantom[:5]})")
    check(not conflicting and not shared,
          f"{label}: one delivery id per event, the same on every repeat ({repeats} repeats; "
          f"{len(conflicting)} events under several ids {dict(list(conflicting.items())[:2])}, "
          f"{len(shared)} ids for several events)")
    first_seen, order = set(), []
    for _, _, sequence, _ in deliveries:
        if sequence is not None and sequence not in first_seen:
            first_seen.add(sequence)
            order.append(sequence)
    inversions = [(a, b) for a, b in zip(order, order[1:]) if b < a]
    check(not inversions, f"{label}: each event's first delivery came in outbox order ({len(inversions)} inversions {inversions[:3]})")
    if after_moment is not None:
        later = [d for d in deliveries if d[0] > after_moment and d[2] is not None and d[2] > after_sequence]
        check(len(later) > 0, f"{label}: deliveries went on afterwards ({len(later)} of events after {after_sequence})")
    return len(deliveries), len(delivered), repeats


def settle(streams, receiver, truth_max, seconds=20):
    """Waits until every stream and the webhook have reached the newest event (at most `seconds`)."""
    def reached():
        delivered = [d[2] for d in receiver.snapshot() if d[2] is not None]
        return all(s.newest >= truth_max for s in streams) and (max(delivered) if delivered else 0) >= truth_max
    started = time.time()
    ok = wait_until(reached, seconds, 0.2)
    return ok, time.time() - started


def open_streams(specs):
    streams = [EventStream(name, port) for name, port in specs]
    for stream in streams:
        stream.start()
        cleanup.add(stream.stop)
    connected = wait_until(lambda: all(s.connections >= 1 for s in streams), 15)
    return streams, connected


def create_webhook(port, receiver):
    status, answer = call(port, "webhooks.create", {"url": receiver.url, "secret": SECRET})
    check(status == 201, f"webhooks.create through nginx, to a receiver on loopback: {status} {'' if status == 201 else answer}")
    hook = answer.get("webhook", {})
    return hook.get("pending_since_event", 0)


def report_failure_logs(nodes, nginx, bench_log=None):
    for node in nodes:
        note(f"node {node.number} (port {node.port}) log tail:\n" + tail(node.log, 12))
    if nginx:
        note("nginx error log tail:\n" + tail(os.path.join(nginx.prefix, "error.log"), 12))
    if bench_log:
        note("bench output tail:\n" + tail(bench_log, 12))


# --------------------------------------------------------------------------------------------------
# Scenario A: three nodes, node 2 SIGKILLed under load

def scenario_a(binary, workdir, workflows):
    print("scenario A: three nodes behind nginx, node 2 SIGKILLed under load", flush=True)
    failures_before, mark = failed, cleanup.mark()
    cluster = Cluster(os.path.join(workdir, "pg-a"))
    url = cluster.start()
    nodes = [Node(n, binary, url, os.path.join(workdir, "a"), url_in_environment=n == 3) for n in (1, 2, 3)]
    nginx = None
    bench_log = os.path.join(workdir, "a", "bench.log")
    try:
        nodes[0].start()
        for node in nodes[1:]:
            node.start()
        check(True, f"three nodes on one database answer /health 200 (ports {', '.join(str(n.port) for n in nodes)}; "
                    f"node 3 given it by PARLEY_DATABASE_URL)")
        nginx = Nginx(os.path.join(workdir, "a", "nginx"), [f"127.0.0.1:{n.port}" for n in nodes]).start()
        receiver = Receiver()
        cursor = create_webhook(nginx.port, receiver)
        customer = customer_session(nginx.port)
        # Three streams through nginx, so that one is likely on node 2 and must resume on another node.
        streams, connected = open_streams([(f"node {n.number}", n.port) for n in nodes]
                                          + [(f"nginx {k}", nginx.port) for k in (1, 2, 3)])
        check(connected, "a live stream is open on each node and three through nginx")
        by_node = {n.number: s for n, s in zip(nodes, streams)}
        through_nginx = streams[3:]
        writer = Writer(nginx.port, customer, "a")
        writer.start()
        cleanup.add(writer.stop)
        started = time.time()
        bench = start_bench(binary, nginx.port, workflows, bench_log)
        # Kill node 2 when about 40% of the workflows have begun (their conversations created), or after 60 s.
        threshold = max(1, int(workflows * 0.4))
        wait_until(lambda: bench.poll() is not None or max(s.bench_created for s in streams) >= threshold, 60, 0.05)
        running = bench.poll() is None
        created_at_kill = max(s.bench_created for s in streams)
        # The node that runs the background jobs (it holds their leases), so that their takeover is tested.
        holder = lease_holder(cluster, nodes, "webhooks")
        victim = holder or nodes[1]
        killed_at = time.time()
        victim.kill()
        by_node[victim.number].reconnect = False
        sequence_at_kill = max(s.newest for s in streams)
        check(holder is not None, f"node {victim.number} holds the webhooks' and timers' leases before the kill")
        survivors = [n for n in nodes if n is not victim]
        took_over = wait_until(lambda: lease_holder(cluster, survivors, "webhooks") is not None
                               and lease_holder(cluster, survivors, "timers") is not None, 15, 0.2)
        check(took_over, f"a surviving node took the webhooks' and timers' leases over within "
                         f"{time.time() - killed_at:.1f} s of the kill (at most 10 expected)")
        check(running, f"node {victim.number} SIGKILLed {killed_at - started:.1f} s into the load, while it ran "
                       f"({created_at_kill} of {workflows} workflows begun, newest event {sequence_at_kill})")
        wait_process(bench, 120 - (time.time() - started))
        bench_running = bench.poll() is None
        if bench_running:
            stop_process(bench)
        done, errors, output = bench_figures(bench_log)
        check(not bench_running and bench.returncode == 0 and done,
              f"the load generator finished through nginx: {done} of {workflows} workflows completed, {errors} failed "
              f"(exit {bench.returncode}{', stopped after 120 s: try fewer --workflows' if bench_running else ''})")
        check(errors is not None and errors <= 16,
              f"only workflows in flight on node {victim.number} when it died failed ({errors}; at most 16 = 2 per client)")
        # The writer goes on a moment after the load, then stops; the outbox is then still.
        time.sleep(2)
        writer.stop()
        writer.join(15)
        after_kill = writer.acknowledged_after(killed_at)
        check(len(after_kill) > 0, f"writes through nginx were acknowledged after the kill ({len(after_kill)} of {len(writer.acknowledged)})")
        time.sleep(1)
        truth, truth_ok = read_all_events(survivors[0].port)
        newest = truth[-1] if truth else 0
        check(truth_ok and truth, f"node {survivors[0].number} reads the whole outbox after the load (follow=false): {len(truth)} events, newest {newest}")
        live = [by_node[n.number] for n in survivors] + through_nginx
        reached, waited = settle(live, receiver, newest)
        check(reached, f"every surviving stream and the webhook reached the newest event ({waited:.1f} s after the load, at most 20)")
        truth_again, _ = read_all_events(survivors[1].port)
        check(truth_again == truth, f"node {survivors[1].number} reads the same outbox as node {survivors[0].number} ({len(truth_again)} events)")
        for node in survivors:
            problems = verify_writes(node.port, writer.acknowledged)
            check(not problems, f"every acknowledged write of the writer ({len(writer.acknowledged)}) reads back from node {node.number}"
                                + ("" if not problems else ": " + "; ".join(problems[:5])))
        delivered = {d[2] for d in receiver.snapshot() if d[2] is not None}
        check_streams(live, truth, "A", elsewhere=delivered | set(by_node[victim.number].ids))
        for stream in through_nginx:
            refusals = [r[1] for r in stream.refusals]
            check(not [r for r in refusals if isinstance(r, int)],
                  f"A: {stream.label}'s stream: no reconnection refused with an HTTP status ({summarize(refusals)})")
        killed = by_node[victim.number]
        with killed.lock:
            killed_ids = list(killed.ids)
        check(not killed.out_of_order and set(killed_ids) <= set(truth),
              f"A: node {victim.number}'s stream, up to its death, received outbox events in order ({len(killed_ids)})")
        deliveries, distinct, repeats = check_webhook(receiver, truth, cursor, "A", after_moment=killed_at, after_sequence=sequence_at_kill)
        status, hooks = call(survivors[0].port, "webhooks.list", {})
        positions = [h.get("pending_since_event") for h in hooks.get("webhooks", [])]
        check(status == 200 and positions == [newest], f"A: the webhook's position is the newest event ({positions} vs {newest})")
        for node in survivors:
            check(node.alive and health(node.port) == 200, f"A: node {node.number} is up and healthy at the end")
        summary.append(f"A: workflows {done}/{workflows} (failed {errors}), events {len(truth)}, writer acknowledged "
                       f"{len(writer.acknowledged)} ({len(after_kill)} after the kill), deliveries {deliveries} of {distinct} events "
                       f"({repeats} repeated), streams through nginx that resumed on another node "
                       f"{sum(1 for s in through_nginx if s.connections > 1)} of {len(through_nginx)}")
    finally:
        if failed > failures_before:
            report_failure_logs(nodes, nginx, bench_log)
        cleanup.run(since=mark)   # streams, writer, bench, receiver, nginx, nodes, the cluster


# --------------------------------------------------------------------------------------------------
# Scenario B: PostgreSQL stops for a few seconds under load, and starts again

class HealthPoller(threading.Thread):
    def __init__(self, nodes):
        super().__init__(name="health", daemon=True)
        self.nodes = nodes
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.samples = []   # (time sent, node number, status or error, time answered)

    def stop(self):
        self.halt.set()

    def run(self):
        # One polling thread per node: a node slow to answer (up to the 2 s timeout) must not leave the
        # others unpolled through a short window such as the outage's.
        pollers = [threading.Thread(target=self.poll, args=(node,), daemon=True) for node in self.nodes]
        for poller in pollers:
            poller.start()
        for poller in pollers:
            poller.join()

    def poll(self, node):
        while not self.halt.is_set():
            sent = time.time()
            status = health(node.port, timeout=2)
            with self.lock:
                self.samples.append((sent, node.number, status, time.time()))
            self.halt.wait(0.2)

    def between(self, start, end):
        """The samples sent at `start` or later and answered by `end` (a check sent just before PostgreSQL
        came back may be answered once it is back, rightly)."""
        with self.lock:
            return [s for s in self.samples if start <= s[0] and s[3] <= end]


def lease_holder(cluster, nodes, job):
    """The node among `nodes` holding the lease `job` now (its holder names the process id), or None."""
    try:
        result = subprocess.run([find_psql() or "psql", "-h", cluster.folder, "-p", str(cluster.port), "-U", "postgres", "-d", "parley", "-At", "-c",
                                 f"SELECT holder FROM leases WHERE name = '{job}' AND expires_ms > "
                                 "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    holder = result.stdout.strip()
    return next((n for n in nodes if n.process and f":{n.process.pid}:" in holder), None)


def scenario_b(binary, workdir, workflows, outage=4.0):
    print(f"scenario B: two nodes behind nginx, PostgreSQL down for {outage:.0f} s under load", flush=True)
    failures_before, mark = failed, cleanup.mark()
    cluster = Cluster(os.path.join(workdir, "pg-b"))
    url = cluster.start()
    nodes = [Node(n, binary, url, os.path.join(workdir, "b")) for n in (1, 2)]
    nginx = None
    bench_log = os.path.join(workdir, "b", "bench.log")
    try:
        for node in nodes:
            node.start()
        pids = [node.process.pid for node in nodes]
        nginx = Nginx(os.path.join(workdir, "b", "nginx"), [f"127.0.0.1:{n.port}" for n in nodes]).start()
        receiver = Receiver()
        cursor = create_webhook(nginx.port, receiver)
        customer = customer_session(nginx.port)
        streams, connected = open_streams([(f"node {n.number}", n.port) for n in nodes] + [("nginx", nginx.port)])
        check(connected, "a live stream is open on each node and one through nginx")
        poller = HealthPoller(nodes)
        poller.start()
        cleanup.add(poller.stop)
        writer = Writer(nginx.port, customer, "b")
        writer.start()
        cleanup.add(writer.stop)
        started = time.time()
        bench = start_bench(binary, nginx.port, workflows, bench_log)
        threshold = max(1, int(workflows * 0.3))
        wait_until(lambda: bench.poll() is not None or max(s.bench_created for s in streams) >= threshold, 60, 0.05)
        check(bench.poll() is None, f"the load was running when the database went down ({time.time() - started:.1f} s in)")
        newest_before = max(s.newest for s in streams)
        going_down = time.time()
        check(cluster.down(), "scripts/pg-cluster down: PostgreSQL stopped (fast mode)")
        down_at = time.time()
        time.sleep(outage)
        coming_up = time.time()
        check(cluster.up(), "scripts/pg-cluster up: PostgreSQL started again on the same port")
        up_at = time.time()
        recovered = wait_until(lambda: all(any(s[1] == n.number and s[2] == 200 for s in poller.between(up_at, time.time()))
                                           for n in nodes), 30, 0.1)
        recovered_at = time.time()
        check(recovered, f"every node's /health is 200 again {recovered_at - up_at:.1f} s after PostgreSQL is back (at most 30)")
        first_write = wait_until(lambda: writer.first_success_after(up_at), 30, 0.1)
        check(first_write is not None, "writes through nginx succeed again"
              + (f", {first_write - up_at:.1f} s after PostgreSQL is back" if first_write else " (none within 30 s)"))
        # Keep the load going a little after the recovery, then let it end.
        time.sleep(2)
        wait_process(bench, 90 - (time.time() - started))
        bench_running = bench.poll() is None
        if bench_running:
            stop_process(bench)
        writer.stop()
        writer.join(15)
        poller.stop()
        poller.join(10)
        done, errors, _ = bench_figures(bench_log)
        check(not bench_running and bench.returncode == 0 and done,
              f"the load generator finished: {done} of {workflows} workflows completed, {errors} failed during the outage "
              f"(exit {bench.returncode}{', stopped after 90 s: try fewer --workflows' if bench_running else ''})")
        # During the outage (from a second after the stop returned, to the start): 503 from /health, never 200.
        grace = 1.5
        during = poller.between(down_at + grace, coming_up)
        for node in nodes:
            seen = [s[2] for s in during if s[1] == node.number]
            check(seen and 503 in seen and 200 not in seen,
                  f"node {node.number}'s /health answered 503 while PostgreSQL was down ({summarize(seen)})")
        # What the writer's requests got while the database was away (sent after it went down, before it was back).
        with writer.lock:
            outage_outcomes = [o for o in writer.outcomes if going_down <= o[0] <= recovered_at]
        codes = [o[3] for o in outage_outcomes]
        bad = [c for c in codes if isinstance(c, int) and not (200 <= c < 300) and c not in ALLOWED_OUTAGE_CODES]
        refused = [c for c in codes if isinstance(c, int) and c in ALLOWED_OUTAGE_CODES]
        check(not bad, f"requests during the outage answered 502/503, failed to connect, or succeeded ({summarize(codes)})")
        check(len(refused) > 0, f"requests during the outage were refused with 502/503, not left hanging ({len(refused)})")
        acknowledged_in_outage = [a for a in writer.acknowledged if down_at + grace <= a[-1] <= coming_up]
        note(f"writes acknowledged while PostgreSQL was down: {len(acknowledged_in_outage)} (must all read back)")
        check(all(n.alive for n in nodes) and [n.process.pid for n in nodes] == pids, "no node exited or was restarted")
        time.sleep(1)
        truth, truth_ok = read_all_events(nodes[0].port)
        check(truth_ok and truth, f"node 1 reads the whole outbox: {len(truth)} events")
        reached, waited = settle(streams, receiver, truth[-1] if truth else 0)
        check(reached, f"every stream and the webhook reached the newest event ({waited:.1f} s after the load)")
        for node in nodes:
            problems = verify_writes(node.port, writer.acknowledged)
            check(not problems, f"every acknowledged write ({len(writer.acknowledged)}) reads back from node {node.number}"
                                + ("" if not problems else ": " + "; ".join(problems[:5])))
        for stream in streams:
            newer = [i for i in stream.ids if i > newest_before]
            refusals = [r[1] for r in stream.refusals]
            check(len(newer) > 0, f"B: {stream.label}'s stream received events after the restart ({len(newer)}; "
                                  f"{len(stream.ends)} ends, reconnections refused: {summarize(refusals)})")
            wrong = [r for r in refusals if isinstance(r, int) and r not in ALLOWED_OUTAGE_CODES]
            check(not wrong, f"B: {stream.label}'s stream: reconnecting during the outage answered 502/503 or failed to connect ({summarize(refusals)})")
        check_streams(streams, truth, "B", elsewhere={d[2] for d in receiver.snapshot() if d[2] is not None})
        deliveries, distinct, repeats = check_webhook(receiver, truth, cursor, "B", after_moment=up_at, after_sequence=newest_before)
        summary.append(f"B: workflows {done}/{workflows} (failed {errors}), events {len(truth)}, writer acknowledged "
                       f"{len(writer.acknowledged)}, outage answers {summarize(codes)}, health during the outage "
                       f"{summarize([s[2] for s in during])}, recovered in {recovered_at - up_at:.1f} s, first write "
                       f"{(first_write - up_at) if first_write else float('nan'):.1f} s after, deliveries {deliveries} of {distinct} events ({repeats} repeated)")
    finally:
        if failed > failures_before:
            report_failure_logs(nodes, nginx, bench_log)
        cleanup.run(since=mark)   # streams, writer, bench, receiver, nginx, nodes, the cluster


def summarize(values):
    counts = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return ", ".join(f"{k} ×{v}" for k, v in sorted(counts.items(), key=lambda kv: str(kv[0]))) or "nothing"


# --------------------------------------------------------------------------------------------------
# The tooling alone: scripts/pg-cluster, and nginx with the configuration in front of loopback stand-ins.

def find_psql():
    candidates = [shutil.which("psql")]
    try:
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
        candidates.append(os.path.join(bindir, "psql"))
    except OSError:
        pass
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("psql is missing: apt-get install postgresql (.ci/run does)")


def psql(url, sql, timeout=20):
    result = subprocess.run([find_psql(), url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                            capture_output=True, text=True, timeout=timeout, env=dict(os.environ, PGCONNECT_TIMEOUT="5"))
    return result.returncode, result.stdout.strip(), result.stderr.strip()


def check_pg_cluster(workdir):
    folder = os.path.join(workdir, "pg-check")
    cluster = Cluster(folder)
    result = cluster.run("start", folder)
    lines = result.stdout.splitlines()
    check(result.returncode == 0 and len(lines) == 1 and re.fullmatch(r"postgres://parley:parley@127\.0\.0\.1:\d+/parley", lines[0] if lines else ""),
          f"pg-cluster start prints one line, the URL ({lines} {result.stderr.strip()[-300:]})")
    if result.returncode != 0:
        return
    cleanup.add(cluster.stop)
    cluster.url = lines[0]
    with open(os.path.join(folder, "url")) as f:
        check(f.read().strip() == cluster.url, "and writes it to DIR/url")
    check(cluster.run("url", folder).stdout.strip() == cluster.url, "pg-cluster url prints it")
    code, out, err = psql(cluster.url, "select 1")
    check(code == 0 and out == "1", f"psql URL -c 'select 1' answers 1 ({out or err})")
    code, out, _ = psql(cluster.url, "select current_setting('fsync') || ' ' || current_setting('max_connections') || ' ' || current_setting('listen_addresses')")
    check(out == "on 200 127.0.0.1", f"fsync on, max_connections 200, listening on 127.0.0.1 only ({out})")
    wrong = cluster.url.replace("parley:parley@", "parley:wrong@")
    code, _, err = psql(wrong, "select 1")
    check(code != 0 and "password authentication failed" in err, "a wrong password is refused over TCP (the URL's password is checked)")
    code, out, err = psql(cluster.url, "create database parley_multinode_check")
    code2, _, err2 = psql(cluster.url, "drop database parley_multinode_check")
    check(code == 0 and code2 == 0, f"the parley role may CREATE and DROP DATABASE ({err or err2 or 'ok'})")
    psql(cluster.url, "create table kept (x int); insert into kept values (42)")
    with open(os.path.join(folder, "data", "postmaster.pid")) as f:
        server_pid = int(f.readline())
    check(cluster.down(), "pg-cluster down stops the server")
    started = time.time()
    code, _, err = psql(cluster.url, "select 1")
    check(code != 0 and time.time() - started < 5, f"while down, connections fail at once ({err.splitlines()[0] if err else code})")
    check(cluster.up(), "pg-cluster up starts it again")
    code, out, _ = psql(cluster.url, "select x from kept")
    check(out == "42", "on the same port, with the data")
    result = cluster.run("restart", folder, "1")
    code, out, _ = psql(cluster.url, "select x from kept")
    check(result.returncode == 0 and out == "42", f"pg-cluster restart DIR 1: back on the same port with the data ({result.stderr.strip() or 'ok'})")
    with open(os.path.join(folder, "data", "postmaster.pid")) as f:
        server_pid = int(f.readline())
    result = cluster.run("stop", folder)
    gone = wait_until(lambda: process_gone(server_pid), 5)
    check(result.returncode == 0 and not os.path.exists(folder) and gone, "pg-cluster stop stops the server and removes DIR")
    cleanup.remove(cluster.stop)


def check_database_tls(binary, workdir):
    """`?sslmode=` as operators write it, against a cluster that refuses connections without TLS."""
    folder = os.path.join(workdir, "pg-tls")
    cluster = Cluster(folder)
    url = cluster.start()
    data = os.path.join(folder, "data")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", os.path.join(data, "server.key"),
                    "-out", os.path.join(data, "server.crt"), "-days", "1", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    os.chmod(os.path.join(data, "server.key"), 0o600)
    if os.geteuid() == 0:
        for name in ("server.key", "server.crt"):
            shutil.chown(os.path.join(data, name), "postgres", "postgres")
    with open(os.path.join(data, "pg_hba.conf"), "w") as f:
        f.write("local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject\n")
    port = cluster.port
    subprocess.run([find_psql(), "-h", folder, "-p", str(port), "-U", "postgres", "-d", "parley", "-c", "ALTER SYSTEM SET ssl = on"],
                   check=True, capture_output=True, timeout=30)
    check(cluster.run("restart", folder).returncode == 0, "a cluster that accepts TCP connections with TLS only (hostssl; hostnossl reject)")
    migrate = subprocess.run([binary, "migrate", "--database-url", url + "?sslmode=require"], capture_output=True, text=True, timeout=60)
    check(migrate.returncode == 0, f"parley migrate --database-url …?sslmode=require: {(migrate.stdout or migrate.stderr).strip()[-200:]}")
    plain = subprocess.run([binary, "migrate", "--database-url", url + "?sslmode=disable"], capture_output=True, text=True, timeout=60)
    said = (plain.stdout + plain.stderr).strip()
    check(plain.returncode != 0 and "encryption" in said and "parley:parley" not in said,
          f"…?sslmode=disable is refused by the server, saying why, without the password ({said[-200:]})")
    verify = subprocess.run([binary, "migrate", "--database-url", url + "?sslmode=verify-full"], capture_output=True, text=True, timeout=60)
    check(verify.returncode != 0, f"…?sslmode=verify-full refuses the self-signed certificate ({(verify.stdout + verify.stderr).strip()[-160:]})")
    serve_port = free_port()
    server = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", str(serve_port), "--database-url", url + "?sslmode=require",
                               "--log-level", "warning"], cwd=folder, env=dict(os.environ, PARLEY_ADMIN_TOKEN=TOKEN),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    cleanup.add(lambda: stop_process(server))
    up = wait_until(lambda: health(serve_port) == 200, 30)
    status, _ = call(serve_port, "conversations.list", {})
    encrypted = subprocess.run([find_psql(), "-h", folder, "-p", str(port), "-U", "postgres", "-d", "parley", "-At", "-c",
                                "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE usename = 'parley' AND ssl"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
    check(up and status == 200 and int(encrypted or 0) >= 1,
          f"parley serve with ?sslmode=require answers, its connections encrypted (pg_stat_ssl: {encrypted} with ssl)")
    stop_process(server)
    cluster.stop()
    cleanup.remove(cluster.stop)


class Standin:
    """A loopback HTTP server standing in for parley nodes behind nginx: event streams on the three stream
    paths (five events, 0.3 s apart, each carrying when it was sent), an echo of what arrived for anything
    else; `drop` makes it read a request and close the connection without answering."""

    def __init__(self, name, drop=False):
        self.name, self.drop = name, drop
        self.lock = threading.Lock()
        self.requests = []   # (method, path, marker, headers, request version, client port)
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                marker = self.headers.get("X-Marker", "")
                with standin.lock:
                    standin.requests.append((self.command, self.path, marker, dict(self.headers), self.request_version,
                                             self.client_address[1]))
                return body

            def answer(self):
                self.record()
                if standin.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if self.command == "GET" and self.path.split("?")[0] in ("/events.stream", "/inbox/events", "/widget/events"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                    self.send_header("Cache-Control", "no-cache")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()

                    def chunk(data):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    chunk(b": connected\nretry: 2000\n\n")
                    for n in range(1, 6):
                        time.sleep(0.3)
                        chunk(f"id: {n}\nevent: tick\ndata: {json.dumps({'sent': time.time()})}\n\n".encode())
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
                body = json.dumps({"node": standin.name}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.server.handle_error = lambda *_: None
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        cleanup.add(self.close)

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def markers(self, method):
        with self.lock:
            return {r[2] for r in self.requests if r[0] == method}


def raw_request(port, method, path, marker, headers=None, timeout=10):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=b"{}" if method == "POST" else None,
                                     headers={"X-Marker": marker, "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}


def check_nginx(workdir):
    base = os.path.join(workdir, "nginx-check")
    node = Standin("a")
    closed_port = free_port()   # nothing listens there: connections are refused
    dropper = Standin("dropper", drop=True)

    # The configuration as it is, in front of one stand-in.
    nginx = Nginx(os.path.join(base, "one"), [f"127.0.0.1:{node.port}"])
    ok, output = nginx.syntax()
    check(ok, f"nginx -t accepts deploy/nginx/parley.conf, filled in ({output[-300:] or 'ok'})")
    if not ok:
        return
    nginx.start()
    try:
        for path in ("/events.stream", "/inbox/events", "/widget/events"):
            stream = EventStream(path, nginx.port, path=path, reconnect=False)
            stream.start()
            stream.join(10)
            stream.stop()
            delays = [received - json.loads(data)["sent"] for _, received, data in stream.arrivals]
            check(stream.ids == [1, 2, 3, 4, 5] and delays and max(delays) < 0.2 and (stream.content_type or "").startswith("text/event-stream"),
                  f"{path} through nginx: each event arrives as it is sent, unbuffered "
                  f"(ids {stream.ids}, slowest {max(delays) * 1000 if delays else float('nan'):.0f} ms after it was sent)")
        before = len(node.requests)
        statuses = [raw_request(nginx.port, "POST", "/conversations.create", f"k{i}")[0] for i in range(8)]
        with node.lock:
            seen = node.requests[before:]
        ports = {r[5] for r in seen}
        check(statuses == [200] * 8 and len(ports) < 8,
              f"HTTP/1.1 keep-alive to the node: 8 requests over {len(ports)} connection(s)")
        headers = seen[-1][3] if seen else {}
        check(bool(seen) and seen[-1][4] == "HTTP/1.1" and headers.get("Connection", "") == "",
              f"nginx speaks HTTP/1.1 to the node, without Connection: close ({seen[-1][4] if seen else None}, {headers.get('Connection')!r})")
        check(headers.get("X-Forwarded-For") == "127.0.0.1" and headers.get("X-Forwarded-Proto") == "http"
              and headers.get("Host") == f"127.0.0.1:{nginx.port}",
              f"X-Forwarded-For, X-Forwarded-Proto and the client's Host reach the node "
              f"({headers.get('X-Forwarded-For')}, {headers.get('X-Forwarded-Proto')}, {headers.get('Host')})")
        raw_request(nginx.port, "POST", "/x", "forged", {"X-Forwarded-For": "203.0.113.9"})
        with node.lock:
            forwarded = [r[3].get("X-Forwarded-For") for r in node.requests if r[2] == "forged"]
        check(forwarded == ["203.0.113.9, 127.0.0.1"],
              f"a client's own X-Forwarded-For is kept, nginx's hop appended last (what --trusted-proxy reads): {forwarded}")
    finally:
        nginx.stop()
        cleanup.remove(nginx.stop)

    # A node that refuses connections: every POST goes to the other (it was never sent).
    nginx = Nginx(os.path.join(base, "refused"), [f"127.0.0.1:{closed_port}", f"127.0.0.1:{node.port}"]).start()
    try:
        markers = [f"r{i}" for i in range(6)]
        statuses = [raw_request(nginx.port, "POST", "/timeline-entries.create", m)[0] for m in markers]
        reached = node.markers("POST")
        check(statuses == [200] * 6 and set(markers) <= reached and "refused" in nginx.error_log(),
              f"a POST whose connection is refused goes to the next node ({statuses})")
    finally:
        nginx.stop()
        cleanup.remove(nginx.stop)

    # A node that takes the request and dies without answering: a POST is not sent again (502), a GET is.
    nginx = Nginx(os.path.join(base, "dropped"), [f"127.0.0.1:{dropper.port}", f"127.0.0.1:{node.port}"]).start()
    try:
        outcomes = {}
        for i in range(10):
            marker = f"p{i}"
            outcomes[marker] = raw_request(nginx.port, "POST", "/conversations.create", marker)[0]
            if dropper.markers("POST"):
                break
            time.sleep(0.2)
        dropped = dropper.markers("POST")
        at_node = node.markers("POST")
        check(dropped and all(outcomes[m] == 502 and m not in at_node for m in dropped)
              and all(outcomes[m] == 200 for m in outcomes if m not in dropped),
              f"a POST the failed node received is not sent to another: 502 ({ {m: outcomes[m] for m in dropped} }), the others 200")
        time.sleep(2.2)   # fail_timeout: the dropper is tried again
        outcomes = {}
        for i in range(10):
            marker = f"g{i}"
            outcomes[marker] = raw_request(nginx.port, "GET", "/conversations.get", marker)[0]
            if dropper.markers("GET"):
                break
            time.sleep(0.2)
        dropped = dropper.markers("GET")
        at_node = node.markers("GET")
        check(dropped and all(status == 200 for status in outcomes.values()) and dropped <= at_node,
              f"a GET the failed node received is sent to the next node: 200 ({len(dropped)} retried)")
    finally:
        nginx.stop()
        cleanup.remove(nginx.stop)


# --------------------------------------------------------------------------------------------------

def main():
    args = sys.argv[1:]

    def option(name, default):
        if name in args:
            index = args.index(name)
            value = args[index + 1]
            del args[index:index + 2]
            return value
        return default
    scenario = option("--scenario", "all")
    workflows = int(option("--workflows", "300"))
    cap = float(option("--timeout", "240"))
    keep = "--keep" in args
    infrastructure_only = "--infrastructure" in args
    args = [a for a in args if a not in ("--keep", "--infrastructure")]
    if not infrastructure_only and len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    binary = None if infrastructure_only else os.path.abspath(args[0])
    if binary and not os.access(binary, os.X_OK):
        print(f"multinode-test: {binary} is not an executable", file=sys.stderr)
        return 2

    workdir = tempfile.mkdtemp(prefix="parley-multinode-")
    os.chmod(workdir, 0o755)  # run as root, PostgreSQL (postgres) and nginx's workers (nobody) work inside it

    def overrun():
        print(f"FAIL the test ran past its {cap:.0f} s cap: stopping everything", flush=True)
        cleanup.run()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"multinode-test: {passed} passed, {failed + 1} failed", flush=True)
        os._exit(1)
    watchdog = threading.Timer(cap, overrun)
    watchdog.daemon = True
    watchdog.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.time()
    try:
        check_pg_cluster(workdir)
        if binary:
            check_database_tls(binary, workdir)
        check_nginx(workdir)
        if binary and scenario in ("a", "all"):
            scenario_a(binary, workdir, workflows)
        if binary and scenario in ("b", "all"):
            scenario_b(binary, workdir, max(50, workflows // 2))
    except Exception as error:
        check(False, f"the test could not go on: {type(error).__name__}: {error}")
    finally:
        watchdog.cancel()
        cleanup.run()
        if keep or failed:
            note(f"logs kept in {workdir}" if keep else f"removing {workdir} (--keep keeps it)")
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    for line in summary:
        print(line)
    print(f"multinode-test: {passed} passed, {failed} failed ({time.time() - started:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
