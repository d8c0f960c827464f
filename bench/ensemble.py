"""Accuracy and macro-F1 of an ensemble: averages the class probabilities of several
`areya evaluate --predictions FILE` outputs (same split, any order) and scores each file and
their mean. Standard library only.

usage: python3 bench/ensemble.py A.csv B.csv [...]
"""
import csv
import sys


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    classes = [c.removeprefix("p_") for c in head[3:]]
    return classes, {r[0]: (r[1], [float(x) for x in r[3:]]) for r in body}


def score(truth, pred, classes):
    acc = sum(t == p for t, p in zip(truth, pred)) / len(truth)
    f1s = []
    for c in classes:
        tp = sum(t == c and p == c for t, p in zip(truth, pred))
        fp = sum(t != c and p == c for t, p in zip(truth, pred))
        fn = sum(t == c and p != c for t, p in zip(truth, pred))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return acc, sum(f1s) / len(f1s)


def main(paths):
    if len(paths) < 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    sets = [load(p) for p in paths]
    classes, first = sets[0]
    for p, (c, d) in zip(paths, sets):
        if c != classes or d.keys() != first.keys():
            sys.exit(f"{p}: other classes or images than {paths[0]}")
    keys = sorted(first)
    truth = [first[k][0] for k in keys]
    argmax = lambda probs: classes[max(range(len(classes)), key=probs.__getitem__)]
    for p, (_, d) in zip(paths, sets):
        acc, f1 = score(truth, [argmax(d[k][1]) for k in keys], classes)
        print(f"{p}: accuracy {acc:.4f} macro-F1 {f1:.4f}")
    mean = {k: [sum(d[k][1][i] for _, d in sets) / len(sets) for i in range(len(classes))]
            for k in keys}
    acc, f1 = score(truth, [argmax(mean[k]) for k in keys], classes)
    print(f"mean of the {len(sets)}: accuracy {acc:.4f} macro-F1 {f1:.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
