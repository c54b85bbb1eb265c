"""Runs current ClickHouse as a local server from PyPI's chdb-core (DESIGN §3).

chdb-core embeds clickhouse-local, which can open the real HTTP and native
listeners: `SYSTEM START LISTEN` and then a query that never ends keep them
open. The engine reads ./config.xml (the working directory is the server's
folder) and its users file once, at start, and the engine's entry point may be
called once per process. So this script is a supervisor: it runs the engine in
a child process and starts a new one when the users files change (a tenant's
dashboard user added or revoked) or when the engine dies. A restart takes about
a second; the platform's services ride it out like any ClickHouse outage.

usage: python clickhouse-server.py --config CONFIG_XML --data DATA_DIR --users-dir USERS_D
       (with --engine, the child that runs the engine itself)
"""

import argparse
import importlib.machinery
import importlib.util
import os
import signal
import subprocess
import sys
import time

POLL_SECONDS = 0.5
# Several files written together (a reconciliation) make one restart, not several.
SETTLE_SECONDS = 0.5
STOP_GRACE_SECONDS = 10
CRASH_BACKOFF_SECONDS = 2

# Every row sleeps 3 s, one row a block: the query never ends, and holds no CPU.
KEEP_LISTENING = (
    "SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; "
    "SELECT sleep(3) FROM system.numbers SETTINGS max_block_size = 1 FORMAT Null"
)


def log(message):
    print(f"[clickhouse-server] {time.strftime('%Y-%m-%dT%H:%M:%S')} {message}", flush=True)


def load_engine():
    """Loads chdb's extension alone: the `chdb` package opens an in-memory engine on import."""
    spec = importlib.util.find_spec("chdb")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("chdb-core is not installed in this Python (deploy/local/infra.sh install clickhouse)")
    package_dir = spec.submodule_search_locations[0]
    loader = importlib.machinery.ExtensionFileLoader("_chdb", os.path.join(package_dir, "_chdb.abi3.so"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("_chdb", loader))
    loader.exec_module(module)
    return module


def run_engine(data_dir):
    engine = load_engine()
    result = engine.query(KEEP_LISTENING, "CSV", path=data_dir)
    # Reaching here means the listening query failed (a port taken, a bad config).
    sys.exit(f"the engine stopped: {result}")


def users_state(config, users_dir):
    """What the engine read at start: the users file and every file in users.d."""
    paths = [os.path.join(os.path.dirname(config), "users.xml")]
    if os.path.isdir(users_dir):
        paths += sorted(os.path.join(users_dir, name) for name in os.listdir(users_dir) if name.endswith(".xml"))
    state = []
    for path in paths:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            continue
        state.append((path, stat.st_mtime_ns, stat.st_size))
    return state


def stop(child):
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def supervise(args):
    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    command = [sys.executable, os.path.abspath(__file__), "--engine", "--data", args.data]
    while not stopping:
        seen = users_state(args.config, args.users_dir)
        child = subprocess.Popen(command)
        log(f"engine started (pid {child.pid})")
        reason = None
        while not stopping and reason is None:
            time.sleep(POLL_SECONDS)
            if child.poll() is not None:
                reason = f"the engine exited with {child.returncode}"
                break
            now = users_state(args.config, args.users_dir)
            if now != seen:
                time.sleep(SETTLE_SECONDS)
                reason = "users changed"
        stop(child)
        if reason is not None:
            log(f"restarting: {reason}")
            if child.returncode not in (0, -signal.SIGTERM):
                time.sleep(CRASH_BACKOFF_SECONDS)
    log("stopped")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--data", required=True)
    parser.add_argument("--users-dir")
    parser.add_argument("--engine", action="store_true")
    args = parser.parse_args()
    if args.engine:
        run_engine(args.data)
    else:
        supervise(args)


if __name__ == "__main__":
    main()
