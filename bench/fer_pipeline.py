"""The reference: the `fer` package's own pipeline (OpenCV Haar cascade + its mini-Xception,
TensorFlow Lite, as `FER()` sets it up by default) on the same 640x480 frames as
`pipeline_bench run`. Frames are decoded before timing. With WORKERS=2 the frames are split
between two processes, as Areya splits them between two threads.

usage: .venv-keras/bin/python bench/fer_pipeline.py FRAMES_DIR [WORKERS]
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
os.environ["TF_NUM_INTEROP_THREADS"] = "1"

import glob
import multiprocessing as mp
import time


def work(paths):
    import cv2
    import logging

    cv2.setNumThreads(1)
    logging.getLogger("fer").setLevel(logging.ERROR)
    from fer.fer import FER

    frames = [cv2.imread(p) for p in paths]
    detector = FER()
    detector.detect_emotions(frames[0])  # warm-up
    start = time.perf_counter()
    faces = sum(1 for f in frames if detector.detect_emotions(f))
    return len(frames), time.perf_counter() - start, faces


def main():
    paths = sorted(glob.glob(os.path.join(sys.argv[1], "*.png")))
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    if workers == 1:
        results = [work(paths)]
    else:
        chunks = [paths[i::workers] for i in range(workers)]
        with mp.get_context("spawn").Pool(workers) as pool:
            results = pool.map(work, chunks)
    n = sum(r[0] for r in results)
    secs = max(r[1] for r in results)
    faces = sum(r[2] for r in results)
    print(f"fer end-to-end, {workers} worker(s): {n / secs:.1f} frames/s ({faces} of {n} frames with a face)")


if __name__ == "__main__":
    main()
