#!/usr/bin/python3
"""test_platform_malformed.py -- bad requests get a 4xx with a JSON error and the platform keeps serving."""
import json
import socket

from platlib import Platform, run


def assert_json_error(status, body, code, aws_type=None):
    assert status == code, (status, body)
    doc = json.loads(body)
    if aws_type:
        assert doc["__type"] == aws_type, doc


def test_bad_json_payload():
    with Platform() as p:
        for payload in (b"{not json", b"\xff\xfe", b'{"a":1', b"[1,2"):
            status, _, body = p.invoke("icnode0", payload)
            assert_json_error(status, body, 400, "InvalidRequestContentException")
        assert p.stats()["requests"] == 0 and p.instances() == []
        assert p.call("icnode0", {"echo": "still here"}) == "still here"


def test_huge_bodies_413():
    with Platform() as p:
        big = b'{"x":"' + b"a" * (6 * 1024 * 1024 + 10) + b'"}'
        status, _, body = p.invoke("icnode0", big)
        assert_json_error(status, body, 413, "RequestEntityTooLargeException")
        event = b'{"x":"' + b"a" * (300 * 1024) + b'"}'
        status, _, body = p.invoke("icnode0", event, kind="Event")
        assert_json_error(status, body, 413, "RequestEntityTooLargeException")
        # Just under the limits is fine.
        ok = b'{"echo":"' + b"b" * (200 * 1024) + b'"}'
        assert p.invoke("icnode0", ok, kind="Event")[0] == 202
        assert p.call("icnode0", {"echo": "after"}) == "after"


def test_bad_paths_methods_headers():
    with Platform() as p:
        cases = [
            ("GET", "/", 404), ("GET", "/nothing/here", 404), ("POST", "/2015-03-31/nothing", 404), ("POST", "/2015-03-31/functions", 400),
            ("GET", "/2015-03-31/functions/icnode0/invocations", 405),
            ("POST", "/2015-03-31/functions/bad%20name/invocations", 400),
            ("DELETE", "/admin/stats", 405), ("GET", "/admin/unknown", 404),
            ("GET", "/i/abc/2018-06-01/runtime/invocation/next", 400),
            ("GET", "/i/1/2018-06-01/runtime/invocation/../next", 404),
            ("POST", "/i/1/2018-06-01/runtime/invocation/x/unknown", 404),
        ]
        for method, path, code in cases:
            status, headers, body = p.request(method, path, b"{}" if method == "POST" else None)
            assert status == code, (method, path, status, body)
            json.loads(body)
        status, _, body = p.invoke("icnode0", {}, kind="Sometimes")
        assert_json_error(status, body, 400, "InvalidParameterValueException")
        assert p.call("icnode0", {"echo": 1}) == 1


def test_garbage_on_the_socket():
    with Platform() as p:
        for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                     b"POST /2015-03-31/functions/icnode0/invocations HTTP/1.1\r\n"
                     b"Content-Length: nope\r\n\r\n", b"A" * 100000 + b"\r\n\r\n"):
            s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
            try:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                reply = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
            except OSError:
                reply = b""  # a reset is an acceptable answer to garbage
            finally:
                s.close()
            assert reply == b"" or reply.startswith(b"HTTP/1.1 4") or reply.startswith(b"HTTP/1.0 4") \
                or reply.startswith(b"HTTP/1.1 5"), reply[:100]
        assert p.call("icnode0", {"echo": "alive"}) == "alive"
        assert p.stats()["requests"] == 1


if __name__ == "__main__":
    run([test_bad_json_payload, test_huge_bodies_413, test_bad_paths_methods_headers,
         test_garbage_on_the_socket])
