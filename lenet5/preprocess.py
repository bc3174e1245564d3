"""Image -> model input, the inference app's preprocessing (numpy and OpenCV only; no MindSpore).

MNIST crops (28 x 28, light digit on dark) go straight to the seed's steps: /255, (x - MEAN) / STD, bilinear
resize to 32 x 32. Anything else (photos, scans) is first brought into MNIST's form: grey, light-on-dark,
and the digit framed the way MNIST framed it (fitted in a 20 x 20 box, centred by mass in 28 x 28).
"""

from pathlib import Path

import cv2
import numpy as np

from lenet5.contract import IMAGE_SIZE, INPUT_SIZE, MEAN, STD
from lenet5.errors import UserError

DIGIT_BOX = 20          # MNIST fits each digit into 20 x 20 and pads it to 28 x 28


class ImageError(UserError, ValueError):
    """A file that cannot be classified; the message names it."""


def read_image(path: Path) -> np.ndarray:
    """The image's pixels as stored (any depth, channels, alpha); errors name the file."""
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise ImageError(f"{path}: cannot read ({err.strerror or err})") from err
    if raw.size == 0:
        raise ImageError(f"{path}: empty file")
    image = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ImageError(f"{path}: not a readable image (corrupt, truncated or not png/jpg/bmp)")
    return image


def to_gray(image: np.ndarray) -> np.ndarray:
    """Float32 grey in [0, 1]; colour is converted, transparency composited over white paper."""
    if image.dtype == np.uint8:
        scale = 255.0
    elif image.dtype == np.uint16:
        scale = 65535.0
    else:
        scale = max(float(image.max()), 1.0) if image.dtype.kind in "iu" else 1.0
    pixels = image.astype(np.float32) / scale
    if pixels.ndim == 2:
        return pixels
    channels = pixels.shape[2]
    alpha = pixels[..., 3:4] if channels in (2, 4) else None
    colour = pixels[..., :3] if channels >= 3 else pixels[..., :1]
    gray = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY) if colour.shape[2] == 3 else colour[..., 0]
    if alpha is not None:
        gray = gray * alpha[..., 0] + (1.0 - alpha[..., 0])
    return gray.astype(np.float32)


def is_light_background(gray: np.ndarray) -> bool:
    """Paper is light: the border of the picture is brighter than mid-grey."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return float(np.median(border)) > 0.5


def frame_digit(gray: np.ndarray) -> np.ndarray:
    """A light-on-dark digit of any size -> 28 x 28 in MNIST's framing (20 x 20 box, centred by mass)."""
    background = float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
    ink = np.clip(gray - background, 0, None)
    if ink.max() <= 0.05:            # blank page: nothing to frame
        return cv2.resize(ink, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
    ink /= ink.max()
    ink[ink < 0.2] = 0               # paper texture and noise
    rows, cols = np.nonzero(ink)
    digit = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = DIGIT_BOX / max(digit.shape)
    size = (max(1, round(digit.shape[1] * scale)), max(1, round(digit.shape[0] * scale)))
    digit = cv2.resize(digit, size, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    top, left = (IMAGE_SIZE - digit.shape[0]) // 2, (IMAGE_SIZE - digit.shape[1]) // 2
    canvas[top:top + digit.shape[0], left:left + digit.shape[1]] = digit
    moments = cv2.moments(canvas)
    shift_x = IMAGE_SIZE / 2 - moments["m10"] / moments["m00"]
    shift_y = IMAGE_SIZE / 2 - moments["m01"] / moments["m00"]
    shift = np.float32([[1, 0, shift_x], [0, 1, shift_y]])
    return cv2.warpAffine(canvas, shift, (IMAGE_SIZE, IMAGE_SIZE), flags=cv2.INTER_LINEAR)


def normalize(gray28: np.ndarray) -> np.ndarray:
    """The seed's steps on a [0, 1] grey image: (x - MEAN) / STD, then bilinear 32 x 32, as 1 x 32 x 32."""
    normalized = (gray28.astype(np.float32) - MEAN) / STD
    resized = cv2.resize(normalized, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(resized[np.newaxis], dtype=np.float32)


def prepare(image: np.ndarray) -> np.ndarray:
    """Any decoded image -> the model's 1 x 32 x 32 float32 input."""
    gray = to_gray(image)
    inverted = is_light_background(gray)
    if inverted:
        gray = 1.0 - gray
    if gray.shape != (IMAGE_SIZE, IMAGE_SIZE) or inverted:
        gray = frame_digit(gray)
    return normalize(gray)


def prepare_batch(images: np.ndarray) -> np.ndarray:
    """N raw uint8 28 x 28 MNIST images -> N x 1 x 32 x 32, through the same per-image path as the app."""
    return np.stack([prepare(image) for image in images]) if len(images) else np.zeros((0, 1, INPUT_SIZE, INPUT_SIZE), np.float32)
