"""Keras reference: the notebook's pipeline — ImageDataGenerator(rotation 40, shear 0.2, zoom 0.2,
horizontal flip).flow_from_directory — training the same areya-cnn."""
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import parse_args, report  # noqa: E402


def main():
    a = parse_args()
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    from tensorflow import keras
    from tensorflow.keras import layers
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    gen = ImageDataGenerator(rescale=1 / 255, rotation_range=40, shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
    train = gen.flow_from_directory(os.path.join(a.data, "train"), target_size=(48, 48), color_mode="grayscale",
                                    batch_size=a.batch_size, class_mode="categorical", shuffle=True)
    val = ImageDataGenerator(rescale=1 / 255).flow_from_directory(
        os.path.join(a.data, "val"), target_size=(48, 48), color_mode="grayscale", batch_size=256,
        class_mode="categorical", shuffle=False)
    k = train.num_classes
    m = keras.Sequential([keras.Input((48, 48, 1))])
    for w in (32, 64, 128, 256):
        for _ in range(2):
            m.add(layers.Conv2D(w, 3, padding="same", use_bias=False))
            m.add(layers.BatchNormalization())
            m.add(layers.ReLU())
        m.add(layers.MaxPooling2D(2, 2))
        m.add(layers.Dropout(0.25))
    m.add(layers.GlobalAveragePooling2D())
    m.add(layers.Dropout(0.5))
    m.add(layers.Dense(k, activation="softmax"))
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.last = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            # Training time only: up to the last batch, before validation.
            self.times.append(self.last - self.t)

    timer = Timer()
    m.fit(train, validation_data=val, epochs=a.epochs, callbacks=[timer], verbose=0)
    report("keras", train.samples, timer.times)


if __name__ == "__main__":
    main()
