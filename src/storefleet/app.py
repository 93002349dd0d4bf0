"""The FastAPI application: routers, error rendering (and the audit of
refusals), security headers, the rate limit, health checks, the API
documentation and the built dashboard."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from storefleet import heartbeats
from storefleet.audit import service as audit
from storefleet.audit.endpoints import router as audit_router
from storefleet.auth.endpoints import router as auth_router
from storefleet.auth.token_endpoints import router as tokens_router
from storefleet.auth.twofactor_endpoints import router as two_factor_router
from storefleet.db import utcnow
from storefleet.domains.endpoints import router as domains_router
from storefleet.exceptions import StoreFleetError
from storefleet.fleet.endpoints import router as fleet_router
from storefleet.metrics import registry_for
from storefleet.metrics import router as metrics_router
from storefleet.runtime import Runtime
from storefleet.stores.endpoints import router as stores_router
from storefleet.stores.move_endpoints import router as moves_router
from storefleet.stores.staging_endpoints import router as staging_router
from storefleet.stores.stream import router as stream_router
from storefleet.web import ApiRateLimit, SecurityHeaders
from storefleet.webhooks.endpoints import router as webhooks_router

log = logging.getLogger(__name__)

FRONTEND_DIST = Path(__file__).resolve().parents[2] / "frontend" / "dist"


class _Dashboard(StaticFiles):
    """The built single-page app: unknown paths outside /api get index.html,
    so that a reload on /stores/7 shows the dashboard, not a 404."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except StarletteHTTPException as exc:
            if exc.status_code != 404 or path.startswith("api/"):
                raise
            return await super().get_response("index.html", scope)


def _operation_id(route: APIRoute) -> str:
    # Clean, stable names for the generated TypeScript client.
    return route.name


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    exc = cast(StoreFleetError, exc)  # registered for StoreFleetError only
    if exc.audit is not None:
        # The request's transaction has rolled back by now (SessionDep closes
        # before the handlers run): the refusal is recorded in one of its own.
        runtime: Runtime = request.app.state.runtime
        try:
            await run_in_threadpool(audit.record_apart, runtime.db, exc.audit)
        except SQLAlchemyError:
            log.exception("could not record the audit event %s", exc.audit.action)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    exc = cast(RequestValidationError, exc)  # registered for RequestValidationError only
    errors: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        field = next((p for p in reversed(loc) if p not in ("body", "query", "path")), "request")
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        errors.append(
            {"loc": loc, "field": field, "msg": f"{field}: {msg}", "type": err.get("type")}
        )
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


DOCS_PATH = "/api/docs"
# Swagger UI comes with the dashboard's build (frontend/scripts/swagger-ui.mjs),
# served from this origin: no CDN, which many hosts cannot reach.
_SWAGGER = "/api-docs"
_DOCS_HTML = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>StoreFleet API</title>
<link rel="stylesheet" href="{_SWAGGER}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{_SWAGGER}/swagger-ui-bundle.js"></script>
<script src="{DOCS_PATH}/init.js"></script></body></html>
"""
_DOCS_SCRIPT = """window.ui = SwaggerUIBundle({
  url: '/api/openapi.json', dom_id: '#swagger-ui', deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: 'BaseLayout',
});
"""


def _reconciler_state(last_sweep: dt.datetime | None, stale_seconds: float) -> str:
    if last_sweep is None:
        return "no sweep recorded: is a worker running?"
    age = (utcnow() - last_sweep).total_seconds()
    if age > stale_seconds:
        return f"stale: the last good sweep was {age:.0f}s ago"
    return "ok"


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="StoreFleet",
        version="0.1.0",
        description="Create and run WooCommerce stores.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # served below, without inline script
        redoc_url=None,
        generate_unique_id_function=_operation_id,
    )
    app.state.runtime = runtime
    app.add_exception_handler(StoreFleetError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(auth_router)
    app.include_router(two_factor_router)
    app.include_router(tokens_router)
    app.include_router(stream_router)  # before /api/stores/{store_id}
    app.include_router(moves_router)  # before /api/stores/{store_id}
    app.include_router(stores_router)
    app.include_router(domains_router)
    app.include_router(staging_router)
    app.include_router(audit_router)
    app.include_router(fleet_router)
    app.include_router(webhooks_router)
    app.state.metrics = registry_for(runtime)
    app.include_router(metrics_router)
    # The last added is the outermost: every answer, a 429 too, gets the headers.
    app.add_middleware(ApiRateLimit, runtime=runtime)
    app.add_middleware(SecurityHeaders)

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs() -> HTMLResponse:
        if not (FRONTEND_DIST / "api-docs" / "swagger-ui-bundle.js").is_file():
            return HTMLResponse(
                "<!doctype html><title>StoreFleet API</title><p>The documentation page needs "
                "the dashboard's build (<code>make frontend</code>). The OpenAPI document is at "
                '<a href="/api/openapi.json">/api/openapi.json</a>.</p>',
                status_code=503,
            )
        return HTMLResponse(_DOCS_HTML)

    @app.get(f"{DOCS_PATH}/init.js", include_in_schema=False)
    def docs_script() -> Response:
        return Response(_DOCS_SCRIPT, media_type="text/javascript")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "A dependency is down"}})
    def readyz() -> JSONResponse:
        """Readiness: the platform database and the queue are reachable (else
        503). The reconciler, which runs in the workers, is reported too: its
        last good sweep; when that is too old the status is ``degraded``, still
        200, so that dead workers do not take the API's replicas out of service."""
        checks: dict[str, str] = {}
        reconciler = "unknown: the database is unreachable"
        try:
            with runtime.db.transaction(write=False) as session:
                last_sweep = heartbeats.last(session, heartbeats.RECONCILER)
            checks["database"] = "ok"
            reconciler = _reconciler_state(last_sweep, runtime.settings.reconciler_stale_seconds)
        except SQLAlchemyError as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            runtime.queue.ping()
            checks["queue"] = "ok"
        except (RedisError, OSError, sqlite3.Error) as exc:
            checks["queue"] = f"unreachable: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        checks["reconciler"] = reconciler
        status = "unavailable" if not ok else "ok" if reconciler == "ok" else "degraded"
        return JSONResponse({"status": status, "checks": checks}, status_code=200 if ok else 503)

    if FRONTEND_DIST.is_dir():
        app.mount("/", _Dashboard(directory=FRONTEND_DIST, html=True), name="dashboard")
    return app
