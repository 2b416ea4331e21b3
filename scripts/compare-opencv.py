#!/usr/bin/python3
"""Compare our feature extraction speed with OpenCV's ORB on real frames.

Opt-in, never run in CI. Needs OpenCV's Python bindings:

    apt-get install -y python3-opencv
    /usr/bin/python3 scripts/compare-opencv.py [--frames DIR] [--limit N] [--simd]

It times OpenCV ORB (nfeatures=1000, one thread) on each frame, runs
BenchmarkExtractFrames (internal/vision) on the same frames, times OpenCV
again (the machine's load drifts; the two OpenCV passes bracket ours), and
prints the median per-frame time of each and the ratio. Both sides decode
before timing. Run it from the repository root.
"""

import argparse
import glob
import os
import re
import statistics
import subprocess
import sys
import time

try:
    import cv2
except ImportError:
    sys.exit("compare-opencv: needs python3-opencv (apt-get install -y python3-opencv) and /usr/bin/python3")


def opencv_p50(frames, rounds):
    """Median over frames of each frame's median ORB wall time, mean feature
    count and mean CPU time per frame, in ns."""
    cv2.setNumThreads(1)
    orb = cv2.ORB_create(nfeatures=1000)
    for img in frames[:10]:
        orb.detectAndCompute(img, None)
    per = [[] for _ in frames]
    counts = []
    cpu0 = time.process_time_ns()
    for _ in range(rounds):
        for i, img in enumerate(frames):
            t0 = time.perf_counter_ns()
            kps, _ = orb.detectAndCompute(img, None)
            per[i].append(time.perf_counter_ns() - t0)
            counts.append(len(kps))
    cpu = (time.process_time_ns() - cpu0) / (rounds * len(frames))
    return statistics.median(statistics.median(p) for p in per), statistics.mean(counts), cpu


def go_p50(frames_dir, limit, rounds, simd):
    env = dict(os.environ, OPENCRS_BENCH_FRAMES=os.path.abspath(frames_dir), OPENCRS_BENCH_LIMIT=str(limit))
    if simd:
        env["GOEXPERIMENT"] = "simd"
    cmd = ["go", "test", "-run", "^$", "-bench", "^BenchmarkExtractFrames$",
           "-benchtime", "%dx" % (limit * rounds), "-cpu", "1", "./internal/vision"]
    print("$ %sOPENCRS_BENCH_FRAMES=%s OPENCRS_BENCH_LIMIT=%d %s" % ("GOEXPERIMENT=simd " if simd else "", env["OPENCRS_BENCH_FRAMES"], limit, " ".join(cmd)))
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stdout + out.stderr)
    line = next((l for l in out.stdout.splitlines() if l.startswith("BenchmarkExtractFrames")), None)
    if line is None:
        sys.exit("no benchmark line in:\n" + out.stdout)
    print(line)
    metric = lambda unit: float(re.search(r"([0-9.e+]+) %s" % re.escape(unit), line).group(1))
    return metric("p50-ns/frame"), metric("features/frame"), metric("cpu-ns/op")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", default="../shared/eval/queries", help="folder of JPEG frames")
    ap.add_argument("--limit", type=int, default=200, help="first N frames by name")
    ap.add_argument("--rounds", type=int, default=5, help="timed passes over the frames per side")
    ap.add_argument("--simd", action="store_true", help="build with GOEXPERIMENT=simd (AVX2 FAST pre-test)")
    args = ap.parse_args()

    names = sorted(glob.glob(os.path.join(args.frames, "*.jpg")) + glob.glob(os.path.join(args.frames, "*.jpeg")))[: args.limit]
    if not names:
        sys.exit("no JPEG frames in %s" % args.frames)
    frames = [cv2.imread(n, cv2.IMREAD_GRAYSCALE) for n in names]
    print("%d frames from %s" % (len(frames), args.frames))

    cv_a, cv_n, cv_cpu_a = opencv_p50(frames, args.rounds)
    go, go_n, go_cpu = go_p50(args.frames, len(frames), args.rounds, args.simd)
    cv_b, _, cv_cpu_b = opencv_p50(frames, args.rounds)
    cv, cv_cpu = (cv_a + cv_b) / 2, (cv_cpu_a + cv_cpu_b) / 2

    # Wall-clock medians are what a caller waits; CPU time per frame is
    # steadier when the machine is shared.
    print("OpenCV %s ORB  wall p50 %.2f ms/frame (passes %.2f, %.2f), cpu %.2f ms/frame, %.0f features" % (
        cv2.__version__, cv / 1e6, cv_a / 1e6, cv_b / 1e6, cv_cpu / 1e6, cv_n))
    print("opencrs vision    wall p50 %.2f ms/frame, cpu %.2f ms/frame, %.0f features" % (go / 1e6, go_cpu / 1e6, go_n))
    print("ratio opencrs/OpenCV: wall p50 %.2f, cpu %.2f (below 1 is faster)" % (go / cv, go_cpu / cv_cpu))


if __name__ == "__main__":
    main()
