#!/usr/bin/env python3
"""Latency of the inbox's HTML first page, as an agent's browser loads it: signs in with the admin token
(the sign-in form, its CSRF token and cookie), then GETs `/inbox?view=VIEW` N times over one keep-alive
connection and prints p50 / p90 / p99 in milliseconds per view. Checks that rows carry their requester and
preview. Loopback only.

Usage: scripts/inbox-latency.py PORT ADMIN_TOKEN [N] [VIEW ...]   (default 500; needs_response, all)
"""
import http.client, re, sys, time, urllib.parse

port, token = int(sys.argv[1]), sys.argv[2]
count = int(sys.argv[3]) if len(sys.argv) > 3 else 500
views = sys.argv[4:] or ["needs_response", "all"]
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)


def request(method, path, body=None, cookie=None):
    headers = {"Cookie": cookie} if cookie else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response, response.read().decode()


response, page = request("GET", "/inbox/sign-in")
csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
cookie = "; ".join(c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or [])
response, _ = request("POST", "/inbox/sign-in", urllib.parse.urlencode({"_csrf": csrf, "token": token}), cookie)
cookie = "; ".join(c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or [])
assert response.status == 303, response.status
for view in views:
    times = []
    for i in range(count):
        started = time.perf_counter()
        response, page = request("GET", f"/inbox?view={view}", cookie=cookie)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, response.status
    rows = page.count('class="preview small"')
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print(f"{view:16} n={count} p50 {pick(0.50):.2f} / p90 {pick(0.90):.2f} / p99 {pick(0.99):.2f} ms (min {times[0]:.2f}); "
          f"rows with requester/preview on the last page: {rows}")
