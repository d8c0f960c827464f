"""Shared helpers for the reference training benchmarks: the sample folder and timing."""
import os
import sys


def parse_args():
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True, help="sample root with train/<class>/ and val/<class>/")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                   help="bfloat16: CPU autocast + channels-last, as PyTorch's mixed-precision recipe")
    return p.parse_args()


def list_split(root, split):
    classes = sorted(os.listdir(os.path.join(root, split)))
    items = []
    for ci, c in enumerate(classes):
        d = os.path.join(root, split, c)
        for f in sorted(os.listdir(d)):
            items.append((os.path.join(d, f), ci))
    return classes, items


def report(name, n_images, epoch_seconds):
    """Prints one parseable line: the best epoch after the first (warm-up) one."""
    best = min(epoch_seconds[1:] or epoch_seconds)
    print(f"RESULT {name} {n_images / best:.1f} img/s ({n_images} images, epochs {['%.1f' % s for s in epoch_seconds]} s)")
    sys.stdout.flush()
