"""A throwaway PostgreSQL server for the tests: `initdb` and `pg_ctl` in a temporary folder, listening on a
free loopback port (its unix socket in that folder too), stopped and deleted at the end. Each test gets a
schema of its own. PostgreSQL refuses to run as root, so under root the server runs as the `postgres`
user that Debian's package creates. Also usable by hand: `python tests/postgres.py` prints a URL.
"""
from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

SUPERUSER = "fercore"  # the cluster's superuser, whoever runs it; trust authentication on loopback only
RUN_AS_ROOT = "postgres"
# Throwaway data: durability off makes each test's CREATE DATABASE and writes fast.
SETTINGS = {"listen_addresses": "127.0.0.1", "fsync": "off", "synchronous_commit": "off",
            "full_page_writes": "off", "max_connections": "200"}


class PostgresMissing(Exception):
    pass


def bin_dir() -> Path:
    """Where initdb and pg_ctl are: on PATH, else Debian's /usr/lib/postgresql/VERSION/bin (newest)."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if debian:
        return Path(debian[-1]).parent
    raise PostgresMissing("no PostgreSQL server binaries (initdb, pg_ctl); apt-get install postgresql")


def _run_as() -> str | None:
    """The user the server runs as: ourselves, or `postgres` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(RUN_AS_ROOT)
    except KeyError:
        raise PostgresMissing(f"running as root and there is no {RUN_AS_ROOT!r} user to run PostgreSQL as") from None
    return RUN_AS_ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A running server. Each test gets a schema of its own in one database, named in its URL's search_path:
    a schema is made in milliseconds, a database in half a second."""

    DATABASE = "fercore_tests"

    def __init__(self, port: int, folder: Path, pg_ctl):
        self.port, self._folder, self._pg_ctl = port, folder, pg_ctl
        self._names = itertools.count()
        with self._admin("postgres") as conn:
            conn.execute(f"CREATE DATABASE {self.DATABASE}")

    def stop(self) -> None:
        """Shut the server down as an administrator's restart does: every client's connection drops."""
        self._pg_ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        """Start it again, on the same port."""
        self._pg_ctl("-w", "-t", "60", "-o", _options(self._folder, self.port), "start")

    def url(self, database: str = DATABASE, schema: str | None = None) -> str:
        url = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"
        return url + f"?options=-csearch_path%3D{schema}" if schema else url

    def _admin(self, database: str = DATABASE):
        import psycopg

        return psycopg.connect(self.url(database), autocommit=True)

    def new_schema(self) -> str:
        """A fresh, empty schema; returns the URL that works in it."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        with self._admin() as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return self.url(schema=name)

    def drop_schema(self, url: str) -> None:
        with self._admin() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {url.rsplit('%3D', 1)[1]} CASCADE")


@contextmanager
def server():
    """A running server; yields a Server. Raises PostgresMissing when it can't be had here."""
    binaries, user = bin_dir(), _run_as()
    folder = Path(tempfile.mkdtemp(prefix="fercore-pg-"))
    try:
        if user:
            shutil.chown(folder, user, user)

        def run(*command):
            as_user = {"user": user, "group": user, "extra_groups": []} if user else {}
            done = subprocess.run([str(binaries / command[0]), *command[1:]], cwd=folder, capture_output=True,
                                  text=True, **as_user)
            if done.returncode:
                raise RuntimeError(f"{command[0]} failed: {done.stderr or done.stdout}")

        def pg_ctl(*arguments):
            run("pg_ctl", "-D", str(folder / "data"), "-l", str(folder / "server.log"), *arguments)

        run("initdb", "-D", str(folder / "data"), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        port = _start(pg_ctl, folder)
        try:
            yield Server(port, folder, pg_ctl)
        finally:
            pg_ctl("-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _options(folder: Path, port: int) -> str:
    return " ".join(f"-c {key}={value}" for key, value in {**SETTINGS, "port": port,
                                                           "unix_socket_directories": folder}.items())


def _start(pg_ctl, folder: Path, tries: int = 3) -> int:
    """Start on a free port; another program may take the port between the check and the start: try again."""
    for attempt in range(tries):
        port = _free_port()
        try:
            pg_ctl("-w", "-t", "60", "-o", _options(folder, port), "start")
            return port
        except RuntimeError:
            if attempt == tries - 1:
                raise RuntimeError("PostgreSQL did not start:\n" + (folder / "server.log").read_text()) from None


if __name__ == "__main__":
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with server() as running:
        print(running.new_schema(), flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
