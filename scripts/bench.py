#!/usr/bin/env python3
"""`make bench`: Nubo and the tools people use instead, side by side, on the
same seeded data, on this machine, in one run.

Each scenario runs every tool RUNS times on fresh copies and keeps the
median. "Done" for Nubo is when home B holds every byte home A has (both
`nubo sync --once`, through a real `nubo serve` on 127.0.0.1). Results go to
bench/results.md (tables, ratios, versions, machine) and bench/results.png.

Usage: bench.py --nubo PATH [--runs N] [--only SCENARIO,..] [--out DIR]
"""

import argparse
import hashlib
import inspect
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB


# ---------------------------------------------------------------- datasets

def rand_bytes(rng, n):
    return rng.randbytes(n)


def make_small(root: Path, seed: int, files=10_000, folders=200):
    """`small`: FILES files of 1-16 KiB in FOLDERS nested folders."""
    rng = random.Random(seed)
    dirs = [Path("")]
    for i in range(folders - 1):
        parent = rng.choice(dirs)
        dirs.append(parent / f"d{i:03}")
    for d in dirs:
        (root / d).mkdir(parents=True, exist_ok=True)
    for i in range(files):
        d = dirs[i % len(dirs)]
        (root / d / f"f{i:05}.bin").write_bytes(rand_bytes(rng, rng.randint(1 * KIB, 16 * KIB)))


def make_mixed(root: Path, seed: int, big=512 * MIB):
    """`mixed`: 5,000 small, 20 files of 1-20 MiB, one large file."""
    make_small(root, seed, files=5_000, folders=100)
    rng = random.Random(seed + 1)
    (root / "media").mkdir(exist_ok=True)
    for i in range(20):
        (root / "media" / f"clip-{i:02}.bin").write_bytes(rand_bytes(rng, rng.randint(1 * MIB, 20 * MIB)))
    with open(root / "disk-image.bin", "wb") as f:
        left = big
        while left:
            n = min(left, 16 * MIB)
            f.write(rand_bytes(rng, n))
            left -= n


def make_large_tree(root: Path, seed: int):
    """`large-tree`: 100,000 small files."""
    make_small(root, seed, files=100_000, folders=1_000)


def make_huge(root: Path, seed: int, files=1_000_000, folders=20_000):
    """`huge`: 1,000,000 files of 0-4 KiB in 20,000 nested folders, each
    in a folder picked at random among those before it (as `small`): about
    ten deep, paths of some 80 characters. (Picking among the last 200 only,
    as this did at first, nests them about 100 deep, paths of 700
    characters: no photo library or source tree looks like that.)"""
    rng = random.Random(seed)
    dirs = [Path("")]
    for i in range(folders - 1):
        dirs.append(rng.choice(dirs) / f"d{i:05}")
    for d in dirs:
        (root / d).mkdir(parents=True, exist_ok=True)
    for i in range(files):
        d = dirs[i % len(dirs)]
        (root / d / f"f{i:07}").write_bytes(rand_bytes(rng, rng.randint(0, 4 * KIB)))


def edit_round(root: Path, seed: int):
    """40 appends, 20 renames (half across folders), 20 deletes, 20 new
    files, 1 KiB inserted in the middle of the large file."""
    rng = random.Random(seed + 7)
    files = sorted(p for p in root.rglob("f*.bin"))
    picks = rng.sample(files, 100)
    for p in picks[:40]:
        with open(p, "ab") as f:
            f.write(rand_bytes(rng, 512))
    dirs = sorted({p.parent for p in files})
    for i, p in enumerate(picks[40:60]):
        target_dir = rng.choice(dirs) if i % 2 else p.parent
        p.rename(target_dir / f"renamed-{i:02}.bin")
    for p in picks[60:80]:
        p.unlink()
    for i in range(20):
        (rng.choice(dirs) / f"new-{i:02}.bin").write_bytes(rand_bytes(rng, rng.randint(KIB, 16 * KIB)))
    big = root / "disk-image.bin"
    if big.exists():
        with open(big, "r+b") as f:
            size = f.seek(0, 2)
            mid = size // 2
            f.seek(mid)
            tail = f.read()
            f.seek(mid)
            f.write(rand_bytes(rng, KIB))
            f.write(tail)


def tree_digest(root: Path):
    h = hashlib.blake2b()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(part.startswith(".nubo") or part.startswith(".unison") or part.startswith(".stfolder")
               or part.startswith(".stversions") for part in rel.parts):
            continue
        if p.is_file():
            h.update(str(rel).encode())
            with open(p, "rb") as f:
                while chunk := f.read(4 * MIB):
                    h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- helpers

def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


def timed(cmd, env=None):
    """Wall seconds and peak RSS (KiB) of one command."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({p.returncode}): {p.stderr[-2000:]}")
    rss = int(p.stderr.strip().splitlines()[-1])
    return dt, rss


def lo_bytes():
    for line in Path("/proc/net/dev").read_text().splitlines():
        if line.strip().startswith("lo:"):
            return int(line.split(":")[1].split()[0])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except Exception as e:  # a missing peer is reported, not fatal
        return f"not available ({e})"


# ---------------------------------------------------------------- tools

class Nubo:
    name = "nubo"

    def __init__(self, exe, work: Path):
        self.exe = exe
        self.work = work

    def start(self, a: Path, b: Path):
        self.data = self.work / "service"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(self.work / "service.log", "w")
        self.service = subprocess.Popen(
            [self.exe, "serve", "--data", str(self.data), "--listen", f"127.0.0.1:{port}", "--demo",
             "--default-quota", str(1 << 40)], stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if "listening" in (self.work / "service.log").read_text():
                break
            time.sleep(0.05)
        self.homes = {}
        for side, root in (("a", a), ("b", b)):
            home = self.work / f"home-{side}"
            env = self.env(side)
            subprocess.run([self.exe, "--home", str(home), "login", self.url, "demo", "--password-stdin"],
                           input=b"nubo-demo\n", check=True, env=env, stdout=subprocess.DEVNULL)
            run([self.exe, "--home", str(home), "agreements", "--accept", "--adult", "--push"], env=env)
            run([self.exe, "--home", str(home), "folder", "add", str(root), "--mode", "two-way"], env=env)
            cfg = json.loads((home / "config.json").read_text())
            cfg["large_folder_bytes"] = 1 << 50
            cfg["keep_free_mb"] = 0
            (home / "config.json").write_text(json.dumps(cfg))
            self.homes[side] = home

    def env(self, side):
        return {**os.environ, "NUBO_TOKEN_STORE": "file", "NUBO_DEVICE_NAME": f"bench-{side}"}

    def sync_cmd(self, side):
        return [self.exe, "--home", str(self.homes[side]), "sync", "--once"]

    def sync(self):
        """A uploads, B downloads; peak RSS of the larger engine."""
        before = lo_bytes()
        ta, ra = timed(self.sync_cmd("a"), env=self.env("a"))
        # What A's pass put on the wire: A sends, B only fetches.
        self.a_bytes = lo_bytes() - before
        tb, rb = timed(self.sync_cmd("b"), env=self.env("b"))
        print(f"    nubo: A {ta:.2f}s, B {tb:.2f}s", flush=True)
        return ta + tb, max(ra, rb)

    def service_rss_kib(self):
        for line in Path(f"/proc/{self.service.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def watch(self):
        self.watchers = [subprocess.Popen([self.exe, "--home", str(self.homes[s]), "sync"], env=self.env(s),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                         for s in ("a", "b")]
        return [w.pid for w in self.watchers]

    def stop(self):
        for w in getattr(self, "watchers", []):
            w.send_signal(signal.SIGTERM)
            w.wait(timeout=30)
        self.watchers = []
        if hasattr(self, "service"):
            self.service.kill()
            self.service.wait()


class Simple:
    """A one-command peer: `argv(a, b)` syncs a to b (or both ways)."""

    def __init__(self, name, argv, first=None, edits=True):
        self.name = name
        self.argv = argv
        self.first = first or argv
        # A copy that never deletes cannot take the edit round's renames.
        self.edits = edits

    def start(self, a, b):
        self.started = False
        self.a, self.b = a, b

    def sync(self):
        cmd = self.argv if self.started else self.first
        self.started = True
        return timed(cmd(self.a, self.b))

    def stop(self):
        pass


class RcloneWebdav:
    """rclone one way from A to `rclone serve webdav` serving B, on loopback."""

    name = "rclone webdav"

    def __init__(self, work: Path):
        self.work = work

    def start(self, a, b):
        self.a = a
        conf = self.work / "rclone-webdav.conf"
        conf.write_text("")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.rc = ["rclone", "--config", str(conf)]
        self.server = subprocess.Popen([*self.rc, "serve", "webdav", str(b), "--addr", f"127.0.0.1:{port}"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("rclone serve webdav did not start")

    def sync(self):
        return timed([*self.rc, "sync", str(self.a), ":webdav:", "--webdav-url", self.url])

    def stop(self):
        self.server.kill()
        self.server.wait()


class Syncthing:
    """Two Syncthing instances on 127.0.0.1 (discovery, relays, NAT, usage
    reports off; fsWatcherDelayS 1), driven through their REST API. "Done" is
    when A reports B 100% complete and B holds every file."""

    name = "syncthing"
    key = "nubo-bench-key"

    def __init__(self, work: Path):
        self.work = work

    def api(self, side, method, path, body=None):
        import urllib.request
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.gui[side] + path, method=method, data=data,
                                     headers={"X-API-Key": self.key, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read()
        return json.loads(text) if text.strip() else None

    def start(self, a, b):
        import re
        self.roots = {"a": a, "b": b}
        self.gui, self.procs, self.ids, listen = {}, {}, {}, {}
        for side in ("a", "b"):
            home = self.work / f"syncthing-{side}"
            run(["syncthing", "generate", f"--home={home}", "--no-default-folder", "--skip-port-probing"])
            gui_port, listen_port = free_port(), free_port()
            self.gui[side] = f"http://127.0.0.1:{gui_port}"
            listen[side] = f"tcp://127.0.0.1:{listen_port}"
            cfg = (home / "config.xml").read_text()
            for tag, value in (("listenAddress", listen[side]), ("globalAnnounceEnabled", "false"),
                               ("localAnnounceEnabled", "false"), ("relaysEnabled", "false"),
                               ("natEnabled", "false"), ("urAccepted", "-1"), ("startBrowser", "false"),
                               ("autoUpgradeIntervalH", "0"), ("crashReportingEnabled", "false")):
                cfg = re.sub(rf"<{tag}>[^<]*</{tag}>", f"<{tag}>{value}</{tag}>", cfg)
            (home / "config.xml").write_text(cfg)
            log = open(self.work / f"syncthing-{side}.log", "w")
            self.procs[side] = subprocess.Popen(
                ["syncthing", "serve", f"--home={home}", "--no-browser", "--no-restart", "--no-upgrade",
                 f"--gui-address={self.gui[side]}", f"--gui-apikey={self.key}"],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "STNODEFAULTFOLDER": "1"})
        for side in ("a", "b"):
            for _ in range(600):
                try:
                    self.ids[side] = self.api(side, "GET", "/rest/system/status")["myID"]
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise RuntimeError(f"syncthing {side} did not start; see {self.work}/syncthing-{side}.log")
        for side, other in (("a", "b"), ("b", "a")):
            self.api(side, "POST", "/rest/config/devices",
                     {"deviceID": self.ids[other], "name": other, "addresses": [listen[other]]})
        self.until(lambda: self.api("a", "GET", "/rest/system/connections")["connections"]
                   .get(self.ids["b"], {}).get("connected"), "the two instances to connect")
        self.shared = False

    def until(self, done, what, limit=900):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if done():
                return
            time.sleep(0.05)
        raise RuntimeError(f"syncthing: gave up waiting for {what}")

    def complete(self):
        files = sum(1 for p in self.roots["a"].rglob("*") if p.is_file() and ".stfolder" not in p.parts)
        def check():
            c = self.api("a", "GET", f"/rest/db/completion?folder=bench&device={self.ids['b']}")
            sb = self.api("b", "GET", "/rest/db/status?folder=bench")
            sa = self.api("a", "GET", "/rest/db/status?folder=bench")
            return (c["completion"] == 100 and c["needItems"] == 0 and sa["state"] == "idle"
                    and sb["state"] == "idle" and sb["needTotalItems"] == 0 and sb["localFiles"] == files
                    and sa["localFiles"] == files)
        return check

    def sync(self):
        t0 = time.monotonic()
        if not self.shared:
            for side in ("a", "b"):
                self.api(side, "POST", "/rest/config/folders", {
                    "id": "bench", "label": "bench", "path": str(self.roots[side]), "type": "sendreceive",
                    "devices": [{"deviceID": self.ids["a"]}, {"deviceID": self.ids["b"]}],
                    "fsWatcherEnabled": True, "fsWatcherDelayS": 1, "rescanIntervalS": 3600})
            self.shared = True
        else:
            self.api("a", "POST", "/rest/db/scan?folder=bench")
        self.until(self.complete(), "B to hold everything")
        dt = time.monotonic() - t0
        rss = 0
        for p in self.procs.values():
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    rss = max(rss, int(line.split()[1]))
        return dt, rss

    def stop(self):
        # Debian's `syncthing serve` runs the real instance as a child of a
        # monitor even with --no-restart, in a group of its own: killing
        # the monitor alone left both instances running after the bench.
        for p in self.procs.values():
            kill_tree(p.pid)
            p.wait()


def kill_tree(pid):
    """SIGKILL a process and everything it started, children first."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    for child in children:
        kill_tree(child)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def peers(work: Path):
    rclone_conf = work / "rclone.conf"
    rclone_conf.write_text("")
    rc = ["rclone", "--config", str(rclone_conf)]
    bisync_dir = work / "bisync-state"
    return [
        Simple("cp -a", lambda a, b: ["cp", "-a", f"{a}/.", str(b)], edits=False),
        Simple("rsync", lambda a, b: ["rsync", "-a", "--delete", f"{a}/", f"{b}/"]),
        # Its archive in this run's folder: one left by an earlier run on
        # the same paths would make it think B once held A's files.
        Simple("unison", lambda a, b: ["env", f"UNISON={work / 'unison'}", "unison", str(a), str(b), "-batch",
                                       "-auto", "-times", "-perms", "0", "-ui", "text",
                                       "-confirmbigdel=false"]),
        Simple("rclone bisync",
               lambda a, b: [*rc, "bisync", str(a), str(b), "--workdir", str(bisync_dir)],
               first=lambda a, b: [*rc, "bisync", str(a), str(b), "--resync", "--workdir", str(bisync_dir)]),
    ]


# ---------------------------------------------------------------- scenarios

# Set-aside runs are deleted early (with the quiet minute) when the disk
# has less than this left: three runs of `huge` would not fit beside it.
KEEP_FREE = 20 * 1024 * MIB


def fresh_pair(work: Path, dataset, seed):
    a, b = work / "A", work / "B"
    set_aside(work)
    if shutil.disk_usage(work.parent).free < KEEP_FREE:
        clear_set_aside(work.parent)
    work.mkdir(parents=True)
    a.mkdir()
    b.mkdir()
    # A dataset's maker changed (or the makers it calls), a new dataset; the
    # old one goes.
    makers = (dataset, make_small, rand_bytes)
    made_by = hashlib.sha256("".join(inspect.getsource(f) for f in makers).encode()).hexdigest()[:8]
    cache = work.parent / f"dataset-{dataset.__name__}-{seed}-{made_by}"
    earlier = [work.parent / f"dataset-{dataset.__name__}-{seed}",
               *work.parent.glob(f"dataset-{dataset.__name__}-{seed}-*")]
    for old in earlier:
        if old != cache:
            shutil.rmtree(old, ignore_errors=True)
    if not cache.exists():
        tmp = work.parent / "dataset-tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        dataset(tmp, seed)
        tmp.rename(cache)
    run(["cp", "-a", f"{cache}/.", str(a)])
    return a, b


# ext4 does not hand out an inode freed in the last minute (longer while its
# block is not written back, hence the sync) and checks each candidate one by
# one, so creating 10,000
# files just after deleting the last run's 30,000 took up to three times as
# long (B's download: 1.7 s on a fresh folder, 5.5 s after a deletion), for
# whichever tool ran next. No user deletes a run's worth of files before
# syncing: a run's small files are set aside and deleted between scenarios,
# followed by a quiet minute; large files (few inodes) go at once, so the
# disk does not fill up.
QUIET_S = 61


def set_aside(work: Path):
    if not work.exists():
        return
    for f in work.rglob("*"):
        if f.is_file() and not f.is_symlink() and f.stat().st_size > MIB:
            f.unlink()
    aside = work.parent / "set-aside"
    aside.mkdir(exist_ok=True)
    work.rename(aside / f"{time.time_ns()}")


def clear_set_aside(base: Path, quiet=True):
    aside = base / "set-aside"
    if aside.exists():
        shutil.rmtree(aside)
        if quiet:
            os.sync()
            time.sleep(QUIET_S)


def scenario(tools, base: Path, dataset, runs, phases):
    """phases: 'initial', 'nochange', 'edit'. Returns {phase: {tool: (median s, rss KiB, bytes)}}."""
    out = {p: {} for p in phases}
    clear_set_aside(base)
    for tool_factory in tools:
        samples = {p: [] for p in phases}
        for r in range(runs):
            work = base / "run"
            a, b = fresh_pair(work, dataset, 1)
            tool = tool_factory(work)
            tool.start(a, b)
            try:
                for p in ("initial", "nochange", "edit"):
                    if p == "edit" and not getattr(tool, "edits", True):
                        break
                    if p == "edit":
                        edit_round(a, 1)
                    want = tree_digest(a)
                    before = lo_bytes()
                    dt, rss = tool.sync()
                    sent = lo_bytes() - before
                    if p in phases:
                        samples[p].append((dt, rss, sent))
                    # A must be as it was and B equal to it: a tool that
                    # emptied both sides would otherwise pass.
                    if tree_digest(a) != want or tree_digest(b) != want:
                        raise RuntimeError(f"{tool.name}: A changed or B differs from A after {p}")
                    if p == phases[-1]:
                        break
                if isinstance(tool, Nubo) and "edit" in phases:
                    samples.setdefault("edit_sent", []).append((0, 0, tool.a_bytes))
                if isinstance(tool, Nubo) and "initial" in phases:
                    samples.setdefault("service_rss", []).append((0, tool.service_rss_kib(), 0))
            finally:
                tool.stop()
            print(f"  {tool.name} run {r + 1}/{runs}: " + ", ".join(
                f"{p} {samples[p][-1][0]:.2f}s" for p in phases if samples[p]), flush=True)
        for p, s in samples.items():
            if not s:
                continue
            name = {"service_rss": "nubo service", "edit_sent": "nubo A's pass"}.get(p, tool.name)
            out.setdefault(p, {})[name] = (statistics.median(x[0] for x in s), max(x[1] for x in s),
                                           statistics.median(x[2] for x in s))
    return out


def peak_rss_kib(pids, field="VmHWM"):
    """The largest peak resident size (VmHWM) among the processes; with
    field="VmRSS", the largest resident size now."""
    peak = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                peak = max(peak, int(line.split()[1]))
    return peak


def watch_latency(nubo_exe, base: Path, samples=50, dataset=None):
    """One file changed in A with both sides watching: seconds until B has
    it; the engines' idle cost and peak memory while watching."""
    work = base / "watch"
    a, b = fresh_pair(work, dataset or make_small, 1)
    tool = Nubo(nubo_exe, work)
    tool.start(a, b)
    try:
        tool.sync()
        pids = tool.watch()
        # Idle: CPU ticks and context switches (every thread's: each is a
        # wake-up) of the two engines over 60 s, once their start (a whole
        # read of the folder) is over: two seconds without a tick of CPU.
        def ticks():
            """CPU ticks of the engines (ended threads' included), and each
            live thread's context switches by thread id."""
            t, s = 0, {}
            for pid in pids:
                st = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                t += int(st[11]) + int(st[12])
                for task in Path(f"/proc/{pid}/task").iterdir():
                    try:
                        status = (task / "status").read_text()
                    except OSError:  # a thread that ended meanwhile
                        continue
                    s[task.name] = sum(int(line.split()[1]) for line in status.splitlines()
                                       if "ctxt_switches" in line)
            return t, s
        started = time.monotonic()
        time.sleep(2)
        last = ticks()[0]
        while time.monotonic() - started < 900:
            time.sleep(2)
            now = ticks()[0]
            if now == last:
                break
            last = now
        start_s = time.monotonic() - started
        t0, s0 = ticks()
        time.sleep(60)
        t1, s1 = ticks()
        # A thread that ends in the minute (an idle worker of the blocking
        # pool, after 10 s) takes its count with it: only those still there
        # are counted, from 0 for those that began in the minute.
        wakeups = sum(n - s0.get(tid, 0) for tid, n in s1.items())
        idle = {"cpu_s": (t1 - t0) / os.sysconf("SC_CLK_TCK"), "wakeups": wakeups}
        lat = []
        target = b / "d000" if (b / "d000").exists() else b
        for i in range(samples):
            data = f"change {i} {time.time()}".encode()
            t = time.monotonic()
            (a / (target.relative_to(b)) / "watched.txt").write_bytes(data)
            dest = target / "watched.txt"
            deadline = t + 30
            while time.monotonic() < deadline:
                try:
                    if dest.read_bytes() == data:
                        break
                except OSError:
                    pass
                time.sleep(0.002)
            lat.append(time.monotonic() - t)
            time.sleep(0.3)
        return {"median": statistics.median(lat), "p95": sorted(lat)[int(len(lat) * 0.95) - 1], "idle": idle,
                "peak_rss_kib": peak_rss_kib(pids), "rss_kib": peak_rss_kib(pids, "VmRSS"),
                "start_s": start_s, "files": sum(1 for _ in a.rglob("*"))}
    finally:
        tool.stop()


# ---------------------------------------------------------------- report

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nubo", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="small,mixed,large-tree,watch")  # also: huge, watch-large, watch-huge
    ap.add_argument("--out", default="bench")
    ap.add_argument("--work", default=os.path.expanduser("~/.cache/nubo/bench"))
    ap.add_argument("--tools", default="nubo,cp -a,rsync,unison,rclone bisync,rclone webdav,syncthing")
    args = ap.parse_args()
    only = args.only.split(",")
    base = Path(args.work)
    base.mkdir(parents=True, exist_ok=True)
    nubo = lambda work: Nubo(args.nubo, work)  # noqa: E731
    names = ["nubo", "cp -a", "rsync", "unison", "rclone bisync", "rclone webdav", "syncthing"]
    every = [nubo, *[lambda w, i=i: peers(w)[i] for i in range(4)], RcloneWebdav, Syncthing]
    wanted = args.tools.split(",")
    all_tools = [t for n, t in zip(names, every) if n in wanted]
    by_name = dict(zip(names, every))
    versions = {
        "nubo": version([args.nubo, "--version"]),
        "rsync": version(["rsync", "--version"]),
        "unison": version(["unison", "-version"]),
        "rclone": version(["rclone", "version"]),
        "syncthing": version(["syncthing", "--version"]),
        "cp": version(["cp", "--version"]),
    }
    machine = {
        "cpu": next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name")), platform.processor()),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "filesystem": subprocess.run(["stat", "-f", "-c", "%T", str(base)], capture_output=True,
                                     text=True).stdout.strip(),
    }
    out = Path(args.out)
    out.mkdir(exist_ok=True)

    # Scenarios not measured in this run keep what an earlier run measured
    # (`make bench BENCH=huge` leaves `small`'s tables as they were), each
    # with the day and Nubo version that measured it.
    earlier = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    results = earlier.get("results", {})
    measured = earlier.get("measured", {k: "an earlier run" for k in results})
    today = f"{time.strftime('%Y-%m-%d')}, {versions['nubo']}"

    def save():
        # After every scenario: a later one failing keeps what was measured.
        for k in results:
            if k in fresh:
                measured[k] = today
        (out / "results.json").write_text(json.dumps({"results": results, "measured": measured,
                                                      "versions": versions, "machine": machine}, indent=1))

    fresh = set()  # the scenarios this run measured

    def put(key, value):
        results[key] = value
        fresh.add(key)

    if "small" in only:
        print("small: initial, no-change re-sync", flush=True)
        put("small", scenario(all_tools, base, make_small, args.runs, ["initial", "nochange"]))
        save()
    if "mixed" in only:
        print("mixed: initial, edit round", flush=True)
        put("mixed", scenario(all_tools, base, make_mixed, args.runs, ["initial", "nochange", "edit"]))
        save()
    if "large-tree" in only:
        print("large-tree: initial, no-change re-sync", flush=True)
        put("large-tree", scenario([t for n, t in by_name.items()
                                    if n in ("nubo", "rsync", "unison") and n in wanted],
                                   base, make_large_tree, args.runs,
                                   ["initial", "nochange"]))
        save()
    if "huge" in only:
        # One run: a million files take long enough that the medians of
        # three would keep the machine for hours.
        print("huge: 1,000,000 files, initial, no-change re-sync", flush=True)
        put("huge", scenario([t for n, t in by_name.items() if n in ("nubo", "rsync") and n in wanted],
                             base, make_huge, 1, ["initial", "nochange"]))
        save()
    if "huge" in only or "watch-huge" in only:
        print("huge: one-file change with watchers (20 samples)", flush=True)
        put("watch-huge", watch_latency(args.nubo, base, samples=20, dataset=make_huge))
        save()
    if "watch-large" in only:
        print("large-tree: one-file change with watchers (20 samples)", flush=True)
        put("watch-large-tree", watch_latency(args.nubo, base, samples=20, dataset=make_large_tree))
        save()
    if "watch" in only:
        print("one-file change with watchers (50 samples), idle 60 s", flush=True)
        put("watch", watch_latency(args.nubo, base))
        save()
    clear_set_aside(base, quiet=False)
    print(f"wrote {out / 'results.json'}")


if __name__ == "__main__":
    sys.exit(main())
