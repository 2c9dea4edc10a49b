#!/usr/bin/python3
"""Test double for the Confluent/Karapace schema registry REST subset the
torghut client uses. Standard library only. Listens on 127.0.0.1:0 (or
--port), prints the port on stdout, serves until killed.

State is in memory: subjects -> versions, global schema ids (the same schema
text and type get the same id everywhere), per-subject compatibility
(default BACKWARD, enforced on register for the Avro cases torghut cares
about). schemaType AVRO (the default when absent) and JSON: stored, matched by
lookup together with the text, returned (when not AVRO) as Confluent does;
BACKWARD for JSON Schema: no property removed, no new required property, no
type narrowed, no enum value removed, open objects stay open, every old anyOf
branch accepted by a new one.

Control knobs (not part of the registry API):
  POST /_fail  {"status": 500, "count": N}  next N requests answer status
  POST /_delay {"ms": 800, "count": N, "match": "s"}
                                            next N requests (all if no count) whose
                                            path contains match (any if absent) sleep first
  POST /_garbage {"count": N}               next N requests answer 200 with a non-JSON body
  POST /_reset                              drop state and knobs
  GET  /_stats                              {"requests": n}
Options: --user U:P requires HTTP basic auth; --fail STATUS:N answers the
first N requests with STATUS (as /_fail, for a registry that starts sick).
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


JSON_ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "examples", "default"}


def jtypes(s):
    t = s.get("type")
    return None if t is None else set([t] if isinstance(t, str) else t)


def json_readable(old, new, path):
    """Raise Incompatible unless every document valid under old is valid under new."""
    here = path or "schema"
    if new is True or new == {}:
        return
    if old is False:
        return
    if new is False or old is True:
        raise Incompatible("%s: schema narrowed" % here)
    for kw in ("anyOf", "oneOf"):
        if kw in old:
            rest = {k: v for k, v in old.items() if k not in ("anyOf", "oneOf")}
            for i, b in enumerate(old[kw]):
                json_readable(dict(rest, **b) if isinstance(b, dict) else b, new,
                              "%s%s[%d]" % (path + "." if path else "", kw, i))
            return
    for kw in ("anyOf", "oneOf"):
        if kw in new:
            json_readable(old, {k: v for k, v in new.items() if k not in ("anyOf", "oneOf")}, path)
            for b in new[kw]:
                try:
                    json_readable(old, b, path)
                    return
                except Incompatible:
                    pass
            raise Incompatible("%s: no branch of the new %s accepts the old schema" % (here, kw))
    to, tn = jtypes(old), jtypes(new)
    if tn is not None:
        widened = set(tn) | ({"integer"} if "number" in tn else set())
        if to is None or not to <= widened:
            raise Incompatible("%s: type changed %s -> %s" % (here, sorted(to or ["any"]), sorted(tn)))
    eo = old.get("enum", [old["const"]] if "const" in old else None)
    en = new.get("enum", [new["const"]] if "const" in new else None)
    if en is not None and (eo is None or any(v not in en for v in eo)):
        raise Incompatible("%s: enum values removed" % here)
    po, pn = old.get("properties", {}), new.get("properties", {})
    for k, v in po.items():
        if k not in pn:
            raise Incompatible("%s: property %s removed" % (here, k))
        json_readable(v, pn[k], (path + "." if path else "") + k)
    for k in new.get("required", []):
        if k not in old.get("required", []):
            raise Incompatible("%s: new required property %s" % (here, k))
    if new.get("additionalProperties") is False and old.get("additionalProperties") is not False:
        raise Incompatible("%s: additional properties no longer allowed" % here)
    if "items" in new:
        if "items" not in old:
            raise Incompatible("%s: items constrained" % here)
        json_readable(old["items"], new["items"], path + "[]")
    for k, v in new.items():
        if k in JSON_ANNOTATIONS or k in ("type", "enum", "const", "properties", "required",
                                         "additionalProperties", "items"):
            continue
        if old.get(k) != v:
            raise Incompatible("%s: %s added or changed" % (here, k))


def compat_messages(old, new, level, stype="AVRO"):
    """[] when `new` may follow `old` under level, else the reasons."""
    level = level.upper()
    checks = []
    if level.startswith("BACKWARD") or level.startswith("FULL"):
        checks.append((old, new))
    if level.startswith("FORWARD") or level.startswith("FULL"):
        checks.append((new, old))
    msgs = []
    for w, r in checks:
        if stype == "JSON":
            try:
                json_readable(w, r, "")
            except Incompatible as e:
                msgs.append(str(e))
            except (KeyError, TypeError, AttributeError) as e:
                msgs.append("unresolvable schema: %r" % e)
            continue
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
        self.subjects = {}   # subject -> [(version, id, canonical, schemaType)]
        self.ids = {}        # (schemaType, canonical) -> id
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
        """(parsed, canonical, schemaType); parsed is None when invalid."""
        try:
            text = data["schema"]
            stype = str(data.get("schemaType", "AVRO")).upper()
            obj = json.loads(text)
            if stype not in ("AVRO", "JSON") or (stype == "JSON" and not isinstance(obj, (dict, bool))):
                return None, None, None
            return obj, canonical(text), stype
        except (KeyError, TypeError, ValueError, AttributeError):
            return None, None, None

    @staticmethod
    def version_body(subj, v, i, c, t):
        out = {"subject": subj, "version": v, "id": i, "schema": c}
        if t != "AVRO":  # Confluent and Karapace leave schemaType out for Avro
            out["schemaType"] = t
        return out

    def compat(self, latest, obj, stype, subj):
        """Reasons `obj` may not follow the subject's latest version."""
        if latest[3] != stype:
            return ["schema type changed %s -> %s" % (latest[3], stype)]
        return compat_messages(json.loads(latest[2]), obj, self.level(subj), stype)

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
                obj, canon, stype = self.schema_arg(data)
                if obj is None:
                    return self.err(422, 42201, "Invalid schema")
                if vers is None:
                    return self.err(404, 40401, "Subject '%s' not found." % subj)
                for v, i, c, t in vers:
                    if c == canon and t == stype:
                        return self.reply(200, self.version_body(subj, v, i, c, t))
                return self.err(404, 40403, "Schema not found")
            if len(p) == 3 and p[2] == "versions":
                if method == "GET":
                    if vers is None:
                        return self.err(404, 40401, "Subject '%s' not found." % subj)
                    return self.reply(200, [x[0] for x in vers])
                if method == "POST":  # register
                    obj, canon, stype = self.schema_arg(data)
                    if obj is None:
                        return self.err(422, 42201, "Invalid schema")
                    for v, i, c, t in vers or []:
                        if c == canon and t == stype:
                            return self.reply(200, {"id": i})
                    if vers:
                        msgs = self.compat(vers[-1], obj, stype, subj)
                        if msgs:
                            return self.err(409, 409, "Schema being registered is incompatible "
                                            "with an earlier schema for subject \"%s\": %s"
                                            % (subj, "; ".join(msgs)))
                    key = (stype, canon)
                    if key not in st.ids:
                        st.ids[key] = len(st.ids) + 1
                        st.texts[st.ids[key]] = canon
                    vers = st.subjects.setdefault(subj, [])
                    vers.append((len(vers) + 1, st.ids[key], canon, stype))
                    return self.reply(200, {"id": st.ids[key]})
            if len(p) == 4 and p[2] == "versions" and method == "GET":
                if vers is None:
                    return self.err(404, 40401, "Subject '%s' not found." % subj)
                if p[3] == "latest":
                    v, i, c, t = vers[-1]
                else:
                    try:
                        v, i, c, t = vers[int(p[3]) - 1]
                    except (ValueError, IndexError):
                        return self.err(404, 40402, "Version %s not found." % p[3])
                return self.reply(200, self.version_body(subj, v, i, c, t))
        if (method == "POST" and len(p) == 5 and p[0] == "compatibility" and p[1] == "subjects"
                and p[3] == "versions"):
            subj = p[2]
            vers = st.subjects.get(subj)
            obj, canon, stype = self.schema_arg(data)
            if obj is None:
                return self.err(422, 42201, "Invalid schema")
            if not vers:
                return self.err(404, 40401, "Subject '%s' not found." % subj)
            msgs = self.compat(vers[-1], obj, stype, subj)
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
        elif a == "--fail":
            status, count = next(it).split(":")
            STATE.fail_status, STATE.fail_count = int(status), int(count)
    srv = Server(("127.0.0.1", port), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
