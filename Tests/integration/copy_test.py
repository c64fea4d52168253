#!/usr/bin/env python3
"""`parley copy` from SQLite to PostgreSQL, against the real binary: a database with conversations, a
customer's attached screenshot and an internal note's file is copied; a server on the copy serves the same
conversation, timeline and files, byte for byte; a second copy into the now non-empty database is refused
without --force. Loopback only.

Usage: copy_test.py PATH_TO_PARLEY POSTGRES_URL (an empty database). Prints 'copy-test: N passed, M failed'.
"""
import json, os, socket, subprocess, sys, tempfile, time, urllib.error, urllib.request

binary, database_url = sys.argv[1], sys.argv[2]
workdir = tempfile.mkdtemp(prefix="parley-copy-")
passed = failed = 0
TRICKY = "Tab\there, a line\nbreak, a back\\slash \\N, \"quotes\", {braces}, \r\nÜberweisung 🙂"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8cfc0f01f000500"
                    "01ff89993d1d0000000049454e44ae426082")


def check(ok, what):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(*database):
    port = free_port()
    server = subprocess.Popen([binary, "serve", "--port", str(port), *database, "--log-level", "warning"],
                              env=dict(os.environ, PARLEY_ADMIN_TOKEN="adm"), stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(workdir, f"{port}.log"), "w"))
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return server, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


def call(port, path, body, token="adm"):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{path}", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def upload(port, token, name, content):
    prepared = call(port, "artifacts.prepare", {"file_name": name}, token)[1]
    boundary = "copytestboundary"
    body = b""
    for field in prepared["form_data"]:
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{field["key"]}"\r\n\r\n{field["value"]}\r\n'.encode()
    body += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'.encode() + content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    path = prepared["url"][prepared["url"].index("/artifacts.upload"):]
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    return prepared["id"]


def download(port, artifact, token="adm"):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/artifacts.download?id={artifact}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def main():
    source = os.path.join(workdir, "parley.sqlite")
    server, port = serve("--db", source)
    try:
        agent = call(port, "dev-users.create", {"email": "maya@support.test", "display_name": "Maya"})[1]["dev_user"]["id"]
        agent_token = call(port, "auth-tokens.create", {"act_as": agent})[1]["access_token"]
        customer = call(port, "rev-users.create", {"display_name": "Alice", "email": "alice@example.test"}, agent_token)[1]["rev_user"]["id"]
        customer_token = call(port, "auth-tokens.create", {"requested_token_type": "urn:devrev:params:oauth:token-type:session",
                                                           "rev_info": {"user_id": customer}})[1]["access_token"]
        conversation = call(port, "conversations.create", {"type": "support", "title": "Export fails",
                                                           "messages": [{"body": "see below"}]}, customer_token)[1]["conversation"]["id"]
        screenshot = upload(port, customer_token, "screen.png", PNG)
        status, _ = call(port, "timeline-entries.create", {"object": conversation, "body": "the screen", "artifacts": [screenshot]}, customer_token)
        check(status == 201, "a customer's message with a screenshot")
        log = bytes(range(256)) * 40
        trace = upload(port, agent_token, "trace.bin", log)
        status, _ = call(port, "timeline-entries.create", {"object": conversation, "body": "trace", "visibility": "internal",
                                                           "artifacts": [trace]}, agent_token)
        check(status == 201, "an internal note with a binary file")
        status, _ = call(port, "timeline-entries.create", {"object": conversation, "body": TRICKY}, agent_token)
        check(status == 201, "a reply with tabs, line breaks, backslashes, quotes and non-ASCII text")
    finally:
        server.terminate()
        server.wait(10)

    copied = subprocess.run([binary, "copy", "--from", source, "--to", database_url], capture_output=True, text=True, timeout=300)
    check(copied.returncode == 0, f"parley copy exits 0: {copied.stderr[-300:]}")
    artifacts_line = [line for line in copied.stdout.splitlines() if line.startswith("artifacts")]
    check(bool(artifacts_line) and artifacts_line[0].split()[1:3] == ["2", "2"], f"the artifacts table copied, counts compared: {artifacts_line}")
    again = subprocess.run([binary, "copy", "--from", source, "--to", database_url], capture_output=True, text=True, timeout=300)
    check(again.returncode != 0 and "--force" in (again.stderr + again.stdout), "a second copy into a database that holds data is refused")

    server, port = serve("--database-url", database_url)
    try:
        entries = call(port, "timeline-entries.list", {"object": conversation}, agent_token)[1]["timeline_entries"]
        files = [a["id"] for e in entries for a in e.get("artifacts", [])]
        check(sorted(files) == sorted([screenshot, trace]), f"the timeline on PostgreSQL names both files: {files}")
        check(download(port, screenshot, customer_token) == PNG, "the screenshot, byte for byte, for its customer")
        check(download(port, trace, agent_token) == log, "the note's binary file, byte for byte, for the team")
        try:
            download(port, trace, customer_token)
            check(False, "the note's file is still refused to the customer")
        except urllib.error.HTTPError as error:
            check(error.code == 404, "the note's file is still refused to the customer")
        status, reply = call(port, "timeline-entries.create", {"object": conversation, "body": "copied fine"}, agent_token)
        check(status == 201, "the copy takes new messages (sequences carried over)")
        bodies = [e.get("body") for e in entries]
        check(TRICKY in bodies, "the tricky reply reads back unchanged (COPY's text escapes)")
        found = call(port, "conversations.list", {"search": "Überweisung", "limit": 10}, agent_token)[1].get("conversations", [])
        check([c["id"] for c in found] == [conversation], "and its words are searchable on the copy")
    finally:
        server.terminate()
        server.wait(10)
    print(f"copy-test: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


main()
