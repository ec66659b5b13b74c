"""The FastAPI application: POST /events, GET /events, GET /health.

Every refusal is a 4xx with a JSON body `{"error": code, "message": text[, "details": [...]]}`:
401 missing or wrong token, 413 body over `max_body_bytes`, 415 not JSON, 400 malformed JSON,
422 missing / unknown / wrongly typed fields, 409 an event id already stored with another body.
A database that cannot be reached is a 503 (retry later); nothing is ever half stored, because an
event and its devices are written in one transaction (store.py).
"""
from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from logalyzer.service.models import DeviceId, FieldEvent
from logalyzer.service.settings import ServiceSettings
from logalyzer.service.store import DatabaseUnavailable, EventStore

log = logging.getLogger("logalyzer.service")


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, details=None, headers=None):
        super().__init__(message)
        self.status, self.error, self.message, self.details, self.headers = status, error, message, details, headers


def _body(error: str, message: str, details=None) -> dict:
    out = {"error": error, "message": message}
    if details:
        out["details"] = details
    return out


def _details(exc: ValidationError | RequestValidationError) -> list[dict]:
    """Pydantic errors without echoing the input back (it may be large), one per field."""
    out = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        out.append({"field": ".".join(loc) or "(body)", "type": e.get("type"), "message": e.get("msg")})
    return out


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate key {next(k for k in keys if keys.count(k) > 1)!r}")
    return dict(pairs)


def _no_constants(name):
    raise ValueError(f"{name} is not valid JSON")


def create_app(settings: ServiceSettings, store: EventStore) -> FastAPI:
    app = FastAPI(title="LOGalyzer field events", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    tokens = [t.encode() for t in settings.tokens]

    def authenticate(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise ApiError(401, "unauthorized", "missing token: send `Authorization: Bearer <token>`",
                           headers={"WWW-Authenticate": "Bearer"})
        candidate = given.strip().encode("utf-8", "surrogateescape")
        ok = False
        for token in tokens:   # every token is compared (constant time each), no early exit
            ok |= hmac.compare_digest(candidate, token)
        if not ok:
            raise ApiError(401, "unauthorized", "invalid token", headers={"WWW-Authenticate": "Bearer"})

    async def read_limited(request: Request) -> bytes:
        limit = settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, "too_large", f"request body of {int(declared):,} bytes is over the limit of {limit:,}")
        chunks, size = [], 0
        async for chunk in request.stream():   # chunked bodies have no Content-Length: count as they come
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "too_large", f"request body is over the limit of {limit:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse(_body(exc.error, exc.message, exc.details), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _query_error(request: Request, exc: RequestValidationError):
        return JSONResponse(_body("invalid", "invalid request parameters", _details(exc)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(DatabaseUnavailable)
    async def _db_down(request: Request, exc: DatabaseUnavailable):
        log.warning("database unavailable: %s", exc)
        return JSONResponse(_body("unavailable", f"database unavailable, nothing was stored; retry: {exc}"),
                            status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):   # a bug: logged, never a stack trace to clients
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(_body("internal", "internal error; nothing was stored"), status_code=500)

    @app.get("/health")
    async def health():
        try:
            await run_in_threadpool(store.ping)
        except DatabaseUnavailable as exc:
            return JSONResponse({"status": "degraded", "database": str(exc)}, status_code=503)
        return {"status": "ok", "database": "ok"}

    @app.post("/events", dependencies=[Depends(authenticate)])
    async def post_event(request: Request):
        raw = await read_limited(request)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise ApiError(415, "unsupported_media_type",
                           f"Content-Type must be application/json, not {ctype or 'missing'!r}")
        try:
            parsed = json.loads(raw, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "malformed_json", f"the body is not valid JSON: {str(exc)[:200]}") from None
        except RecursionError:
            raise ApiError(400, "malformed_json", "the body is nested too deeply") from None
        if not isinstance(parsed, dict):
            raise ApiError(422, "invalid", f"the body must be a JSON object, not {type(parsed).__name__}")
        try:
            event = FieldEvent.model_validate_json(raw)
        except ValidationError as exc:
            raise ApiError(422, "invalid", "the event is invalid", _details(exc)) from None
        if len(event.device_ids) > settings.max_devices:
            raise ApiError(422, "invalid", f"an event may name at most {settings.max_devices:,} devices, "
                                           f"not {len(event.device_ids):,}")
        result = await run_in_threadpool(store.insert, event)
        if result.status == "conflict":
            raise ApiError(409, "conflict", f"event id {event.event_id!r} is already stored with a different body")
        status = 201 if result.status == "created" else 200
        return JSONResponse({"status": result.status, "event_id": event.event_id,
                             "devices": len(event.device_ids)}, status_code=status)

    @app.get("/events", dependencies=[Depends(authenticate)])
    async def list_events(device_id: Annotated[DeviceId | None, Query()] = None,
                          since: Annotated[AwareDatetime | None, Query()] = None,
                          until: Annotated[AwareDatetime | None, Query()] = None,
                          limit: Annotated[int | None, Query(ge=1)] = None):
        limit = min(1000, settings.max_list) if limit is None else limit
        if limit > settings.max_list:
            raise ApiError(422, "invalid", f"limit must be at most {settings.max_list:,}")
        if since and until and since >= until:
            raise ApiError(422, "invalid", "since must be before until")
        try:
            since, until = _utc(since), _utc(until)
        except OverflowError:
            raise ApiError(422, "invalid", "since / until out of range") from None
        events = await run_in_threadpool(store.list_events, device_id, since, until, limit)
        return {"count": len(events), "events": events}

    return app


def _utc(t: dt.datetime | None) -> dt.datetime | None:
    return t.astimezone(dt.timezone.utc) if t else None
