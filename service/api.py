"""HTTP adapter: `create_app(settings)` builds a FastAPI app whose routes convert HTTP to one core call.

- The screener (models), the store and the webhook notifier are built once per app; settings, policy and every
  detector are validated when the app is created, so a typo stops the start with the key named.
- Screening runs in a bounded pool of worker threads sized to the cores, never on the event loop: `/healthz`
  answers while every worker is busy. When the workers and the queue are full a request gets 429 with
  Retry-After instead of waiting without bound.
- Bodies are capped before they are parsed (multipart uploads and JSON separately); captions, fields, files per
  post and decoded pixels per post are capped too.
- Every error has the shape {"error": <name>, "detail": <safe message>}; an upload is never echoed back.
- `Authorization: Bearer <key>` on everything but `/healthz` and the API documentation (see service/auth.py);
  the Mastodon inbound webhook is authenticated by its signature instead, as Mastodon cannot send a key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, File, Form, Header, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from detectors.errors import AssetScreenError, BadInput, ConfigError, MediaTooLarge
from detectors.evidence import INFORMATIONAL_STATUSES, Author
from service.auth import ADMIN, READ_ALL, SUBMIT, authenticate, require
from service.exemptions import add_exemption_checked
from service.hooks import HookRequest, submission_from_hook
from service.metrics import Metrics
from service.notify import Notifier
from service.pipeline import ScreeningService, Submission, purge_expired
from service.review import DecisionIn, record_decision, review_queue
from service.screener import Screener
from service.settings import Settings
from service.store import ApiKey, ResultRecord, Store, open_store, parse_stamp, stamp

log = logging.getLogger(__name__)
T = TypeVar("T")
VERSION = "0.2.0"
REVIEW_HTML = Path(__file__).with_name("review.html")


class Busy(AssetScreenError):
    """Every worker is busy and the queue is full: try again after Retry-After seconds."""

    http_status = 429
    exit_code = 1


class NotFound(AssetScreenError):
    http_status = 404
    exit_code = 2


class IncompleteVerdict(AssetScreenError):
    http_status = 503
    exit_code = 3


class ErrorBody(BaseModel):
    error: str = Field(description="the error's name, e.g. BadInput, MediaTooLarge, Unauthorized")
    detail: str = Field(description="a message safe to show the caller")


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "bad input", 401: "no or invalid API key", 403: "the key's role may not do this",
        404: "not found", 413: "over a size limit", 415: "unsupported media type", 422: "invalid request fields",
        429: "busy: retry after Retry-After seconds", 500: "internal error",
        503: "incomplete verdict (a detector could not run) or not ready",
    }.items()
}


class WorkPool:
    """A bounded pool: `workers` posts screened at once, `queue` more waiting, anything beyond refused (429)."""

    def __init__(self, workers: int, queue: int, retry_after_s: int, metrics: Metrics) -> None:
        self.workers = workers
        self.limit = workers + queue
        self.retry_after_s = retry_after_s
        self.metrics = metrics
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="screen")
        self._lock = threading.Lock()
        self.pending = 0

    async def run(self, fn: Callable[[], T]) -> T:
        with self._lock:
            if self.pending >= self.limit:
                self.metrics.rejected.inc()
                raise Busy(f"all {self.workers} workers are busy and {self.limit - self.workers} posts are waiting")
            self.pending += 1
            self._gauges()
        try:
            return await asyncio.wrap_future(self._pool.submit(self._tracked, fn))
        finally:
            with self._lock:
                self.pending -= 1
                self._gauges()

    def _tracked(self, fn: Callable[[], T]) -> T:
        self.metrics.in_flight.inc()
        try:
            return fn()
        finally:
            self.metrics.in_flight.dec()

    def _gauges(self) -> None:
        self.metrics.queue_depth.set(max(0, self.pending - self.workers))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class BodyLimit:
    """Reads the request body up to a per-route limit before the app sees it; over the limit -> 413 at once
    (by Content-Length when given, else while reading a chunked body)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _send_error(send, 400, "BadInput", "invalid Content-Length")
                return
            if declared > limit:
                await _send_error(send, 413, "MediaTooLarge", f"request body over the {limit}-byte limit")
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await _send_error(send, 413, "MediaTooLarge", f"request body over the {limit}-byte limit")
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        data = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _send_error(send: Send, status: int, error: str, detail: str) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _caller(request: Request, authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> ApiKey:
    return authenticate(request.app.state.store, authorization)


Caller = Annotated[ApiKey, Depends(_caller)]


class ExemptionIn(BaseModel):
    model_config = {"extra": "forbid"}
    account_id: str = Field(min_length=1, max_length=256)
    type: str = Field(max_length=64)
    name: str = Field("", max_length=256)
    reference: str = Field("", max_length=1000)
    valid_until: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")


def _error(exc: AssetScreenError, **extra: Any) -> JSONResponse:
    headers = {}
    if exc.http_status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"error": type(exc).__name__, "detail": str(exc), **extra}, status_code=exc.http_status,
                        headers=headers)


def check_startup(settings: Settings) -> None:
    """What must hold before anything is served: settings name only known detectors and options."""
    from detectors.base import DetectorRegistry

    known = set(DetectorRegistry.names())
    for name in settings.detectors:
        if name not in known:
            raise ConfigError(f"settings: unknown detector {name!r}; known: {', '.join(sorted(known))}")
    for name in settings.detector_options:
        if name not in known:
            raise ConfigError(f"settings: detector_options.{name}: unknown detector; known: {', '.join(sorted(known))}")


def create_app(
    settings: Settings | None = None,
    screener: Screener | None = None,
    *,
    store: Store | None = None,
    notifier: Notifier | None = None,
    fetcher: Any = None,
) -> FastAPI:
    settings = settings or Settings.load()
    check_startup(settings)
    screener = screener or Screener(settings)
    store = store or open_store(settings.store.url, settings.data_dir)
    metrics = Metrics()
    notifier = notifier or Notifier(store, settings.webhooks)

    def exemption_lookup(account_id: str) -> Any:
        from service.policy.engine import ExemptAccount

        ex = store.get_exemption(account_id)
        if ex is None:
            return None
        return ExemptAccount(account_id=ex.account_id, type=ex.type, name=ex.name, reference=ex.reference,
                             valid_until=ex.valid_until)

    screener.policy.use_exemption_lookup(exemption_lookup)
    service = ScreeningService(screener, store, notify=notifier, observe=metrics.observe)
    pool = WorkPool(settings.service.workers, settings.service.queue, settings.service.retry_after_s, metrics)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        purge_expired(store, settings)
        notifier.start()
        try:
            yield
        finally:
            notifier.stop()
            pool.shutdown()

    app = FastAPI(
        title="AssetScreen",
        version=VERSION,
        description="Screens posts for government assets shared against the conduct rules. "
        "Authenticate with `Authorization: Bearer <key>` (`assetscreen keys add`).",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        responses=ERRORS,
    )
    app.state.store = store
    app.state.screener = screener
    app.state.notifier = notifier
    app.state.pool = pool
    app.state.metrics = metrics

    svc = settings.service

    def limit_for(path: str) -> int:
        if path == "/v1/screen":
            return svc.max_body_bytes
        if path.startswith("/v1/"):
            return svc.max_json_bytes
        return 64 * 1024

    app.add_middleware(BodyLimit, limit_for=limit_for)

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        t0 = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        metrics.requests.labels(name, str(response.status_code)).inc()
        metrics.request_seconds.labels(name).observe(time.perf_counter() - t0)
        return response

    # --- errors ------------------------------------------------------------------------------------------------

    @app.exception_handler(AssetScreenError)
    async def _asset_error(request: Request, exc: AssetScreenError) -> JSONResponse:
        if isinstance(exc, ConfigError) or exc.http_status >= 500:
            log.error("server-side error: %s", exc)
        response = _error(exc)
        if isinstance(exc, Busy):
            response.headers["Retry-After"] = str(pool.retry_after_s)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "(request)"
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")  # never err['input']: it may be an upload
        return JSONResponse({"error": "ValidationError", "detail": "; ".join(parts)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {404: "NotFound", 405: "MethodNotAllowed"}
        return JSONResponse({"error": names.get(exc.status_code, "HTTPError"), "detail": str(exc.detail)},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return JSONResponse({"error": "InternalError", "detail": "internal error"}, status_code=500)

    # --- auth ----------------------------------------------------------------------------------------------------

    def readable(rec: ResultRecord | None, key: ApiKey, result_id: str) -> ResultRecord:
        if rec is None or (key.role not in READ_ALL and rec.submitted_by != key.name):
            raise NotFound(f"no result {result_id}")  # another key's result is not disclosed to exist
        return rec

    # --- liveness, readiness, metrics, docs ----------------------------------------------------------------------

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: answers from the event loop, whatever the workers are doing. No key needed."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    def readyz(key: Caller) -> JSONResponse:
        """Readiness: models loaded, policy loaded, the store reachable."""
        body: dict[str, Any] = {
            "status": "ready",
            "models": screener.model_versions,
            "policy_version": screener.policy.version,
            "detector_status": [s.to_dict() for s in screener.detectors.unavailable],
            "workers": pool.workers,
            "pending": pool.pending,
        }
        try:
            store.list_results(limit=1)
        except Exception as exc:
            log.error("store not reachable: %s", exc)
            body.update(status="not_ready", detail="the store is not reachable")
            return JSONResponse(body, status_code=503)
        if screener.detectors.unavailable:
            body.update(status="not_ready", detail="a detector cannot run: every verdict would be incomplete")
            return JSONResponse(body, status_code=503)
        return JSONResponse(body)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus(key: Caller) -> Response:
        """Prometheus metrics: requests, latency per route and per stage, verdicts, queue depth."""
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    from starlette.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_path), name="swagger-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="AssetScreen API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js", swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    # --- screening -------------------------------------------------------------------------------------------------

    async def run_and_answer(sub: Submission) -> JSONResponse:
        rec = await pool.run(lambda: service.screen(sub))
        body = {"result_id": rec.id, **rec.to_dict()}
        if rec.decision == "incomplete":
            failed = [s for s in rec.verdict.get("detector_status", []) if s["status"] not in INFORMATIONAL_STATUSES]
            said = "; ".join(f"{s['detector']}: {s['message']}" for s in failed)[:500]
            err = IncompleteVerdict(f"a detector could not run, so no verdict can be given: {said}")
            return _error(err, result_id=rec.id, result=body)
        return JSONResponse(body)

    def author_for(key: ApiKey, account_id: str, display_name: str = "", group_id: str | None = None,
                   group_admins: tuple[str, ...] = ()) -> Author:
        return Author(account_id=account_id, display_name=display_name, group_id=group_id or None,
                      group_admins=group_admins, verified=key.role == "integration")

    @app.post("/v1/screen", tags=["screening"])
    async def screen(
        key: Caller,
        files: Annotated[list[UploadFile], File(description="images or a short video")] = [],  # noqa: B006
        caption: Annotated[str, Form()] = "",
        account_id: Annotated[str, Form(description="honoured for exemptions only from integration keys")] = "",
        group_id: Annotated[str, Form()] = "",
        group_admins: Annotated[str, Form(description="comma-separated admin account ids")] = "",
        post_id: Annotated[str, Form()] = "",
    ) -> JSONResponse:
        """Screen one post (multipart upload). 200 with the stored result; 503 when the verdict is incomplete."""
        require(key, SUBMIT, "submit posts")
        if len(files) > svc.max_files:
            raise MediaTooLarge(f"{len(files)} files; at most {svc.max_files} per post")
        media = []
        limit = settings.media.max_bytes
        for f in files:
            data = await f.read(limit + 1)
            if len(data) > limit:
                raise MediaTooLarge(f"a file is over the {limit}-byte limit")
            media.append(((f.filename or "upload")[:200], data))
        admins = tuple(a.strip() for a in group_admins.split(",") if a.strip())
        sub = Submission(media=media, caption=caption, post_id=post_id, source="http", submitted_by=key.name,
                         author=author_for(key, account_id, group_id=group_id, group_admins=admins))
        return await run_and_answer(sub)

    @app.post("/v1/hook", tags=["screening"],
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": HookRequest.model_json_schema()}}}})
    async def hook(key: Caller, request: Request) -> JSONResponse:
        """Screen one post given as JSON (images base64). Same answers as /v1/screen."""
        require(key, SUBMIT, "submit posts")
        payload = _json_body(await request.body())
        sub = submission_from_hook(payload, source="hook", submitted_by=key.name,
                                   verified=key.role == "integration")
        return await run_and_answer(sub)

    @app.post("/v1/inbound/mastodon", tags=["screening"], status_code=202)
    async def mastodon(request: Request,
                       x_hub_signature: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        """A Mastodon admin webhook (status.created, report.created), verified by its X-Hub-Signature. Each post
        is screened in the background; media only from the configured hosts."""
        from service.webhooks import MediaFetcher, parse_mastodon_event, verify_mastodon

        secret = settings.inbound.mastodon_secret
        body = await request.body()
        if not secret:
            raise NotFound("the Mastodon webhook is not configured (inbound.mastodon_secret)")
        if not verify_mastodon(secret, body, x_hub_signature):
            from service.auth import Unauthorized

            raise Unauthorized("the X-Hub-Signature does not match this webhook's secret")
        posts = parse_mastodon_event(_json_body(body))
        inbound = settings.inbound
        fetch = fetcher or MediaFetcher(
            inbound.allowed_media_hosts, settings.media.max_bytes, inbound.media_timeout_s,
            allow_private=inbound.allow_private_addresses,
        )

        def work(p: Any) -> ResultRecord:
            media = [(url.rsplit("/", 1)[-1][:100] or "media", fetch.fetch(url)) for url in p.media_urls]
            sub = Submission(media=media, caption=p.caption, post_id=p.post_id, source="mastodon",
                             submitted_by="mastodon", author=Author(account_id=p.account_id, verified=True))
            return service.screen(sub)

        async def background(p: Any) -> None:
            try:
                await pool.run(lambda: work(p))
            except AssetScreenError as exc:
                log.warning("mastodon post %s not screened: %s", p.post_id, exc)

        for p in posts:
            asyncio.get_running_loop().create_task(background(p))
        return {"accepted": [p.post_id for p in posts]}

    # --- results ---------------------------------------------------------------------------------------------------

    @app.get("/v1/results/{result_id}", tags=["results"])
    def get_result(result_id: str, key: Caller) -> dict[str, Any]:
        """A stored result (review and admin keys: any; other keys: those they submitted)."""
        return readable(store.get_result(result_id), key, result_id).to_dict()

    @app.get("/v1/results", tags=["results"])
    def list_results(
        key: Caller,
        verdict: Annotated[str | None, Query(pattern="^(clear|review|violation|incomplete)$")] = None,
        since: Annotated[str | None, Query(description="ISO date or time, inclusive")] = None,
        before: Annotated[str | None, Query(description="ISO date or time, exclusive (paging)")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        """Results newest first, without their evidence lists; page with `before` = the last `created_at`."""
        require(key, READ_ALL, "list results")
        rows = store.list_results(
            decision=verdict, since=stamp(parse_stamp(since)) if since else None,
            before=stamp(parse_stamp(before)) if before else None, limit=limit,
        )
        return {"results": [_summary(r) for r in rows], "next_before": rows[-1].created_at if rows else None}

    @app.get("/v1/results/{result_id}/evidence.png", tags=["results"], response_class=Response,
             responses={200: {"content": {"image/png": {}}}})
    def evidence_png(result_id: str, key: Caller, image: Annotated[int, Query(ge=0, le=100)] = 0) -> Response:
        """The image with its evidence boxes and labels drawn and documents redacted (kept for flagged results
        by default; see retention in the settings)."""
        readable(store.get_result(result_id), key, result_id)
        found = store.get_image(result_id, image, "evidence")
        if found is None:
            raise NotFound(f"no evidence image {image} is kept for result {result_id} (retention settings)")
        return Response(found[0], media_type="image/png")

    # --- review ------------------------------------------------------------------------------------------------

    def bank() -> Any:
        rec = screener.recognizer
        return getattr(rec, "bank", None)

    @app.get("/v1/review/queue", tags=["review"])
    def queue(
        key: Caller,
        order: Annotated[str, Query(pattern="^(newest|score)$")] = "newest",
        rule: str | None = None,
        kind: str | None = None,
        decided: bool = False,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        """Non-clear results awaiting a decision (with `decided=true`, those decided too)."""
        require(key, READ_ALL, "review")
        return {"items": review_queue(store, order=order, rule=rule, kind=kind, include_decided=decided,
                                      limit=limit)}

    @app.post("/v1/results/{result_id}/decisions", tags=["review"], status_code=201)
    def decide(result_id: str, key: Caller, body: DecisionIn) -> dict[str, Any]:
        """Confirm, dismiss or correct a result. A confirmed or corrected kind joins the example bank at once (a
        dismissal adds a negative example), so the next screening of a similar photo benefits."""
        require(key, READ_ALL, "review")
        rec = readable(store.get_result(result_id), key, result_id)
        return record_decision(store, bank(), rec, key.name, body).to_dict()

    @app.get("/v1/results/{result_id}/decisions", tags=["review"])
    def decisions(result_id: str, key: Caller) -> dict[str, Any]:
        require(key, READ_ALL, "review")
        readable(store.get_result(result_id), key, result_id)
        return {"decisions": [d.to_dict() for d in store.list_decisions(result_id=result_id)]}

    @app.get("/review", include_in_schema=False)
    def review_page() -> HTMLResponse:
        """The review page: a static shell (no data in it); its script asks for a review key, keeps it in the
        tab's sessionStorage and calls the JSON endpoints above with it."""
        return HTMLResponse(REVIEW_HTML.read_text(encoding="utf-8"),
                            headers={"Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; "
                                     "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'",
                                     "Cache-Control": "no-store"})

    # --- exemptions and audit ------------------------------------------------------------------------------------

    @app.get("/v1/exemptions", tags=["admin"])
    def list_exemptions(key: Caller) -> dict[str, Any]:
        require(key, ADMIN, "manage exemptions")
        return {"exemptions": [e.to_dict() for e in store.list_exemptions()]}

    @app.post("/v1/exemptions", tags=["admin"], status_code=201)
    def add_exemption(key: Caller, body: ExemptionIn) -> dict[str, Any]:
        require(key, ADMIN, "manage exemptions")
        ex = add_exemption_checked(store, screener, body.model_dump(), actor=key.name)
        return ex.to_dict()

    @app.delete("/v1/exemptions/{account_id}", tags=["admin"])
    def remove_exemption(account_id: str, key: Caller) -> dict[str, Any]:
        require(key, ADMIN, "manage exemptions")
        if not store.remove_exemption(account_id):
            raise NotFound(f"no exemption for {account_id}")
        store.audit(key.name, "exemption.remove", account_id)
        return {"removed": account_id}

    @app.get("/v1/audit", tags=["admin"])
    def audit(key: Caller, after: Annotated[int, Query(ge=0)] = 0,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        require(key, ADMIN, "read the audit log")
        return {"entries": [e.to_dict() for e in store.audit_entries(after=after, limit=limit)]}

    return app


def _summary(r: ResultRecord) -> dict[str, Any]:
    return {
        "id": r.id, "created_at": r.created_at, "post_id": r.post_id, "decision": r.decision, "score": r.score,
        "source": r.source, "submitted_by": r.submitted_by, "policy_version": r.policy_version,
        "rules": [f["rule_id"] for f in r.verdict.get("findings", [])],
        "kinds": sorted({e["kind"] for e in r.verdict.get("evidence", [])}),
    }


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise BadInput("request body must be JSON (UTF-8, not nested too deeply)") from None

