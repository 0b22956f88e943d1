"""Fixtures for the real-client conformance suite: a real `rill server` process on a free
127.0.0.1 port with its own temporary data directory.

The binary is `target/debug/rill` (built by `cargo build --bin rill` in run.sh); set RILL_BIN to
use another one. The server's stderr goes to a file in the data directory and is attached to
the report of every failing test that used the server, so a failure shows what the broker said.
"""

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RILL_BIN = Path(os.environ.get("RILL_BIN", REPO / "target" / "debug" / "rill"))

# How long a server may take to start listening (a debug build opening its logs).
START_TIMEOUT_S = 15.0
# How long a graceful stop may take before the process is killed.
STOP_TIMEOUT_S = 5.0


# Test servers take ports below Linux's ephemeral range (32768-60999): a client socket never
# takes one of them as its local port while a server is down for a restart, and a port from a
# bind to 0 is not handed out again at once to another server (two servers on one port made a
# readiness probe reach the wrong one).
_PORT_LOW, _PORT_SPAN = 20000, 12000
_given_ports = set()


def free_port():
    """A port this process gave no other server, which nobody listens on right now."""
    start = (os.getpid() * 7919 + len(_given_ports) * 101) % _PORT_SPAN
    for step in range(_PORT_SPAN):
        port = _PORT_LOW + (start + step * 37) % _PORT_SPAN
        if port in _given_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given_ports.add(port)
        return port
    raise RuntimeError("no free port for a test server")


# The line `rill server` logs once every listener is bound and it takes clients.
SERVING = b": serving"


def _log_filter():
    """RUST_LOG for a test server: the caller's level, with the line SERVING always on."""
    return os.environ.get("RUST_LOG", "info") + ",rill::host::server=info"


class RillServer:
    """One `rill server` process; `restart` keeps the port and the data directory."""

    def __init__(self, data_dir, extra_args=(), controller_port=None):
        self.data_dir = Path(data_dir)
        self.port = free_port()
        # Every test server runs its admin endpoint (/metrics, /healthz, /readyz) on a port of
        # its own: the default 127.0.0.1:9644 would be one server's only.
        self.admin_port = free_port()
        self.extra_args = list(extra_args)
        # A node of a multi-node cluster also listens for its controller quorum's peers.
        self.controller_port = controller_port
        self.log_path = self.data_dir / "server.stderr"
        self.proc = None
        self.starts = 0

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    @property
    def addr(self):
        return ("127.0.0.1", self.port)

    @property
    def admin_url(self):
        return f"http://127.0.0.1:{self.admin_port}"

    def start(self):
        # A restart reuses the port; in the moment between the old process dying and the new one
        # binding, the kernel may hand that port to some other socket as an ephemeral port, and
        # the server then (rightly) exits with "Address already in use". Try again a few times.
        for attempt in range(5):
            try:
                return self._start_once()
            except RuntimeError as e:
                if "Address already in use" not in str(e) or attempt == 4:
                    raise
                time.sleep(0.5)

    def _start_once(self):
        return self._wait(self._spawn())

    def _listeners(self):
        listeners = f"PLAINTEXT://{self.bootstrap}"
        if self.controller_port is not None:
            listeners += f",CONTROLLER://127.0.0.1:{self.controller_port}"
        return listeners

    def _spawn(self):
        """Starts the process; the log offset its start-up lines begin at."""
        assert self.proc is None, "already running"
        assert RILL_BIN.exists(), f"{RILL_BIN} is missing: run `cargo build --bin rill` first"
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"\n----- start #{self.starts} -----\n".encode())
        log.flush()
        log_from = log.tell()
        self.proc = subprocess.Popen(
            [
                str(RILL_BIN),
                "server",
                "--listeners",
                self._listeners(),
                "--log-dirs",
                str(self.data_dir / "data"),
                "--override",
                f"admin.listener=127.0.0.1:{self.admin_port}",
                *self.extra_args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, "RUST_LOG": _log_filter(), "NO_COLOR": "1"},
        )
        log.close()
        return log_from

    def _wait(self, log_from):
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            code = self.proc.poll()
            if code is not None:
                self.proc = None
                raise RuntimeError(f"rill server exited with {code}:\n{self.log()}")
            try:
                # Ready once this process says it serves and the port accepts: a connection
                # alone could reach another process holding the port.
                if SERVING not in self.log_path.read_bytes()[log_from:]:
                    raise OSError("not serving yet")
                socket.create_connection(self.addr, timeout=0.5).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"rill server did not listen on {self.bootstrap}:\n{self.log()}")
                time.sleep(0.02)

    def kill9(self):
        """SIGKILL: no shutdown code runs, only what reached the kernel survives."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT_S)
            self.proc = None

    def restart(self):
        """`kill -9`, then start again on the same port and data directory."""
        self.kill9()
        return self.start()

    def stop(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@pytest.fixture
def rill_factory(tmp_path, request):
    """Starts servers with extra flags (`rill_factory("--override", "num.partitions=3")`);
    every one is stopped at the end of the test."""
    servers = []
    request.node._rill_servers = servers

    def make(*extra_args):
        server = RillServer(tmp_path / f"rill{len(servers)}", extra_args)
        server.data_dir.mkdir()
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def rill_cluster(tmp_path, request):
    """Starts `size` combined nodes (broker and controller quorum voter each, node ids 1..size)
    and `broker_only` broker-only nodes (`process.roles=broker`, observers of the quorum, ids
    after those) with extra flags; every one is stopped at the end of the test."""
    servers = []
    request.node._rill_servers = servers

    def make(size, *extra_args, broker_only=0):
        ports = [free_port() for _ in range(size)]
        voters = ",".join(f"{i + 1}@127.0.0.1:{port}" for i, port in enumerate(ports))
        for i, port in enumerate(ports + [None] * broker_only):
            args = ["--node-id", str(i + 1), "--override", f"controller.quorum.voters={voters}",
                    "--override", "controller.quorum.election.timeout.ms=500", *extra_args]
            if port is None:
                # No controller listener: it tells the voters where to answer when it connects.
                args += ["--override", "process.roles=broker"]
            server = RillServer(tmp_path / f"node{i + 1}", args, controller_port=port)
            server.data_dir.mkdir()
            servers.append(server)
        # No node serves before a majority is up: start them all, then wait for each.
        starts = [server._spawn() for server in servers]
        for server, log_from in zip(servers, starts):
            server._wait(log_from)
        return servers

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def rill(rill_factory):
    """A server with the default configuration."""
    return rill_factory()


@pytest.fixture
def topic_name(request):
    """A unique, legal topic name for this test."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:80]
    return f"{base}-{uuid.uuid4().hex[:8]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach every server's stderr to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for i, server in enumerate(getattr(item, "_rill_servers", [])):
            text = server.log()
            if len(text) > 20000:
                text = "...(cut)...\n" + text[-20000:]
            report.sections.append((f"rill server {i} stderr ({server.log_path})", text))
