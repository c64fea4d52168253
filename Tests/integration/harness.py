"""What the mail integration scripts share (they import it from their own folder): checks counted and
printed as they run, free loopback ports, Parley's API called as DevRev's (POST, JSON), and waiting for a
condition. Loopback only."""
import json, socket, time, urllib.error, urllib.request


class Checks:
    """`check(ok, what)` prints `ok   what` or `FAIL what` and counts; `summary(name)` prints the last line
    the test runner reads and returns the exit status."""

    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def summary(self, name):
        print(f"{name}: {self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, path, body, token="adm"):
    """POST /PATH with a JSON body; (status, parsed JSON). A connection refused: (0, {"error": …})."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{path}", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except OSError as error:
        return 0, {"error": str(error)}


def wait_for(predicate, seconds, step=0.1):
    """The predicate's first truthy value within `seconds`, else its last value."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()
