"""HTTP adapter: `create_app(settings)` builds a FastAPI app whose routes convert HTTP to one core call.

The screener is built once per app (models load once per process) and provided through a dependency, so tests
can override it. Errors map to fixed status codes with safe messages; internals are never echoed.
"""

import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from detectors.errors import AssetScreenError, ConfigError, MediaTooLarge
from detectors.evidence import Author
from service.hooks import handle_hook, screen_media
from service.screener import Screener
from service.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, screener: Screener | None = None) -> FastAPI:
    settings = settings or Settings.load()
    app = FastAPI(title="AssetScreen", version="0.1.0")
    state: dict[str, Screener] = {}
    if screener is not None:
        state["screener"] = screener

    def get_screener() -> Screener:
        if "screener" not in state:
            state["screener"] = Screener(settings)
        return state["screener"]

    @app.exception_handler(AssetScreenError)
    async def _asset_error(request: Request, exc: AssetScreenError) -> JSONResponse:
        if isinstance(exc, ConfigError) or exc.http_status >= 500:
            log.error("server-side error: %s", exc)
        return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status_code=exc.http_status)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return JSONResponse({"error": "InternalError", "detail": "internal error"}, status_code=500)

    @app.get("/healthz")
    def healthz(s: Annotated[Screener, Depends(get_screener)]) -> dict[str, Any]:
        return {
            "status": "ok",
            "detectors": s.model_versions,
            "unavailable": [u.to_dict() for u in s.detectors.unavailable],
            "policy_version": s.policy.version,
        }

    @app.post("/v1/screen")
    async def screen(
        s: Annotated[Screener, Depends(get_screener)],
        files: Annotated[list[UploadFile], File(description="images or a short video")],
        caption: Annotated[str, Form()] = "",
        account_id: Annotated[str, Form()] = "",
        group_id: Annotated[str, Form()] = "",
        group_admins: Annotated[str, Form(description="comma-separated admin account ids")] = "",
        post_id: Annotated[str, Form()] = "",
    ) -> dict[str, Any]:
        media = []
        limit = s.settings.media.max_bytes
        for f in files:
            data = await f.read(limit + 1)
            if len(data) > limit:
                raise MediaTooLarge(f"{f.filename}: over the {limit}-byte limit")
            media.append((f.filename or "upload", data))
        author = Author(
            account_id=account_id,
            group_id=group_id or None,
            group_admins=tuple(a.strip() for a in group_admins.split(",") if a.strip()),
        )
        verdict = screen_media(s, media, caption=caption, author=author, post_id=post_id)
        return verdict.to_dict()

    @app.post("/v1/hook")
    async def hook(request: Request, s: Annotated[Screener, Depends(get_screener)]) -> dict[str, Any]:
        try:
            payload = await request.json()
        except ValueError:
            from detectors.errors import BadInput

            raise BadInput("request body must be JSON") from None
        return handle_hook(s, payload)

    app.state.get_screener = get_screener
    return app
