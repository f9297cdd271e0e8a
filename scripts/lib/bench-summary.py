"""Reads the output of scripts/bench and prints issue 13's table: each goal, the figure
before the work ("then", measured on this 2-core machine when the issue was filed), the
figure of this run ("now") and whether the goal is met.

Benchmarks report a figure on a line of its own:
    summary ID VALUE
where ID is one of the rows below and VALUE a plain number in the row's unit. A row no
benchmark reported reads "not measured". Ratios are computed here from their parts.
"""

import sys

# id, what, unit, goal (<=, or >= when higher is better), then
ROWS = [
    ("bulk_ratio", "key.create_bulk 10,000 live ÷ raw AddUser ×10,000", "×", ("<=", 1.2), "1.89"),
    ("resync_ratio", "resync 10,000 keys into a fresh core ÷ the raw floor", "×", ("<=", 1.2), "1.43"),
    ("create_1", "key.create, 1 client, answered live", "keys/s", (">=", 500), "65"),
    ("create_100", "key.create, 100 concurrent clients", "keys/s", (">=", 5000), "325"),
    ("cycle_10k_moving_cpu_ms", "traffic cycle CPU, 10,000 keys all moving (real core)", "ms", ("<=", 15), "33–44"),
    ("cycle_10k_idle_cpu_ms", "traffic cycle CPU, 10,000 keys none moving (real core)", "ms", ("<=", 5), "–"),
    ("cycle_100k_moving_cpu_ms", "traffic cycle CPU, 100,000 keys all moving (fake core)", "ms", ("<=", 150), "439"),
    ("rss_10k_mb", "veild RSS, 10,000 keys (after the bulk and cycles)", "MB", ("<=", 24), "66"),
    ("rss_100k_mb", "veild RSS, 100,000 keys", "MB", ("<=", 80), "415"),
    ("dash_open_100k_s", "dashboard, 100,000 keys: open to first frame (veild's answers + the dashboard)", "s", ("<=", 1), "not measured"),
    ("dash_frame_100k_ms", "dashboard, 100,000 keys: one frame", "ms", ("<=", 2), "not measured"),
    ("http_get_p99_ms", "HTTP GET /api/keys/{id} p99, 100 clients, 10,000 keys", "ms", ("<=", 5), "21.8"),
]
# Figures printed beside the table, without a goal.


def read(lines):
    figures = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "summary":
            try:
                figures[parts[1]] = float(parts[2])
            except ValueError:
                pass
    # Ratios from their parts, when a benchmark gave the parts.
    if "bulk_ratio" not in figures and {"bulk_s", "raw_s"} <= figures.keys() and figures["raw_s"] > 0:
        figures["bulk_ratio"] = figures["bulk_s"] / figures["raw_s"]
    if "resync_ratio" not in figures and {"resync_s", "raw_s"} <= figures.keys() and figures["raw_s"] > 0:
        figures["resync_ratio"] = figures["resync_s"] / figures["raw_s"]
    # The dashboard's open: veild answering key.list and traffic.list (traffic bench) plus
    # the dashboard decoding, applying and drawing them (render bench).
    if {"dash_open_100k_s", "veild_open_100k_s"} <= figures.keys():
        figures["dash_open_100k_s"] += figures["veild_open_100k_s"]
    return figures


def show(value):
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def main():
    figures = read(open(sys.argv[1], encoding="utf-8", errors="replace"))
    head = ("what", "goal", "then", "now", "met")
    rows = []
    for key, what, unit, (op, goal), then in ROWS:
        if key in figures:
            now = figures[key]
            met = now <= goal if op == "<=" else now >= goal
            now_text = f"{show(now)} {unit}"
            met_text = "yes" if met else "no"
        else:
            now_text, met_text = "not measured", "–"
        rows.append((what, f"{op.replace('<=', '≤').replace('>=', '≥')} {goal:,} {unit}", f"{then} {unit}" if then[0].isdigit() else then, now_text, met_text))
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    print()
    print(line(head))
    print(line(tuple("-" * w for w in widths)))
    for r in rows:
        print(line(r))
    extra = sorted(set(figures) - {r[0] for r in ROWS})
    if extra:
        print()
        print("other figures: " + ", ".join(f"{k} {show(figures[k])}" for k in extra))


main()
