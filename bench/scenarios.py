"""What one benchmark child process runs: a real import, a bare load, ``to_sql`` or the xlsx read.

Each runs in a fresh process so its peak resident memory (``ru_maxrss``, which
counts what polars and the drivers allocate outside Python) belongs to it alone.
Every function answers a JSON-able dict of timings in seconds.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from pathlib import Path
from typing import Any

import polars as pl

import bare
import datagen


def allow_files_of(rows: int) -> None:
    """Raise the import limits (1,000,000 rows and 100 MB a file by default) to files of
    ``rows`` rows (at most 400 bytes a row), before the settings are first read; children
    started afterwards inherit them."""
    os.environ["PATRON_IMPORT_MAX_ROWS"] = str(max(rows, 1_000_000))
    os.environ["PATRON_IMPORT_MAX_BYTES"] = str(max(rows * 400, 100 * 2**20))


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the child described by ``spec`` and add its peak memory."""
    kind = spec["kind"]
    if kind == "pipeline":
        report = Path(spec["report"]) if spec.get("report") else None
        path = Path(spec["file"])
        if spec.get("stored_only"):
            result = stored_only(spec["url"], spec["org_id"], path)
        else:
            result = pipeline(spec["url"], spec["org_id"], path, spec["preview"], report)
    elif kind == "bare":
        result = bare_load(spec)
    elif kind == "to_sql":
        result = to_sql(spec["url"], Path(spec["file"]))
    elif kind == "xlsx":
        result = xlsx(spec["url"], spec["org_id"], Path(spec["file"]))
    else:
        raise ValueError(f"unknown child kind {kind!r}")
    # A pipeline resets the peak at each stage (its stage_peak_mb): the highest of them;
    # another child's peak is its VmHWM. Not ru_maxrss: Linux carries the parent's peak
    # over the exec into the child (a parent that had generated a 4M-row file in memory
    # gave its child 2,970 MB there, its stages at most 742 MB).
    peaks = [*result.get("stage_peak_mb", {}).values()] or [_stage_peak()]
    result["max_rss_mb"] = max(peaks)
    return result


def pipeline(
    url: str, org_id: int, path: Path, preview: bool, report: Path | None = None
) -> dict[str, Any]:
    """An import as ``patron import FILE --yes`` runs it (read, create confirmed up front,
    commit), or with ``preview`` as a reviewed one (read, create, preview, confirm, commit);
    with ``report``, its CSV report is written there last (timed apart from ``total``)."""
    from patron.auth.actor import Actor, Role
    from patron.imports import jobs, service
    from patron.imports.read import read_path
    from patron.kit.db import create_engine, transaction
    from patron.settings import get_settings

    engine = create_engine(url)
    actor = Actor(org_id=org_id, role=Role.editor, name="bench", kind="cli")
    request = service.ImportRequest(
        profile="loyalty-customers",
        file_name=path.name,
        mapping=datagen.MAPPING,
        confirmed=not preview,
    )
    settings = get_settings()
    peaks: dict[str, float] = {}
    cpu: dict[str, float] = {}  # this process's CPU seconds, its polars threads included
    clock = [time.process_time()]

    def mark(stage: str) -> None:
        peaks[stage] = _stage_peak()
        now = time.process_time()
        cpu[stage], clock[0] = now - clock[0], now

    _reset_peak()
    started = time.perf_counter()
    # As `patron import FILE` reads it: a file of more than a chunk a block of lines at a time.
    table = read_path(path, settings.read_limits(), chunk_rows=settings.import_chunk_rows)
    read = time.perf_counter()
    mark("read")
    with transaction(engine) as conn:
        import_id = service.create_import(conn, actor, request, table).import_id
    del table  # as the CLI does: the steps read the stored rows back
    created = time.perf_counter()
    mark("create")
    if preview:
        state = jobs.run_import(engine, org_id, import_id)
        if state != "previewed":
            raise RuntimeError(f"the preview ended {state}: {_message(engine, actor, import_id)}")
        with transaction(engine) as conn:
            service.confirm(conn, actor, import_id)
    previewed = time.perf_counter()
    state = jobs.run_import(engine, org_id, import_id)
    committed = time.perf_counter()
    mark("commit")
    if state != "committed":
        raise RuntimeError(f"the commit ended {state}: {_message(engine, actor, import_id)}")
    with transaction(engine, write=False) as conn:
        counts = dict(service.get_import(conn, actor, import_id)["counts"])
    reported = None
    if report is not None:  # as `patron import FILE --yes --report FILE.csv` writes it
        with transaction(engine, write=False) as conn, report.open("wb") as out:
            service.write_report(conn, actor, import_id, "csv", out)
        reported = time.perf_counter() - committed
        mark("report")
    engine.dispose()
    return {
        "import_id": import_id,
        "read": read - started,
        "create": created - read,
        "preview": previewed - created if preview else None,
        "commit": committed - previewed,
        "total": committed - started,
        "report": reported,
        "counts": counts,
        "stage_peak_mb": peaks,
        "cpu": cpu,
    }


def stored_only(url: str, org_id: int, path: Path) -> dict[str, Any]:
    """The read and ``create_import`` of :func:`pipeline` alone (the file read and stored in
    parts, nothing committed): their peaks at a size whose commit takes too long to wait for."""
    from patron.auth.actor import Actor, Role
    from patron.imports import service
    from patron.imports.read import read_path
    from patron.kit.db import create_engine, transaction
    from patron.settings import get_settings

    settings = get_settings()
    engine = create_engine(url)
    actor = Actor(org_id=org_id, role=Role.editor, name="bench", kind="cli")
    request = service.ImportRequest(
        profile="loyalty-customers", file_name=path.name, mapping=datagen.MAPPING, confirmed=False
    )
    _reset_peak()
    started, cpu = time.perf_counter(), time.process_time()
    table = read_path(path, settings.read_limits(), chunk_rows=settings.import_chunk_rows)
    read, read_cpu, read_peak = time.perf_counter(), time.process_time(), _stage_peak()
    with transaction(engine) as conn:
        service.create_import(conn, actor, request, table)
    created, create_cpu, create_peak = time.perf_counter(), time.process_time(), _stage_peak()
    engine.dispose()
    return {
        "read": read - started,
        "create": created - read,
        "commit": None,
        "total": created - started,
        "counts": {"total": table.height},
        "stage_peak_mb": {"read": read_peak, "create": create_peak},
        "cpu": {"read": read_cpu - cpu, "create": create_cpu - read_cpu},
    }


def _reset_peak() -> None:
    """Start a new peak of resident memory (Linux: VmHWM back to the current VmRSS)."""
    # Not Linux: each stage's figure is then the peak so far.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _stage_peak() -> float:
    """The peak resident memory (MB) since the last :func:`_reset_peak`, which it calls again:
    which stage holds the most, beside the process's peak (``max_rss_mb``)."""
    peak = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _reset_peak()
    return peak


def _message(engine: Any, actor: Any, import_id: int) -> str:
    from patron.imports import service
    from patron.kit.db import transaction

    with transaction(engine, write=False) as conn:
        return str(service.get_import(conn, actor, import_id)["message"])


def bare_load(spec: dict[str, Any]) -> dict[str, Any]:
    """The bare load of prepared rows: one transaction, timed from BEGIN to COMMIT, on a
    connection set up as an import step's is (on SQLite its larger page cache)."""
    from patron.kit.db import create_engine, sqlite_page_cache, transaction
    from patron.settings import get_settings

    new = pl.read_parquet(spec["new"])
    matched = pl.read_parquet(spec["matched"])
    engine = create_engine(spec["url"])
    cache = get_settings().sqlite_import_cache_mb
    started = time.perf_counter()
    with transaction(engine) as conn, sqlite_page_cache(conn, cache):
        bare.load(
            conn, spec["org_id"], spec["label_id"], new, matched, checked=spec.get("checked", True)
        )
    total = time.perf_counter() - started
    engine.dispose()
    return {"total": total, "inserted": new.height, "updated": matched.height}


def to_sql(url: str, path: Path) -> dict[str, Any]:
    """``pandas.read_csv`` of the file and ``DataFrame.to_sql`` into a new table, defaults."""
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    started = time.perf_counter()
    frame = pd.read_csv(path)
    read = time.perf_counter()
    frame.to_sql("bench_to_sql", engine, index=False, if_exists="replace")
    written = time.perf_counter()
    engine.dispose()
    return {"read": read - started, "write": written - read, "total": written - started}


def xlsx(url: str, org_id: int, path: Path) -> dict[str, Any]:
    """Read an uploaded .xlsx and validate its rows (stages 1 and 3; no database work)."""
    from patron.imports.context import load_context
    from patron.imports.profiles.loyalty_customers import SPEC, validate
    from patron.imports.read import read_upload
    from patron.kit.db import create_engine, transaction
    from patron.settings import get_settings

    engine = create_engine(url)
    with transaction(engine, write=False) as conn:
        ctx = load_context(
            conn,
            org_id=org_id,
            import_id=0,
            actor_name="bench",
            options=SPEC.parse_options({}),
            date_format=None,
            columns={field: column for column, field in datagen.MAPPING.items()},
            first_row_number=2,
            max_field_length=get_settings().max_field_length,
        )
    engine.dispose()
    data = path.read_bytes()
    started = time.perf_counter()
    table = read_upload(data, path.name, get_settings().read_limits())
    read = time.perf_counter()
    mapped = table.frame.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
        *[pl.col(column).alias(field) for column, field in datagen.MAPPING.items()],
    )
    rows = validate.validate(mapped, ctx)
    validated = time.perf_counter()
    rejected = rows.filter(pl.col("error_codes").list.len() > 0).height
    return {
        "rows": table.frame.height,
        "rejected": rejected,
        "read": read - started,
        "validate": validated - read,
        "total": validated - started,
    }
