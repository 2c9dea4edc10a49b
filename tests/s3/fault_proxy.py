#!/usr/bin/python3
"""fault_proxy.py - an HTTP proxy in front of s3rver for tests/system/test_s3.sh.

s3rver 3.7 accepts any SigV4 signature from a known access key, so this proxy
checks signatures itself (--access/--secret): the canonical request as S3
builds it, the payload hash against x-amz-content-sha256, the clock skew.
It also injects faults: --fail-first K answers 503 SlowDown to the first K
requests, --fail-all to every one. Requests in absolute form (when the
client uses it as its http_proxy, for virtual-host style) are forwarded with
their Host header, so s3rver sees the bucket in the host name.

Prints its port on the first line of stdout. GET /__stats answers
{"requests": N, "faults": N, "rejected": N, "hosts": [...]}.
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import sys
import threading
import urllib.parse

SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b'<Message>Please reduce your request rate.</Message></Error>')


def uri_encode(s, keep_slash):
    safe = "-_.~" + ("/" if keep_slash else "")
    return urllib.parse.quote(s, safe=safe)


def canonical_query(query):
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    enc = sorted((uri_encode(k, False), uri_encode(v, False)) for k, v in pairs)
    return "&".join(k + "=" + v for k, v in enc)


def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def check_sigv4(method, path, query, headers, body, access, secret):
    """None when the request is signed right, else (status, code, message)."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return 403, "AccessDenied", "no SigV4 Authorization header"
    fields = {}
    for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
        k, _, v = part.strip().partition("=")
        fields[k] = v
    try:
        ak, date, region, service, term = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        given = fields["Signature"]
    except (KeyError, ValueError):
        return 400, "AuthorizationHeaderMalformed", "malformed Authorization header"
    if ak != access:
        return 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
    if service != "s3" or term != "aws4_request":
        return 400, "AuthorizationHeaderMalformed", "bad credential scope"
    amz_date = headers.get("x-amz-date", "")
    try:
        t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return 403, "AccessDenied", "no valid x-amz-date"
    if abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) > 900 or amz_date[:8] != date:
        return 403, "RequestTimeTooSkewed", "x-amz-date too far from the server's time"
    payload = headers.get("x-amz-content-sha256")
    if payload is None:
        return 400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"
    if "x-amz-content-sha256" not in signed or "host" not in signed:
        return 403, "AccessDenied", "host and x-amz-content-sha256 must be signed"
    if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
        return 400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."
    canon_uri = uri_encode(urllib.parse.unquote(path), True)
    canon_headers = "".join(h + ":" + " ".join(headers.get(h, "").split()) + "\n" for h in signed)
    creq = "\n".join([method, canon_uri, canonical_query(query), canon_headers, ";".join(signed), payload])
    scope = "/".join([date, region, service, term])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = sign(("AWS4" + secret).encode(), date)
    k = sign(k, region)
    k = sign(k, service)
    k = sign(k, term)
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, given):
        return 403, "SignatureDoesNotMatch", ("The request signature we calculated does not match "
                                              "the signature you provided. Check your key and signing method.")
    return None


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.requests = 0
        self.faults = 0
        self.rejected = 0
        self.hosts = set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message):
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>'
                % (code, message)).encode()
        self.answer(status, body, [("Content-Type", "application/xml")])

    def handle_any(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        target = urllib.parse.urlsplit(self.path)
        path, query = target.path or "/", target.query
        if path == "/__stats":
            with st.lock:
                s = {"requests": st.requests, "faults": st.faults, "rejected": st.rejected,
                     "hosts": sorted(st.hosts)}
            return self.answer(200, json.dumps(s).encode(), [("Content-Type", "application/json")])
        with st.lock:
            st.requests += 1
            st.hosts.add(self.headers.get("Host", ""))
            fault = st.args.fail_all or st.requests <= st.args.fail_first
            if fault:
                st.faults += 1
        if fault:
            return self.answer(503, SLOWDOWN, [("Content-Type", "application/xml")])
        if st.args.secret is not None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            bad = check_sigv4(self.command, path, query, headers, body, st.args.access, st.args.secret)
            if bad:
                with st.lock:
                    st.rejected += 1
                return self.error(*bad)
        conn = http.client.HTTPConnection("127.0.0.1", st.args.upstream, timeout=30)
        fwd = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "proxy-connection")}
        conn.request(self.command, path + ("?" + query if query else ""), body=body, headers=fwd)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        hop = ("connection", "keep-alive", "transfer-encoding", "content-length")
        self.answer(r.status, data, [(k, v) for k, v in r.getheaders() if k.lower() not in hop])

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--fail-all", action="store_true")
    ap.add_argument("--access", default="S3RVER")
    ap.add_argument("--secret")
    args = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.state = State(args)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
