#!/usr/bin/env python3
"""Compare two builds of tipo with `tipo bench`, taking turns, and print each test's median tokens/s and B / A.

This is how the speed claims in the README are measured: a machine's speed drifts between minutes (lavapipe on a
shared 2-core VM by 20-30 %), so a ratio only means something when both builds ran in the same minutes. Round i runs
A then B, round i + 1 B then A, and so on; each run is one `tipo bench ... --json` process.

usage: scripts/compare_builds.py ROUNDS TIPO_A TIPO_B [bench arguments ...]
  TIPO_A, TIPO_B  the `tipo` executables of the two builds, e.g. a `git worktree add /tmp/base BASE` built with
                  `dotnet build /tmp/base/Tipo.Cli -c Release` against this checkout's Tipo.Cli/bin/Release/net10.0/tipo
example: scripts/compare_builds.py 6 /tmp/base/Tipo.Cli/bin/Release/net10.0/tipo Tipo.Cli/bin/Release/net10.0/tipo \\
             --synthetic tipo-200m -p 512 -n 32 -r 2
Environment variables (TIPO_DEVICE, VK_ICD_FILENAMES, ...) pass through to both builds.
"""
import json
import statistics
import subprocess
import sys


def test_name(row):
    """The bench table's name of a test ("pp512", "tg32 @ d512"); builds before its JSON field get it rebuilt."""
    if "test" in row:
        return row["test"]
    name = f"pp{row['n_prompt']}" if row["n_prompt"] > 0 else f"tg{row['n_gen']}"
    name += " sampled" if row.get("sampler_us_per_token") is not None else ""
    return name + (f" @ d{row['n_depth']}" if row.get("n_depth") else "")


def bench(tipo, args):
    try:
        run = subprocess.run([tipo, "bench", *args, "--json"], capture_output=True, text=True)
    except OSError as e:
        sys.exit(f"cannot run {tipo}: {e.strerror}")
    if run.returncode != 0:
        sys.exit(f"{tipo} bench exited {run.returncode}:\n{run.stderr.strip()}")
    return {test_name(row): row["avg_ts"] for row in json.loads(run.stdout)}


def main(argv):
    if len(argv) < 3 or not argv[0].isdigit() or int(argv[0]) < 1:
        sys.exit(__doc__)
    rounds, builds, args = int(argv[0]), {"A": argv[1], "B": argv[2]}, argv[3:]
    results = {"A": {}, "B": {}}
    for i in range(rounds):
        for build in ("A", "B") if i % 2 == 0 else ("B", "A"):
            for test, tps in bench(builds[build], args).items():
                results[build].setdefault(test, []).append(tps)
        print(f"round {i + 1} of {rounds} done", file=sys.stderr)
    print("| test | A tok/s (median) | B tok/s (median) | B / A | B faster in |")
    print("|---|---:|---:|---:|---:|")
    for test, a in results["A"].items():
        b = results["B"].get(test)
        if not b:
            continue
        wins = sum(1 for x, y in zip(a, b) if y > x)
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"| {test} | {ma:.2f} | {mb:.2f} | {mb / ma:.3f}x | {wins} of {min(len(a), len(b))} rounds |")
    print(f"A = {builds['A']}\nB = {builds['B']}\nbench arguments: {' '.join(args)}")


if __name__ == "__main__":
    main(sys.argv[1:])
