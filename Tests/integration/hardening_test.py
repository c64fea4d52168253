#!/usr/bin/env python3
"""What the second outside attack found (issue 15), replayed against the real binary, each bounded in time:
a spam-rule pattern that backtracks catastrophically in other engines, a flood of idle connections from
one address, a malformed chunked body. Run against loopback only (127.0.0.1 and 127.0.0.2, both on this machine).

Usage: hardening_test.py PATH_TO_PARLEY. Prints 'hardening-test: N passed, M failed' last.
"""
import json, os, resource, socket, subprocess, sys, tempfile, threading, time, urllib.error, urllib.request

binary = sys.argv[1]
workdir = tempfile.mkdtemp(prefix="parley-hardening-")
passed = failed = 0


def check(ok, what):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if ok:
        passed += 1
    else:
        failed += 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*flags):
    port = free_port()
    server = subprocess.Popen([binary, "serve", "--port", str(port), "--db", os.path.join(workdir, f"{port}.sqlite"),
                               "--log-level", "warning", *flags],
                              env=dict(os.environ, PARLEY_ADMIN_TOKEN="adm"), stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(workdir, f"{port}.log"), "w"))
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return server, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


def stop(server):
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def call(port, path, body, token="adm", timeout=30):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{path}", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def health_seconds(port, source="127.0.0.1"):
    started = time.time()
    with socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0)) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = s.recv(100)
    return time.time() - started, answer.startswith(b"HTTP/1.1 200")


def slow_patterns():
    server, port = start()
    try:
        status, answer = call(port, "spam-rules.set", {"rules": [{"pattern": "(a)\\1", "weight": 1}]})
        check(status == 400 and "backtracking" in answer.get("message", ""),
              f"a backreference is refused at spam-rules.set, saying why ({status} {answer.get('message')})")
        status, _ = call(port, "spam-rules.set", {"rules": [{"pattern": "(a+)+$", "weight": 1}], "threshold": 3})
        check(status == 200, f"(a+)+$ is accepted: it runs in linear time here ({status})")
        user = call(port, "rev-users.create", {"display_name": "Eve"})[1]["rev_user"]["id"]
        customer = call(port, "auth-tokens.create", {"requested_token_type": "urn:devrev:params:oauth:token-type:session",
                                                      "rev_info": {"user_id": user}})[1]["access_token"]
        timings = {}

        def create(name, title, body):
            started = time.time()
            conversation = {"type": "support", "title": title}
            if body:
                conversation["messages"] = [{"body": body}]
            try:
                status, _ = call(port, "conversations.create", conversation, token=customer, timeout=60)
            except OSError:
                status = "no answer within 60 s"
            timings[name] = (status, time.time() - started)

        # The title alone (23 characters took over 120 s with a backtracking engine), and a message of
        # 65,000 characters (about the most a message may hold).
        threads = [threading.Thread(target=create, args=("short", "a" * 23 + "!", None)),
                   threading.Thread(target=create, args=("long", "a" * 30 + "!", "a" * 65_000 + "!"))]
        for thread in threads:
            thread.start()
        slowest_health = max(health_seconds(port)[0] for _ in range(5))
        for thread in threads:
            thread.join(90)
        for name, (status, seconds) in sorted(timings.items()):
            check(status == 201 and seconds < 10, f"the {name} title's conversation is created in {seconds:.2f} s ({status})")
        check(len(timings) == 2, "both creations finished")
        check(slowest_health < 1, f"/health answers meanwhile (slowest {slowest_health * 1000:.0f} ms)")
    finally:
        stop(server)


def still_open(sockets):
    count = 0
    for s in sockets:
        s.setblocking(False)
        try:
            count += s.recv(1) != b""
        except BlockingIOError:
            count += 1
        except OSError:
            pass
    return count


def connection_flood():
    """1,100 idle connections from one address (127.0.0.2) used to take every connection the server serves."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    server, port = start("--request-head-timeout", "3")
    hogs = []
    try:
        for _ in range(1100):
            try:
                hogs.append(socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.2", 0)))
            except OSError:
                break
        time.sleep(1)
        seconds, ok = health_seconds(port)
        check(ok and seconds < 1, f"/health from another address answers in {seconds * 1000:.0f} ms with {len(hogs)} connections opened from 127.0.0.2")
        held = still_open(hogs)
        check(held <= 128, f"the server holds at most 128 of them ({held}; --max-connections-per-address)")
        time.sleep(3)
        held = still_open(hogs)
        check(held == 0, f"those that sent no request head are closed after --request-head-timeout 3 s ({held} still open)")
        seconds, ok = health_seconds(port, source="127.0.0.2")
        check(ok and seconds < 1, f"and the address may connect again ({seconds * 1000:.0f} ms)")
        # A malformed chunked body is the client's fault: 400 with DevRev's error JSON, not 500.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"POST /conversations.create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n")
            answer = s.recv(4096).decode("latin1")
        body = answer.split("\r\n\r\n", 1)[-1]
        check(answer.startswith("HTTP/1.1 400") and '"type":"bad_request"' in body,
              f"a malformed chunk size answers 400 bad_request ({answer.splitlines()[0] if answer else 'nothing'}; {body[:80]})")
        # HTTP/1.0 closes after the response unless the request asks to keep the connection (issue 15, item 13).
        for keep_alive in (False, True):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /health HTTP/1.0\r\nHost: x\r\n" + (b"Connection: keep-alive\r\n" if keep_alive else b"") + b"\r\n")
                s.settimeout(2)
                received, closed = b"", False
                try:
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            closed = True
                            break
                        received += chunk
                except socket.timeout:
                    pass
            ok = received.startswith(b"HTTP/1.1 200") and closed != keep_alive
            check(ok, f"HTTP/1.0 {'with' if keep_alive else 'without'} keep-alive: answered, connection "
                      f"{'closed' if closed else 'kept open'}")
    finally:
        for s in hogs:
            s.close()
        stop(server)


slow_patterns()
connection_flood()
print(f"hardening-test: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
