"""Line coverage per crate from `cargo llvm-cov report --json --summary-only`, checked against
floors (`.ci/coverage-floor`: lines of `<crate or total> <percent>`). Exit 1 below a floor."""

import json
import os
import sys
from collections import defaultdict


def main(summary_path: str, floor_path: str) -> int:
    with open(summary_path) as f:
        data = json.load(f)
    root = os.getcwd() + os.sep
    covered, total = defaultdict(int), defaultdict(int)
    for entry in data["data"][0]["files"]:
        path = entry["filename"]
        if not path.startswith(root):
            continue
        crate = path[len(root):].split(os.sep, 1)[0]
        lines = entry["summary"]["lines"]
        covered[crate] += lines["covered"]
        total[crate] += lines["count"]

    floors = {}
    with open(floor_path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                name, value = line.split()
                floors[name] = float(value)

    def pct(c: int, t: int) -> float:
        return 100.0 * c / t if t else 100.0

    failures = []
    print(f"{'crate':<22} {'lines':>7} {'covered':>8} {'cover':>7} {'floor':>6}")
    for crate in sorted(total):
        p = pct(covered[crate], total[crate])
        floor = floors.get(crate, floors.get("crate", 0.0))
        mark = "" if p >= floor else "  << below floor"
        print(f"{crate:<22} {total[crate]:>7} {covered[crate]:>8} {p:>6.1f}% {floor:>5.0f}%{mark}")
        if p < floor:
            failures.append(f"{crate} {p:.1f}% < {floor:.0f}%")
    all_c, all_t = sum(covered.values()), sum(total.values())
    p = pct(all_c, all_t)
    floor = floors.get("total", 0.0)
    print(f"{'total':<22} {all_t:>7} {all_c:>8} {p:>6.1f}% {floor:>5.0f}%")
    if p < floor:
        failures.append(f"total {p:.1f}% < {floor:.0f}%")
    if failures:
        print("coverage below the floor: " + "; ".join(failures), file=sys.stderr)
        return 1
    print("coverage: every crate at or above its floor")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
