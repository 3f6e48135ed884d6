"""Throws malformed HTTP and JSON at a manager and checks it keeps answering.

usage: http_fuzz.py PORT TOKEN SEED ROUNDS

Every case is sent on its own connection; a case passes when the server
either answers with a well-formed HTTP status or closes the connection,
and the manager still answers GET /api/sandboxes afterwards. JSON bodies
must get a 4xx with the uniform error body, never a 500. Prints one line
per finding; exits 1 when there is one.
"""
import json
import random
import socket
import sys
import threading
import time

PORT, TOKEN, SEED, ROUNDS = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(SEED)
findings = []


def exchange(raw, timeout=3.0, read=True):
    """Sends RAW, returns what came back until close or timeout."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    try:
        s.sendall(raw)
        if not read:
            return b""
        data = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                length = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if length and len(body) >= int(length[0].split(b":")[1]):
                    break
        return data
    except (BrokenPipeError, ConnectionResetError):
        return b""
    finally:
        s.close()


def status_of(data):
    if not data.startswith(b"HTTP/1."):
        return None
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def healthy(label):
    data = exchange(b"GET /api/sandboxes HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                    + TOKEN.encode() + b"\r\n\r\n")
    if status_of(data) != 200:
        findings.append("after %s the manager no longer answers: %r" % (label, data[:200]))
        return False
    return True


def check_answer(label, data):
    if data and status_of(data) is None:
        findings.append("%s: not an HTTP answer: %r" % (label, data[:120]))
    elif status_of(data) is not None and status_of(data) >= 500:
        findings.append("%s: server error %r" % (label, data[:200]))


def random_bytes(n):
    return bytes(rng.randrange(256) for _ in range(n))


def malformed_requests():
    long = b"a" * 100000
    yield b"\x00\x01\x02\xff\r\n\r\n"
    yield b"GET\r\n\r\n"
    yield b"GET /\r\n\r\n"
    yield b"GET / HTTP/9.9\r\nHost: x\r\n\r\n"
    yield b"get /api/sandboxes http/1.1\r\n\r\n"
    yield b"FOO /api/sandboxes HTTP/1.1\r\nHost: x\r\n\r\n"
    yield b"GET http://evil/api/sandboxes HTTP/1.1\r\nHost: x\r\n\r\n"
    yield b"GET /" + long + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    yield b"GET /api/sandboxes/%ZZ%00 HTTP/1.1\r\nHost: x\r\n\r\n"
    yield b"GET /api/sandboxes/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n"
    yield b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"
    yield b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    yield b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
    yield b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"b" * 1000000 + b"\r\n\r\n"
    yield b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n"
    yield b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n"
    yield b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"
    yield b"POST /api/sandboxes HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n"
    yield b"POST /api/sandboxes HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
    yield b"POST /api/sandboxes HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello"
    yield b"POST /api/sandboxes HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort"
    yield b"POST /api/sandboxes HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}GET / HTTP/1.1\r\n\r\n"
    yield b"POST /api/sandboxes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n"
    yield (b"GET /ws/x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: ???\r\nSec-WebSocket-Version: 99\r\n\r\n" + random_bytes(64))
    yield b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 50


def random_json_value(depth=0):
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2 ** 63, -2 ** 70, 1.5e308, 3.14])
    if kind == 3:
        return "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(0, 40)))
    if kind == 4:
        return rng.choice(["", "/", "relative", "/nonexistent/dir", "../..", "$(touch /tmp/x)",
                           "/dev/null", "bubblewrap", "vm", "host", "x" * 5000])
    if kind == 5:
        return rng.choice(["bubblewrap", "container", "vm", "private", "none", "host"])
    if kind == 6:
        return [random_json_value(depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["name", "backend", "project_dir", "network", "x"]): random_json_value(depth + 1)
            for _ in range(rng.randrange(5))}


def random_bodies():
    yield b"{" * 100000
    yield b"[" * 5000 + b"]" * 5000
    yield b'{"name": "\xff\xfe", "backend": "vm", "project_dir": "/tmp"}'
    yield b'\xef\xbb\xbf{"name": "bom"}'
    yield b'{"name": NaN}'
    yield b'{"name": 1e999999}'
    yield b'{"name": "a", "name": "b", "backend": 7}'
    yield b'{"name": "\\ud800"}'
    for _ in range(ROUNDS):
        value = {k: random_json_value(1) for k in rng.sample(["name", "backend", "project_dir", "network"],
                                                               rng.randrange(5))}
        if rng.random() < 0.1:
            value = random_json_value()
        text = json.dumps(value).encode()
        if rng.random() < 0.2 and text:
            cut = rng.randrange(len(text))
            text = text[:cut] + random_bytes(rng.randrange(4)) + text[cut:]
        yield text


def post_json(body, content_type=b"application/json"):
    return (b"POST /api/sandboxes HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode()
            + b"\r\nContent-Type: " + content_type + b"\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


def slowloris(connections, seconds):
    """Opens CONNECTIONS that send a partial request a byte at a time."""
    sockets = []
    for _ in range(connections):
        try:
            sockets.append(socket.create_connection(("127.0.0.1", PORT), timeout=1))
        except OSError:
            break
    request = b"POST /api/sandboxes HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"na"
    end = time.time() + seconds
    i = 0
    while time.time() < end:
        for s in sockets:
            try:
                s.send(request[i % len(request):i % len(request) + 1])
            except OSError:
                pass
        i += 1
        time.sleep(0.1)
    for s in sockets:
        s.close()


for i, raw in enumerate(malformed_requests()):
    check_answer("malformed request %d" % i, exchange(raw))
    healthy("malformed request %d" % i)

for i in range(ROUNDS):
    raw = random_bytes(rng.randrange(1, 2048))
    if rng.random() < 0.5:
        raw = rng.choice([b"GET ", b"POST ", b"DELETE "]) + b"/api/sandboxes" + raw
    check_answer("random bytes %d" % i, exchange(raw, timeout=1.0))
healthy("random bytes")

for i, body in enumerate(random_bodies()):
    data = exchange(post_json(body))
    status = status_of(data)
    label = "JSON body %d %r" % (i, body[:80])
    if status not in (400, 413, 415, 422):
        findings.append("%s: status %r" % (label, status))
    else:
        try:
            answer = json.loads(data.split(b"\r\n\r\n", 1)[1])
            assert isinstance(answer["error"], str)
        except Exception:
            findings.append("%s: not the uniform error body: %r" % (label, data[-200:]))
healthy("JSON bodies")

for content_type in [b"text/plain", b"application/jsonx", b"", b"multipart/form-data; boundary=x"]:
    status = status_of(exchange(post_json(b"{}", content_type)))
    if status != 415:
        findings.append("content type %r: %r instead of 415" % (content_type, status))

loris = threading.Thread(target=slowloris, args=(60, 3.0))
loris.start()
time.sleep(0.5)
healthy("slowloris (during)")
loris.join()
healthy("slowloris (after)")

for finding in findings:
    print(finding)
sys.exit(1 if findings else 0)
