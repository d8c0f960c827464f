"""PyTorch reference: the same areya-cnn, a torchvision DataLoader doing the same augmentation
(rotation ±40°, shear factor 0.2, zoom 0.2, horizontal flip) on images decoded once into memory.
With --precision bfloat16: PyTorch's CPU mixed-precision recipe (autocast + channels-last)."""
import math
import time

import torch
import torch.nn as nn
from PIL import Image
from torchvision import transforms

from common import list_split, parse_args, report


def areya_cnn(k, widths=(32, 64, 128, 256)):
    layers, c = [], 1
    for w in widths:
        for _ in range(2):
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            c = w
        layers += [nn.MaxPool2d(2, 2), nn.Dropout(0.25)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5), nn.Linear(c, k)]
    return nn.Sequential(*layers)


class Cached(torch.utils.data.Dataset):
    def __init__(self, items, tf):
        self.images = [Image.open(p).convert("L").resize((48, 48)) for p, _ in items]
        self.labels = [c for _, c in items]
        self.tf = tf

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.tf(self.images[i]), self.labels[i]


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    classes, train = list_split(a.data, "train")
    _, val = list_split(a.data, "val")
    shear_deg = math.degrees(math.atan(0.2))
    aug = transforms.Compose([
        transforms.RandomAffine(degrees=40, shear=(-shear_deg, shear_deg, -shear_deg, shear_deg), scale=(0.8, 1.2),
                                interpolation=transforms.InterpolationMode.BILINEAR),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
    ])
    tr = torch.utils.data.DataLoader(Cached(train, aug), batch_size=a.batch_size, shuffle=True,
                                     num_workers=a.threads, persistent_workers=True)
    va = torch.utils.data.DataLoader(Cached(val, transforms.ToTensor()), batch_size=256)
    model = areya_cnn(len(classes))
    mixed = a.precision == "bfloat16"
    if mixed:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for epoch in range(a.epochs):
        model.train()
        t = time.perf_counter()
        for x, y in tr:
            opt.zero_grad()
            if mixed:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mixed):
                logits = model(x)
            loss = loss_fn(logits.float(), y)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t)
        model.eval()
        with torch.no_grad():
            for x, y in va:
                model(x)
    report("pytorch", len(train), times)


if __name__ == "__main__":
    main()
