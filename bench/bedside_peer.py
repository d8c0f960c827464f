"""The peer on the bedside benchmark: the `fer` package's own pipeline (OpenCV Haar cascade +
its mini-Xception, as `FER()` sets it up by default) on the frames `bedside_bench make` wrote,
cut to the bed area first as Areya is told it. Per condition: the share of frames whose face
was found (a face found elsewhere counts as false, not found), accuracy among the frames found,
accuracy over all frames, and ms per frame on one thread.

usage: .venv-keras/bin/python bench/bedside_peer.py FRAMES_DIR
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
os.environ["TF_NUM_INTEROP_THREADS"] = "1"

import csv
import logging
import time

import cv2

# scene::BED in crates/areya-vision/src/scene.rs
BED = (80, 40, 480, 440)


def main():
    cv2.setNumThreads(1)
    logging.getLogger("fer").setLevel(logging.ERROR)
    from fer.fer import FER

    folder = sys.argv[1]
    rows = list(csv.DictReader(open(os.path.join(folder, "truth.csv"))))
    detector = FER()
    x0, y0, w, h = BED
    tallies = {}
    for r in rows:
        frame = cv2.imread(os.path.join(folder, r["file"]))
        bed = frame[y0 : y0 + h, x0 : x0 + w]
        start = time.perf_counter()
        faces = detector.detect_emotions(bed)
        secs = time.perf_counter() - start
        t = tallies.setdefault(r["condition"], [0, 0, 0, 0, 0.0])
        t[0] += 1
        t[4] += secs
        if not faces:
            continue
        best = max(faces, key=lambda f: f["box"][2] * f["box"][3])
        bx, by, bw, bh = best["box"]
        cx, cy = x0 + bx + bw / 2, y0 + by + bh / 2
        off = ((cx - float(r["cx"])) ** 2 + (cy - float(r["cy"])) ** 2) ** 0.5
        if off > 0.5 * float(r["side"]):
            t[3] += 1
            continue
        t[1] += 1
        top = max(best["emotions"], key=best["emotions"].get)
        t[2] += top == r["class"]
    worst_found, worst_acc, frames, secs = 100.0, 100.0, 0, 0.0
    print(f"{'pipeline':<30} {'condition':<9} {'found':>7} {'acc|found':>10} {'acc all':>9} {'false':>7} {'ms/frame':>8}")
    for cond, (n, found, correct, false, s) in tallies.items():
        pf, pa = 100 * found / n, 100 * correct / n
        worst_found, worst_acc = min(worst_found, pf), min(worst_acc, pa)
        frames, secs = frames + n, secs + s
        print(f"{'fer (Haar + mini-Xception)':<30} {cond:<9} {pf:>6.1f}% {100 * correct / max(found, 1):>9.1f}% {pa:>8.1f}% {false:>7} {1000 * s / n:>8.2f}")
    print(f"fer (Haar + mini-Xception): worst condition {worst_found:.1f}% found, {worst_acc:.1f}% accuracy over all frames; all conditions {frames / secs:.1f} frames/s on one thread")


if __name__ == "__main__":
    main()
