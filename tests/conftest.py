"""Shared test set-up: where the real data lives, the markers, and no network.

Markers (see pyproject.toml): `slow` tests are skipped by a plain `pytest` and run by
`make test-slow` (CI runs both); `realdata` tests read files that may not be copied here and
are skipped, with that reason, when ../shared/realdata is absent.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from realfiles import FIXTURES, REALDATA, ROOT

__all__ = ["FIXTURES", "REALDATA", "ROOT"]

# CI (`.ci/run`) sets HYPOTHESIS_PROFILE=ci: the property tests draw the same examples on
# every clean clone, so a red build is reproducible and never a draw of luck. Locally they
# keep exploring new examples.
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if REALDATA.is_dir():
        return
    skip = pytest.mark.skip(reason="needs ../shared/realdata (licence forbids copying it here)")
    for item in items:
        if item.get_closest_marker("realdata") is not None:
            item.add_marker(skip)


@pytest.fixture
def realdata(request: pytest.FixtureRequest) -> Path:
    """The shared real-data folder, for tests on files whose licence forbids copying."""
    if request.node.get_closest_marker("realdata") is None:
        pytest.fail("a test reading ../shared/realdata must be marked @pytest.mark.realdata")
    return REALDATA


def _loopback(address: Any) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like never leave the machine
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    """Tests talk only to loopback: any other connection fails loudly instead of leaking."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guard(address: Any) -> None:
        if not _loopback(address):
            raise OSError(f"network access during tests is not allowed (to {address!r})")

    def connect(self: socket.socket, address: Any) -> None:
        guard(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard(address)
        return real_connect_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]


@pytest.fixture
def forked_children(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The pids of the children forked during a test; afterwards each must be reaped (no
    zombie left behind) and no pipe left open."""
    import os

    from incident.analysis import forked

    pids: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    fds = set(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else set()
    yield pids
    forked.reap_exited()  # the children closed while still exiting
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    if fds:
        assert set(os.listdir("/proc/self/fd")) <= fds
