"""Per-request counts from a callgrind dump: instructions (with SHA-256 apart) and calls to
malloc. Usage: callgrind_report.py DUMP REQUESTS"""

import re
import subprocess
import sys


def inclusive(dump: str) -> dict[str, int]:
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                          "--auto=no", dump], capture_output=True, text=True, check=True).stdout
    costs: dict[str, int] = {}
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+) (?:\([^)]*\)\s+)?(.*)$", line)
        if m and m[2]:
            costs.setdefault(m[2], int(m[1].replace(",", "")))
    return costs


def calls_to(dump: str, callee: str) -> int:
    """Sums the `calls=` lines of every call to `callee` (callgrind's compressed names)."""
    names: dict[str, str] = {}
    total, current = 0, None
    with open(dump, errors="replace") as f:
        for line in f:
            if line.startswith("cfn="):
                m = re.match(r"cfn=\((\d+)\)(?: (.*))?", line.strip())
                if m:
                    if m[2]:
                        names[m[1]] = m[2]
                    current = names.get(m[1])
            elif line.startswith("fn="):
                m = re.match(r"fn=\((\d+)\)(?: (.*))?", line.strip())
                if m and m[2]:
                    names[m[1]] = m[2]
            elif line.startswith("calls=") and current == callee:
                total += int(line[6:].split()[0])
    return total


def main() -> None:
    dump, requests = sys.argv[1], int(sys.argv[2])
    costs = inclusive(dump)
    total = next(v for k, v in costs.items() if "PROGRAM TOTALS" in k)
    # The function itself, not a line of code inlined into it ("file:fn [binary]").
    sha = max((v for k, v in costs.items() if ":sha2::sha256::compress256 [" in k), default=0)
    print(f"requests counted:              {requests}")
    print(f"instructions per request:      {total / requests:,.0f}")
    print(f"  of which SHA-256 (portable): {sha / requests:,.0f}")
    print(f"  without SHA-256:             {(total - sha) / requests:,.0f}")
    print(f"malloc calls per request:      {calls_to(dump, 'malloc') / requests:.1f}")


if __name__ == "__main__":
    main()
