"""The console's upload preview: from posting a 50,000-row ``.xlsx`` to the check step
showing what the preview found, through real HTTP to ``patron serve``.

::

    .venv/bin/python bench/upload_bench.py --rows 50000 --backend sqlite

For each database a fresh store is made (migrated; an org with the stores ``mal`` and
``blr`` and an editor), ``patron serve`` is started on it (one process, its import
worker on), and a client signs in as a browser does. Timed, one after another as a
person clicks through: the upload (``POST /imports/new``, the workbook read and the
draft stored), the mapping step (``GET``, then ``POST`` of the suggested mapping),
the consent step (``POST``, which starts the check), then the check page polled
every 0.2 s until it shows the preview's counts. The figure is the sum of the
server's answers and of the wait for the preview; the person's own time between
steps is not in it. The workbook is a Loyalty Customers file of ``datagen.first_load``
(2% spoiled rows, 1% in-file duplicates), written once in ``--work-dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

import datagen
from import_bench import fresh_database, machine, prepare_store, server_version

TARGET_SECONDS = 3.0
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway user of a throwaway store
DEFAULT_POSTGRES = "postgresql+psycopg://patron:patron@localhost:5432/patron_bench_upload"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DRAFT = re.compile(r"/imports/new/([0-9]+)/mapping$")


def main() -> None:
    args = _arguments()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    workbook = work / f"upload-{args.rows}.xlsx"
    if not workbook.exists():
        people = datagen.population(args.rows)
        datagen.write_xlsx(datagen.first_load(people, args.rows), workbook)
    urls = {"sqlite": f"sqlite:///{work / 'upload_bench.db'}", "postgresql": args.postgres_url}
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: dict[str, Any] = {
        "rows": args.rows,
        "file_mb": round(workbook.stat().st_size / 2**20, 2),
        "machine": machine(),
        "load_before": os.getloadavg(),
    }
    for backend in backends:
        results[backend] = run(urls[backend], workbook, args.rows)
        results[backend]["server"] = server_version(urls[backend])
    results["load_after"] = os.getloadavg()
    print(json.dumps(results, indent=2))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--work-dir", default="var/bench")
    return parser.parse_args()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _editor(url: str) -> str:
    """A store with the org and an editor: the editor's user name."""
    from patron.auth import service as auth
    from patron.auth.actor import Actor, Role
    from patron.kit.db import create_engine, transaction

    org_id, _, _ = prepare_store(url)
    engine = create_engine(url)
    with transaction(engine) as conn:
        admin = Actor(org_id=org_id, role=Role.admin, name="bench", kind="cli")
        auth.create_user(conn, admin, "bench-editor", Role.editor, password=PASSWORD)
    engine.dispose()
    return "bench-editor"


def run(url: str, workbook: Path, rows: int) -> dict[str, Any]:
    fresh_database(url)
    username = _editor(url)
    port = _free_port()
    env = {**os.environ, "PATRON_DATABASE_URL": url}
    server = subprocess.Popen(  # noqa: S603 - our own command
        [Path(sys.executable).with_name("patron"), "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=120) as client:
            _wait_up(client)
            _sign_in(client, username)
            return _timed(client, workbook, rows)
    finally:
        server.terminate()
        server.wait(30)


def _wait_up(client: httpx.Client) -> None:
    for _ in range(300):
        try:
            if client.get("/signin").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("patron serve did not answer")


def _sign_in(client: httpx.Client, username: str) -> None:
    page = client.get("/signin")
    token = _csrf(page.text)
    answer = client.post(
        "/signin", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    if "patron_session" not in client.cookies:
        raise SystemExit(f"sign-in refused: {answer.status_code}")


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    if not found:
        raise SystemExit("no CSRF token on the page")
    return found.group(1)


def _timed(client: httpx.Client, workbook: Path, rows: int) -> dict[str, Any]:
    token = _csrf(client.get("/imports/new").text)
    content = workbook.read_bytes()
    steps: dict[str, float] = {}
    start = time.perf_counter()
    uploaded = client.post(
        "/imports/new",
        data={"profile": "loyalty-customers", "csrf_token": token},
        files={"files": (workbook.name, content, XLSX)},
    )
    steps["upload"] = time.perf_counter() - start
    draft = DRAFT.search(uploaded.headers.get("location", ""))
    if uploaded.status_code != 303 or not draft:
        raise SystemExit(f"upload refused: {uploaded.status_code} {uploaded.text[-500:]}")
    import_id = draft.group(1)
    mark = time.perf_counter()
    mapping = client.get(f"/imports/new/{import_id}/mapping").text
    form = {"csrf_token": token, **_suggested(mapping), "opt-unique_identifier": "mobile"}
    saved = client.post(f"/imports/new/{import_id}/mapping", data=form)
    if saved.status_code != 303:
        raise SystemExit(f"mapping refused: {saved.status_code} {saved.text[-500:]}")
    steps["mapping"] = time.perf_counter() - mark
    check_url = saved.headers["location"]
    if "/consent" in check_url:
        mark = time.perf_counter()
        consent = client.post(check_url, data={"csrf_token": token, "step": "check"})
        check_url = consent.headers.get("location", "")
        if consent.status_code != 303 or "check" not in check_url:
            raise SystemExit(f"consent refused: {consent.status_code} {consent.text[-500:]}")
        steps["consent"] = time.perf_counter() - mark
    mark = time.perf_counter()
    polls = 0
    while True:
        check = client.get(check_url).text
        polls += 1
        if "<dt>Inserted</dt>" in check or 'class="error"' in check:
            break
        if time.perf_counter() - mark > 300:
            raise SystemExit("the preview did not end within 5 minutes")
        time.sleep(0.2)
    steps["preview shown"] = time.perf_counter() - mark
    total = sum(steps.values())
    counts = dict(re.findall(r"<dt>([A-Za-z-]+)</dt><dd>([0-9,]+)</dd>", check))
    return {
        "import_id": int(import_id),
        "steps": {name: round(value, 3) for name, value in steps.items()},
        "total_seconds": round(total, 3),
        "met": total <= TARGET_SECONDS,
        "polls": polls,
        "counts": counts,
        "rows": rows,
    }


def _suggested(html: str) -> dict[str, str]:
    """The mapping form as the page suggests it (every column's selected field)."""
    form = {}
    for position, select in enumerate(
        re.findall(r'<select id="m-col-\d+".*?</select>', html, re.S)
    ):
        chosen = re.search(r'<option value="([^"]*)" selected>', select)
        if chosen and chosen.group(1):
            form[f"map-{position}"] = chosen.group(1)
    return form


if __name__ == "__main__":
    main()
