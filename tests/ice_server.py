"""A local HTTP server on 127.0.0.1 shaped like ICE's 287(g) page: real workbooks and bad responses."""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DOCLIB = "/doclib/about/287g/"


def ice_page(hrefs):
    """A page shaped like ICE's 287(g) page: prose, a few unrelated links, then the workbook links."""
    links = "\n".join(f'<li><a href="{h}">{Path(h).name}</a></li>' for h in hrefs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Delegation of Immigration Authority Section 287(g) | ICE</title></head>
<body>
<nav><a href="/">Home</a> <a href="/identify-and-arrest">Identify and Arrest</a></nav>
<main>
<h1>Delegation of Immigration Authority Section 287(g) Immigration and Nationality Act</h1>
<p>The 287(g) program enables state and local law enforcement agencies to partner with ICE.</p>
<p>ICE has signed 287(g) agreements with law enforcement agencies in the states listed below.</p>
<h2>Participating and pending agencies</h2>
<ul>
{links}
</ul>
<p>See the <a href="/doclib/about/287g/287gFactSheet.pdf">fact sheet</a> for more.</p>
</main></body></html>""".encode()


class Server:
    """Routes path -> response spec; counts requests per path."""

    def __init__(self):
        self.routes = {}
        self.default = ("status", 404)
        self.hits = {}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                with server.lock:
                    server.hits[path] = server.hits.get(path, 0) + 1
                    count = server.hits[path]
                spec = server.routes.get(path, server.default)
                try:
                    self.respond(spec, count)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def send(self, status, body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     length=None):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if length is not False:
                    self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def respond(self, spec, count):
                kind = spec[0]
                if kind == "page":
                    self.send(200, spec[1], "text/html; charset=utf-8")
                elif kind == "bytes":
                    self.send(200, spec[1], *spec[2:])
                elif kind == "status":
                    self.send(spec[1], b"<html><body>error</body></html>", "text/html")
                elif kind == "truncate":  # promise more than is sent, then close
                    self.send(200, spec[1], length=len(spec[1]) + 5000)
                    self.close_connection = True
                elif kind == "unsized":  # no Content-Length: read until close
                    self.send(200, spec[1], length=False)
                    self.close_connection = True
                elif kind == "fail_first":  # HTTP status for the first n requests, then the body
                    _, n, status, body = spec
                    if count <= n:
                        self.send(status, b"busy", "text/plain")
                    else:
                        self.send(200, body)
                elif kind == "sleep":
                    time.sleep(spec[1])
                    self.send(200, spec[2])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, workbooks, page_path="/identify-and-arrest/287g", down=None):
        """workbooks: {file name: spec}; the page links them all under /doclib/about/287g/.

        down: an HTTP status every path answers with instead (the page included)."""
        self.routes = {} if down else {page_path: ("page", ice_page([DOCLIB + name for name in workbooks]))}
        self.default = ("status", down or 404)
        for name, spec in workbooks.items():
            self.routes[DOCLIB + name] = spec
        self.hits = {}
        return self.base + page_path

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
