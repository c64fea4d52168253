#!/usr/bin/env python3
"""Crash safety: run a write load against a real `parley serve`, SIGKILL it at random moments,
restart it, and check that every acknowledged write is there, complete, and the database intact.

Usage: crash_test.py PATH_TO_PARLEY [--rounds N]
Standard library only. Prints 'crash-test: N passed, M failed' last.
"""
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

TOKEN = "crash-test-admin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, path, body, timeout=5, token=TOKEN):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, json.loads(response.read() or b"{}")


def start(binary, port, db):
    env = dict(os.environ, PARLEY_ADMIN_TOKEN=TOKEN)
    process = subprocess.Popen([binary, "serve", "--port", str(port), "--db", db, "--log-level", "error",
                                "--rate-limit-per-token", "10000000"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not become ready")


def writer(port, worker, customer_token, acknowledged, stop):
    """A customer opens conversations with a message, an agent replies; records what was acknowledged."""
    n = 0
    while not stop.is_set():
        n += 1
        title = f"w{worker}-{n}-{random.random()}"
        try:
            status, body = call(port, "conversations.create",
                                {"type": "support", "title": title, "messages": [{"body": "first " + title}]},
                                token=customer_token)
            if status != 201:
                continue
            cid = body["conversation"]["id"]
            acknowledged.append(("conversation", cid, title))
            status, body = call(port, "timeline-entries.create",
                                {"type": "timeline_comment", "object": cid, "body": "reply " + title})
            if status == 201:
                acknowledged.append(("comment", cid, body["timeline_entry"]["id"]))
        except (OSError, urllib.error.URLError, ConnectionError, ValueError):
            if stop.is_set():
                return
            time.sleep(0.01)


def verify(port, acknowledged):
    problems = []
    comments = {}
    for kind, cid, detail in acknowledged:
        if kind == "comment":
            comments.setdefault(cid, set()).add(detail)
    for kind, cid, title in acknowledged:
        if kind != "conversation":
            continue
        try:
            status, body = call(port, "conversations.get", {"id": cid})
        except urllib.error.HTTPError as error:
            problems.append(f"acknowledged {cid} is missing ({error.code})")
            continue
        if body["conversation"]["title"] != title:
            problems.append(f"{cid} has the wrong title")
        _, timeline = call(port, "timeline-entries.list", {"object": cid, "limit": 100})
        entries = timeline["timeline_entries"]
        bodies = [e.get("body", "") for e in entries]
        if "first " + title not in bodies:
            problems.append(f"{cid} lost its initial message (half-written create)")
        ids = {e["id"] for e in entries}
        for comment in comments.get(cid, ()):
            if comment not in ids:
                problems.append(f"acknowledged comment {comment} is missing")
        # The agent's reply and the stage change it causes are one transaction: both or neither.
        stage = body["conversation"]["stage"]["name"]
        replied = any(b.startswith("reply ") for b in bodies)
        if stage != ("waiting_on_user" if replied else "new"):
            problems.append(f"{cid} is in {stage} and {'has' if replied else 'has no'} agent reply (half-written)")
    return problems


def integrity(db):
    connection = sqlite3.connect(db)
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()


def main():
    binary = sys.argv[1]
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 5
    random.seed(os.environ.get("CRASH_TEST_SEED", time.time()))
    workdir = tempfile.mkdtemp(prefix="parley-crash-")
    db = os.path.join(workdir, "parley.sqlite")
    port = free_port()
    acknowledged = []
    passed = failed = 0
    process = start(binary, port, db)
    _, customer = call(port, "rev-users.create", {"display_name": "Crash Customer", "email": "crash@example.test"})
    _, session = call(port, "auth-tokens.create", {
        "requested_token_type": "urn:devrev:params:oauth:token-type:session",
        "rev_info": {"user_id": customer["rev_user"]["id"]}, "expires_in": 86400})
    customer_token = session["access_token"]
    process.terminate()
    process.wait()
    for round_number in range(1, rounds + 1):
        process = start(binary, port, db)
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(port, w, customer_token, acknowledged, stop)) for w in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(random.uniform(0.3, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        stop.set()
        for thread in threads:
            thread.join()
        check = integrity(db)
        process = start(binary, port, db)
        problems = verify(port, acknowledged)
        if check != "ok":
            problems.append(f"integrity_check: {check}")
        process.terminate()
        process.wait()
        writes = len(acknowledged)
        if problems:
            failed += 1
            print(f"round {round_number}: FAILED after {writes} acknowledged writes")
            for problem in problems[:20]:
                print("  " + problem)
        else:
            passed += 1
            print(f"round {round_number}: killed with SIGKILL; all {writes} acknowledged writes present, integrity ok")
    print(f"crash-test: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
