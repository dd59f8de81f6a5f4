"""What the MOA documents cost the build, in one run on this machine: `open287g build --force` with and without
them (--no-documents), each timed cold (empty cache) once and warm (cache kept) three times; prints the ratios.

    python scripts/bench_documents.py
"""
import statistics
import tempfile
from pathlib import Path

from bench_build import build


def main():
    with tempfile.TemporaryDirectory(prefix="bench-documents-") as tmp:
        tmp = Path(tmp)
        figures = {}
        for label, extra in (("without documents", ("--no-documents",)), ("with documents", ())):
            cache = tmp / f"cache-{len(figures)}"
            out = tmp / f"{len(figures)}.db"
            cold = build(out, cache, *extra)[0]
            warm = statistics.median(build(out, cache, *extra)[0] for _ in range(3))
            figures[label] = (cold, warm, out.stat().st_size)
            print(f"{label}: cold {cold:.1f}s, warm {warm:.1f}s (median of 3), database {out.stat().st_size / 1e6:.1f} MB")
        (c0, w0, s0), (c1, w1, s1) = figures["without documents"], figures["with documents"]
        print(f"documents add {100 * (w1 / w0 - 1):+.0f}% to a warm build ({w1 - w0:+.2f}s), "
              f"{100 * (c1 / c0 - 1):+.0f}% to a cold one ({c1 - c0:+.2f}s); the database grows {s1 / s0:.1f}x")


if __name__ == "__main__":
    main()
