#!/usr/bin/python3
"""A Hugging Face-like hub for the HttpHub tests, misbehaving on request.

Usage: misbehaving_hub.py ROOT

Serves ROOT/<ns>/<name>/<commit>/<files> on 127.0.0.1 at a port the system
chooses, printed as the first line of stdout:

  GET /api/models/<ns>/<name>/revision/<commit>[?blobs=true]
      {"id": "<ns>/<name>", "sha": "<commit>", "siblings": [{"rfilename": ..., "size": ...}]}
      ("size" only with blobs=true, as on huggingface.co)
  GET /<ns>/<name>/resolve/<commit>/<path>     the file's bytes

Each request is written to stderr as "GET <path>" before it is answered. A
file "_siblings.json" in a commit folder replaces the listed siblings with its
contents (a JSON array), so a test can announce any names and sizes.

The repository name picks a misbehaviour (the first that matches):
  notfound      404 for everything
  private       401 for everything unless "Authorization: Bearer <TOKEN>"
  error500      files: 500 always
  flaky         500 on the first request of each URL path, then normal
  slow          files: headers, then one byte per second
  truncated     files: Content-Length 100 more than the body, then close
  oversize      the API announces 1 byte per file; files are served whole
  wrongcontent  files: every byte inverted (same length)
  missingfiles  the API lists the files; files: 404
  redirectloop  files: 302 to the same URL, forever
  redirect      files: 302 to /_blobs/<ns>/<name>/<commit>/<path>, served normally
"""

import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

TOKEN = "hf_test_token_4f9c2a"
BEHAVIOURS = ("notfound", "private", "error500", "flaky", "slow", "truncated", "oversize",
              "wrongcontent", "missingfiles", "redirectloop", "redirect")


def behaviour_of(name):
    return next((b for b in BEHAVIOURS if b in name), "")


class Hub(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_bytes(self, status, body, content_type="application/octet-stream", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        sys.stderr.write("GET " + self.path + "\n")
        sys.stderr.flush()
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
        if any(p in ("", ".", "..") for p in parts):
            return self.send_bytes(404, b"bad path")
        if len(parts) == 6 and parts[:2] == ["api", "models"] and parts[4] == "revision":
            return self.api(parts[2], parts[3], parts[5], "blobs=true" in url.query)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.resolve(parts[0], parts[1], parts[3], "/".join(parts[4:]), url.path)
        if len(parts) >= 5 and parts[0] == "_blobs":
            return self.serve_file(parts[1], parts[2], parts[3], "/".join(parts[4:]), "")
        return self.send_bytes(404, b"no such route")

    def refused(self, name, path):
        """Sends the response of a misbehaviour that applies to every request; True if sent."""
        behaviour = behaviour_of(name)
        if behaviour == "notfound":
            self.send_bytes(404, b"Repository not found")
        elif behaviour == "private" and self.headers.get("Authorization") != "Bearer " + TOKEN:
            self.send_bytes(401, b"Invalid credentials")
        elif behaviour == "flaky" and self.server.first_request(path):
            self.send_bytes(500, b"flaky")
        else:
            return False
        return True

    def api(self, ns, name, commit, blobs):
        if self.refused(name, self.path):
            return
        folder = os.path.join(self.server.root, ns, name, commit)
        if not os.path.isdir(folder):
            return self.send_bytes(404, b"Revision not found")
        override = os.path.join(folder, "_siblings.json")
        if os.path.isfile(override):
            with open(override, "rb") as f:
                siblings = json.load(f)
            document = {"id": ns + "/" + name, "sha": commit, "siblings": siblings}
            return self.send_bytes(200, json.dumps(document).encode(), "application/json")
        siblings = []
        for here, _, names in sorted(os.walk(folder)):
            for file_name in sorted(names):
                full = os.path.join(here, file_name)
                entry = {"rfilename": os.path.relpath(full, folder)}
                if blobs:
                    entry["size"] = 1 if behaviour_of(name) == "oversize" else os.path.getsize(full)
                siblings.append(entry)
        document = {"id": ns + "/" + name, "sha": commit, "siblings": siblings}
        self.send_bytes(200, json.dumps(document).encode(), "application/json")

    def resolve(self, ns, name, commit, relative, path):
        if self.refused(name, path):
            return
        behaviour = behaviour_of(name)
        if behaviour == "error500":
            return self.send_bytes(500, b"Internal Server Error")
        if behaviour == "missingfiles":
            return self.send_bytes(404, b"Entry not found")
        if behaviour == "redirectloop":
            return self.send_bytes(302, b"", headers=[("Location", path)])
        if behaviour == "redirect":
            target = "/_blobs/" + "/".join(urllib.parse.quote(p) for p in (ns, name, commit))
            target += "/" + urllib.parse.quote(relative)
            return self.send_bytes(302, b"", headers=[("Location", target)])
        self.serve_file(ns, name, commit, relative, behaviour)

    def serve_file(self, ns, name, commit, relative, behaviour):
        full = os.path.join(self.server.root, ns, name, commit, relative)
        if not os.path.isfile(full):
            return self.send_bytes(404, b"Entry not found")
        with open(full, "rb") as f:
            body = f.read()
        if behaviour == "wrongcontent":
            return self.send_bytes(200, bytes(b ^ 0xFF for b in body))
        if behaviour not in ("slow", "truncated"):
            return self.send_bytes(200, body)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + (100 if behaviour == "truncated" else 0)))
        self.end_headers()
        self.close_connection = True
        if behaviour == "truncated":
            self.wfile.write(body)
            return
        try:
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(1)
        except (BrokenPipeError, ConnectionResetError):
            pass


class HubServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root):
        super().__init__(("127.0.0.1", 0), Hub)
        self.root = root
        self.lock = threading.Lock()
        self.seen_paths = set()

    def first_request(self, path):
        with self.lock:
            first = path not in self.seen_paths
            self.seen_paths.add(path)
            return first


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: misbehaving_hub.py ROOT")
    server = HubServer(sys.argv[1])
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
