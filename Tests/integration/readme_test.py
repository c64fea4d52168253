#!/usr/bin/env python3
"""The README's walk-through ("A conversation's life, with curl"), run exactly as written, as a new user
pasting it into a shell would: it starts its own server with `swift run`, waits for /health, drives a
conversation through its life with curl and jq, and stops the server. Checks what it prints (the stages,
the reopen count, the timeline) and that nothing is left listening, so the README cannot drift from what
the server does.

Usage: readme_test.py        (from anywhere; needs swift, curl and jq; builds first if needed)
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")
failed = 0


def check(ok, label):
    global failed
    print(("PASS " if ok else "FAIL ") + label, flush=True)
    if not ok:
        failed += 1
    return ok


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def walkthrough():
    text = open(README, encoding="utf-8").read()
    section = text.split("## A conversation's life, with curl", 1)
    if len(section) != 2:
        return None
    block = re.search(r"```sh\n(.*?)```", section[1], re.S)
    return block.group(1) if block else None


def main():
    block = walkthrough()
    if not check(block is not None, "README.md has the walk-through's sh block"):
        return
    port_match = re.search(r"--port (\d+)", block)
    port = int(port_match.group(1)) if port_match else None
    check(port is not None and port != 8080, f"the walk-through runs its own server, not on the demo's port ({port})")
    if port is None or not check(not listening(port), f"port {port} is free before the walk-through"):
        return
    started = time.time()
    process = subprocess.Popen(["bash", "-c", block], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=1800)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        check(False, "the walk-through finished within 30 minutes")
    took = time.time() - started
    print("     output:\n" + "\n".join("     | " + line for line in output.splitlines()[-40:]), flush=True)
    check(process.returncode == 0, f"the walk-through exits 0 ({process.returncode}, {took:.1f} s)")
    # Step 4 prints the stage after resolving; step 5 the stage and metrics after the customer wrote again.
    check(re.search(r'"name":\s*"resolved"', output) is not None, "step 4: the agent resolves it (stage resolved)")
    check(re.search(r'"name":\s*"needs_response"', output) is not None, "step 5: the customer's reply reopens it (needs_response)")
    check(re.search(r'"reopen_count":\s*1\b', output) is not None, "step 5: reopen_count 1")
    for body in ["The login page loops since this morning.", "Which browser?", "Firefox.", "It happened again."]:
        check(f'"{body}"' in output, f"the full record lists the message {body!r}")
    deadline = time.time() + 10
    while listening(port) and time.time() < deadline:
        time.sleep(0.2)
    gone = not listening(port)
    if not gone:
        subprocess.run(["pkill", "-f", f"parley serve --port {port}"], check=False)
    check(gone, f"`kill %1` stopped the server (nothing listens on {port} afterwards)")


if __name__ == "__main__":
    main()
    print(f"readme-test: {'all passed' if failed == 0 else f'{failed} failed'}", flush=True)
    sys.exit(1 if failed else 0)
