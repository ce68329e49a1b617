"""``GET /health`` for load balancers: 200 while the database answers, 503 when it does not."""

from __future__ import annotations

from fastapi.testclient import TestClient

from patron import __version__
from patron.api.app import create_app
from patron.kit.db import create_engine


def test_health_answers_without_credentials(app_client: TestClient) -> None:
    response = app_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": __version__}
    assert response.headers["cache-control"] == "no-store"


def test_health_is_503_when_the_database_is_out_of_reach() -> None:
    # A PostgreSQL server that is not there: nothing listens on port 9. (SQLite is a file of
    # this process: patron creates its directory when it opens it.)
    engine = create_engine("postgresql+psycopg://patron:patron@127.0.0.1:9/none?connect_timeout=2")
    try:
        with TestClient(create_app(engine=engine)) as client:
            response = client.get("/health")
    finally:
        engine.dispose()
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "unreachable",
        "version": __version__,
    }
    assert response.headers["cache-control"] == "no-store"


def test_health_is_not_in_the_api_contract(app_client: TestClient) -> None:
    assert "/health" not in app_client.get("/openapi.json").json()["paths"]
