"""The app factory: routers, error handlers, limits."""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from patron import __version__
from patron.api import contract, errors, lean
from patron.api.deps import CredentialCache
from patron.api.health import router as health_router
from patron.api.idempotency import Idempotency
from patron.api.limits import BodySizeLimit
from patron.audit.endpoints import router as audit_router
from patron.cards.endpoints import router as cards_router
from patron.coupons.endpoints import router as coupons_router
from patron.customer.bulk_endpoints import org_router as hierarchies_router
from patron.customer.bulk_endpoints import router as bulk_router
from patron.customer.care_endpoints import router as care_router
from patron.customer.care_records_endpoints import org_router as preference_keys_router
from patron.customer.care_records_endpoints import router as care_records_router
from patron.customer.endpoints import router as customer_router
from patron.customer.image_endpoints import router as customer_image_router
from patron.customer.list_endpoints import router as customer_list_router
from patron.customer.records_endpoints import router as customer_records_router
from patron.customer.referral_endpoints import org_router as referral_campaigns_router
from patron.customer.referral_endpoints import router as referrals_router
from patron.exports.endpoints import router as exports_router
from patron.imports.endpoints import router as imports_router
from patron.imports.jobs import Worker
from patron.kit.db import create_engine
from patron.legacy.endpoints import router as legacy_router
from patron.loyalty import program_cache
from patron.loyalty.customer_endpoints import router as loyalty_customer_router
from patron.loyalty.endpoints import router as campaigns_router
from patron.loyalty.expiry import LoyaltyWorker
from patron.loyalty.program_endpoints import router as loyalty_programs_router
from patron.loyalty.request_endpoints import router as loyalty_requests_router
from patron.loyalty.transaction_endpoints import router as transactions_router
from patron.notifications.worker import BackgroundJobs
from patron.orgs import settings_cache
from patron.orgs.endpoints import router as orgs_router
from patron.settings import Settings, get_settings
from patron.subscriptions.endpoints import router as subscriptions_router
from patron.web import app as web
from patron.web.routes import profile_care


def create_app(
    settings: Settings | None = None, engine: Engine | None = None, *, run_imports: bool = False
) -> FastAPI:
    """Build the patron API on ``engine`` (default: one for ``settings.database_url``).

    ``run_imports`` starts the job workers with the application (``patron serve``): the
    import worker, the daily loyalty jobs' worker, and the exports and mail worker.
    """
    settings = settings or get_settings()
    app = FastAPI(
        lifespan=_import_worker if run_imports else None,
        title="patron",
        version=__version__,
        description="Customer profiles, identity resolution and the v2 Customer API.",
        # /docs is served by the console from packaged files (no CDN); ReDoc is not offered.
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=contract.operation_id,
    )
    app.state.engine = engine or create_engine(settings.database_url)
    app.state.credentials = CredentialCache(settings.auth_cache_seconds)
    settings_cache.enable(app.state.engine, settings.org_cache_seconds)
    # The org's loyalty programs and slabs, as its settings: same bound, same invalidation.
    program_cache.enable(app.state.engine, settings.org_cache_seconds)
    errors.install(app)
    contract.install(app)
    # Fixed paths (/v2/customers/search, /lookup/status) before /v2/customers/{id:int} ones.
    app.include_router(care_router)
    app.include_router(customer_router)
    app.include_router(customer_list_router)
    app.include_router(customer_records_router)
    app.include_router(care_records_router)
    app.include_router(preference_keys_router)
    app.include_router(customer_image_router)
    app.include_router(referrals_router)
    app.include_router(referral_campaigns_router)
    app.include_router(bulk_router)
    app.include_router(hierarchies_router)
    app.include_router(exports_router)
    app.include_router(subscriptions_router)
    app.include_router(orgs_router)
    app.include_router(audit_router)
    app.include_router(imports_router)
    app.include_router(cards_router)
    app.include_router(coupons_router)
    app.include_router(campaigns_router)
    app.include_router(loyalty_programs_router)
    app.include_router(loyalty_customer_router)
    app.include_router(loyalty_requests_router)
    app.include_router(transactions_router)
    app.include_router(legacy_router)
    app.include_router(health_router)
    # After the API's routes and error handlers: console pages answer every other path.
    web.mount(app, settings)
    # The legacy batch endpoint applies Idempotency-Key itself: its credentials are in its form.
    app.add_middleware(Idempotency, skip=("/api/batch", "/api/batch/"))
    # Added last, so it runs first: oversized bodies never reach the other layers.
    # An upload (or a legacy batch form) may be as large as an import file, plus room for
    # the form around it.
    upload_limit = settings.import_max_bytes + 1_048_576
    uploads = (
        ("/v2/imports", upload_limit),
        ("/api/batch", upload_limit),
        ("/imports/new", upload_limit),  # the console's Upload file
        (profile_care.PHOTO_UPLOADS, profile_care.PHOTO_BODY_LIMIT),  # the console's photo
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes, uploads=uploads)
    # The hottest reads (look-up, customer details, loyalty details) are answered in front
    # of the middleware stack, as the stack would answer them (``api.lean.LeanFront``).
    lean.serve_in_front(app)
    lean.limit_hot_reads(app, settings.sqlite_read_threads)
    return app


def serve_app() -> FastAPI:
    """The app of one ``patron serve`` process (a factory, so that each worker process
    builds its own from the environment), with the import worker when enabled."""
    settings = get_settings()
    _exit_with_supervisor()
    app = create_app(settings, run_imports=settings.import_worker)
    # Built now rather than by the first message (lifespan or request), so that what it
    # builds (the routes as included, the lean front) is frozen with the rest.
    app.middleware_stack = app.build_middleware_stack()
    settle_collector()
    return app


#: The cyclic garbage collector's thresholds in a server process (Python's are 700, 10, 10).
GC_THRESHOLDS = (20_000, 50, 100)


def settle_collector() -> None:
    """Keep the cyclic garbage collector off the request path once the app is built.

    Measured under 32 connections (``gc.callbacks``): a server process holds about 190,000
    tracked objects once patron is imported, and every full collection walked them all,
    120 ms of CPU during which no request moved (three in 10 s of reads by id: the tail of
    the answers' latency). Frozen (``gc.freeze``), they are never walked again; with the
    higher thresholds, the objects of the requests in flight are seldom promoted, and no
    full collection ran in the same 10 s. Nothing leaks: collections still run, after
    20,000 allocations instead of 700.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _exit_with_supervisor() -> None:
    """In a worker process of ``patron serve --workers N``: ask Linux for SIGTERM when the
    supervisor dies, however it dies. Without it, a SIGKILLed supervisor leaves its workers
    serving and running imports, unseen, until someone finds them."""
    supervisor = multiprocessing.parent_process()
    if supervisor is None or not sys.platform.startswith("linux"):
        return  # one process (no supervisor), or no prctl
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor.pid:
        os.kill(os.getpid(), signal.SIGTERM)  # it died before the request took effect


#: prctl(2): the signal this process gets when its parent dies.
PR_SET_PDEATHSIG = 1


@asynccontextmanager
async def _import_worker(app: FastAPI) -> AsyncIterator[None]:
    worker = Worker(app.state.engine)
    loyalty_jobs = LoyaltyWorker(app.state.engine)
    # Export files, the mail outbox and expired exports, beside the imports.
    background = BackgroundJobs(app.state.engine, getattr(app.state, "settings", None))
    worker.start()
    loyalty_jobs.start()
    background.start()
    try:
        yield
    finally:
        background.stop()
        loyalty_jobs.stop()
        worker.stop()
