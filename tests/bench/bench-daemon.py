#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench-daemon.py: copilotd side by side with the raw D-Bus ceiling and the
official Node SDK, in one run, on one private bus. Prints a table on stdout.

Every figure is the median of --runs runs, with min–max. Every ratio is taken
in this run, on this bus, against the same measurement of the alternative a
user could pick instead:

  raw pair   bench-peer raw-emit → dbus-daemon → bench-peer raw-sub: the same
             Delta signal shape (path, interface, signature, text length),
             unicast; what any daemon forwarding deltas over D-Bus costs at
             the least.
  flood CLI  bench-flood-cli writes `assistant.message_delta` notifications
             (each stamped with CLOCK_MONOTONIC) as fast as the pipe takes
             them, or paced; copilotd forwards them to bench-peer flood.
  Node SDK   @github/copilot-sdk (installed with npm into --sdk-prefix on
             first use) doing the same turn directly on the same native CLI
             as copilotd, against the same offline model.

Usage (meson does this: `meson compile -C <release build> bench-daemon`):
  bench-daemon.py --daemon D --model M --peer P --flood-cli F
                  --sdk-script S --sdk-prefix DIR [--runs N] [--count N]
                  [--cli PATH]
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

SDK_PACKAGE = "@github/copilot-sdk@1.0.14"
DEFAULT_CLI = os.path.expanduser(
    "~/.local/share/copilotd/cli/node_modules/@github/copilot-linux-x64/copilot")
BUS_NAME = "io.github.copilotd.Copilot1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(*args):
    print("bench:", *args, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="copilotd-bench-")
        self.procs = []
        self.env = dict(os.environ)
        for name in ("GH_TOKEN", "GITHUB_TOKEN", "COPILOT_GITHUB_TOKEN", "G_DEBUG",
                     "G_SLICE", "ASAN_OPTIONS"):
            self.env.pop(name, None)
        bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                                "--print-address"],
                               stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.procs.append(bus)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().decode().strip()
        self.env["XDG_CONFIG_HOME"] = os.path.join(self.tmp, "config")
        self.daemon = None

    def close(self):
        self.stop_daemon()
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers -------------------------------------------------------------

    def peer(self, *argv, timeout=600):
        """Runs bench-peer; returns (its JSON line, its own CPU µs)."""
        p = subprocess.Popen([self.args.peer, *map(str, argv)], env=self.env,
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        out = p.stdout.read().decode()
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            raise RuntimeError(f"bench-peer {argv[0]} exited with {p.returncode}")
        return json.loads(out.strip().splitlines()[-1]), (usage.ru_utime + usage.ru_stime) * 1e6

    def daemon_cpu_us(self):
        with open(f"/proc/{self.daemon.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1e6 / CLK_TCK

    def daemon_rss_kib(self):
        with open(f"/proc/{self.daemon.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def write_config(self, extra=""):
        path = os.path.join(self.tmp, "copilotd.conf")
        with open(path, "w") as f:
            f.write("[copilotd]\nmax-sessions-per-uid=2000\n" + extra)
        return path

    def daemon_argv(self, cli, config=""):
        return [self.args.daemon, "--cli-path", cli, "--config", self.write_config(config),
                "--copilot-home", os.path.join(self.tmp, "copilot-home")]

    def start_daemon(self, cli, extra_env=None, config=""):
        env = dict(self.env)
        env.update(extra_env or {})
        self.daemon = subprocess.Popen(self.daemon_argv(cli, config), env=env,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not self.name_has_owner():
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("copilotd did not start")
            time.sleep(0.01)

    def name_has_owner(self):
        out = subprocess.run(["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus",
                              "--object-path", "/org/freedesktop/DBus",
                              "--method", "org.freedesktop.DBus.NameHasOwner", BUS_NAME],
                             env=self.env, capture_output=True, text=True).stdout
        return "true" in out

    def stop_daemon(self):
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.terminate()
            self.daemon.wait(30)
        self.daemon = None

    # -- measurements ------------------------------------------------------------

    def raw_pair(self, count, rate):
        sub = subprocess.Popen([self.args.peer, "raw-sub", str(count)], env=self.env,
                               stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        name = sub.stdout.readline().decode().strip()
        _, emit_cpu = self.peer("raw-emit", name, count, rate)
        result = json.loads(sub.stdout.read().decode().strip().splitlines()[-1])
        sub.wait()
        result["emitter_cpu_us"] = emit_cpu / count
        return result

    def through_daemon(self, count, rate):
        cpu0 = self.daemon_cpu_us()
        result, _ = self.peer("flood", count, rate)
        result["daemon_cpu_us"] = (self.daemon_cpu_us() - cpu0) / count
        return result

    def fake_cli_part(self, results):
        a = self.args
        flood = a.flood_cli

        log("cold start")
        samples, _ = self.peer("coldstart", a.runs * 2, *self.daemon_argv(flood))
        results["coldstart_ms"] = [x / 1000 for x in samples["us"]]

        log("memory")
        # A fresh daemon each round: freed memory is not given back to the
        # system, so a round after another would see the first one's peak.
        results["rss_idle_kib"] = []
        rss = {1: [], 100: [], 1000: []}
        for _ in range(3):
            self.start_daemon(flood)
            time.sleep(0.5)
            results["rss_idle_kib"].append(self.daemon_rss_kib())
            p = subprocess.Popen([a.peer, "sessions"], env=self.env,
                                 stdout=subprocess.PIPE, stdin=subprocess.PIPE)
            for n in rss:
                p.stdin.write(f"{n}\n".encode())
                p.stdin.flush()
                made = json.loads(p.stdout.readline().decode())
                if made["ok"] != n:
                    raise RuntimeError(f"only {made['ok']} of {n} sessions started")
                time.sleep(0.2)
                rss[n].append(self.daemon_rss_kib())
            p.stdin.close()
            p.wait()
            self.stop_daemon()
        results["rss_sessions_kib"] = rss
        results["kib_per_session"] = [(rss[1000][i] - rss[1][i]) / 999 for i in range(3)]
        self.start_daemon(flood)

        log("round trips")
        server = subprocess.Popen([a.peer, "raw-server"], env=self.env,
                                  stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.procs.append(server)
        server.stdout.readline()
        # GetStatus with a known state: the CLI is running (a one-delta
        # turn started it), so the daemon answers from what it knows.
        self.peer("flood", 1, 0)
        results["rtt_status"], results["rtt_empty"] = [], []
        for _ in range(a.runs):
            results["rtt_empty"].append(self.peer("rtt", "empty", 2000)[0]["p50_us"])
            results["rtt_status"].append(self.peer("rtt", "status", 2000)[0]["p50_us"])

        for rate in (0, 1000, 200):
            count = a.count if rate == 0 else rate * 3
            log(f"deltas at {rate or 'full'}/s")
            raw, daemon = [], []
            for i in range(a.runs):
                # Alternate which goes first so that a drift in the load
                # does not favour one.
                if i % 2 == 0:
                    raw.append(self.raw_pair(count, rate))
                    daemon.append(self.through_daemon(count, rate))
                else:
                    daemon.append(self.through_daemon(count, rate))
                    raw.append(self.raw_pair(count, rate))
            results[f"raw_{rate}"] = raw
            results[f"daemon_{rate}"] = daemon
        self.stop_daemon()

        log("deltas at full/s, never merged (coalesce-backlog=0)")
        self.start_daemon(flood, config="coalesce-backlog=0\n")
        raw, daemon = [], []
        for i in range(a.runs):
            pair = [lambda: raw.append(self.raw_pair(a.count, 0)),
                    lambda: daemon.append(self.through_daemon(a.count, 0))]
            for f in (pair if i % 2 == 0 else reversed(pair)):
                f()
        results["raw_nomerge"], results["daemon_nomerge"] = raw, daemon
        self.stop_daemon()

    def node_sdk(self):
        prefix = self.args.sdk_prefix
        if not os.path.exists(os.path.join(prefix, "node_modules", "@github", "copilot-sdk")):
            log(f"installing {SDK_PACKAGE} into {prefix}")
            os.makedirs(prefix, exist_ok=True)
            subprocess.run(["npm", "install", "--prefix", prefix, "--no-audit", "--no-fund",
                            "--omit=optional", SDK_PACKAGE],
                           check=True, stdout=sys.stderr)
        script = os.path.join(prefix, "bench-sdk.mjs")
        shutil.copyfile(self.args.sdk_script, script)
        return script

    def real_cli_part(self, results):
        a = self.args
        script = self.node_sdk()
        model = subprocess.Popen([a.model, "--delay-ms", "0"], env=self.env,
                                 stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.procs.append(model)
        line = model.stdout.readline().decode().strip()
        url = "http://127.0.0.1:" + line.rsplit(" ", 1)[1]
        cli_env = {
            "COPILOT_API_URL": url,
            "COPILOT_DEBUG_GITHUB_API_URL": url,
            "COPILOT_SDK_AUTH_TOKEN": "fake",
        }
        prompt = "Say hello"
        # Both run their sessions in the same empty directory: the CLI
        # reads what it finds there (instructions, a git repository).
        workdir = os.path.join(self.tmp, "work")
        os.makedirs(workdir, exist_ok=True)
        results["e2e_daemon"], results["e2e_sdk"] = [], []

        def through_daemon():
            self.start_daemon(a.cli, cli_env)
            results["e2e_daemon"].append(self.peer("turn", a.runs, prompt, a.words, workdir,
                                                   a.rate_runs)[0])
            self.stop_daemon()

        def with_sdk():
            env = dict(self.env)
            env.update(cli_env)
            env["COPILOT_HOME"] = os.path.join(self.tmp, "sdk-home")
            out = subprocess.run(["node", script, a.cli, str(a.runs), prompt, str(a.words), workdir,
                                  str(a.rate_runs)],
                                 env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                 check=True, cwd=self.tmp, timeout=600).stdout.decode()
            results["e2e_sdk"].append(json.loads(out.strip().splitlines()[-1]))

        # Short rounds in alternating order (ABBA BAAB …), so that a drift
        # of the machine's load during the run weighs on both alike.
        for i in range(a.e2e_rounds):
            daemon_first = i % 4 in (0, 3)
            for name, run in ((("copilotd", through_daemon), ("the Node SDK", with_sdk)) if daemon_first else
                              (("the Node SDK", with_sdk), ("copilotd", through_daemon))):
                log(f"end to end with {name} ({i + 1}/{a.e2e_rounds})")
                run()


# -- the table -------------------------------------------------------------------

def med(values):
    return statistics.median(values)


def fmt(values, unit="", digits=0):
    values = list(values)
    m = med(values)
    if len(values) == 1:
        return f"{m:,.{digits}f}{unit}"
    return f"{m:,.{digits}f}{unit} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


def verdict(ok):
    return "met" if ok else "MISSED"


def table(r, args, load_before, load_after):
    rows = []

    def row(what, ours, theirs, ratio, target, ok):
        rows.append((what, ours, theirs, ratio, target, verdict(ok) if ok is not None else ""))

    # Throughput
    raw, dmn = r["raw_0"], r["daemon_0"]
    ratios = [d["rate"] / w["rate"] for d, w in zip(dmn, raw)]
    row(f"throughput, deltas/s ({args.count // 1000}k flood)",
        fmt(d["rate"] for d in dmn), fmt(w["rate"] for w in raw),
        fmt(ratios, "×", 2), "≥ 0.90× raw", med(ratios) >= 0.9)
    lost = [d["lost"] + d["out_of_order"] + d["serial_errors"] for d in dmn]
    row("  deltas lost or out of order", fmt(lost), fmt(w["lost"] + w["out_of_order"] for w in raw),
        "", "0", max(lost) == 0)
    row("  Delta signals per delta", fmt((d["signals"] / max(d["records"], 1) for d in dmn), "", 3),
        fmt((w["signals"] / max(w["records"], 1) for w in raw), "", 3), "", "(< 1: merged)", None)
    row("  CPU per forwarded delta, µs", fmt((d["daemon_cpu_us"] for d in dmn), "", 1),
        fmt((w["emitter_cpu_us"] for w in raw), "", 1) + " emitter", "", "≤ 30 µs",
        med(d["daemon_cpu_us"] for d in dmn) <= 30)
    raw, dmn = r["raw_nomerge"], r["daemon_nomerge"]
    ratios = [d["rate"] / w["rate"] for d, w in zip(dmn, raw)]
    row("  never merged (coalesce-backlog=0), deltas/s", fmt(d["rate"] for d in dmn), fmt(w["rate"] for w in raw),
        fmt(ratios, "×", 2), "≥ 0.90× raw", med(ratios) >= 0.9)
    lost = [d["lost"] + d["out_of_order"] + d["serial_errors"] for d in dmn]
    row("    lost or out of order", fmt(lost), fmt(w["lost"] + w["out_of_order"] for w in raw), "", "0",
        max(lost) == 0)
    row("    CPU per forwarded delta, µs", fmt((d["daemon_cpu_us"] for d in dmn), "", 1),
        fmt((w["emitter_cpu_us"] for w in raw), "", 1) + " emitter", "", "≤ 30 µs",
        med(d["daemon_cpu_us"] for d in dmn) <= 30)

    # Latency
    for rate in (200, 1000):
        raw, dmn = r[f"raw_{rate}"], r[f"daemon_{rate}"]
        for p, limit in (("p50", None), ("p99", 2000)):
            key = f"{p}_us"
            added = [d[key] - w[key] for d, w in zip(dmn, raw)]
            if p == "p50":
                row(f"latency at {rate}/s, {p}, µs", fmt(d[key] for d in dmn), fmt(w[key] for w in raw),
                    fmt(added, " µs", 0) + " added", "≤ +100 µs", med(added) <= 100)
            else:
                row(f"latency at {rate}/s, {p}, µs", fmt(d[key] for d in dmn), fmt(w[key] for w in raw),
                    fmt(added, " µs", 0) + " added", "≤ 2 ms", med(d[key] for d in dmn) <= limit)
        lost = [d["lost"] for d in dmn]
        row(f"  lost at {rate}/s", fmt(lost), fmt(w["lost"] for w in raw), "", "0", max(lost) == 0)
        row(f"  CPU per delta at {rate}/s, µs", fmt((d["daemon_cpu_us"] for d in dmn), "", 0),
            fmt((w["emitter_cpu_us"] for w in raw), "", 0) + " emitter", "", "", None)

    # End to end
    def samples(runs, key, scale):
        return [x / scale for run in runs for x in run[key]]

    d_turn = samples(r["e2e_daemon"], "turn_us", 1000)
    s_turn = samples(r["e2e_sdk"], "turn_us", 1000)
    row("end to end: Send → assistant.message, ms", fmt(d_turn, "", 1), fmt(s_turn, "", 1) + " SDK",
        f"{med(d_turn) / med(s_turn):.2f}×", "≤ 1.00× SDK", med(d_turn) <= med(s_turn))
    d_rate = samples(r["e2e_daemon"], "words_per_s", 1)
    s_rate = samples(r["e2e_sdk"], "words_per_s", 1)
    row(f"  {args.words}-word answer, deltas/s at client", fmt(d_rate), fmt(s_rate) + " SDK",
        f"{med(d_rate) / med(s_rate):.2f}×", "≥ 1.00× SDK", med(d_rate) >= med(s_rate))
    d_create = samples(r["e2e_daemon"], "create_us", 1000)
    s_create = samples(r["e2e_sdk"], "create_us", 1000)
    row("  CreateSession, warm CLI, ms", fmt(d_create, "", 1), fmt(s_create, "", 1) + " SDK",
        f"{med(d_create) / med(s_create):.2f}×", "", None)
    row("  first CreateSession (starts the CLI), ms",
        fmt((x["first_create_ms"] for x in r["e2e_daemon"]), "", 0),
        fmt((x["first_create_ms"] for x in r["e2e_sdk"]), "", 0) + " SDK", "", "", None)

    # Cost
    row("RSS idle, KiB", fmt(r["rss_idle_kib"]), "", "", "≤ 8192 KiB", med(r["rss_idle_kib"]) <= 8192)
    for n in (1, 100, 1000):
        row(f"  RSS with {n} live session{'s' if n > 1 else ''}, KiB", fmt(r["rss_sessions_kib"][n]),
            "", "", "", None)
    row("  per idle live session, KiB", fmt(r["kib_per_session"], "", 2), "", "", "≤ 8 KiB",
        med(r["kib_per_session"]) <= 8)
    row("cold start: exec → bus name owned, ms", fmt(r["coldstart_ms"], "", 1), "", "", "≤ 50 ms",
        med(r["coldstart_ms"]) <= 50)
    ratios = [s / e for s, e in zip(r["rtt_status"], r["rtt_empty"])]
    row("GetStatus round trip, µs", fmt(r["rtt_status"]), fmt(r["rtt_empty"]) + " empty",
        fmt(ratios, "×", 2), "≤ 1.50× raw", med(ratios) <= 1.5)

    head = ("", "copilotd", "raw / SDK", "ratio", "target", "")
    widths = [max(len(x[i]) for x in rows + [head]) for i in range(6)]
    lines = [f"copilotd benchmark: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"{os.cpu_count()} cores ({cpu_model()}), load average {load_before} before, "
             f"{load_after} after; median (min–max) of {args.runs} runs (end to end: "
             f"{args.e2e_rounds} rounds of {args.runs}, {args.e2e_rounds * args.rate_runs} answers "
             f"for the {args.words}-word row)"]
    for x in [head] + rows:
        lines.append("  ".join(x[i].ljust(widths[i]) for i in range(6)).rstrip())
    missed = sum(1 for x in rows if x[5] == "MISSED")
    lines.append(f"{sum(1 for x in rows if x[5] == 'met')} targets met, {missed} missed")
    return "\n".join(lines), missed


def cpu_model():
    with open("/proc/cpuinfo") as f:
        m = re.search(r"model name\s*:\s*(.*)", f.read())
    return m.group(1).strip() if m else "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--daemon", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--peer", required=True)
    parser.add_argument("--flood-cli", required=True)
    parser.add_argument("--sdk-script", required=True)
    parser.add_argument("--sdk-prefix", required=True)
    parser.add_argument("--cli", default=os.environ.get("COPILOTD_TEST_CLI", DEFAULT_CLI))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=100000)
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--e2e-rounds", type=int, default=4,
                        help="end-to-end rounds of each, alternating (a CLI started for each)")
    parser.add_argument("--rate-runs", type=int, default=12,
                        help="WORDS-word answers per end-to-end round: their rate varies most")
    parser.add_argument("--only", choices=["fake", "real"], help="run one half (for profiling)")
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    load_before = loadavg()
    bench = Bench(args)
    results = {}
    try:
        if args.only != "real":
            bench.fake_cli_part(results)
        if args.only != "fake":
            bench.real_cli_part(results)
    finally:
        bench.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.only:
        print(json.dumps(results))
        return 0
    text, missed = table(results, args, load_before, loadavg())
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
