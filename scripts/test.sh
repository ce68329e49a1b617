#!/usr/bin/env bash
# Run every check: ruff, mypy and the test suite on SQLite and PostgreSQL.
#
#   scripts/test.sh [pytest arguments]
#
# PostgreSQL: PATRON_TEST_POSTGRES_URL names a server to use (its database is
# dropped and re-created). Without it this script starts one: the Debian cluster
# when run as root, otherwise a private cluster under var/pgtest on port 54329.
# PATRON_TEST_BACKENDS=sqlite skips PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
PRIVATE_PORT=54329
PRIVATE_DIR=$PWD/var/pgtest

say() { printf '%s\n' "$*" >&2; }

install() {
    if [ ! -x .venv/bin/python ]; then
        "$PYTHON" -m venv .venv
    fi
    # Reinstall only when pyproject.toml changed since the last install.
    local stamp=.venv/.patron-dev-installed
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
        touch "$stamp"
    fi
}

wants_postgres() {
    [ -z "${PATRON_TEST_POSTGRES_URL:-}" ] && [ "${PATRON_TEST_BACKENDS:-sqlite,postgresql}" != sqlite ]
}

newest_postgres_bin() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$bin" ]; then
        echo "$bin"
    elif command -v pg_ctl >/dev/null; then
        dirname "$(command -v pg_ctl)"
    else
        say "PostgreSQL is not installed: install it (Debian: apt-get install postgresql)," \
            "set PATRON_TEST_POSTGRES_URL, or run with PATRON_TEST_BACKENDS=sqlite."
        exit 3
    fi
}

wait_ready() {  # host port
    local _
    for _ in $(seq 1 60); do
        if pg_isready -q -h "$1" -p "$2"; then return 0; fi
        sleep 0.5
    done
    say "PostgreSQL on $1:$2 did not become ready"
    exit 3
}

debian_cluster() {
    local version port
    if ! ls -d /etc/postgresql/*/main >/dev/null 2>&1; then
        version=$(basename "$(dirname "$(newest_postgres_bin)")")
        pg_createcluster "$version" main >/dev/null
    fi
    version=$(basename "$(dirname "$(ls -d /etc/postgresql/*/main | sort -V | tail -n 1)")")
    pg_ctlcluster "$version" main start >/dev/null 2>&1 || true  # fails when already running
    port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { print $3 }')
    wait_ready localhost "$port"
    # Run from / so psql need not read this directory as the postgres user.
    if ! (cd / && runuser -u postgres -- psql -p "$port" -tAc \
            "SELECT 1 FROM pg_roles WHERE rolname = 'patron'") | grep -q 1; then
        (cd / && runuser -u postgres -- psql -p "$port" -q -c \
            "CREATE ROLE patron LOGIN SUPERUSER PASSWORD 'patron'")
    fi
    export PATRON_TEST_POSTGRES_URL="postgresql+psycopg://patron:patron@localhost:$port/patron_test"
}

PRIVATE_BIN=
PRIVATE_DATA=$PRIVATE_DIR/data
stop_private_cluster() {
    # Started for this run, so stopped after it.
    if [ -n "$PRIVATE_BIN" ]; then
        "$PRIVATE_BIN/pg_ctl" -D "$PRIVATE_DATA" -m fast stop >/dev/null || true
    fi
}
trap stop_private_cluster EXIT

private_cluster() {
    local bin sockets=$PRIVATE_DIR
    bin=$(newest_postgres_bin)
    # A Unix socket path must stay under about 100 bytes.
    if [ ${#sockets} -gt 80 ]; then sockets=$(mktemp -d); fi
    if [ ! -f "$PRIVATE_DATA/PG_VERSION" ]; then
        mkdir -p "$PRIVATE_DIR"
        local password_file=$PRIVATE_DIR/password
        echo patron >"$password_file"
        "$bin/initdb" -D "$PRIVATE_DATA" -U patron --pwfile="$password_file" \
            --auth-local=trust --auth-host=scram-sha-256 >"$PRIVATE_DIR/initdb.log"
        rm -f "$password_file"
    fi
    if ! "$bin/pg_ctl" -D "$PRIVATE_DATA" status >/dev/null 2>&1; then
        "$bin/pg_ctl" -D "$PRIVATE_DATA" -l "$PRIVATE_DIR/postgres.log" -w \
            -o "-p $PRIVATE_PORT -c listen_addresses=localhost -k $sockets" start >/dev/null
        PRIVATE_BIN=$bin
    fi
    export PATH="$bin:$PATH"
    wait_ready localhost "$PRIVATE_PORT"
    export PATRON_TEST_POSTGRES_URL="postgresql+psycopg://patron:patron@localhost:$PRIVATE_PORT/patron_test"
}

install
if wants_postgres; then
    # initdb refuses to run as root; root uses (and if need be creates) the Debian cluster.
    if [ "$(id -u)" = 0 ]; then
        debian_cluster
    else
        private_cluster
    fi
fi

status=0
.venv/bin/ruff check src tests || status=1
.venv/bin/ruff format --check src tests || status=1
.venv/bin/mypy || status=1
.venv/bin/pytest "$@" || status=1
if [ "$status" != 0 ]; then say "some checks failed"; fi
exit "$status"
