"""How long the properties review of a 10,000-key pair takes, beside javaproperties alone.

Not a test: run it and read the numbers.

    .venv/bin/python benchmarks/properties_review.py [--keys 10000] [--runs 7] [--retired 0.01]

--retired: the share of keys the live file has and the template no longer does (each
is looked at as a possible misspelt secret; a diff trial's file had a fifth of them).

The baseline is javaproperties parsing both files, which the review cannot do without;
the review adds classification, section lookup, commented-key detection and the merge.
Each figure is the best of several runs, so a busy machine shows less noise.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import javaproperties

from runbook.properties import review


def generate(keys: int, seed: int = 7, retired: float = 0.01) -> tuple[str, str]:
    """A live file and a template shaped like red5-web.properties, only much longer.

    The template has a heading every 100 keys, a commented-out block in each section and
    placeholders here and there; the live file drops some keys, adds some, changes some
    values and has most of the commented keys active, as an operator's file would.
    """
    rng = random.Random(seed)
    new_lines: list[str] = []
    old_lines: list[str] = []
    for index in range(keys):
        section = index // 100
        if index % 100 == 0:
            heading = f"## SECTION {section} CONFIGURATION"
            new_lines += ["", heading]
            old_lines += ["", heading]
        key = f"section{section}.setting{index}"
        roll = rng.random()
        default = "{placeholder}" if roll < 0.02 else f"value-{index}"
        if index % 100 >= 90:
            # The last tenth of each section ships commented out; most are used live.
            new_lines.append(f"#{key}={default}")
            if roll < 0.8:
                old_lines.append(f"{key}=live-{index}")
            continue
        new_lines.append(f"{key}={default}")
        if roll < 0.03:
            continue  # only in the template: needs-value or new-default
        live = f"live-{index}" if roll < 0.25 else default
        old_lines.append(f"{key}={live}")
        if roll > 1 - retired:
            old_lines.append(f"section{section}.retired{index}=true")  # removed upstream
    return "\n".join(old_lines) + "\n", "\n".join(new_lines) + "\n"


def best_of(runs: int, action: Callable[[], object]) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--retired", type=float, default=0.01)
    args = parser.parse_args()

    old, new = generate(args.keys, retired=args.retired)
    overrides = {"section0.setting1": "new-database.internal"}

    def parse_only() -> None:
        list(javaproperties.parse(old))
        list(javaproperties.parse(new))

    def review_only() -> None:
        review(old, new, overrides=overrides)

    def review_and_merge() -> None:
        review(old, new, overrides=overrides).merged_text()

    result = review(old, new, overrides=overrides)
    counts = ", ".join(f"{n} {status}" for status, n in result.summary.items())
    print(f"{len(result)} keys ({len(old):,} + {len(new):,} characters): {counts}")

    parse_only()  # warm up imports and regex caches before timing anything
    baseline = best_of(args.runs, parse_only)
    reviewed = best_of(args.runs, review_only)
    full = best_of(args.runs, review_and_merge)
    print(f"javaproperties.parse, both files:  {baseline * 1000:7.1f} ms")
    print(f"review (parse included):           {reviewed * 1000:7.1f} ms")
    print(f"review + merged_text():            {full * 1000:7.1f} ms")
    print(f"ratio review+merge / parse alone:  {full / baseline:7.2f}x")
    print(f"best of {args.runs} runs each")


if __name__ == "__main__":
    main()
