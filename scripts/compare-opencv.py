#!/usr/bin/python3
"""Compare our feature extraction speed with OpenCV's ORB on real frames,
interleaved frame by frame.

Opt-in, never run in CI. Needs OpenCV's Python bindings, Go and Linux:

    apt-get install -y python3-opencv
    /usr/bin/python3 scripts/compare-opencv.py [--frames DIR] [--limit N] [--rounds R]

The machine this runs on is shared and its speed changes in phases lasting
seconds, so the two sides are timed side by side rather than one after the
other. The script builds internal/vision's test binary once (go test -c, in
the repository that holds this script) and starts its TestExtractServe
(frames_serve_linux_test.go) as a helper process that extracts on request
over stdin/stdout. Both processes decode the same first N JPEG frames of DIR
(by name) to grey before any timing, and extract on one thread: OpenCV ORB
with nfeatures=1000 and cv2.setNumThreads(1); our DefaultConfig (1000
features) on a goroutine locked to its thread. The helper runs with
GOMAXPROCS=2 so that the Go runtime's background work has a P of its own;
what that work costs during our calls is printed as process CPU over thread
CPU.

In each of R rounds (passes over the frames), every frame gets a quartet of
extractions, two per side, in the order ABBA, with A and B swapped from one
frame and one round to the next, so that neither side always goes first or
last. Each extraction is timed by the side that runs it: CPU time of the
extracting thread (CLOCK_THREAD_CPUTIME_ID in Go, time.thread_time_ns here)
and wall time. The two sides never run at the same time. A quartet lasts
about 20 ms, so both sides see the same machine; its ratio (our two times
over OpenCV's two) is one paired sample.

Printed: per side, the median over frames of each frame's median time (CPU
and wall) and the mean feature count; the paired ratio, ours over OpenCV's:
the median over frames of each frame's ratio (the median of its R quartet
ratios), with a distribution-free 95% interval for that median (order
statistics, binomial), which reflects the spread over frames, not over time;
the range of the per-round medians, which does; the number of frames and
rounds; and a warning when the per-round medians differ by more than 20%.
Below 1 means ours is faster. --frames is taken relative to the current
directory (the default suits the repository root).
"""

import argparse
import gc
import glob
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

try:
    import cv2
except ImportError:
    sys.exit("compare-opencv: needs OpenCV's Python bindings: apt-get install -y python3-opencv, and run it with /usr/bin/python3")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class GoExtractor:
    """The TestExtractServe helper process."""

    def __init__(self, names, workdir):
        if shutil.which("go") is None:
            sys.exit("compare-opencv: needs the go command on PATH")
        binary = os.path.join(workdir, "vision.test")
        build = ["go", "test", "-c", "-o", binary, "./internal/vision"]
        print("$ (cd %s && %s)" % (REPO, " ".join(build)))
        out = subprocess.run(build, cwd=REPO, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit("compare-opencv: go test -c failed:\n" + out.stdout + out.stderr)
        self.stderr = open(os.path.join(workdir, "stderr"), "w+")
        env = dict(os.environ, OPENCRS_EXTRACT_SERVE="1", GOMAXPROCS="2")
        self.proc = subprocess.Popen([binary, "-test.run", "^TestExtractServe$"],
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, bufsize=1)
        for n in names:
            self.proc.stdin.write(os.path.abspath(n) + "\n")
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        self.sizes = []
        while True:
            f = self._line()
            if f[0] == "ready":
                break
            if f[0] != "frame" or len(f) != 3:
                self.fail("unexpected line %r" % " ".join(f))
            self.sizes.append((int(f[1]), int(f[2])))
        if int(f[1]) != len(names):
            self.fail("helper loaded %s frames, not %d" % (f[1], len(names)))

    def _line(self):
        line = self.proc.stdout.readline()
        if not line:
            self.fail("helper ended early")
        return line.split()

    def fail(self, msg):
        self.proc.kill()
        rest = self.proc.stdout.read()
        self.proc.wait()
        self.stderr.seek(0)
        sys.exit("compare-opencv: %s\n%s%s" % (msg, rest, self.stderr.read()))

    def extract(self, i):
        """Extracts frame i once; returns (features, thread CPU ns, process CPU ns, wall ns)."""
        self.proc.stdin.write("x %d\n" % i)
        self.proc.stdin.flush()
        f = self._line()
        if f[0] != "r" or len(f) != 5:
            self.fail("unexpected reply %r" % " ".join(f))
        return tuple(int(v) for v in f[1:])

    def close(self):
        self.proc.stdin.write("q\n")
        self.proc.stdin.close()
        rc = self.proc.wait()
        if rc != 0:
            self.stderr.seek(0)
            sys.exit("compare-opencv: helper exited with %d:\n%s%s" % (rc, self.proc.stdout.read(), self.stderr.read()))
        self.stderr.close()


def median_interval(xs, level=0.95):
    """The median of xs and a distribution-free interval for it: the order
    statistics x(j) and x(n+1-j) with the largest j such that the binomial
    (n, 1/2) puts at least `level` between them."""
    xs = sorted(xs)
    n = len(xs)
    cdf, j = 0.0, 0
    # P(B < k) for B ~ Bin(n, 1/2); the interval [x(k), x(n+1-k)] (1-based)
    # covers the median with probability 1 - 2 P(B < k).
    for k in range(1, n // 2 + 1):
        cdf += math.comb(n, k - 1) / 2.0 ** n
        if 1 - 2 * cdf < level:
            break
        j = k
    med = statistics.median(xs)
    if j == 0:
        return med, xs[0], xs[-1]
    return med, xs[j - 1], xs[n - j]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", default="../shared/eval/queries", help="folder of JPEG frames")
    ap.add_argument("--limit", type=int, default=200, help="first N frames by name")
    ap.add_argument("--rounds", type=int, default=5, help="passes over the frames; each gives every frame one ABBA quartet")
    args = ap.parse_args()
    if args.rounds < 1 or args.limit < 1:
        sys.exit("compare-opencv: --rounds and --limit must be at least 1")

    names = sorted(glob.glob(os.path.join(args.frames, "*.jpg")) + glob.glob(os.path.join(args.frames, "*.jpeg")))[: args.limit]
    if not names:
        sys.exit("compare-opencv: no JPEG frames in %s" % args.frames)
    frames = [cv2.imread(n, cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION) for n in names]
    for n, img in zip(names, frames):
        if img is None:
            sys.exit("compare-opencv: cannot decode %s" % n)

    workdir = tempfile.mkdtemp(prefix="compare-opencv-")
    try:
        go = GoExtractor(names, workdir)
        for n, img, (w, h) in zip(names, frames, go.sizes):
            if img.shape != (h, w):
                go.fail("%s: OpenCV decodes %dx%d, Go %dx%d" % (n, img.shape[1], img.shape[0], w, h))
        print("%d frames from %s, %d rounds of one ABBA quartet per frame" % (len(frames), args.frames, args.rounds))

        cv2.setNumThreads(1)
        orb = cv2.ORB_create(nfeatures=1000)
        for img in frames:
            orb.detectAndCompute(img, None)  # warm, as the helper did

        def cv_extract(img):
            c0 = time.thread_time_ns()
            w0 = time.perf_counter_ns()
            kps, _ = orb.detectAndCompute(img, None)
            w1 = time.perf_counter_ns()
            c1 = time.thread_time_ns()
            return len(kps), c1 - c0, w1 - w0

        n = len(frames)
        # Per frame, per side: every extraction's CPU and wall time.
        cv_cpu, cv_wall = [[] for _ in range(n)], [[] for _ in range(n)]
        go_cpu, go_wall = [[] for _ in range(n)], [[] for _ in range(n)]
        # Per round, per frame: the quartet's ratio, ours over OpenCV's.
        q_cpu, q_wall = [], []
        cv_feat, go_feat = [], []
        go_thread, go_proc = 0, 0
        for r in range(args.rounds):
            gc.collect()
            gc.disable()
            rc, rw = [], []
            for i, img in enumerate(frames):
                cv_first = (i + r) % 2 == 0
                sides = "CGGC" if cv_first else "GCCG"
                c = {"C": [0, 0], "G": [0, 0]}
                for s in sides:
                    if s == "C":
                        k, cpu, wall = cv_extract(img)
                        cv_feat.append(k)
                        cv_cpu[i].append(cpu)
                        cv_wall[i].append(wall)
                    else:
                        k, cpu, pcpu, wall = go.extract(i)
                        go_feat.append(k)
                        go_cpu[i].append(cpu)
                        go_wall[i].append(wall)
                        go_thread += cpu
                        go_proc += pcpu
                    c[s][0] += cpu
                    c[s][1] += wall
                rc.append(c["G"][0] / c["C"][0])
                rw.append(c["G"][1] / c["C"][1])
            gc.enable()
            q_cpu.append(rc)
            q_wall.append(rw)
        go.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def p50(per_frame):
        return statistics.median(statistics.median(ts) for ts in per_frame)

    def ratios(q):
        per_frame = [statistics.median(q[r][i] for r in range(len(q))) for i in range(n)]
        med, lo, hi = median_interval(per_frame)
        rounds = [statistics.median(qr) for qr in q]
        return med, lo, hi, min(rounds), max(rounds)

    print("OpenCV %s ORB   CPU p50 %.2f ms/frame, wall p50 %.2f ms/frame, %.0f features" % (
        cv2.__version__, p50(cv_cpu) / 1e6, p50(cv_wall) / 1e6, statistics.mean(cv_feat)))
    print("opencrs vision     CPU p50 %.2f ms/frame, wall p50 %.2f ms/frame, %.0f features (process CPU %.3fx its thread CPU)" % (
        p50(go_cpu) / 1e6, p50(go_wall) / 1e6, statistics.mean(go_feat), go_proc / go_thread))
    spread = 0
    for what, q in (("CPU ", q_cpu), ("wall", q_wall)):
        med, lo, hi, rmin, rmax = ratios(q)
        print("ratio opencrs/OpenCV %s: %.3f (95%% interval %.3f-%.3f; per-round medians %.3f-%.3f)" % (
            what, med, lo, hi, rmin, rmax))
        if what == "CPU ":
            spread = rmax / rmin - 1
    print("median over %d frames of each frame's median over %d rounds of its ABBA quartet ratio; below 1 is faster" % (
        n, args.rounds))
    if spread > 0.2:
        # Seen once in tens of runs: the load hit one side harder than the
        # other for seconds on end. The interval, taken over frames, does
        # not show it; the rounds do.
        print("warning: the per-round CPU medians differ by %.0f%%: the machine's load did not cancel; run it again" % (
            100 * spread))


if __name__ == "__main__":
    main()
