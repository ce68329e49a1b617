"""Console sessions and sign-in throttling, on both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.api.app import create_app
from patron.auth import service as auth
from patron.auth.actor import Actor, Role
from patron.kit.clock import utcnow
from patron.kit.db import create_engine, transaction
from patron.settings import Settings
from patron.web import sessions, throttle
from patron.web.sessions import SessionEnded, SessionExpired
from patron.web.tables import web_sessions
from tests.web.conftest import ConsoleUser, csrf_of, make_user, sign_in

IDLE = timedelta(minutes=30)
LIMITS = throttle.Limits(per_user=3, per_address=5, window=timedelta(minutes=15))


def _client(engine: Engine, **settings: object) -> TestClient:
    # A client address of its own, so no other test's failures count against it.
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    values: dict[str, object] = {"import_worker": False} | settings
    app = create_app(Settings(**values), engine=engine)  # type: ignore[arg-type]
    return TestClient(app, client=(address, 50000))


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with _client(engine) as client:
        yield client


@pytest.fixture
def admin(engine: Engine) -> ConsoleUser:
    return make_user(engine, Role.admin)


def _post_signin(client: TestClient, username: str, password: str) -> Any:
    token = csrf_of(client.get("/signin").text)
    return client.post(
        "/signin",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def test_sign_in_sets_a_session_cookie_scripts_cannot_read(
    client: TestClient, admin: ConsoleUser, engine: Engine
) -> None:
    response = _post_signin(client, admin.username, admin.password)
    assert response.status_code == 303
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("patron_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    token = cookie.split(";")[0].split("=", 1)[1]
    with transaction(engine, write=False) as conn:
        digests = set(conn.execute(sa.select(web_sessions.c.token_digest)).scalars())
    # Only the digest is stored: the database alone cannot sign anyone in.
    assert sessions.token_digest(token) in digests
    assert token not in digests
    assert client.get("/account").status_code == 200


def test_the_cookies_are_secure_on_https(engine: Engine, admin: ConsoleUser) -> None:
    client = _client(engine)
    client.base_url = client.base_url.copy_with(scheme="https")
    with client:
        response = _post_signin(client, admin.username, admin.password)
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("patron_session="))
    assert "Secure" in session_cookie


def test_the_cookies_are_secure_on_plain_http_when_the_setting_says_so(engine: Engine) -> None:
    """Behind a proxy that ends TLS, the app sees HTTP; the setting marks cookies anyway."""
    with _client(engine, session_cookie_secure=True) as client:
        response = client.get("/signin")
    assert "Secure" in response.headers["set-cookie"]


def test_sign_out_makes_the_cookie_worthless(client: TestClient, admin: ConsoleUser) -> None:
    token = sign_in(client, admin)
    old_cookie = client.cookies.get("patron_session")
    response = client.post("/signout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?signed_out=1"
    client.cookies.set("patron_session", old_cookie or "")
    again = client.get("/account", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/signin")


def test_a_session_ends_after_the_idle_timeout_and_activity_keeps_it(
    engine: Engine, admin: ConsoleUser
) -> None:
    start = utcnow()
    actor = auth_actor(engine, admin)
    with transaction(engine) as conn:
        token = sessions.start(conn, actor, now=start, idle=IDLE)
    # Used 20 minutes later: still open, and the use is recorded.
    later = start + timedelta(minutes=20)
    with transaction(engine) as conn:
        session = sessions.resolve(conn, token, now=later, idle=IDLE)
        assert sessions.needs_touch(session, now=later, idle=IDLE)
        sessions.touch(conn, session, now=later)
    # 40 minutes after sign-in but 20 after the last use: still open.
    with transaction(engine, write=False) as conn:
        assert sessions.resolve(conn, token, now=later + timedelta(minutes=20), idle=IDLE)
    with pytest.raises(SessionExpired) as ended, transaction(engine, write=False) as conn:
        sessions.resolve(conn, token, now=later + IDLE + timedelta(seconds=1), idle=IDLE)
    assert "30 minutes without activity" in ended.value.message


def test_a_deactivated_user_is_signed_out_and_a_role_change_applies_at_once(
    client: TestClient, engine: Engine, admin: ConsoleUser
) -> None:
    editor = make_user(engine, Role.editor, org=admin.org)
    sign_in(client, editor)
    assert client.get("/users").status_code == 403
    with transaction(engine) as conn:
        auth.change_user(conn, admin.org.admin, editor.username, role=Role.admin)
    assert client.get("/users").status_code == 200
    with transaction(engine) as conn:
        auth.change_user(conn, admin.org.admin, editor.username, active=False)
    response = client.get("/users", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin")


def auth_actor(engine: Engine, user: ConsoleUser) -> Actor:
    with transaction(engine, write=False) as conn:
        return auth.authenticate_password(conn, user.username, user.password)


# --- throttling -------------------------------------------------------------------


def _address() -> str:
    return f"192.0.2.{uuid.uuid4().hex[:6]}"


def test_a_user_name_is_refused_after_its_failures_known_or_not(
    engine: Engine, admin: ConsoleUser
) -> None:
    now = utcnow()
    for name in (admin.username, f"nobody-{uuid.uuid4().hex[:8]}"):
        with transaction(engine) as conn:
            for _ in range(LIMITS.per_user):
                throttle.check(conn, LIMITS, name, _address(), now)
                throttle.record_failure(conn, LIMITS, name, _address(), now)
        # From any address, and in any letter case: the name has used up its failures.
        with pytest.raises(throttle.TooManyFailures) as refused, transaction(engine) as conn:
            throttle.check(conn, LIMITS, name.upper(), _address(), now + timedelta(minutes=1))
        assert refused.value.message == "Too many failed sign-ins; try again in 14 minutes."
        # Once the failures leave the window, the name may try again.
        with transaction(engine) as conn:
            throttle.check(conn, LIMITS, name, _address(), now + LIMITS.window)


def test_an_address_is_refused_after_its_failures_whatever_the_names(engine: Engine) -> None:
    now, address = utcnow(), _address()
    with transaction(engine) as conn:
        for n in range(LIMITS.per_address):
            throttle.record_failure(conn, LIMITS, f"guess-{n}-{uuid.uuid4().hex}", address, now)
    refused = pytest.raises(throttle.TooManyFailures, match="try again in 15 minutes")
    with refused, transaction(engine) as conn:
        throttle.check(conn, LIMITS, "someone-new", address, now)
    with transaction(engine) as conn:
        throttle.check(conn, LIMITS, "someone-new", _address(), now)


def test_a_successful_sign_in_forgets_the_names_failures(
    client: TestClient, admin: ConsoleUser
) -> None:
    for _ in range(4):  # the default allows 5
        assert _post_signin(client, admin.username, "wrong").status_code == 401
    assert _post_signin(client, admin.username, admin.password).status_code == 303
    client.cookies.clear()
    for _ in range(4):
        assert _post_signin(client, admin.username, "wrong").status_code == 401


def test_throttling_is_shared_by_every_server_process(engine: Engine, admin: ConsoleUser) -> None:
    """Two apps with their own engines (as two processes) count the same failures."""
    other_engine = create_engine(engine.url.render_as_string(hide_password=False))
    try:
        first = _client(engine, signin_max_failures=2)
        second = TestClient(
            create_app(Settings(signin_max_failures=2, import_worker=False), engine=other_engine)
        )
        with first, second:
            assert _post_signin(first, admin.username, "wrong").status_code == 401
            assert _post_signin(second, admin.username, "wrong").status_code == 401
            refused = _post_signin(first, admin.username, admin.password)
            assert refused.status_code == 429
            assert "Too many failed sign-ins; try again in 15 minutes." in refused.text
    finally:
        other_engine.dispose()


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(
    client: TestClient, admin: ConsoleUser, engine: Engine
) -> None:
    deactivated = make_user(engine, Role.viewer, org=admin.org)
    with transaction(engine) as conn:
        auth.change_user(conn, admin.org.admin, deactivated.username, active=False)
    answers = [
        _post_signin(client, name, password)
        for name, password in (
            (admin.username, "wrong password"),
            (f"nobody-{uuid.uuid4().hex[:8]}", "wrong password"),
            (deactivated.username, deactivated.password),
        )
    ]
    assert {a.status_code for a in answers} == {401}
    for answer in answers:
        assert "Wrong user name or password." in answer.text


# --- CSRF -------------------------------------------------------------------------


def test_a_change_without_the_sessions_token_is_refused(
    client: TestClient, admin: ConsoleUser, engine: Engine
) -> None:
    token = sign_in(client, admin)
    name = f"forged-{uuid.uuid4().hex[:8]}"
    for extra in ({}, {"csrf_token": "not-the-token"}):
        response = client.post("/users/add", data={"username": name, "role": "admin", **extra})
        assert response.status_code == 403
        assert "security token" in response.text
        assert response.headers["content-type"].startswith("text/html")
    with transaction(engine, write=False) as conn:
        assert name not in {u["username"] for u in auth.list_users(conn, admin.org.id)}
    # The same request with the token, in the form or in htmx's header, is carried out.
    ok = client.post("/users/add", data={"username": name, "role": "viewer", "csrf_token": token})
    assert ok.status_code == 200
    second = f"{name}-2"
    ok = client.post(
        "/users/add",
        data={"username": second, "role": "viewer"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert ok.status_code == 200
    assert ok.text.lstrip().startswith('<div id="users-panel">')  # the fragment, not the page
    with transaction(engine, write=False) as conn:
        names = {u["username"] for u in auth.list_users(conn, admin.org.id)}
    assert {name, second} <= names


def test_the_sign_in_form_needs_its_own_token(client: TestClient, admin: ConsoleUser) -> None:
    response = client.post(
        "/signin",
        data={"username": admin.username, "password": admin.password, "csrf_token": "x"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "patron_session" not in client.cookies


# --- the signed-in user's password --------------------------------------------------


def test_changing_ones_password_ends_the_other_sessions(engine: Engine, admin: ConsoleUser) -> None:
    with _client(engine) as here, _client(engine) as elsewhere:
        token = sign_in(here, admin)
        sign_in(elsewhere, admin)
        wrong = here.post(
            "/account/password",
            data={
                "csrf_token": token,
                "current_password": "not it",
                "new_password": "a new password",
                "repeat_password": "a new password",
            },
        )
        assert wrong.status_code == 400
        assert "The current password is wrong." in wrong.text
        changed = here.post(
            "/account/password",
            data={
                "csrf_token": token,
                "current_password": admin.password,
                "new_password": "a new password",
                "repeat_password": "a new password",
            },
        )
        assert changed.status_code == 200
        assert "Your password was changed" in changed.text
        assert here.get("/account").status_code == 200
        assert elsewhere.get("/account", follow_redirects=False).status_code == 303
    with transaction(engine, write=False) as conn:
        assert auth.authenticate_password(conn, admin.username, "a new password")


def test_an_ended_session_is_refused(engine: Engine) -> None:
    with pytest.raises(SessionEnded), transaction(engine, write=False) as conn:
        sessions.resolve(conn, "no-such-token", now=utcnow(), idle=IDLE)
