"""A real PostgreSQL server for the tests and benchmarks: a throwaway cluster in a temporary
folder, on 127.0.0.1 and a free port, made by initdb and started by `pg_ctl -w` (which returns
once the server accepts connections). Run as the postgres user when this process is root, as
initdb refuses root. Password authentication over TCP, so a wrong password is really refused.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER = "reporter"
PASSWORD = "pg-test-secret"  # a test cluster's own password, never a real one


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


@dataclass
class Cluster:
    folder: Path
    port: int
    bin: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres", autocommit: bool = True):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, dbname=database, user=USER,
                               password=PASSWORD, autocommit=autocommit)

    def create_database(self, name: str) -> str:
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate",
                      "-w", "stop"], check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Cluster:
    """A new cluster, running; stop() it to remove it."""
    bin_dir = binaries()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL's initdb and pg_ctl are not installed")
    folder = Path(tempfile.mkdtemp(prefix="reporter-pg-"))
    os.chmod(folder, 0o755)
    password_file = folder / "password"
    password_file.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        shutil.chown(password_file, "postgres", "postgres")
    _as_postgres([str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", USER,
                  f"--pwfile={password_file}", "--auth-host=scram-sha-256", "--auth-local=trust",
                  "-E", "UTF8", "--no-sync"])
    port = _free_port()
    _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "log"), "-w",
                  "-t", "120", "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off -c synchronous_commit=off -c full_page_writes=off", "start"])
    return Cluster(folder, port, bin_dir)


def _as_postgres(command: list[str], check: bool = True) -> None:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
