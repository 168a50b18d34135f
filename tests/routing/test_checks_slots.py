"""The per-host limit holds across checking processes: real processes check one host through the
local HTTP peer, which must never see more requests to it at once than the limit, with the slots
in Redis and in lock files; a holder that dies loses its slots; a full host lets other hosts go
first; and without its Redis the runner fails rather than fall back to a limit per process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured

from devnet.dns import FakeDNS
from devnet.http import FakeHTTP
from routing.checks.probe import CheckOutcome
from routing.checks.runner import checks_run
from routing.checks.slots import FileSlots, RedisSlots, slots_for

ROOT = Path(__file__).resolve().parent.parent.parent


def redis_url() -> str:
    """The Redis of the environment (as CI sets it), else a local one on the default port. The keys
    used here name hosts no one else checks and expire with their leases."""
    for name in ("SCART_CHECK_LIMIT_URL", "CELERY_BROKER_URL"):
        value = os.environ.get(name, "")
        if value.startswith(("redis://", "rediss://")):
            return value
    return "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_limit_url() -> str:
    url = redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {url} ({exc}); the lock-file variants still run")
    return url


@pytest.fixture(params=["file", "redis"])
def limit_url(request, tmp_path: Path) -> str:
    if request.param == "file":
        return (tmp_path / "check-slots").as_uri()
    return str(request.getfixturevalue("redis_limit_url"))


@pytest.fixture
def host(fake_dns: FakeDNS) -> str:
    """A host name of this test alone (no other run shares its slots), pointing at the local peer."""
    name = f"hot-{uuid.uuid4().hex[:12]}.example.com"
    fake_dns.add(name, "A", "127.0.0.1")
    return name


@pytest.fixture(autouse=True)
def _peer_allowed(settings) -> None:
    settings.SCART_CHECK_ALLOW_NETWORKS = ["127.0.0.1/32"]


def child_env(fake_dns: FakeDNS, limit_url: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SCART_CHECK_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "scart.settings",
            "SCART_TESTING": "1",
            "SCART_DNS_NAMESERVERS": fake_dns.address,
            "SCART_CHECK_ALLOW_NETWORKS": "127.0.0.1/32",
            "SCART_CHECK_LIMIT_URL": limit_url,
        }
    )
    return env


def start_child(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.routing.slots_child", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def read_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        assert process.stderr is not None
        raise AssertionError(f"the child ended (exit {process.wait(10)}): {process.stderr.read()[-3000:]}")
    return line


def test_several_processes_together_never_exceed_the_per_host_limit(fake_dns, host, limit_url, children):
    processes, per_process, per_host, latency = 3, 24, 3, 0.05
    with FakeHTTP(latency=latency) as peer:
        job = {"urls": [peer.url("/status/200", host=host)] * per_process, "concurrency": 8, "per_host": per_host}
        env = child_env(fake_dns, limit_url)
        for _ in range(processes):
            children.append(start_child(["check"], env))
        for child in children:
            assert child.stdin is not None
            child.stdin.write(json.dumps(job) + "\n")
            child.stdin.flush()
        for child in children:
            assert read_line(child).strip() == "ready"
        began = time.monotonic()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        reports = [json.loads(read_line(child)) for child in children]
        took = time.monotonic() - began

        assert all(report["outcomes"] == ["online"] * per_process for report in reports)
        # The peer records a request once its answer is out: the last ones may lag a moment.
        assert len(peer.wait_for_requests(processes * per_process)) == processes * per_process
        # The processes really checked at the same time: each one's run overlaps every other's.
        assert max(r["started"] for r in reports) < min(r["ended"] for r in reports)
        assert peer.peak_per_host[host] <= per_host, f"{peer.peak_per_host[host]} at once, over {processes} processes"
        assert peer.peak_per_host[host] == per_host, "the limit was reached, so it was what held them back"
        # Each process alone would allow 3 at once, 9 in all; together they may not beat the limit.
        assert took >= processes * per_process * latency / per_host * 0.9


def test_the_slots_of_a_holder_that_died_are_taken_again(fake_dns, host, limit_url, children):
    env = child_env(fake_dns, limit_url)
    lease_seconds = 1.5
    holder = start_child(["hold", host, "2", str(lease_seconds)], env)
    children.append(holder)
    assert json.loads(read_line(holder)) == {"held": 2}
    slots = slots_for(limit_url)

    assert slots.try_acquire(host, limit=2, lease_seconds=30) is None, "a live holder keeps its slots"
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    killed_at = time.monotonic()
    deadline = killed_at + lease_seconds + 5
    lease = None
    while lease is None and time.monotonic() < deadline:
        lease = slots.try_acquire(host, limit=2, lease_seconds=30)
        time.sleep(0.02)
    waited = time.monotonic() - killed_at

    assert lease is not None, "the dead holder's slot was never taken again"
    if isinstance(slots, RedisSlots):
        # The lease ran out (it was taken 1.5 s before, the kill came later): dropped, not released.
        assert waited < lease_seconds + 1
        second = slots.try_acquire(host, limit=2, lease_seconds=30)
        assert second is not None and slots.try_acquire(host, limit=2, lease_seconds=30) is None
        assert slots.held(host) == 2
        second.release()
    else:
        assert waited < 0.5, "the kernel drops the locks of a dead process at once"
    lease.release()


def test_a_redis_lease_expires_without_its_holder(redis_limit_url):
    slots = RedisSlots(redis_limit_url)
    host = f"expiry-{uuid.uuid4().hex[:12]}.example.com"
    assert slots.try_acquire(host, limit=1, lease_seconds=0.3) is not None
    assert slots.try_acquire(host, limit=1, lease_seconds=0.3) is None
    time.sleep(0.4)
    lease = slots.try_acquire(host, limit=1, lease_seconds=30)
    assert lease is not None and slots.held(host) == 1
    lease.release()
    assert slots.held(host) == 0
    assert slots.client.exists(slots.prefix + host) == 0, "an empty set leaves no key behind"


def test_two_threads_of_one_process_exclude_each_other_with_lock_files(tmp_path):
    slots = FileSlots(tmp_path)
    first = slots.try_acquire("one.example.com", limit=1, lease_seconds=30)
    assert first is not None
    assert slots.try_acquire("one.example.com", limit=1, lease_seconds=30) is None
    assert slots.try_acquire("two.example.com", limit=1, lease_seconds=30) is not None
    first.release()
    first.release()  # a second release does nothing
    assert slots.try_acquire("one.example.com", limit=1, lease_seconds=30) is not None


def test_lock_files_are_made_again_when_their_directory_was_cleaned_away(tmp_path):
    slots = FileSlots(tmp_path / "check-slots")
    (tmp_path / "check-slots").rmdir()
    lease = slots.try_acquire("one.example.com", limit=1, lease_seconds=30)
    assert lease is not None and len(list((tmp_path / "check-slots").iterdir())) == 1
    lease.release()


def test_a_host_whose_slots_are_taken_elsewhere_lets_other_hosts_go_first(fake_dns, host, tmp_path):
    slots = FileSlots(tmp_path)
    elsewhere = [slots.try_acquire(host, limit=2, lease_seconds=30) for _ in range(2)]
    cold = [f"cold{n}-{host}" for n in range(6)]
    for name in cold:
        fake_dns.add(name, "A", "127.0.0.1")
    with FakeHTTP(latency=0.02) as peer:
        cold_done = threading.Event()

        def release_once_the_others_are_checked() -> None:
            # One thread, the full host's URLs first: a runner that waited there for a slot would
            # never get to the other hosts.
            with contextlib.suppress(AssertionError):
                peer.wait_for_requests(len(cold), timeout=15)
                cold_done.set()
            for lease in elsewhere:
                assert lease is not None
                lease.release()

        releaser = threading.Thread(target=release_once_the_others_are_checked)
        releaser.start()
        hot_urls = [peer.url("/status/200", host=host)] * 4
        cold_urls = [peer.url("/status/404", host=name) for name in cold]
        results = checks_run(hot_urls + cold_urls, concurrency=1, per_host=2, slots=slots)
        releaser.join()

        assert cold_done.is_set(), "the other hosts waited behind the full one"
        assert [r and r.outcome for r in results] == [CheckOutcome.ONLINE] * 4 + [CheckOutcome.GONE] * 6
        order = [r.host for r in peer.wait_for_requests(10)]
        assert set(order[:6]) == set(cold) and order[6:] == [host] * 4


def test_without_its_redis_the_runner_fails_instead_of_limiting_per_process(fake_dns, host):
    closed = RedisSlots("redis://127.0.0.1:1/0")
    with FakeHTTP() as peer, pytest.raises(redis.ConnectionError):
        checks_run([peer.url("/status/200", host=host)], slots=closed)
    assert peer.requests == []


def test_urls_that_are_never_contacted_take_no_slot(tmp_path):
    class NoSlots:
        def try_acquire(self, host: str, *, limit: int, lease_seconds: float) -> None:
            raise AssertionError(f"a slot of {host} was asked for")

    results = checks_run(["http://10.0.0.1/", "http://abcdefghijklmnop.onion/"], slots=NoSlots())
    assert [r and r.outcome for r in results] == [CheckOutcome.BLOCKED, CheckOutcome.BLOCKED]


def test_the_limit_url_defaults_to_the_redis_broker_and_else_to_lock_files_under_var(tmp_path):
    def setting(**env: str) -> str:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("SCART_", "CELERY_", "DATABASE_"))}
        completed = subprocess.run(
            [sys.executable, "-c", "from django.conf import settings; print(settings.SCART_CHECK_LIMIT_URL)"],
            cwd=ROOT,
            env={
                **clean,
                "DJANGO_SETTINGS_MODULE": "scart.settings",
                "DEBUG": "1",
                "SCART_TESTING": "0",
                "SCART_VAR_DIR": str(tmp_path),
                **env,
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert completed.returncode == 0, completed.stderr
        return completed.stdout.strip()

    assert setting(CELERY_BROKER_URL="redis://redis:6379/0") == "redis://redis:6379/0"
    assert setting() == (tmp_path / "check-slots").as_uri()
    assert setting(CELERY_BROKER_URL="redis://redis:6379/0", SCART_CHECK_LIMIT_URL="redis://other/2") == (
        "redis://other/2"
    )
    with pytest.raises(ImproperlyConfigured):
        slots_for("memcached://127.0.0.1:11211")
