#!/usr/bin/env python3
"""Slow clients cannot starve the server: a client that opens every connection the server will serve and
sends nothing is cut off after the idle timeout, and a normal request then gets through.

Usage: slow_client_test.py PATH_TO_PARLEY. Prints 'slow-client-test: N passed, M failed' last.
"""
import os, socket, subprocess, sys, tempfile, time, urllib.request

binary = sys.argv[1]
workdir = tempfile.mkdtemp(prefix="parley-slow-")
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = subprocess.Popen([binary, "serve", "--port", str(port), "--db", os.path.join(workdir, "p.sqlite"), "--log-level", "error",
                           "--max-connections", "8", "--idle-timeout", "2"],
                          env=dict(os.environ, PARLEY_ADMIN_TOKEN="slow"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
passed = failed = 0


def check(ok, what):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + what)
    if ok:
        passed += 1
    else:
        failed += 1


try:
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    # A slow client takes every connection the server serves, and more, sending half a request line.
    hogs = []
    for _ in range(12):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /health HT")
        hogs.append(s)
    started = time.time()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=15) as response:
        check(response.status == 200, f"a normal request gets through ({time.time() - started:.1f} s, idle timeout 2 s)")
    closed = 0
    for s in hogs[:8]:
        s.settimeout(5)
        try:
            closed += s.recv(1024) == b""
        except OSError:
            closed += 1
    check(closed == 8, f"the idle connections were closed by the server ({closed}/8)")
finally:
    server.terminate()
    server.wait()
print(f"slow-client-test: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
