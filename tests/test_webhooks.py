"""Webhooks out (signed, retried), Mastodon webhooks in, and the SSRF-guarded media fetcher.

No network: a local ThreadingHTTPServer on 127.0.0.1 plays receiver and media host; private-address refusals use a
fake resolver; sleeps are injected, so nothing waits on backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from detectors.errors import BadInput, MediaTooLarge
from service.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DeliveryResult,
    InboundPost,
    MediaFetcher,
    MediaFetchError,
    MediaRefused,
    WebhookSender,
    host_allowed,
    html_to_text,
    is_public_address,
    parse_mastodon_event,
    sign,
    verify,
    verify_mastodon,
)

SECRET = "whsec-test-1"
NOW = 1_750_000_000


# ---------------------------------------------------------------------------------------------------------------
# A local HTTP server: webhook receiver and media host
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool


@dataclass
class Script:
    statuses: list[int] = field(default_factory=list)  # receiver replies, in order; then 200
    received: list[Received] = field(default_factory=list)
    media_gets: list[str] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass

    def do_POST(self) -> None:
        script = self.server.script
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}  # HTTP header names are case-insensitive
        ok = verify(SECRET, int(headers[TIMESTAMP_HEADER.lower()]), body, headers[SIGNATURE_HEADER.lower()], now=NOW)
        script.received.append(Received(headers, body, ok))
        status = script.statuses.pop(0) if script.statuses else 200
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_GET(self) -> None:
        self.server.script.media_gets.append(self.path)
        route = self.path.split("?", 1)[0]
        if route == "/img":
            self._send(200, b"\x89PNG fake image bytes")
        elif route == "/host":
            self._send(200, self.headers["Host"].encode())
        elif route == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif route == "/big-cl":
            self._send(200, b"x" * 5000)
        elif route == "/big-stream":  # HTTP/1.0, no Content-Length: the body ends when the connection closes
            self.send_response(200)
            self.end_headers()
            for _ in range(50):
                self.wfile.write(b"y" * 100)
        elif route == "/big-chunked":
            self.protocol_version = "HTTP/1.1"
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(50):
                self.wfile.write(b"64\r\n" + b"z" * 100 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif route == "/slow":
            time.sleep(0.6)
            self._send(200, b"late")
        else:
            self._send(404, b"no")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    script: Script

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client that gave up is expected
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(("127.0.0.1", 0), Handler)
    srv.script = Script()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """An HTTPS media host whose self-signed certificate names media.example.test (needs the openssl CLI)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed; cannot make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]
        + ["-subj", "/CN=media.example.test", "-addext", "subjectAltName=DNS:media.example.test"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = Server(("127.0.0.1", 0), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.script = Script()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield srv, cert
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def base_url(srv: Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}"


def make_sender(sleeps: list[float], **kwargs: Any) -> WebhookSender:
    kwargs.setdefault("random", lambda: 1.0)
    kwargs.setdefault("clock", lambda: NOW)
    return WebhookSender(sleep=sleeps.append, **kwargs)


# ---------------------------------------------------------------------------------------------------------------
# Outbound signatures
# ---------------------------------------------------------------------------------------------------------------


def test_signature_round_trip_and_known_value() -> None:
    body = b'{"decision":"violation"}'
    sig = sign(SECRET, NOW, body)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
    assert sig == "sha256=" + expected
    assert verify(SECRET, NOW, body, sig, now=NOW + 10)


def test_forged_and_stale_signatures_are_refused() -> None:
    body = b'{"decision":"violation"}'
    sig = sign(SECRET, NOW, body)
    assert not verify(SECRET, NOW, b'{"decision":"clear"}', sig, now=NOW)  # body changed
    assert not verify("other-secret", NOW, body, sig, now=NOW)  # wrong key
    assert not verify(SECRET, NOW + 1, body, sig, now=NOW)  # timestamp changed
    assert not verify(SECRET, NOW, body, "sha256=" + "0" * 64, now=NOW)
    assert not verify(SECRET, NOW, body, "", now=NOW)
    assert not verify(SECRET, NOW, body, "sha256=ünïcode", now=NOW)
    assert not verify(SECRET, NOW, body, sig, now=NOW + 301)  # stale
    assert not verify(SECRET, NOW, body, sig, now=NOW - 301)  # from the future
    assert verify(SECRET, NOW, body, sig, now=NOW + 1000, tolerance_s=1000)


# ---------------------------------------------------------------------------------------------------------------
# Outbound delivery
# ---------------------------------------------------------------------------------------------------------------


def test_receiver_failing_twice_then_succeeding_gets_one_delivery(server: Server) -> None:
    server.script.statuses = [500, 500, 200]
    sleeps: list[float] = []
    attempts: list[tuple[str, int, int | None, str]] = []
    sender = make_sender(sleeps, on_attempt=lambda *a: attempts.append(a))
    payload = {"post_id": "p1", "decision": "violation", "score": 0.91, "note": "ضابطہ"}

    result = sender.deliver(base_url(server) + "/hook", SECRET, "verdict.created", payload, "dlv-123")

    assert result == DeliveryResult("dlv-123", base_url(server) + "/hook", "verdict.created", 3, "delivered", 200, "")
    got = server.script.received
    assert len(got) == 3
    assert all(r.signature_ok for r in got)
    assert {r.headers[DELIVERY_HEADER.lower()] for r in got} == {"dlv-123"}
    assert {r.body for r in got} == {got[0].body}
    assert json.loads(got[0].body) == payload
    assert {r.headers[EVENT_HEADER.lower()] for r in got} == {"verdict.created"}
    assert {r.headers["content-type"] for r in got} == {"application/json"}
    assert sleeps == [0.5, 1.0]  # exponential, jitter fixed at its top by random() == 1
    assert attempts == [
        ("dlv-123", 1, 500, "HTTP 500"),
        ("dlv-123", 2, 500, "HTTP 500"),
        ("dlv-123", 3, 200, ""),
    ]


def test_permanent_4xx_dead_letters_at_once(server: Server) -> None:
    server.script.statuses = [400]
    sleeps: list[float] = []
    result = make_sender(sleeps).deliver(base_url(server), SECRET, "verdict.created", {"a": 1}, "dlv-400")
    assert (result.status, result.attempts, result.last_status, result.last_error) == ("dead", 1, 400, "HTTP 400")
    assert len(server.script.received) == 1 and sleeps == []


def test_redirect_is_not_followed_and_is_permanent(server: Server) -> None:
    server.script.statuses = [302]
    result = make_sender([]).deliver(base_url(server), SECRET, "verdict.created", {}, "dlv-302")
    assert (result.status, result.attempts, result.last_status) == ("dead", 1, 302)
    assert len(server.script.received) == 1


def test_exhausted_retries_are_dead(server: Server) -> None:
    server.script.statuses = [503, 429, 408]
    sleeps: list[float] = []
    result = make_sender(sleeps, max_attempts=3).deliver(base_url(server), SECRET, "verdict.created", {}, "d-1")
    assert (result.status, result.attempts, result.last_status, result.last_error) == ("dead", 3, 408, "HTTP 408")
    assert len(server.script.received) == 3 and len(sleeps) == 2


def test_network_errors_are_retried_with_the_same_delivery() -> None:
    calls: list[tuple[str, bytes, dict[str, str], float]] = []
    outcomes: list[int | Exception] = [ConnectionRefusedError("refused"), TimeoutError("slow"), 204]

    def transport(url: str, body: bytes, headers: Any, timeout: float) -> int:
        calls.append((url, body, dict(headers), timeout))
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    attempts: list[tuple[str, int, int | None, str]] = []
    result = make_sender([], transport=transport, timeout_s=2.5, on_attempt=lambda *a: attempts.append(a)).deliver(
        "https://receiver.example.org/hook", SECRET, "report.created", {"x": [1, 2]}, "dlv-net"
    )
    assert result.status == "delivered" and result.attempts == 3 and result.last_status == 204
    assert [a[2] for a in attempts] == [None, None, 204]
    assert "ConnectionRefusedError" in attempts[0][3] and "TimeoutError" in attempts[1][3]
    assert {c[1] for c in calls} == {b'{"x":[1,2]}'} and {c[2][DELIVERY_HEADER] for c in calls} == {"dlv-net"}
    assert {c[3] for c in calls} == {2.5}


def test_unreachable_receiver_is_dead_after_retries() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    result = make_sender(sleeps, max_attempts=2, timeout_s=1).deliver(
        f"http://127.0.0.1:{port}/", SECRET, "verdict.created", {}, "dlv-down"
    )
    assert result.status == "dead" and result.attempts == 2 and result.last_status is None
    assert result.last_error.startswith("network error") and len(sleeps) == 1


def test_backoff_is_capped_and_jittered() -> None:
    low = WebhookSender(base_delay_s=1, max_delay_s=10, random=lambda: 0.0)
    high = WebhookSender(base_delay_s=1, max_delay_s=10, random=lambda: 1.0)
    assert [high.backoff(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert [low.backoff(n) for n in range(1, 5)] == [0.5, 1, 2, 4]


def test_timestamp_is_fresh_on_each_attempt_but_body_is_not() -> None:
    seen: list[tuple[str, bytes]] = []
    ticks = iter([NOW, NOW + 60])

    def transport(url: str, body: bytes, headers: Any, timeout: float) -> int:
        seen.append((headers[TIMESTAMP_HEADER], body))
        assert verify(SECRET, int(headers[TIMESTAMP_HEADER]), body, headers[SIGNATURE_HEADER], now=NOW + 60)
        return 500 if len(seen) == 1 else 200

    make_sender([], transport=transport, clock=lambda: next(ticks)).deliver(
        "https://r.example.org/", SECRET, "verdict.created", {"k": "v"}, "dlv-ts"
    )
    assert [s[0] for s in seen] == [str(NOW), str(NOW + 60)] and seen[0][1] == seen[1][1]


@pytest.mark.parametrize(
    ("url", "event", "delivery_id", "payload", "message"),
    [
        ("ftp://r.example.org/", "verdict.created", "d", {}, "http(s)"),
        ("file:///etc/passwd", "verdict.created", "d", {}, "http(s)"),
        ("https://r.example.org/", "verdict\r\nX-Evil: 1", "d", {}, "event"),
        ("https://r.example.org/", "verdict.created", "", {}, "delivery id"),
        ("https://r.example.org/", "verdict.created", "d", {"t": object()}, "JSON"),
        ("https://r.example.org/", "verdict.created", "d", {"nan": float("nan")}, "JSON"),
    ],
)
def test_deliver_rejects_bad_arguments(url: str, event: str, delivery_id: str, payload: Any, message: str) -> None:
    sender = make_sender([], transport=lambda *a: pytest.fail("must not send"))
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        sender.deliver(url, SECRET, event, payload, delivery_id)


# ---------------------------------------------------------------------------------------------------------------
# Inbound Mastodon webhooks
# ---------------------------------------------------------------------------------------------------------------


def mastodon_header(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_mastodon_signature_valid_forged_missing() -> None:
    body = json.dumps(STATUS_CREATED).encode()
    header = mastodon_header(SECRET, body)
    assert verify_mastodon(SECRET, body, header)
    assert verify_mastodon(SECRET, body, header.upper().replace("SHA256=", "sha256="))  # hex case is not meaningful
    assert not verify_mastodon(SECRET, body + b" ", header)  # body changed
    assert not verify_mastodon("wrong", body, header)
    assert not verify_mastodon(SECRET, body, None)
    assert not verify_mastodon(SECRET, body, "")
    assert not verify_mastodon(SECRET, body, header[len("sha256=") :])  # no prefix
    assert not verify_mastodon(SECRET, body, "sha1=" + header[len("sha256=") :])
    assert not verify_mastodon(SECRET, body, "sha256=xyz")
    assert not verify_mastodon(SECRET, body, "sha256=" + "é" * 64)


def _status(status_id: str, acct: str, content: str, media: list[dict[str, Any]]) -> dict[str, Any]:
    """A Status as Mastodon 4.x serialises it in webhooks (trimmed, extra keys kept to prove they are ignored)."""
    return {
        "id": status_id,
        "created_at": "2025-03-01T10:15:00.000Z",
        "in_reply_to_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://social.example.pk/users/{acct.split('@')[0]}/statuses/{status_id}",
        "url": f"https://social.example.pk/@{acct}/{status_id}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "content": content,
        "reblog": None,
        "account": {
            "id": "109876543210",
            "username": acct.split("@")[0],
            "acct": acct,
            "display_name": "SHO Saddar",
            "locked": False,
            "bot": False,
            "url": f"https://social.example.pk/@{acct}",
        },
        "media_attachments": media,
        "mentions": [],
        "tags": [],
        "emojis": [],
        "poll": None,
    }


STATUS_CREATED: dict[str, Any] = {
    "event": "status.created",
    "created_at": "2025-03-01T10:15:01.123Z",
    "object": _status(
        "113456789012345678",
        "sho_saddar",
        '<p>Proud to serve &amp; protect &lt;Sindh&gt;! <a href="https://social.example.pk/tags/police" '
        'class="mention hashtag" rel="tag">#<span>police</span></a></p><p>Duty roster: '
        '<a href="https://example.org/roster" rel="nofollow noopener" target="_blank">'
        '<span class="invisible">https://</span><span class="">example.org/roster</span></a><br />'
        "Second line</p>",
        [
            {
                "id": "1",
                "type": "image",
                "url": "https://files.social.example.pk/media_attachments/files/1/original/a.jpg",
                "preview_url": "https://files.social.example.pk/media_attachments/files/1/small/a.jpg",
                "remote_url": None,
                "description": "officer at desk",
                "blurhash": "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH",
                "meta": {"original": {"width": 1200, "height": 800}},
            },
            {"id": "2", "type": "audio", "url": "https://files.social.example.pk/a.mp3", "remote_url": None},
            {"id": "3", "type": "gifv", "url": None, "remote_url": "https://remote.example.net/media/b.mp4"},
            {"id": "4", "type": "video", "url": "https://files.social.example.pk/c.mp4", "remote_url": None},
            {"id": "5", "type": "unknown", "url": None, "remote_url": None},
        ],
    ),
}

REPORT_CREATED: dict[str, Any] = {
    "event": "report.created",
    "created_at": "2025-03-02T08:00:00.000Z",
    "object": {
        "id": "4321",
        "action_taken": False,
        "category": "violation",
        "comment": "Official documents posted publicly",
        "forwarded": False,
        "created_at": "2025-03-02T07:59:59.000Z",
        "updated_at": "2025-03-02T07:59:59.000Z",
        "account": {"id": "17", "username": "reporter", "domain": None, "account": {"id": "17", "acct": "reporter"}},
        "target_account": {
            "id": "555",
            "username": "clerk",
            "domain": "remote.example.net",
            "account": {"id": "555", "acct": "clerk@remote.example.net"},
        },
        "assigned_account": None,
        "action_taken_by_account": None,
        "statuses": [
            _status("900", "clerk@remote.example.net", "<p>Office Memorandum No. SO(IX)CMS/2025</p>", []),
            _status(
                "901",
                "clerk@remote.example.net",
                "<p>see attached</p>",
                [{"type": "image", "url": "https://files.social.example.pk/cache/d.png", "remote_url": "https://r/d"}],
            ),
            _status("900", "clerk@remote.example.net", "<p>Office Memorandum No. SO(IX)CMS/2025</p>", []),
        ],
        "rules": [],
    },
}


def test_parse_status_created() -> None:
    [post] = parse_mastodon_event(STATUS_CREATED)
    assert post == InboundPost(
        post_id="mastodon:status:113456789012345678",
        caption="Proud to serve & protect <Sindh>! #police\n\nDuty roster: https://example.org/roster\nSecond line",
        account_id="mastodon:sho_saddar",
        media_urls=(
            "https://files.social.example.pk/media_attachments/files/1/original/a.jpg",
            "https://remote.example.net/media/b.mp4",
            "https://files.social.example.pk/c.mp4",
        ),
        event="status.created",
    )


def test_parse_report_created_screens_each_reported_status_once() -> None:
    posts = parse_mastodon_event(REPORT_CREATED)
    assert [p.post_id for p in posts] == ["mastodon:status:900", "mastodon:status:901"]
    assert {p.account_id for p in posts} == {"mastodon:clerk@remote.example.net"}
    assert {p.event for p in posts} == {"report.created"} and {p.report_id for p in posts} == {"4321"}
    assert posts[0].caption == "Office Memorandum No. SO(IX)CMS/2025" and posts[0].media_urls == ()
    assert posts[1].media_urls == ("https://files.social.example.pk/cache/d.png",)


def test_parse_other_events_and_account_only_reports_give_nothing() -> None:
    assert parse_mastodon_event({"event": "account.created", "object": {"id": "1"}}) == []
    assert parse_mastodon_event({"event": "status.updated", "object": None}) == []
    report = {**REPORT_CREATED, "object": {**REPORT_CREATED["object"], "statuses": []}}
    assert parse_mastodon_event(report) == []


def test_parse_spoiler_text_is_part_of_the_caption() -> None:
    obj = {**STATUS_CREATED["object"], "spoiler_text": "CW: work", "content": "<p>inside</p>"}
    [post] = parse_mastodon_event({"event": "status.created", "object": obj})
    assert post.caption == "CW: work\n\ninside"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "JSON object"),
        ({"object": {}}, "event"),
        ({"event": 5, "object": {}}, "event"),
        ({"event": "status.created"}, "object: Field required"),
        ({"event": "status.created", "object": "x"}, "object"),
        (
            {"event": "status.created", "object": {**STATUS_CREATED["object"], "account": {"id": "1"}}},
            "object.account.acct",
        ),
        ({"event": "status.created", "object": {**STATUS_CREATED["object"], "id": 12}}, "object.id"),
        ({"event": "status.created", "object": {**STATUS_CREATED["object"], "content": None}}, "object.content"),
        (
            {"event": "status.created", "object": {**STATUS_CREATED["object"], "media_attachments": [{"url": "u"}]}},
            "object.media_attachments.0.type",
        ),
        ({"event": "report.created", "object": {"id": "1", "statuses": "nope"}}, "object.statuses"),
    ],
)
def test_parse_malformed_is_bad_input_naming_the_field(payload: Any, message: str) -> None:
    with pytest.raises(BadInput, match="Mastodon") as info:
        parse_mastodon_event(payload)
    assert message in str(info.value)


def test_html_to_text() -> None:
    assert html_to_text("<p>a&nbsp;b &amp; c</p><p>d<br>e<br/>f</p>") == "a b & c\n\nd\ne\nf"
    assert html_to_text("<script>alert(1)</script><p>x <b>y</b></p>") == "x y"
    assert html_to_text("plain &#x1F44D; text") == "plain \U0001f44d text"
    assert html_to_text("<p>unclosed <a href='x'>link") == "unclosed link"
    assert html_to_text("") == ""


# ---------------------------------------------------------------------------------------------------------------
# Media fetching
# ---------------------------------------------------------------------------------------------------------------


def fake_resolver(*ips: str, calls: list[str] | None = None) -> Callable[..., list[tuple[Any, ...]]]:
    def resolve(host: str, port: int, *args: Any) -> list[tuple[Any, ...]]:
        if calls is not None:
            calls.append(host)
        out: list[tuple[Any, ...]] = []
        for ip in ips:
            if ":" in ip:
                out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0)))
            else:
                out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)))
        return out

    return resolve


def local_fetcher(**kwargs: Any) -> MediaFetcher:
    kwargs.setdefault("allowed_hosts", {"127.0.0.1"})
    kwargs.setdefault("max_bytes", 1000)
    kwargs.setdefault("timeout_s", 5)
    return MediaFetcher(allow_private=True, allow_http=True, **kwargs)


def test_fetches_an_allowed_local_url_when_private_is_allowed(server: Server) -> None:
    assert local_fetcher().fetch(base_url(server) + "/img?size=orig") == b"\x89PNG fake image bytes"
    assert server.script.media_gets == ["/img?size=orig"]


def test_connects_to_the_checked_address_with_the_host_name(server: Server) -> None:
    calls: list[str] = []
    fetcher = local_fetcher(allowed_hosts={"*.example.test"}, resolver=fake_resolver("127.0.0.1", calls=calls))
    port = server.server_address[1]
    assert fetcher.fetch(f"http://media.example.test:{port}/host") == f"media.example.test:{port}".encode()
    assert calls == ["media.example.test"]  # resolved once: no second lookup a rebinding DNS could answer


def test_https_pins_the_address_and_checks_the_certificate_by_name(tls_server: tuple[Server, Path]) -> None:
    srv, cert = tls_server
    port = srv.server_address[1]
    fetcher = MediaFetcher(
        {"media.example.test", "other.example.test"},
        1000,
        5,
        allow_private=True,
        resolver=fake_resolver("127.0.0.1"),
        ssl_context=ssl.create_default_context(cafile=str(cert)),
    )
    assert fetcher.fetch(f"https://media.example.test:{port}/host") == f"media.example.test:{port}".encode()
    with pytest.raises(MediaFetchError, match="TLS"):  # same address, but the certificate does not name this host
        fetcher.fetch(f"https://other.example.test:{port}/host")
    default_trust = MediaFetcher(
        {"media.example.test"}, 1000, 5, allow_private=True, resolver=fake_resolver("127.0.0.1")
    )
    with pytest.raises(MediaFetchError, match="TLS"):  # self-signed: not trusted by default
        default_trust.fetch(f"https://media.example.test:{port}/img")


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.1",
        "127.0.0.1",
        "169.254.169.254",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "0.0.0.0",
        "100.64.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "fc00::1",
        "fe80::1%eth0",
        "ff02::1",
        "::",
        "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 wrapping 169.254.169.254
    ],
)
def test_refuses_non_public_addresses(ip: str) -> None:
    fetcher = MediaFetcher({"media.example.org"}, 1000, 5, resolver=fake_resolver(ip))
    with pytest.raises(MediaRefused, match="non-public address"):
        fetcher.fetch("https://media.example.org/a.jpg")


def test_refuses_when_any_resolved_address_is_private() -> None:
    fetcher = MediaFetcher({"media.example.org"}, 1000, 5, resolver=fake_resolver("93.184.216.34", "127.0.0.1"))
    with pytest.raises(MediaRefused, match="non-public"):
        fetcher.fetch("https://media.example.org/a.jpg")


def test_public_addresses_pass_the_check() -> None:
    for ip in ("93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.216.34", "2002:5db8:d822::1"):
        assert is_public_address(ip), ip
    assert not is_public_address("not-an-ip")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://evil.example.com/a.jpg", "not in the allowed hosts"),
        ("https://example.org/a.jpg", "not in the allowed hosts"),  # "*.example.org" is subdomains only
        ("https://media.example.org.evil.com/a.jpg", "not in the allowed hosts"),
        ("https://127.0.0.1/a.jpg", "not in the allowed hosts"),
        ("http://files.example.org/a.jpg", "scheme must be https"),
        ("file:///etc/passwd", "scheme must be https"),
        ("gopher://files.example.org/", "scheme must be https"),
        ("https://user:pw@files.example.org/a.jpg", "credentials"),
        ("https:///a.jpg", "no host"),
        ("https://files.example.org:99999/a.jpg", "not a valid URL"),
    ],
)
def test_refuses_urls_before_resolving(url: str, message: str) -> None:
    calls: list[str] = []
    fetcher = MediaFetcher({"*.example.org"}, 1000, 5, resolver=fake_resolver("93.184.216.34", calls=calls))
    with pytest.raises(MediaRefused, match=message):
        fetcher.fetch(url)
    assert calls == []


def test_host_patterns() -> None:
    assert host_allowed("files.example.org", ["*.example.org"])
    assert host_allowed("a.b.example.org", ["*.example.org"])
    assert host_allowed("Files.Example.Org.", ["files.example.org"])
    assert not host_allowed("example.org", ["*.example.org"])
    assert not host_allowed("badexample.org", ["*.example.org"])
    assert not host_allowed("files.example.org", [])


def test_redirects_are_refused(server: Server) -> None:
    with pytest.raises(MediaRefused, match="redirect"):
        local_fetcher().fetch(base_url(server) + "/redirect")


@pytest.mark.parametrize("route", ["/big-cl", "/big-stream", "/big-chunked"])
def test_oversize_bodies_are_refused(server: Server, route: str) -> None:
    with pytest.raises(MediaTooLarge, match="1000-byte limit"):
        local_fetcher().fetch(base_url(server) + route)


def test_exactly_max_bytes_is_fine(server: Server) -> None:
    assert local_fetcher(max_bytes=5000).fetch(base_url(server) + "/big-stream") == b"y" * 5000
    assert local_fetcher(max_bytes=5000, chunk_size=7).fetch(base_url(server) + "/big-chunked") == b"z" * 5000


def test_http_errors_timeouts_and_refused_connections_are_bad_input(server: Server) -> None:
    with pytest.raises(MediaFetchError, match="HTTP 404"):
        local_fetcher().fetch(base_url(server) + "/missing")
    with pytest.raises(MediaFetchError, match="timed out"):
        local_fetcher(timeout_s=0.2).fetch(base_url(server) + "/slow")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(MediaFetchError, match="cannot connect") as info:
        local_fetcher().fetch(f"http://127.0.0.1:{port}/img")
    assert isinstance(info.value, BadInput) and "Traceback" not in str(info.value)


def test_unresolvable_host_is_bad_input() -> None:
    def resolver(*args: Any) -> list[tuple[Any, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(MediaFetchError, match="cannot resolve"):
        MediaFetcher({"media.example.org"}, 1000, 5, resolver=resolver).fetch("https://media.example.org/a.jpg")
