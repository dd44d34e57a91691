"""Rate limits under gunicorn with several workers: shared through the real Redis at 127.0.0.1:6379
(PORTAL_RATELIMIT_STORAGE), counted in each worker's memory when the configured Redis does not
answer, and a warning at start when gunicorn runs several workers on memory://.

Which worker answers is decided, not guessed: every other worker is stopped (SIGSTOP) while the
requests are sent, so only one process can accept them; all are continued (SIGCONT) afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis
from gunicorn.app.wsgiapp import WSGIApplication

from portal import create_app
from portal.extensions import db
from portal.config import ratelimit_storage_options
from portal.ratelimits import gunicorn_workers, masked

from .test_production import _free_port, serve

REDIS = "redis://127.0.0.1:6379/0"
PER_WORKER = "rate limits are counted per worker"
NO_ANSWER = "does not answer"


@pytest.fixture(scope="module")
def instance(tmp_path_factory) -> Path:
    """One instance folder whose SQLite database has every table, served by each gunicorn here."""
    path = tmp_path_factory.mktemp("limits") / "instance"
    app = create_app({"INSTANCE_PATH": str(path)})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return path


def _env(instance: Path, **settings: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "SECRET_KEY", "GUNICORN_CMD_ARGS", "WEB_CONCURRENCY")
           and not k.startswith("PORTAL_")}
    env.update({"PORTAL_INSTANCE_PATH": str(instance), "LANG": "C.UTF-8"}, **settings)
    return env


class Server:
    def __init__(self, base: str, port: int, log: Path):
        self.base, self.port, self.log = base, port, log

    def get(self, path: str, token: str | None = None) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            with urllib.request.urlopen(urllib.request.Request(self.base + path, headers=headers),
                                        timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def workers(self, count: int) -> list[int]:
        """The pids of gunicorn's workers (children of its master, this test's child)."""
        deadline = time.monotonic() + 30
        while True:
            parents = {}
            for entry in filter(str.isdigit, os.listdir("/proc")):
                with contextlib.suppress(OSError):
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                    parents[int(entry)] = (int(stat.rpartition(")")[2].split()[1]), cmdline)
            master = [pid for pid, (ppid, cmdline) in parents.items()
                      if ppid == os.getpid() and f"127.0.0.1:{self.port}".encode() in cmdline]
            workers = [pid for pid, (ppid, _) in parents.items() if master and ppid == master[0]]
            if len(workers) == count:
                return sorted(workers)
            assert time.monotonic() < deadline, f"expected {count} workers, found {workers}"
            time.sleep(0.1)

    @contextlib.contextmanager
    def only(self, worker: int, workers: list[int]):
        """Only ``worker`` can answer: the others are stopped meanwhile."""
        others = [pid for pid in workers if pid != worker]
        try:
            for pid in others:
                os.kill(pid, signal.SIGSTOP)
                while Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "T":
                    time.sleep(0.01)
            yield
        finally:
            for pid in others:
                os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def gunicorn(instance: Path, tmp_path: Path, workers: int, **settings: str):
    """The documented `gunicorn --workers N 'portal:create_app()'`, its log (workers' output
    included) in a file."""
    port, log = _free_port(), tmp_path / f"gunicorn-{uuid.uuid4().hex[:8]}.log"
    env = _env(instance, GUNICORN_CMD_ARGS=f"--capture-output --error-logfile {log}", **settings)
    try:
        with serve(env, port, workers) as base:
            yield Server(base, port, log)
    except pytest.fail.Exception as failed:  # its output is in the log, not on stderr
        pytest.fail(f"{failed}\n{log.read_text() if log.exists() else ''}")


def _spend_the_limits(server: Server) -> None:
    """20 bad API tokens and 20 certificate lookups from this address: each limit's last."""
    assert [server.get("/api/v1/me", token=f"pt_guess{n}")[0] for n in range(20)] == [401] * 20
    assert [server.get("/verify/NO-SUCH")[0] for _ in range(20)] == [404] * 20


def _over_the_limits(server: Server) -> None:
    assert server.get("/verify/NO-SUCH")[0] == 429
    assert server.get("/api/v1/certificates/NO-SUCH")[0] == 429  # the same budget as /verify
    status, body = server.get("/api/v1/me", token="pt_guess21")
    assert status == 429 and json.loads(body)["status"] == 429


def test_two_workers_share_the_limits_through_redis(instance, tmp_path):
    prefix = f"portal-test-{uuid.uuid4().hex}"
    store = redis.Redis.from_url(REDIS)
    try:
        with gunicorn(instance, tmp_path, 2, PORTAL_RATELIMIT_STORAGE=REDIS,
                      PORTAL_RATELIMIT_KEY_PREFIX=prefix) as server:
            first, second = workers = server.workers(2)
            with server.only(first, workers):
                _spend_the_limits(server)
            # The second worker has counted nothing itself: it refuses with the shared counts.
            with server.only(second, workers):
                _over_the_limits(server)
            assert store.keys(prefix + "*")  # the counts are in Redis, under this prefix
        log = server.log.read_text()
        assert PER_WORKER not in log and NO_ANSWER not in log and "unreachable" not in log, log
    finally:
        for key in store.scan_iter(match=prefix + "*"):
            store.delete(key)
        store.close()


def test_a_redis_that_does_not_answer_leaves_each_worker_counting_for_itself(instance, tmp_path):
    down = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    with gunicorn(instance, tmp_path, 2, PORTAL_RATELIMIT_STORAGE=down) as server:
        first, second = workers = server.workers(2)
        with server.only(first, workers):
            _spend_the_limits(server)
        with server.only(second, workers):  # its own counts: 1
            assert server.get("/api/v1/me", token="pt_guess21")[0] == 401
            assert server.get("/verify/NO-SUCH")[0] == 404
        with server.only(first, workers):
            _over_the_limits(server)
            assert server.get("/healthz")[0] == 200
    log = server.log.read_text()
    assert log.count(f"rate-limit store {down} {NO_ANSWER}") == 2, log  # each worker, at start
    assert log.count("this worker counts the API's limits in memory") == 2, log
    assert PER_WORKER not in log, log


def test_gunicorn_with_several_workers_on_memory_warns_that_limits_are_per_worker(tmp_path, monkeypatch,
                                                                                  caplog):
    """gunicorn's own loading of the app (as in each worker, or with --preload/--check-config),
    in this process: its configuration is parsed from the command line as in a real start."""
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    for name in ("PORTAL_RATELIMIT_STORAGE", "GUNICORN_CMD_ARGS", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no gunicorn.conf.py here
    monkeypatch.setattr(sys, "path", list(sys.path))  # gunicorn adds its working directory

    def started(*args: str) -> str:
        monkeypatch.setattr(sys, "argv", ["gunicorn", *args, "portal:create_app()"])
        caplog.clear()
        WSGIApplication().wsgi()
        return caplog.text

    assert PER_WORKER in started("--workers", "2")
    assert "gunicorn runs 4 workers, so a client may get 4 times each limit" in started("-w", "4")
    assert PER_WORKER not in started("--workers", "1")
    assert PER_WORKER not in started()  # gunicorn's default: one worker


def test_a_store_that_cannot_be_used_refuses_the_start_in_one_line(tmp_path):
    with pytest.raises(RuntimeError) as refused:
        create_app({"INSTANCE_PATH": str(tmp_path),
                    "RATELIMIT_STORAGE_URI": "rediss+typo://:secret@cache:6379/0"})
    message = str(refused.value)
    assert message.startswith("PORTAL_RATELIMIT_STORAGE=rediss+typo://:***@cache:6379/0 cannot be used")
    assert "secret" not in message and "\n" not in message


def test_store_options_and_masking():
    assert ratelimit_storage_options("memory://", "portal") == {}
    options = ratelimit_storage_options("redis://cache:6379/0", "staging")
    assert options["key_prefix"] == "staging" and options["wrap_exceptions"] is True
    assert masked("redis://user:pw@cache:6379/2") == "redis://user:***@cache:6379/2"
    assert masked("redis://cache:6379/2") == "redis://cache:6379/2"
    assert gunicorn_workers() is None  # not served by gunicorn here
