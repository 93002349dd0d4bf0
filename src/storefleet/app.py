"""The FastAPI application: routers, error rendering, health checks and the
built dashboard."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from storefleet.audit.endpoints import router as audit_router
from storefleet.auth.endpoints import router as auth_router
from storefleet.exceptions import StoreFleetError
from storefleet.fleet.endpoints import router as fleet_router
from storefleet.metrics import registry_for
from storefleet.metrics import router as metrics_router
from storefleet.runtime import Runtime
from storefleet.stores.endpoints import router as stores_router
from storefleet.stores.stream import router as stream_router

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


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreFleetError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        field = next((p for p in reversed(loc) if p not in ("body", "query", "path")), "request")
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        errors.append(
            {"loc": loc, "field": field, "msg": f"{field}: {msg}", "type": err.get("type")}
        )
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="StoreFleet",
        version="0.1.0",
        description="Create and run WooCommerce stores.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        generate_unique_id_function=_operation_id,
    )
    app.state.runtime = runtime
    app.add_exception_handler(StoreFleetError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(auth_router)
    app.include_router(stream_router)  # before /api/stores/{store_id}
    app.include_router(stores_router)
    app.include_router(audit_router)
    app.include_router(fleet_router)
    app.state.metrics = registry_for(runtime)
    app.include_router(metrics_router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "A dependency is down"}})
    def readyz() -> JSONResponse:
        """Readiness: the platform database and the queue are reachable."""
        checks: dict[str, str] = {}
        try:
            with runtime.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except SQLAlchemyError as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            runtime.queue.ping()
            checks["queue"] = "ok"
        except (RedisError, OSError, sqlite3.Error) as exc:
            checks["queue"] = f"unreachable: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    if FRONTEND_DIST.is_dir():
        app.mount("/", _Dashboard(directory=FRONTEND_DIST, html=True), name="dashboard")
    return app
