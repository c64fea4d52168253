# Writes through node A, times until node B's /events.stream shows the event. usage: latency.py PORT_A PORT_B TOKEN N
# A conversation created through one server (PORT_A), timed until another (PORT_B) streams it.
import http.client, json, sys, threading, time, statistics
a, b, token, n = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
seen = {}
def follow():
    c = http.client.HTTPConnection("127.0.0.1", b, timeout=60)
    c.request("GET", "/events.stream", headers={"Authorization": f"Bearer {token}"})
    r = c.getresponse()
    for line in r:
        line = line.decode()
        if line.startswith("data:") and '"title":"latency ' in line:
            i = line.index('"title":"latency ') + len('"title":"latency ')
            key = line[i:line.index('"', i)]
            seen.setdefault(key, time.time())
threading.Thread(target=follow, daemon=True).start()
time.sleep(1)
delays = []
for i in range(n):
    key = f"{i}-{time.time()}"
    c = http.client.HTTPConnection("127.0.0.1", a, timeout=10)
    sent = time.time()
    c.request("POST", "/conversations.create", json.dumps({"type": "support", "title": f"latency {key}"}),
              {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    c.getresponse().read()
    acked = time.time()
    deadline = time.time() + 5
    while key not in seen and time.time() < deadline: time.sleep(0.001)
    if key in seen: delays.append((seen[key] - acked) * 1000)
    time.sleep(0.1)
delays.sort()
print(f"{len(delays)}/{n} seen on the other node; after the write's answer: p50 {statistics.median(delays):.1f} ms, "
      f"p90 {delays[int(len(delays)*0.9)-1]:.1f} ms, max {delays[-1]:.1f} ms")
