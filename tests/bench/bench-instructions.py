#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench-instructions.py: copilotd's instructions per forwarded delta.

Wall-clock CPU time per delta depends on what else the machine runs; the
number of instructions copilotd executes does not. This runs copilotd under
`valgrind --tool=callgrind` (all threads: the GDBus worker too) on a private
bus with bench-flood-cli as its CLI, and counts its instructions over a
flood of N deltas to one subscriber (bench-peer flood), minus those of a
one-delta turn (CreateSession, Send, the final events), divided by N - 1.
Deltas are never merged (coalesce-backlog=0 unless --merge), so each one is
parsed, kept for GetEvents and sent as its own Delta signal.

With --cpu it instead runs copilotd natively and prints its CPU time
(utime + stime) per forwarded delta over --runs floods: less exact than
instructions on a loaded machine, but it has the kernel's share (reading
the CLI's pipe, writing to the bus, waking GDBus's worker thread) that
callgrind does not count.

With --cli CLI --model MODEL it instead streams answers of the real CLI
(against the offline model, as bench-daemon.py's end-to-end rows do) to
bench-peer turn and prints copilotd's instructions per word of a
--words-word answer: a turn with a 2000-word answer minus one with a
10-word answer, over the difference. Each word is one
assistant.message_delta of the CLI, which also sends internal noise
(assistant.streaming_delta) that copilotd drops.

With --raw it also counts the instructions of bench-peer raw-emit sending
the same Delta signal shape N times: the least a process sending deltas
over GDBus executes per delta.

Usage (meson: `meson compile -C <release build> bench-instructions`):
  bench-instructions.py --daemon D --peer P --flood-cli F [--count N]
                        [--raw] [--merge] [--keep DIR]

--keep DIR leaves the callgrind profile of the flood there
(callgrind_annotate DIR/flood.out).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

BUS_NAME = "io.github.copilotd.Copilot1"


def log(*args):
    print("bench:", *args, file=sys.stderr, flush=True)


class Run:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="copilotd-instr-")
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("G_DEBUG", "G_SLICE", "ASAN_OPTIONS", "GH_TOKEN", "GITHUB_TOKEN")}
        self.bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                                     "--print-address"],
                                    stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = self.bus.stdout.readline().decode().strip()
        self.env["XDG_CONFIG_HOME"] = os.path.join(self.tmp, "config")
        self.daemon = None

    def close(self):
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.terminate()
            self.daemon.wait(120)
        self.bus.terminate()
        self.bus.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def name_has_owner(self):
        out = subprocess.run(["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus",
                              "--object-path", "/org/freedesktop/DBus",
                              "--method", "org.freedesktop.DBus.NameHasOwner", BUS_NAME],
                             env=self.env, capture_output=True, text=True).stdout
        return "true" in out

    def peer(self, *argv, prefix=()):
        out = subprocess.run([*prefix, self.args.peer, *map(str, argv)], env=self.env,
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, check=True).stdout
        return out.decode()

    def start_daemon(self, native=False, cli=None, extra_env=None):
        config = os.path.join(self.tmp, "copilotd.conf")
        with open(config, "w") as f:
            f.write("[copilotd]\n" + ("" if self.args.merge else "coalesce-backlog=0\n"))
        self.out = os.path.join(self.tmp, "callgrind.out")
        valgrind = ["valgrind", "--tool=callgrind", "--separate-threads=no",
                    f"--callgrind-out-file={self.out}"]
        self.daemon = subprocess.Popen(
            [*([] if native else valgrind),
             self.args.daemon, "--cli-path", cli or self.args.flood_cli, "--config", config,
             "--copilot-home", os.path.join(self.tmp, "copilot-home")],
            env={**self.env, **(extra_env or {})}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not self.name_has_owner():
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("copilotd did not start under valgrind")
            time.sleep(0.2)

    def cpu_us(self):
        with open(f"/proc/{self.daemon.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1e6 / os.sysconf("SC_CLK_TCK")

    def control(self, *argv):
        subprocess.run(["callgrind_control", *argv, str(self.daemon.pid)], check=True,
                       stdout=subprocess.DEVNULL, env=self.env)

    def counted(self, count, name, argv=None):
        """Instructions copilotd executes while bench-peer floods @count
        (or runs @argv)."""
        before = set(os.listdir(self.tmp))
        self.control("--zero")
        self.peer(*(argv or ("flood", count, 0)))
        # Let the last signals leave before the counters are read.
        time.sleep(0.5)
        self.control(f"--dump={name}")
        deadline = time.monotonic() + 60
        while True:
            new = [n for n in os.listdir(self.tmp) if n.startswith("callgrind.out.") and n not in before]
            for d in new:
                with open(os.path.join(self.tmp, d)) as f:
                    m = re.search(r"^(?:summary|totals):\s+(\d+)", f.read(), re.M)
                if m:
                    self.dumped = os.path.join(self.tmp, d)
                    return int(m.group(1))
            if time.monotonic() > deadline:
                raise RuntimeError("no callgrind dump")
            time.sleep(0.2)

    def raw_emitter(self, count):
        sub = subprocess.Popen([self.args.peer, "raw-sub", str(count)], env=self.env,
                               stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        name = sub.stdout.readline().decode().strip()
        totals = []
        for n in (1, count):
            out = os.path.join(self.tmp, f"raw-{n}.out")
            self.peer("raw-emit", name, n, 0,
                      prefix=("valgrind", "--tool=callgrind", "--separate-threads=no",
                              f"--callgrind-out-file={out}"))
            with open(out) as f:
                totals.append(int(re.search(r"^(?:summary|totals):\s+(\d+)", f.read(), re.M).group(1)))
        sub.terminate()
        sub.wait()
        return (totals[1] - totals[0]) / (count - 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--daemon", required=True)
    parser.add_argument("--peer", required=True)
    parser.add_argument("--flood-cli", required=True)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--raw", action="store_true", help="also count the raw emitter")
    parser.add_argument("--merge", action="store_true", help="leave coalesce-backlog at its default")
    parser.add_argument("--cpu", action="store_true", help="CPU µs per delta, natively")
    parser.add_argument("--runs", type=int, default=5, help="floods for --cpu")
    parser.add_argument("--cli", help="the real CLI: instructions per word of its answer")
    parser.add_argument("--model", help="copilotd-offline-model, with --cli")
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--keep", help="copy the flood's callgrind profile into this directory")
    args = parser.parse_args()

    run = Run(args)
    if args.cli:
        model = subprocess.Popen([args.model, "--delay-ms", "0"], env=run.env,
                                 stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            url = "http://127.0.0.1:" + model.stdout.readline().decode().strip().rsplit(" ", 1)[1]
            workdir = os.path.join(run.tmp, "work")
            os.makedirs(workdir)
            log("starting copilotd under callgrind, the real CLI")
            run.start_daemon(cli=args.cli, extra_env={"COPILOT_API_URL": url,
                                                     "COPILOT_DEBUG_GITHUB_API_URL": url,
                                                     "COPILOT_SDK_AUTH_TOKEN": "fake"})
            run.peer("turn", 0, "Say hello", 10, workdir)   # the CLI started, caches warm
            log("10-word turn")
            short = run.counted(0, "short", ("turn", 1, "Say hello", 10, workdir))
            log(f"{args.words}-word turn")
            long = run.counted(0, "long", ("turn", 1, "Say hello", args.words, workdir))
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                shutil.copyfile(run.dumped, os.path.join(args.keep, "turn.out"))
            print(f"copilotd: {(long - short) / (args.words - 10):,.0f} instructions per word streamed "
                  f"by the real CLI ({args.words}-word answer {long:,}, 10-word answer {short:,})")
        finally:
            run.close()
            model.terminate()
            model.wait()
        return 0
    if args.cpu:
        try:
            run.start_daemon(native=True)
            run.peer("flood", 100, 0)
            samples = []
            for _ in range(args.runs):
                cpu0 = run.cpu_us()
                run.peer("flood", args.count, 0)
                samples.append((run.cpu_us() - cpu0) / args.count)
            samples.sort()
            print(f"copilotd: {samples[len(samples) // 2]:.1f} µs CPU per forwarded delta "
                  f"({min(samples):.1f}–{max(samples):.1f}, {args.runs} floods of {args.count}, "
                  f"{'merged under pressure' if args.merge else 'never merged'}; load {os.getloadavg()[0]:.1f})")
        finally:
            run.close()
        return 0
    try:
        log("starting copilotd under callgrind")
        run.start_daemon()
        run.peer("flood", 100, 0)   # the CLI started, caches warm
        log("one-delta turn")
        fixed = run.counted(1, "one")
        log(f"{args.count}-delta flood")
        flood = run.counted(args.count, "flood")
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            shutil.copyfile(run.dumped, os.path.join(args.keep, "flood.out"))
        per_delta = (flood - fixed) / (args.count - 1)
        print(f"copilotd: {per_delta:,.0f} instructions per forwarded delta "
              f"({args.count} deltas, {'merged under pressure' if args.merge else 'never merged'}; "
              f"one-delta turn {fixed:,})")
        if args.raw:
            log("raw emitter")
            print(f"raw emitter: {run.raw_emitter(args.count):,.0f} instructions per Delta signal")
    finally:
        run.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
