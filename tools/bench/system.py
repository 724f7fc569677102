"""The whole system as `make bench` and the profiler run it: demo data loaded, quotas lifted."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from services.runtime.config import SERVICES
from tools.bench.scenario import BenchContext
from tools.demo_data import load as load_demo_data
from tools.postback_receiver import PostbackReceiver
from tools.stack import Stack, StackConfig

# The benchmark measures throughput, so the per-consumer quotas that protect production must not
# turn the load into 429s; the policies still run (and cost the same) on every request.
BENCH_ENV = {
    "RATE_LIMITS": json.dumps(dict.fromkeys(("partner", "app", "ops", "public", "click"), 10**8)),
    "CONVERSION_FLOOD_GUARD_MODE": "report_only",
}


@dataclass
class BenchSystem:
    stack: Stack
    ctx: BenchContext
    receiver: PostbackReceiver

    def pids(self) -> dict[str, int]:
        """Every server process of the system (a gateway's worker processes counted apart)."""
        return {name: proc.popen.pid for name, proc in self.stack.processes.items() if proc.popen}


@contextmanager
def bench_system(
    work: Path, *, env: dict[str, str] | None = None, console: bool = False
) -> Iterator[BenchSystem]:
    """Start the system with the demo data; stop it (and the postback receiver) on exit."""
    receiver = PostbackReceiver().start()
    extra = {
        "WORKERS": "1",  # `make bench WORKERS=1,2` exports the list to every recipe's environment
        **BENCH_ENV,
        "CONVERSION_POSTBACK_ALLOWLIST": f'["127.0.0.1:{receiver.port}"]',
        **(env or {}),
    }
    stack = Stack(StackConfig.ephemeral(work / "var", extra_env=extra))
    try:
        try:
            stack.start()
        except (RuntimeError, TimeoutError):
            for proc in stack.processes.values():
                if proc.log_path.exists():
                    tail = proc.log_path.read_text(errors="replace").splitlines()[-15:]
                    print(
                        f"--- {proc.name} ({'up' if proc.alive else 'exited'})",
                        *tail,
                        sep="\n",
                        file=sys.stderr,
                    )
            raise
        addrs = {s: stack.config.addr(s) for s in SERVICES}
        load_demo_data(addrs, pki_dir=stack.config.pki_dir, say=lambda _msg: None)
        if console:
            if "console" not in stack.processes:
                stack.start_console()
            stack.wait_console()
        ctx = BenchContext(
            gateway_url=stack.config.gateway_url,
            addrs=addrs,
            var_dir=stack.config.var_dir,
            console_url=stack.config.console_url,
        )
        yield BenchSystem(stack=stack, ctx=ctx, receiver=receiver)
    finally:
        stack.stop()
        receiver.stop()
