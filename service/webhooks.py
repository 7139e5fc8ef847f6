"""Webhooks in and out, and the one place the service fetches media by URL (SSRF-guarded).

Why each part exists:

- Outbound: other systems learn of verdicts without polling. Every request is signed (HMAC-SHA256 over
  "<timestamp>." + body) so a receiver can check origin and freshness, and every retry reuses the delivery id
  and body so a receiver can deduplicate. Failures are retried with capped, jittered exponential backoff; a
  delivery that cannot succeed ends "dead" so a store can dead-letter it. Destination URLs are operator
  configuration, so the sender does not apply the media fetcher's address guard; it only allows http(s).
- Inbound: Mastodon admin webhooks (status.created, report.created) turn into posts to screen. Mastodon signs the
  raw body (X-Hub-Signature) without a timestamp, so replay protection is the caller's job (dedupe on post id).
  Payloads are validated with pydantic models that ignore unknown keys (Mastodon adds fields between versions,
  so `detectors.config.Strict`, which forbids them, does not fit a payload we do not own).
- Media fetching: Mastodon gives media as URLs, and the core only takes bytes (ARCHITECTURE.md style 7), so the
  adapter fetches them here, behind a guard: https only (http by flag), an allow-list of hosts, every resolved
  address must be public, the connection goes to the checked address (no second DNS lookup, so no DNS
  rebinding) with the name in the Host header and TLS SNI/certificate check, no redirects, a byte cap checked
  on Content-Length and while streaming, and one deadline for the whole fetch. Residual risks: the resolver
  call itself has no timeout (socket.getaddrinfo blocks as the system resolver does), and environment proxies
  are not used (a deployment that needs an egress proxy must allow direct connections to the media hosts).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import random as _random
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from detectors.config import describe_errors
from detectors.errors import BadInput, MediaTooLarge

# --------------------------------------------------------------------------------------------------------------
# Outbound: signatures
# --------------------------------------------------------------------------------------------------------------

EVENT_HEADER = "X-AssetScreen-Event"
DELIVERY_HEADER = "X-AssetScreen-Delivery"
TIMESTAMP_HEADER = "X-AssetScreen-Timestamp"
SIGNATURE_HEADER = "X-AssetScreen-Signature"

_SIG_PREFIX = "sha256="
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")  # header-safe event names and delivery ids


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """'sha256=<hex>' of HMAC-SHA256(secret, f"{timestamp}." + body)."""
    mac = hmac.new(secret.encode("utf-8"), f"{int(timestamp)}.".encode() + body, hashlib.sha256)
    return _SIG_PREFIX + mac.hexdigest()


def verify(secret: str, timestamp: int, body: bytes, signature: str, *, now: float, tolerance_s: float = 300) -> bool:
    """True when `signature` is sign(secret, timestamp, body) and timestamp is within tolerance_s of now."""
    if not isinstance(signature, str) or not isinstance(timestamp, int) or abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.strip().encode("utf-8"))


def new_delivery_id() -> str:
    """A fresh delivery id (store it with the delivery so retries reuse it)."""
    return uuid.uuid4().hex


# --------------------------------------------------------------------------------------------------------------
# Outbound: sender
# --------------------------------------------------------------------------------------------------------------

Transport = Callable[[str, bytes, Mapping[str, str], float], int]
AttemptCallback = Callable[[str, int, int | None, str], None]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # a 3xx surfaces as an HTTPError
        return None


def urllib_transport(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST body to url; returns the HTTP status (never raises for one); network errors raise OSError."""
    opener = urllib.request.build_opener(_NoRedirect())
    req = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with opener.open(req, timeout=timeout) as resp:
            resp.read(65536)  # drain a little so keep-alive servers see a complete exchange
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)
    except http.client.HTTPException as exc:  # malformed response: not an OSError by itself
        raise ConnectionError(f"bad HTTP response: {type(exc).__name__}") from exc


@dataclass(frozen=True)
class DeliveryResult:
    delivery_id: str
    url: str
    event: str
    attempts: int
    status: Literal["delivered", "dead"]
    last_status: int | None
    last_error: str


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


class WebhookSender:
    """Signs and POSTs JSON events, retrying transient failures with capped, jittered exponential backoff.

    The wait before retry n (n >= 1) is min(max_delay_s, base_delay_s * 2**(n-1)) scaled by 0.5 + random()/2
    ("equal jitter": never less than half the step, so retries do not hammer a struggling receiver). Each attempt
    is signed with a fresh timestamp (so a late retry is not stale to the receiver); the body and delivery id
    never change. 2xx: delivered. 3xx (redirects are not followed) and 4xx other than 408/429: dead at once.
    5xx, 408, 429 and network errors (OSError): retried until max_attempts, then dead.
    """

    def __init__(
        self,
        transport: Transport = urllib_transport,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 5,
        base_delay_s: float = 0.5,
        max_delay_s: float = 30,
        timeout_s: float = 5,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.time,
        on_attempt: AttemptCallback | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if base_delay_s < 0 or max_delay_s < 0 or timeout_s <= 0:
            raise ValueError("delays must be >= 0 and timeout_s > 0")
        self.transport = transport
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.timeout_s = timeout_s
        self.random = random
        self.clock = clock
        self.on_attempt = on_attempt

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1 = the wait after the first failed attempt)."""
        step = min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1))
        return step * (0.5 + 0.5 * min(1.0, max(0.0, self.random())))

    def deliver(self, url: str, secret: str, event: str, payload: dict[str, Any], delivery_id: str) -> DeliveryResult:
        """Deliver one event; returns how it ended. Raises BadInput for a bad url, event, id or payload."""
        _check_webhook_url(url)
        if not _TOKEN.fullmatch(event):
            raise BadInput("webhook event must be 1-128 characters of letters, digits and . _ : -")
        if not _TOKEN.fullmatch(delivery_id):
            raise BadInput("webhook delivery id must be 1-128 characters of letters, digits and . _ : -")
        try:
            body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise BadInput(f"webhook payload is not JSON-serialisable: {exc}") from None

        last_status: int | None = None
        last_error = ""
        attempt = 0
        while attempt < self.max_attempts:
            attempt += 1
            timestamp = int(self.clock())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "AssetScreen-Webhooks/1",
                EVENT_HEADER: event,
                DELIVERY_HEADER: delivery_id,
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(secret, timestamp, body),
            }
            status: int | None = None
            try:
                status = int(self.transport(url, body, headers, self.timeout_s))
            except OSError as exc:
                last_error = f"network error: {type(exc).__name__}: {exc}"
            last_status = status
            if status is not None:
                last_error = "" if 200 <= status < 300 else f"HTTP {status}"
            if self.on_attempt is not None:
                self.on_attempt(delivery_id, attempt, status, last_error)
            if status is not None and 200 <= status < 300:
                return DeliveryResult(delivery_id, url, event, attempt, "delivered", status, "")
            if status is not None and not _retryable(status):
                break
            if attempt < self.max_attempts:
                self.sleep(self.backoff(attempt))
        return DeliveryResult(delivery_id, url, event, attempt, "dead", last_status, last_error)


def _check_webhook_url(url: str) -> None:
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        raise BadInput("webhook url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput("webhook url must be an http(s) URL with a host")


# --------------------------------------------------------------------------------------------------------------
# Inbound: Mastodon admin webhooks
# --------------------------------------------------------------------------------------------------------------

MASTODON_SIGNATURE_HEADER = "X-Hub-Signature"
_MEDIA_TYPES = frozenset({"image", "gifv", "video"})


def verify_mastodon(secret: str, body: bytes, header: str | None) -> bool:
    """True when header is 'sha256=<hex HMAC-SHA256(secret, body)>'; missing or malformed headers are False."""
    if not isinstance(header, str):
        return False
    value = header.strip()
    if not value.startswith(_SIG_PREFIX) or not _HEX64.fullmatch(value[len(_SIG_PREFIX) :]):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), value[len(_SIG_PREFIX) :].lower().encode())


@dataclass(frozen=True)
class InboundPost:
    """A post to screen, taken from an inbound webhook. Media are URLs: fetch them with MediaFetcher."""

    post_id: str
    caption: str
    account_id: str
    media_urls: tuple[str, ...]
    event: str
    report_id: str | None = None


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class _Account(_Payload):
    id: str = Field(min_length=1, max_length=64)
    acct: str = Field(min_length=1, max_length=512)


class _Attachment(_Payload):
    type: str
    url: str | None = None
    remote_url: str | None = None


class _Status(_Payload):
    id: str = Field(min_length=1, max_length=64)
    content: str = ""
    spoiler_text: str = ""
    account: _Account
    media_attachments: list[_Attachment] = Field(default_factory=list)


class _AdminAccount(_Payload):
    id: str = Field(min_length=1, max_length=64)


class _Report(_Payload):
    id: str = Field(min_length=1, max_length=64)
    target_account: _AdminAccount | None = None
    statuses: list[_Status] = Field(default_factory=list)


class _StatusEvent(_Payload):
    event: Literal["status.created"]
    object: _Status


class _ReportEvent(_Payload):
    event: Literal["report.created"]
    object: _Report


def parse_mastodon_event(payload: Any) -> list[InboundPost]:
    """The posts to screen in a Mastodon webhook payload: the status of status.created, the reported statuses
    of report.created (an account-only report has none), nothing for other events. Malformed -> BadInput."""
    if not isinstance(payload, dict):
        raise BadInput("Mastodon webhook payload must be a JSON object")
    event = payload.get("event")
    if not isinstance(event, str):
        raise BadInput("Mastodon webhook payload: event: must be a string")
    model: type[_StatusEvent] | type[_ReportEvent]
    if event == "status.created":
        model = _StatusEvent
    elif event == "report.created":
        model = _ReportEvent
    else:
        return []
    try:
        parsed = model.model_validate(payload)
    except ValidationError as exc:
        raise BadInput(f"invalid Mastodon {event} payload: {describe_errors(exc)}") from None
    if isinstance(parsed, _StatusEvent):
        return [_inbound(parsed.object, event, None)]
    seen: set[str] = set()
    posts = []
    for status in parsed.object.statuses:
        if status.id not in seen:
            seen.add(status.id)
            posts.append(_inbound(status, event, parsed.object.id))
    return posts


def _inbound(status: _Status, event: str, report_id: str | None) -> InboundPost:
    text = html_to_text(status.content)
    spoiler = status.spoiler_text.strip()
    caption = f"{spoiler}\n\n{text}" if spoiler and text else spoiler or text
    urls = tuple(url for m in status.media_attachments if m.type in _MEDIA_TYPES and (url := m.url or m.remote_url))
    return InboundPost(
        post_id=f"mastodon:status:{status.id}",
        caption=caption,
        account_id=f"mastodon:{status.account.acct}",
        media_urls=urls,
        event=event,
        report_id=report_id,
    )


_BLOCK_TAGS = frozenset({"p", "div", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5", "h6"})
_SKIP_TAGS = frozenset({"script", "style", "template"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS and self.parts:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(content: str) -> str:
    """Plain text of Mastodon's status HTML: tags dropped, entities unescaped, <br> and <p> as newlines."""
    parser = _TextExtractor()
    parser.feed(content)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --------------------------------------------------------------------------------------------------------------
# Media fetching (SSRF-guarded)
# --------------------------------------------------------------------------------------------------------------


class MediaFetchError(BadInput):
    """A media URL could not be fetched (network error, HTTP error, timeout). The message is safe to show."""


class MediaRefused(MediaFetchError):
    """A media URL is refused by policy (scheme, host not allowed, private address, redirect)."""


Resolver = Callable[..., Sequence[tuple[Any, ...]]]
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address can route to (mapped, 6to4, Teredo, NAT64)."""
    found = [] if addr.ipv4_mapped is None else [addr.ipv4_mapped]
    if addr.sixtofour is not None:
        found.append(addr.sixtofour)
    if addr.teredo is not None:
        found.extend(addr.teredo)
    if addr in _NAT64:
        found.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    return found


def _public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or not addr.is_global
    )


def is_public_address(ip: str) -> bool:
    """True for a globally routable unicast address (IPv4 or IPv6, including what an IPv6 address embeds)."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 address itself
            return _public(addr.ipv4_mapped)
        return _public(addr) and all(_public(v4) for v4 in _embedded_ipv4(addr))
    return _public(addr)


def host_allowed(host: str, allowed_hosts: Collection[str]) -> bool:
    """Exact (case-insensitive) match, or '*.example.org' matching any subdomain (not example.org itself)."""
    host = host.lower().rstrip(".")
    for pattern in allowed_hosts:
        p = pattern.lower().rstrip(".")
        if p.startswith("*."):
            if host.endswith(p[1:]) and len(host) > len(p) - 1:
                return True
        elif host == p:
            return True
    return False


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to a fixed, already-checked IP while the request keeps the host name (Host header)."""

    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.pinned_ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned_ip, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As _PinnedHTTPConnection, with TLS whose SNI and certificate check use the host name."""

    def __init__(self, host: str, port: int, ip: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.pinned_ip = ip
        self.tls_context = context

    def connect(self) -> None:
        sock = socket.create_connection((self.pinned_ip, self.port), self.timeout)
        try:
            self.sock = self.tls_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class MediaFetcher:
    """Fetches media by URL for adapters (never for the core), refusing anything that could reach inside.

    See the module docstring for the checks. `timeout_s` bounds the whole fetch (connect, headers, body);
    `max_bytes` caps the body (MediaTooLarge). Errors are BadInput subclasses: MediaRefused (policy),
    MediaFetchError (network or HTTP), MediaTooLarge (size).
    """

    def __init__(
        self,
        allowed_hosts: Collection[str],
        max_bytes: int,
        timeout_s: float,
        allow_private: bool = False,
        resolver: Resolver = socket.getaddrinfo,
        *,
        allow_http: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        chunk_size: int = 65536,
    ) -> None:
        if max_bytes < 1 or timeout_s <= 0 or chunk_size < 1:
            raise ValueError("max_bytes and chunk_size must be >= 1 and timeout_s > 0")
        self.allowed_hosts = tuple(allowed_hosts)
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.allow_private = allow_private
        self.allow_http = allow_http
        self.resolver = resolver
        self.ssl_context = ssl_context
        self.chunk_size = chunk_size

    def fetch(self, url: str) -> bytes:
        """The body of a 200 response to GET url, after every check passes."""
        scheme, host, port, target = self._check_url(url)
        ips = self._resolve(host, port)
        deadline = time.monotonic() + self.timeout_s
        conn = self._connect(scheme, host, port, ips, deadline)
        try:
            return self._get(conn, target, deadline)
        except TimeoutError:
            raise MediaFetchError(f"media fetch from {host} timed out after {self.timeout_s:g}s") from None
        except ssl.SSLError:
            raise MediaFetchError(f"TLS error fetching media from {host}") from None
        except http.client.IncompleteRead:
            raise MediaFetchError(f"connection to {host} closed before the media was complete") from None
        except (OSError, http.client.HTTPException) as exc:
            raise MediaFetchError(f"media fetch from {host} failed: {type(exc).__name__}") from None
        finally:
            conn.close()

    def _check_url(self, url: str) -> tuple[str, str, int, str]:
        if not isinstance(url, str) or len(url) > 4096:
            raise MediaRefused("media url must be a string of at most 4096 characters")
        try:
            parts = urllib.parse.urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise MediaRefused("media url is not a valid URL") from None
        scheme = parts.scheme.lower()
        allowed_schemes = ("https", "http") if self.allow_http else ("https",)
        if scheme not in allowed_schemes:
            raise MediaRefused(f"media url scheme must be {' or '.join(allowed_schemes)}, not {scheme or 'none'!r}")
        if parts.username is not None or parts.password is not None:
            raise MediaRefused("media url must not contain credentials")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise MediaRefused("media url has no host")
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise MediaRefused("media url host is not a valid host name") from None
        if not host_allowed(host, self.allowed_hosts):
            raise MediaRefused(f"media host {host!r} is not in the allowed hosts")
        path = urllib.parse.quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
        query = urllib.parse.quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
        target = f"{path}?{query}" if query else path
        return scheme, host, port or (443 if scheme == "https" else 80), target

    def _resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = self.resolver(host, port, 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise MediaFetchError(f"cannot resolve media host {host!r}") from None
        ips: list[str] = []
        for info in infos:
            ip = str(info[4][0]).split("%", 1)[0]
            if not self.allow_private and not is_public_address(ip):
                raise MediaRefused(f"media host {host!r} resolves to a non-public address; refused")
            if ip not in ips:
                ips.append(ip)
        if not ips:
            raise MediaFetchError(f"cannot resolve media host {host!r}")
        return ips

    def _connect(
        self, scheme: str, host: str, port: int, ips: list[str], deadline: float
    ) -> http.client.HTTPConnection:
        last: Exception | None = None
        for ip in ips:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            conn: http.client.HTTPConnection
            if scheme == "https":
                context = self.ssl_context or ssl.create_default_context()
                conn = _PinnedHTTPSConnection(host, port, ip, remaining, context)
            else:
                conn = _PinnedHTTPConnection(host, port, ip, remaining)
            try:
                conn.connect()
                return conn
            except ssl.SSLError as exc:  # a certificate problem will not improve on another address
                conn.close()
                raise MediaFetchError(f"TLS error connecting to media host {host!r}") from exc
            except OSError as exc:
                conn.close()
                last = exc
        if last is None or isinstance(last, TimeoutError):
            raise MediaFetchError(f"connecting to media host {host!r} timed out after {self.timeout_s:g}s")
        raise MediaFetchError(f"cannot connect to media host {host!r}: {type(last).__name__}")

    def _get(self, conn: http.client.HTTPConnection, target: str, deadline: float) -> bytes:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.putheader("Accept", "image/*, video/*;q=0.9, */*;q=0.1")
        conn.putheader("Accept-Encoding", "identity")  # the byte cap applies to what we decode
        conn.putheader("User-Agent", "AssetScreen-MediaFetcher/1")
        conn.putheader("Connection", "close")
        conn.endheaders()
        sock = conn.sock  # kept: with "Connection: close" getresponse() hands the socket to the response
        _set_timeout(sock, deadline)
        resp = conn.getresponse()
        if 300 <= resp.status < 400:
            raise MediaRefused(f"media url redirects (HTTP {resp.status}); redirects are not followed")
        if resp.status != 200:
            raise MediaFetchError(f"media fetch failed: HTTP {resp.status}")
        length = resp.getheader("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_bytes:
            raise MediaTooLarge(f"media is {int(length)} bytes, over the {self.max_bytes}-byte limit")
        chunks: list[bytes] = []
        total = 0
        while True:
            _set_timeout(sock, deadline)
            chunk = resp.read(min(self.chunk_size, self.max_bytes + 1 - total))
            if not chunk:
                break
            total += len(chunk)
            if total > self.max_bytes:
                raise MediaTooLarge(f"media is over the {self.max_bytes}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)


def _set_timeout(sock: socket.socket | None, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("deadline passed")
    if sock is not None and sock.fileno() != -1:  # -1: the response has read its body and closed the socket
        sock.settimeout(remaining)
