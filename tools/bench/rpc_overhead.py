"""`python -m tools.bench.rpc_overhead`: the services' runtime cost per RPC, against bare grpc.aio.

Serves one trivial RPC (`CustomerService/GetCustomerProfile` answering a fixed profile, no database)
from a server process in each of two modes, and drives it from this process over mutual TLS:

- `bare`: a `grpc.aio.server()` with no interceptor and no telemetry, the same handler;
- `passthrough` (with `--modes`): the bare server with one interceptor that only passes calls on,
  the cost of grpc.aio's interceptor machinery itself;
- `runtime`: the server every service runs (`services.runtime.service`: telemetry set up as
  `run_service` does, span export to a file, `build_server`'s interceptors: the caller allow-list on
  the verified certificate, the on-behalf-of assertion, deadlines, error mapping, the server span
  and the duration metric), the same handler.

Each call carries a fresh on-behalf-of assertion signed by the gateway's identity, the worst case
of the gateway's (which reuses a principal's assertion for half its life: `on_behalf.assertion_for`);
`--no-assertion` sends none, and no principal fields either. `--client runtime` calls as the gateway
does instead (`open_channel`, traced, the principal set with `act_for` per call, its assertion
attached by the channel): then the calling side's CPU per call is the gateway's cost of one call.
Reports, for each mode, the calls per second, the server process's CPU (user + system, from /proc)
per call, the client's, and the ratio of the server's to the first mode's. Modes run alternately
(`--rounds`), medians reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from lattice.identity.v1 import identity_pb2 as pb
from lattice.identity.v1 import identity_pb2_grpc

from services.runtime.grpc_client import channel_options, open_channel
from services.runtime.on_behalf import METADATA_KEY, Principal, act_for, sign
from services.runtime.pki import ensure_pki, load_identity

SERVICE = "lattice.identity.v1.CustomerService"
METHOD = "GetCustomerProfile"
PATH = f"/{SERVICE}/{METHOD}"
APP = "mbank"
ASSERTIONS = 2000  # more than the verifier's cache holds: every call's assertion is verified once
_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _reply() -> pb.GetCustomerProfileResponse:
    return pb.GetCustomerProfileResponse(
        profile=pb.CustomerProfile(app_id=APP, app_user_id="bench-user", assurance_level=2)
    )


class _Profiles(identity_pb2_grpc.CustomerServiceServicer):
    """The trivial servicer: a fixed answer, as fast as a handler can be."""

    def __init__(self) -> None:
        self._reply = _reply()

    async def GetCustomerProfile(self, request, context):
        return self._reply


async def _serve(mode: str, pki_dir: Path, var_dir: Path) -> None:
    identity = load_identity("identity", pki_dir)
    telemetry = None
    if mode == "bare":
        server = grpc.aio.server()
    elif mode == "passthrough":
        server = grpc.aio.server(interceptors=[_PassThrough()])
    else:
        from services.runtime.callers import GATEWAY, CallerPolicy
        from services.runtime.grpc_server import build_server
        from services.runtime.telemetry import setup_telemetry

        telemetry = setup_telemetry("identity", var_dir=var_dir, log_level="WARNING")
        policy = CallerPolicy()
        descriptor = pb.DESCRIPTOR.services_by_name["CustomerService"]
        policy.declare(descriptor, {m.name: GATEWAY for m in descriptor.methods})
        server, _health = build_server(policy, identity)
    identity_pb2_grpc.add_CustomerServiceServicer_to_server(_Profiles(), server)
    port = server.add_secure_port("127.0.0.1:0", identity.server_credentials())
    await server.start()
    print(port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the driver closes stdin
    await server.stop(grace=1)
    if telemetry is not None:
        telemetry.shutdown()


class _PassThrough(grpc.aio.ServerInterceptor):
    async def intercept_service(self, continuation, handler_call_details):
        return await continuation(handler_call_details)


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_S  # utime, stime


async def _drive(
    port: int,
    pid: int,
    pki_dir: Path,
    *,
    duration_s: float,
    concurrency: int,
    assertion: bool,
    client: str,
) -> dict[str, float]:
    gateway = load_identity("gateway", pki_dir)
    customers = [f"cust-{i}" for i in range(ASSERTIONS)]
    # without an assertion, a request that acts for nobody (a principal field would need one)
    requests = [
        pb.GetCustomerProfileRequest(caller=pb.CustomerCaller(customer_id=c, app_id=APP))
        if assertion
        else pb.GetCustomerProfileRequest()
        for c in customers
    ]
    principals = [Principal("customer", c, app=APP) for c in customers]
    # the bare client sends pre-signed assertions; the runtime client is the gateway's: act_for, and
    # the channel's interceptor attaches the principal's assertion (signed when it has none to reuse)
    tokens = [sign(p, identity=gateway) for p in principals] if assertion and client == "bare" else []
    addr = f"127.0.0.1:{port}"
    if client == "runtime":
        channel = open_channel(addr, peer="identity", identity=gateway, default_timeout_s=5)
    else:
        channel = grpc.aio.secure_channel(
            addr, gateway.channel_credentials, options=channel_options("identity")
        )
    async with channel:
        call = channel.unary_unary(
            PATH,
            request_serializer=pb.GetCustomerProfileRequest.SerializeToString,
            response_deserializer=pb.GetCustomerProfileResponse.FromString,
        )
        counter = 0
        stop_at = 0.0

        async def worker(offset: int) -> int:
            nonlocal counter
            done = 0
            while time.monotonic() < stop_at:
                i = counter = counter + 1
                metadata = ((METADATA_KEY, tokens[i % ASSERTIONS]),) if tokens else None
                if assertion and client == "runtime":
                    act_for(principals[i % ASSERTIONS])
                await call(requests[i % ASSERTIONS], metadata=metadata, timeout=5)
                done += 1
            return done

        stop_at = time.monotonic() + 1.0  # warm up: connection, caches, code paths
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        cpu0, own0, t0 = _cpu_s(pid), time.process_time(), time.monotonic()
        stop_at = t0 + duration_s
        calls = sum(await asyncio.gather(*(worker(i) for i in range(concurrency))))
        cpu1, own1, t1 = _cpu_s(pid), time.process_time(), time.monotonic()
    return {
        "calls": calls,
        "calls_per_s": calls / (t1 - t0),
        "cpu_ms_per_call": (cpu1 - cpu0) * 1000 / calls,
        "client_cpu_ms_per_call": (own1 - own0) * 1000 / calls,
    }


def measure(
    mode: str,
    pki_dir: Path,
    var_dir: Path,
    *,
    duration_s: float,
    concurrency: int,
    assertion: bool,
    client: str = "bare",
) -> dict[str, float]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.bench.rpc_overhead", "serve", mode, str(pki_dir), str(var_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.strip():
            raise RuntimeError(f"the {mode} server did not start")
        return asyncio.run(
            _drive(
                int(line),
                proc.pid,
                pki_dir,
                duration_s=duration_s,
                concurrency=concurrency,
                assertion=assertion,
                client=client,
            )
        )
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        asyncio.run(_serve(args[1], Path(args[2]), Path(args[3])))
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench.rpc_overhead", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per mode and round")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight")
    parser.add_argument(
        "--rounds", type=int, default=3, help="bare and runtime measured alternately this often"
    )
    parser.add_argument(
        "--modes",
        default="bare,runtime",
        help="servers to compare, the first the reference (bare,passthrough,runtime)",
    )
    parser.add_argument("--no-assertion", action="store_true", help="send no on-behalf-of assertion")
    parser.add_argument(
        "--client",
        choices=("bare", "runtime"),
        default="bare",
        help="the calling side: a bare grpc.aio channel, or the gateway's (open_channel, traced, act_for)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    opts = parser.parse_args(args)
    modes = opts.modes.split(",")
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory(prefix="rpc-overhead-") as tmp:
        pki_dir = ensure_pki(Path(tmp) / "pki")
        if opts.client == "runtime":
            from services.runtime.telemetry import setup_telemetry

            (Path(tmp) / "client").mkdir()
            setup_telemetry("gateway", var_dir=Path(tmp) / "client", log_level="WARNING")
        for _ in range(opts.rounds):
            for mode in results:
                results[mode].append(
                    measure(
                        mode,
                        pki_dir,
                        Path(tmp),
                        duration_s=opts.duration,
                        concurrency=opts.concurrency,
                        assertion=not opts.no_assertion,
                        client=opts.client,
                    )
                )
    cpu = {
        mode: round(statistics.median(r["cpu_ms_per_call"] for r in runs), 4)
        for mode, runs in results.items()
    }
    rate = {
        mode: round(statistics.median(r["calls_per_s"] for r in runs), 1) for mode, runs in results.items()
    }
    runs_cpu = {mode: [round(r["cpu_ms_per_call"], 4) for r in runs] for mode, runs in results.items()}
    client_cpu = {
        mode: round(statistics.median(r["client_cpu_ms_per_call"] for r in runs), 4)
        for mode, runs in results.items()
    }
    reference = cpu[modes[0]]
    ratios = {mode: round(cpu[mode] / reference, 2) for mode in modes[1:]}
    if opts.json:
        summary = {
            m: {
                "calls_per_s": rate[m],
                "cpu_ms_per_call": cpu[m],
                "runs": runs_cpu[m],
                "client_cpu_ms_per_call": client_cpu[m],
            }
            for m in modes
        }
        print(json.dumps({**summary, f"cpu_ratio_vs_{modes[0]}": ratios}))
        return 0
    print(
        f"{'mode':<12} {'calls/s':>9} {'server CPU ms/call':>19} {opts.client + ' client ms/call':>22}  runs"
    )
    for mode in modes:
        print(f"{mode:<12} {rate[mode]:>9} {cpu[mode]:>19} {client_cpu[mode]:>22}  {runs_cpu[mode]}")
    for mode, ratio in ratios.items():
        print(f"{mode} CPU per call vs {modes[0]}: {ratio:.2f}x ({cpu[mode] - reference:+.3f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
