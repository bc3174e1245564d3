"""Stage download: MNIST (params `data`) -> data/mnist/{train,test}/ idx files and data/samples/*.png."""

import cv2

from lenet5 import data, idx, params
from lenet5.files import atomic_path
from stages import DATA_DIR, SAMPLES_DIR, run


def main():
    p = params.load(data.DataParams, "data")
    splits = data.load_splits(p.source, p.test_fraction, p.split_seed, p.mirrors)
    with atomic_path(DATA_DIR, directory=True) as tmp:
        for split, (images, labels) in splits.items():
            idx.write_split(tmp / split, split, images, labels)
            print(f"{split}: {len(labels)} images, per class {[int((labels == c).sum()) for c in range(10)]}")
    test_images, test_labels = splits["test"]
    with atomic_path(SAMPLES_DIR, directory=True) as tmp:
        for i in data.sample_indices(test_labels, p.samples_per_class):
            cv2.imwrite(str(tmp / f"digit{test_labels[i]}_test{i:05d}.png"), test_images[i])


if __name__ == "__main__":
    run(main)
