#!/usr/bin/python3
"""Test double for the Confluent/Karapace schema registry REST subset the
torghut client uses. Standard library only. Listens on 127.0.0.1:0 (or
--port), prints the port on stdout, serves until killed.

State is in memory: subjects -> versions, global schema ids (the same schema
text gets the same id everywhere), per-subject compatibility (default
BACKWARD, enforced on register for the Avro cases torghut cares about).

Control knobs (not part of the registry API):
  POST /_fail  {"status": 500, "count": N}  next N requests answer status
  POST /_delay {"ms": 800, "count": N, "match": "s"}
                                            next N requests (all if no count) whose
                                            path contains match (any if absent) sleep first
  POST /_garbage {"count": N}               next N requests answer 200 with a non-JSON body
  POST /_reset                              drop state and knobs
  GET  /_stats                              {"requests": n}
Options: --user U:P requires HTTP basic auth.
"""
import base64
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

PRIMS = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
PROMO = {"int": {"long", "float", "double"}, "long": {"float", "double"},
         "float": {"double"}, "string": {"bytes"}, "bytes": {"string"}}


class Incompatible(Exception):
    pass


def names(s, tab):
    if isinstance(s, list):
        for b in s:
            names(b, tab)
    elif isinstance(s, dict):
        t = s.get("type")
        if not isinstance(t, str):
            names(t, tab)
            return
        if t in ("record", "enum", "fixed", "error") and "name" in s:
            tab[s["name"].split(".")[-1]] = s
        if t in ("record", "error"):
            for f in s.get("fields", []):
                names(f.get("type"), tab)
        elif t == "array":
            names(s.get("items"), tab)
        elif t == "map":
            names(s.get("values"), tab)


def resolve(s, tab):
    for _ in range(8):
        if isinstance(s, str):
            if s in PRIMS:
                return s
            s = tab[s.split(".")[-1]]
        elif isinstance(s, dict) and isinstance(s.get("type"), str) and s["type"] in PRIMS:
            return s["type"]
        elif isinstance(s, dict) and not isinstance(s.get("type"), str):
            s = s["type"]
        else:
            return s
    return s


def tname(s):
    if isinstance(s, str):
        return s
    if isinstance(s, list):
        return "union"
    return s.get("type")


def readable(w, r, wt, rt, path, seen):
    """Raise Incompatible unless reader r can read writer w (BACKWARD)."""
    w, r = resolve(w, wt), resolve(r, rt)
    here = path or "schema"
    if isinstance(w, list):
        for b in w:
            readable(b, r, wt, rt, path, seen)
        return
    if isinstance(r, list):
        for b in r:
            rb = resolve(b, rt)
            if tname(rb) == tname(w) and (not isinstance(w, dict) or
                                          rb.get("name", "").split(".")[-1] == w.get("name", "").split(".")[-1]):
                readable(w, rb, wt, rt, path, seen)
                return
        for b in r:
            rb = resolve(b, rt)
            if isinstance(rb, str) and rb in PROMO.get(tname(w), ()):
                return
        raise Incompatible("%s: reader union lacks writer type %s" % (here, tname(w)))
    a, b = tname(w), tname(r)
    if a in PRIMS or b in PRIMS:
        if a == b or b in PROMO.get(a, ()):
            return
        raise Incompatible("%s: type changed %s -> %s" % (here, a, b))
    if a != b:
        raise Incompatible("%s: type changed %s -> %s" % (here, a, b))
    if a in ("record", "error"):
        key = (id(w), id(r))
        if key in seen:
            return
        seen.add(key)
        wf = {f["name"]: f for f in w.get("fields", [])}
        for f in r.get("fields", []):
            p = (path + "." if path else "") + f["name"]
            if f["name"] in wf:
                readable(wf[f["name"]]["type"], f["type"], wt, rt, p, seen)
            elif "default" not in f:
                raise Incompatible("%s: added field without a default" % p)
    elif a == "enum":
        if "default" not in r:
            missing = [x for x in w.get("symbols", []) if x not in r.get("symbols", [])]
            if missing:
                raise Incompatible("%s: enum symbols removed %s" % (here, missing))
    elif a == "fixed":
        if w.get("size") != r.get("size"):
            raise Incompatible("%s: fixed size changed" % here)
    elif a == "array":
        readable(w["items"], r["items"], wt, rt, path + "[]", seen)
    elif a == "map":
        readable(w["values"], r["values"], wt, rt, path + "{}", seen)


def compat_messages(old, new, level):
    """[] when `new` may follow `old` under level, else the reasons."""
    level = level.upper()
    checks = []
    if level.startswith("BACKWARD") or level.startswith("FULL"):
        checks.append((old, new))
    if level.startswith("FORWARD") or level.startswith("FULL"):
        checks.append((new, old))
    msgs = []
    for w, r in checks:
        wt, rt = {}, {}
        names(w, wt)
        names(r, rt)
        try:
            readable(w, r, wt, rt, "", set())
        except Incompatible as e:
            msgs.append(str(e))
        except (KeyError, TypeError, AttributeError) as e:
            msgs.append("unresolvable schema: %r" % e)
    return msgs


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.subjects = {}   # subject -> [(version, id, canonical)]
        self.ids = {}        # canonical -> id
        self.texts = {}      # id -> canonical
        self.config = {}     # subject -> level
        self.global_level = "BACKWARD"
        self.fail_status = 0
        self.fail_count = 0
        self.delay_ms = 0
        self.delay_count = -1
        self.delay_match = ""
        self.garbage = 0
        self.requests = 0


STATE = State()
AUTH = None


def canonical(text):
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def err(self, status, code, msg):
        self.reply(status, {"error_code": code, "message": msg})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return json.loads(raw) if raw else {}

    def handle_any(self, method):
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        try:
            data = self.body() if method in ("POST", "PUT") else {}
        except ValueError:
            return self.err(400, 400, "bad JSON")
        if parts and parts[0].startswith("_"):
            return self.control(method, parts[0], data)
        with STATE.lock:
            STATE.requests += 1
            delay = 0
            if STATE.delay_ms and STATE.delay_count != 0 and STATE.delay_match in self.path:
                delay = STATE.delay_ms
                if STATE.delay_count > 0:
                    STATE.delay_count -= 1
            fail = 0
            if STATE.fail_count > 0:
                STATE.fail_count -= 1
                fail = STATE.fail_status
        if delay:
            time.sleep(delay / 1000.0)
        with STATE.lock:
            garbage = STATE.garbage > 0
            if garbage:
                STATE.garbage -= 1
        if garbage:
            body = b"<html>not a registry</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None
        if fail:
            return self.err(fail, 50001 if fail >= 500 else fail, "injected failure")
        if AUTH is not None:
            got = self.headers.get("Authorization", "")
            if got != "Basic " + base64.b64encode(AUTH.encode()).decode():
                return self.err(401, 401, "Unauthorized")
        with STATE.lock:
            return self.route(method, parts, data)

    def control(self, method, what, data):
        with STATE.lock:
            if what == "_fail":
                STATE.fail_status = int(data.get("status", 500))
                STATE.fail_count = int(data.get("count", 1))
            elif what == "_delay":
                STATE.delay_ms = int(data.get("ms", 0))
                STATE.delay_count = int(data.get("count", -1))
                STATE.delay_match = str(data.get("match", ""))
            elif what == "_garbage":
                STATE.garbage = int(data.get("count", 1))
            elif what == "_reset":
                STATE.reset()
            elif what == "_stats":
                return self.reply(200, {"requests": STATE.requests})
            else:
                return self.err(404, 404, "no such knob")
        return self.reply(200, {})

    def schema_arg(self, data):
        try:
            text = data["schema"]
            return json.loads(text), canonical(text)
        except (KeyError, TypeError, ValueError):
            return None, None

    def level(self, subject):
        return self.config.get(subject, STATE.global_level)

    @property
    def config(self):
        return STATE.config

    def route(self, method, p, data):
        st = STATE
        if method == "GET" and p == ["subjects"]:
            return self.reply(200, sorted(st.subjects))
        if len(p) >= 2 and p[0] == "subjects":
            subj = p[1]
            vers = st.subjects.get(subj)
            if method == "POST" and len(p) == 2:  # lookup
                obj, canon = self.schema_arg(data)
                if obj is None:
                    return self.err(422, 42201, "Invalid schema")
                if vers is None:
                    return self.err(404, 40401, "Subject '%s' not found." % subj)
                for v, i, c in vers:
                    if c == canon:
                        return self.reply(200, {"subject": subj, "id": i, "version": v,
                                                "schema": c})
                return self.err(404, 40403, "Schema not found")
            if len(p) == 3 and p[2] == "versions":
                if method == "GET":
                    if vers is None:
                        return self.err(404, 40401, "Subject '%s' not found." % subj)
                    return self.reply(200, [v for v, _, _ in vers])
                if method == "POST":  # register
                    obj, canon = self.schema_arg(data)
                    if obj is None:
                        return self.err(422, 42201, "Invalid schema")
                    for v, i, c in vers or []:
                        if c == canon:
                            return self.reply(200, {"id": i})
                    if vers:
                        msgs = compat_messages(json.loads(vers[-1][2]), obj, self.level(subj))
                        if msgs:
                            return self.err(409, 409, "Schema being registered is incompatible "
                                            "with an earlier schema for subject \"%s\": %s"
                                            % (subj, "; ".join(msgs)))
                    if canon not in st.ids:
                        st.ids[canon] = len(st.ids) + 1
                        st.texts[st.ids[canon]] = canon
                    vers = st.subjects.setdefault(subj, [])
                    vers.append((len(vers) + 1, st.ids[canon], canon))
                    return self.reply(200, {"id": st.ids[canon]})
            if len(p) == 4 and p[2] == "versions" and method == "GET":
                if vers is None:
                    return self.err(404, 40401, "Subject '%s' not found." % subj)
                if p[3] == "latest":
                    v, i, c = vers[-1]
                else:
                    try:
                        v, i, c = vers[int(p[3]) - 1]
                    except (ValueError, IndexError):
                        return self.err(404, 40402, "Version %s not found." % p[3])
                return self.reply(200, {"subject": subj, "version": v, "id": i, "schema": c})
        if (method == "POST" and len(p) == 5 and p[0] == "compatibility" and p[1] == "subjects"
                and p[3] == "versions"):
            subj = p[2]
            vers = st.subjects.get(subj)
            obj, canon = self.schema_arg(data)
            if obj is None:
                return self.err(422, 42201, "Invalid schema")
            if not vers:
                return self.err(404, 40401, "Subject '%s' not found." % subj)
            msgs = compat_messages(json.loads(vers[-1][2]), obj, self.level(subj))
            out = {"is_compatible": not msgs}
            if "verbose=true" in (urlsplit(self.path).query or "") and msgs:
                out["messages"] = msgs
            return self.reply(200, out)
        if len(p) == 2 and p[0] == "config":
            subj = p[1]
            if method == "GET":
                if subj not in st.config:
                    return self.err(404, 40408, "Subject '%s' does not have subject-level "
                                    "compatibility configured" % subj)
                return self.reply(200, {"compatibilityLevel": st.config[subj]})
            if method == "PUT":
                lvl = str(data.get("compatibility", "")).upper()
                if lvl not in ("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD",
                               "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"):
                    return self.err(422, 42203, "Invalid compatibility level")
                st.config[subj] = lvl
                return self.reply(200, {"compatibility": lvl})
        return self.err(404, 404, "HTTP 404 Not Found")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that time out or are cancelled hang up on purpose.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def main(argv):
    global AUTH
    port = 0
    it = iter(argv[1:])
    for a in it:
        if a == "--port":
            port = int(next(it))
        elif a == "--user":
            AUTH = next(it)
    srv = Server(("127.0.0.1", port), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
