#!/usr/bin/env python3
"""Turns bench/results.json into bench/results.md (tables, the issue's
targets met or missed by how much) and bench/results.png (a chart of the
Nubo/peer ratios). Usage: bench_report.py DIR"""

import json
import sys
from pathlib import Path

MIB = 1024 * 1024


def fmt_s(x):
    return f"{x:.2f} s" if x >= 0.1 else f"{x * 1000:.0f} ms"


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench")
    data = json.loads((out / "results.json").read_text())
    res, versions, machine = data["results"], data["versions"], data["machine"]
    lines = ["# Benchmark results", "",
             "Written by `make bench` (scripts/bench.py, then scripts/bench_report.py). "
             "Every time is the median of the runs; \"done\" for Nubo is when home B holds every byte "
             "of home A through a `nubo serve` on 127.0.0.1 (`sync --once` on A, then on B).", ""]
    ratios = []  # (label, ratio, target)
    targets = []

    def table(title, phase_results, phase):
        rows = phase_results.get(phase, {})
        if not rows:
            return
        nubo = rows.get("nubo", (None,))[0]
        lines.append(f"### {title}")
        lines.append("")
        lines.append("| tool | time | Nubo/tool | peak RSS | bytes on loopback |")
        lines.append("|---|---|---|---|---|")
        for tool, (t, rss, sent) in sorted(rows.items(), key=lambda kv: kv[1][0]):
            if tool == "nubo service":
                continue
            ratio = f"{nubo / t:.2f}" if nubo and t and tool != "nubo" else ""
            lines.append(f"| {tool} | {fmt_s(t)} | {ratio} | {rss / 1024:.0f} MiB | {sent / MIB:.1f} MiB |")
        if "nubo service" in rows:
            lines.append(f"| (nubo service) | | | {rows['nubo service'][1] / 1024:.0f} MiB | |")
        lines.append("")

    def target(label, ok, detail):
        result = "not measured" if detail.startswith("not measured") else "met" if ok else "**missed**"
        targets.append(f"| {label} | {result} | {detail} |")

    def get(ds, phase, tool):
        return res.get(ds, {}).get(phase, {}).get(tool)

    for ds in ("small", "mixed", "large-tree", "huge"):
        if ds not in res:
            continue
        lines.append(f"## `{ds}`")
        lines.append("")
        table("initial sync", res[ds], "initial")
        table("no-change re-sync", res[ds], "nochange")
        table("edit round", res[ds], "edit")

    def ratio_target(label, ds, phase, peer, limit):
        n, p = get(ds, phase, "nubo"), get(ds, phase, peer)
        if n and p:
            r = n[0] / p[0]
            ratios.append((f"{ds} {phase} / {peer}", r, limit))
            target(label, r <= limit, f"Nubo {fmt_s(n[0])}, {peer} {fmt_s(p[0])}: ratio {r:.2f} (target ≤ {limit})")
        else:
            target(label, False, "not measured in this run")

    ratio_target("`small` initial ≤ ½ Unison", "small", "initial", "unison", 0.5)
    ratio_target("`small` initial 4x faster than Syncthing", "small", "initial", "syncthing", 0.25)
    ratio_target("`mixed` initial within 1.5x of `cp -a`", "mixed", "initial", "cp -a", 1.5)
    ratio_target("`small` no-change ≤ rsync", "small", "nochange", "rsync", 1.0)
    lt = get("large-tree", "nochange", "nubo")
    target("`large-tree` no-change under 1 s", bool(lt and lt[0] < 1.0),
           f"{fmt_s(lt[0])}" if lt else "not measured in this run")
    ratio_target("`edit` round ≤ rsync one-way", "mixed", "edit", "rsync", 1.0)
    ed = get("mixed", "edit", "nubo")
    sent = get("mixed", "edit_sent", "nubo A's pass")
    if ed and sent:
        target("`edit` bytes sent under 1% of 512 MiB (5.1 MiB)", sent[2] < 0.01 * 512 * MIB,
               f"{sent[2] / MIB:.1f} MiB on loopback during A's pass (A's uploads and the service's "
               f"answers); {ed[2] / MIB:.1f} MiB with B's download too")
    elif ed:
        target("`edit` bytes under 1% of 512 MiB (5.1 MiB)", ed[2] < 0.01 * 512 * MIB,
               f"{ed[2] / MIB:.1f} MiB on loopback (both directions, all requests)")
    else:
        target("`edit` bytes under 1% of 512 MiB (5.1 MiB)", False, "not measured")
    w = res.get("watch")
    target("one-file change with watchers: median under 0.2 s", bool(w and w["median"] < 0.2),
           f"median {fmt_s(w['median'])}, p95 {fmt_s(w['p95'])} (50 samples)" if w else "not measured")
    mi = get("mixed", "initial", "nubo")
    target("engine peak RSS on `mixed` under 50 MiB", bool(mi and mi[1] < 50 * 1024),
           f"{mi[1] / 1024:.0f} MiB" if mi else "not measured")
    li = get("large-tree", "initial", "nubo")
    target("engine peak RSS with 100,000 files under 100 MiB", bool(li and li[1] < 100 * 1024),
           f"{li[1] / 1024:.0f} MiB" if li else "not measured")
    # Issue 18: a million files.
    ratio_target("`large-tree` no-change ≤ rsync", "large-tree", "nochange", "rsync", 1.0)
    ratio_target("`large-tree` initial ≤ ½ Unison", "large-tree", "initial", "unison", 0.5)
    ratio_target("`huge` no-change ≤ rsync", "huge", "nochange", "rsync", 1.0)
    wh = res.get("watch-huge")
    target("one-file change, both watching 1,000,000 files: median under 0.2 s, p95 under 0.5 s",
           bool(wh and wh["median"] < 0.2 and wh["p95"] < 0.5),
           f"median {fmt_s(wh['median'])}, p95 {fmt_s(wh['p95'])} (20 samples)" if wh else "not measured")
    wl = res.get("watch-large-tree")
    if wl:
        target("one-file change, both watching 100,000 files: median under 0.2 s",
               wl["median"] < 0.2,
               f"median {fmt_s(wl['median'])}, p95 {fmt_s(wl['p95'])} (20 samples), "
               f"peak RSS {wl['peak_rss_kib'] / 1024:.0f} MiB")
    target("engine peak RSS watching 1,000,000 files under 250 MiB",
           bool(wh and wh.get("peak_rss_kib", 1 << 30) < 250 * 1024),
           (f"{wh['peak_rss_kib'] / 1024:.0f} MiB"
            + (f" (the start's whole read; {wh['rss_kib'] / 1024:.0f} MiB resident after the changes)"
               if "rss_kib" in wh else "")) if wh and "peak_rss_kib" in wh else "not measured")
    if wh and "idle" in wh:
        target("idle while watching 1,000,000 files: no wake-ups, no CPU",
               wh["idle"]["wakeups"] < 10 and wh["idle"]["cpu_s"] < 0.1,
               f"{wh['idle']['wakeups']} context switches and {wh['idle']['cpu_s']:.2f} s CPU over 60 s, "
               f"two engines" + (f", after a start of {wh['start_s']:.0f} s" if "start_s" in wh else ""))
    if w:
        idle = w["idle"]
        target("idle: no timer wake-ups while nothing changes", idle["wakeups"] < 10,
               f"{idle['wakeups']} context switches and {idle['cpu_s']:.2f} s CPU over 60 s, two engines")
    else:
        target("idle: no timer wake-ups", False, "not measured")

    lines[4:4] = ["## Targets", "", "| target | result | measured |", "|---|---|---|", *targets, ""]
    # Where a target is missed, why: written by whoever ran the bench and
    # read the profile, kept beside the results.
    notes = out / "notes.md"
    if notes.exists():
        lines.append(notes.read_text().rstrip())
        lines.append("")
    lines.append("## Versions and machine")
    lines.append("")
    # A run of some scenarios keeps the others' results from earlier runs.
    for k, when in data.get("measured", {}).items():
        lines.append(f"- `{k}` measured: {when}")
    for k, v in versions.items():
        lines.append(f"- {k}: {v}")
    for k, v in machine.items():
        lines.append(f"- {k}: {v}")
    lines.append("")
    (out / "results.md").write_text("\n".join(lines))

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no chart")
        return
    if ratios:
        fig, ax = plt.subplots(figsize=(8, 0.6 * len(ratios) + 1.2))
        labels = [r[0] for r in ratios]
        vals = [r[1] for r in ratios]
        colors = ["#2e7d32" if r[1] <= r[2] else "#c62828" for r in ratios]
        ax.barh(labels, vals, color=colors)
        for i, r in enumerate(ratios):
            ax.plot([r[2], r[2]], [i - 0.4, i + 0.4], color="black", lw=2)
        ax.axvline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("Nubo time / peer time (lower is better; black tick: target)")
        ax.invert_yaxis()
        fig.tight_layout()
        fig.savefig(out / "results.png", dpi=110)
    print(f"wrote {out / 'results.md'}")


if __name__ == "__main__":
    main()
