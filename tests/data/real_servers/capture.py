"""Record the error responses of real servers, as bytes, into ../real_errors.json.

Run by hand, never by the test suite (the servers are not test dependencies)::

    pip install flask fastapi uvicorn gunicorn hypercorn django django-oauth-toolkit
    apt-get install nginx
    python tests/data/real_servers/capture.py

It starts Python's http.server, Werkzeug, gunicorn, uvicorn and hypercorn (FastAPI), nginx and
Django with django-oauth-toolkit on 127.0.0.1 (ports 18001-18007), sends each scenario over a
raw socket and records the status, the headers that matter and the exact body.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = tempfile.mkdtemp(prefix="capture-")
OUT = os.path.join(os.path.dirname(HERE), "real_errors.json")
NGINX_CONF = """
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
daemon off;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    large_client_header_buffers 2 1k;
    server {{
        listen 127.0.0.1:18006;
        root {work}/www;
        client_max_body_size 10;
        location /proxy {{ proxy_pass http://127.0.0.1:18099; }}
        location /down {{ return 503; }}
        location /gone {{ return 410; }}
    }}
}}
"""
PY = sys.executable
BIN = os.path.dirname(PY)


def wait_port(port: int, timeout: float = 15.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} never opened")


def raw(port: int, data: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    with contextlib.suppress(OSError):  # a server may close while a huge request is sent
        sock.sendall(data)
    chunks = []
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except (TimeoutError, ConnectionResetError):
        pass
    sock.close()
    reply = b"".join(chunks)
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:] if ":" in line]
    if any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers):
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out += rest[:size]
            rest = rest[size + 2 :]
        body = out
    return status, headers, body  # type: ignore[return-value]


def get(path: str, extra: str = "", method: str = "GET", body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}"
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


JSON = "Content-Type: application/json\r\n"
FORM = "Content-Type: application/x-www-form-urlencoded\r\n"
BASIC = "Authorization: Basic " + base64.b64encode(b"app-id:wrong-secret").decode() + "\r\n"

SERVERS = {
    "http.server": (18001, [PY, "-m", "http.server", "18001", "--bind", "127.0.0.1"]),
    "werkzeug": (
        18002,
        [PY, "-c", "from apps import flask_app; flask_app.run(host='127.0.0.1', port=18002)"],
    ),
    "gunicorn": (18003, [f"{BIN}/gunicorn", "-b", "127.0.0.1:18003", "-w", "1", "apps:flask_app"]),
    "uvicorn": (18004, [f"{BIN}/uvicorn", "apps:api", "--port", "18004", "--log-level", "error"]),
    "hypercorn": (18005, [f"{BIN}/hypercorn", "apps:api", "-b", "127.0.0.1:18005"]),
    "nginx": (18006, ["nginx", "-c", f"{WORK}/nginx.conf", "-p", WORK]),
    "django-oauth-toolkit": (
        18007,
        [f"{BIN}/gunicorn", "-b", "127.0.0.1:18007", "-w", "1", "djsite:application"],
    ),
}

SCENARIOS = {
    "http.server": {
        "404-file-not-found": get("/missing.txt"),
        "501-unsupported-method": get("/", method="POST", body=b"x"),
        "414-request-line-too-long": get("/" + "a" * 70000),
        "431-header-line-too-long": get("/", extra="X-Big: " + "b" * 70000 + "\r\n"),
    },
    "werkzeug": {
        "400-abort-description": get("/items/0"),
        "404-default": get("/items/1"),
        "409-abort-description": get("/items/2"),
        "400-default": get("/items/3"),
        "405-method": get("/items/5", method="DELETE"),
        "500-exception": get("/items/4"),
        "404-no-route": get("/nowhere"),
    },
    "gunicorn": {
        "414-request-line-too-large": get("/" + "a" * 5000),
        "400-invalid-header-name": get("/items/5", extra="Bad Header: x\r\n"),
        "431-header-too-large": get("/items/5", extra="X-Big: " + "b" * 9000 + "\r\n"),
        "400-invalid-method": b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
        "400-abort-description": get("/items/0"),
    },
    "uvicorn": {
        "422-validation-body-and-query": get(
            "/orders", extra=JSON, method="POST", body=b'{"items": [{"name": "fig", "price": -1}]}'
        ),
        "422-validation-missing-body": get("/orders?limit=3", extra=JSON, method="POST"),
        "422-validation-path-type": get("/items/abc"),
        "404-http-exception": get("/items/404"),
        "403-http-exception-dict": get("/items/403"),
        "404-no-route": get("/nowhere"),
        "405-method": get("/items/1", method="DELETE"),
        "400-invalid-request": b"GARBAGE\r\n\r\n",
    },
    "hypercorn": {
        "422-validation-body-and-query": get(
            "/orders", extra=JSON, method="POST", body=b'{"items": [{"name": 5}]}'
        ),
        "404-http-exception": get("/items/404"),
        "400-invalid-request": b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    },
    "nginx": {
        "404-not-found": get("/missing"),
        "413-body-too-large": get("/", method="POST", body=b"x" * 100),
        "400-header-too-large": get("/", extra="X-Big: " + "b" * 2000 + "\r\n"),
        "414-uri-too-long": get("/" + "a" * 3000),
        "502-bad-gateway": get("/proxy/x"),
        "503-return": get("/down"),
        "405-post-static": get("/index.html", method="POST", body=b"x"),
        "410-gone": get("/gone"),
    },
    "django-oauth-toolkit": {
        "401-invalid-client": get(
            "/o/token/", extra=FORM + BASIC, method="POST", body=b"grant_type=client_credentials"
        ),
        "400-unsupported-grant": get(
            "/o/token/",
            extra=FORM,
            method="POST",
            body=b"grant_type=password2&client_id=app-id&client_secret=app-secret",
        ),
        "400-invalid-request-no-grant": get(
            "/o/token/", extra=FORM, method="POST", body=b"client_id=app-id"
        ),
        "403-expired-token": get("/api/resource", extra="Authorization: Bearer expired-token\r\n"),
        "403-no-token": get("/api/resource"),
        "403-insufficient-scope": get("/api/scoped", extra="Authorization: Bearer read-token\r\n"),
        "404-django-default": get("/nowhere"),
    },
}


def main() -> None:
    os.chmod(WORK, 0o755)  # nginx's workers are not root: they must read the files
    os.makedirs(f"{WORK}/www")
    with open(f"{WORK}/www/index.html", "w") as f:
        f.write("<html><body>index</body></html>")
    with open(f"{WORK}/nginx.conf", "w") as f:
        f.write(NGINX_CONF.format(work=WORK))
    env = {**os.environ, "CAPTURE_DB": f"{WORK}/db.sqlite3"}
    subprocess.run([PY, "djsite.py"], cwd=HERE, env=env, check=True)  # migrate, add a client
    out = []
    for server, (port, command) in SERVERS.items():
        proc = subprocess.Popen(
            command, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_port(port)
            time.sleep(0.3)
            for name, data in SCENARIOS[server].items():
                status, headers, body = raw(port, data)
                keep = {
                    k.lower(): v
                    for k, v in headers
                    if k.lower() in ("content-type", "www-authenticate", "allow", "retry-after")
                }
                record = {"server": server, "scenario": name, "status": status, "headers": keep}
                try:
                    record["body"] = body.decode("utf-8")
                except UnicodeDecodeError:
                    record["body_base64"] = base64.b64encode(body).decode()
                out.append(record)
                print(server, name, status, body[:120])
        finally:
            proc.terminate()
            proc.wait(10)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
