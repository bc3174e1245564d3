"""The model's input/output contract, shared by training, export, conversion and the app.

Changing any of these changes what a deployed model expects, so they live here only.
"""

NUM_CLASSES = 10
IMAGE_SIZE = 28          # MNIST digits as stored
INPUT_SIZE = 32          # LeNet-5 input (28 -> 32 bilinear, as the model zoo does)
MEAN = 0.1307            # applied after x / 255
STD = 0.3081
INPUT_NAME = "x"         # ONNX / ATC input tensor name
INPUT_SHAPE = (1, INPUT_SIZE, INPUT_SIZE)   # C, H, W; batch in front
CLASS_NAMES = tuple(str(d) for d in range(NUM_CLASSES))
