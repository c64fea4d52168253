#!/usr/bin/env python3
"""Latency of a conversation with its timeline and of the API's first inbox page, one request at a time over
one keep-alive connection (loopback only), on a filled database: `conversations.get` and
`timeline-entries.list` of a random conversation (numbers 1..MAX, seeded), the same conversation's HTML page
as an agent's browser loads it (signed in with the admin token), and `conversations.list` filtered on a stage.
Prints p50 / p90 / p99 in milliseconds per kind.

Usage: scripts/read-latency.py PORT ADMIN_TOKEN N MAX
"""
import http.client, json, random, re, sys, time, urllib.parse

port, token, count, highest = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
generator = random.Random(7)


def request(method, path, body=None, headers=None):
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response, response.read()


def api(path, fields):
    return request("POST", "/" + path, json.dumps(fields), {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})


response, page = request("GET", "/inbox/sign-in")
csrf = re.search(rb'name="_csrf" value="([^"]+)"', page).group(1).decode()
cookie = "; ".join(c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or [])
response, _ = request("POST", "/inbox/sign-in", urllib.parse.urlencode({"_csrf": csrf, "token": token}),
                      {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
cookie = "; ".join(c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or [])
assert response.status == 303, response.status

times = {"conversations.get": [], "timeline-entries.list": [], "conversation page (HTML)": [], "conversations.list (stage)": []}
entries = 0
for _ in range(count):
    number = generator.randint(1, highest)
    started = time.perf_counter()
    response, body = api("conversations.get", {"id": f"CONV-{number}"})
    times["conversations.get"].append((time.perf_counter() - started) * 1000)
    assert response.status == 200, (response.status, body[:200])
    started = time.perf_counter()
    response, body = api("timeline-entries.list", {"object": f"CONV-{number}", "limit": 50})
    times["timeline-entries.list"].append((time.perf_counter() - started) * 1000)
    assert response.status == 200, (response.status, body[:200])
    entries += len(json.loads(body)["timeline_entries"])
    started = time.perf_counter()
    response, body = request("GET", f"/inbox/conversations/{number}", headers={"Cookie": cookie})
    times["conversation page (HTML)"].append((time.perf_counter() - started) * 1000)
    assert response.status == 200, response.status
    started = time.perf_counter()
    response, body = api("conversations.list", {"stage": {"name": ["needs_response"]}, "limit": 50})
    times["conversations.list (stage)"].append((time.perf_counter() - started) * 1000)
    assert response.status == 200, (response.status, body[:200])
for kind, values in times.items():
    values.sort()
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]
    print(f"{kind:28} n={count} p50 {pick(0.50):.2f} / p90 {pick(0.90):.2f} / p99 {pick(0.99):.2f} ms (max {values[-1]:.2f})")
print(f"timeline entries per conversation read: {entries / count:.1f}")
