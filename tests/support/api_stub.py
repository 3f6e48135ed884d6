"""Answers every request with 200 and {} on a loopback port it picks (the
port is printed on the first line). Claude Code checks that its API is
reachable when it starts; this lets a real Claude Code in a real sandbox
(network host) start and wait at its prompt, so the manager's tests have
sandboxes that stay running. It is no model: nothing is ever asked of it."""
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"{}")

    do_GET = do_POST = do_HEAD = answer

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
