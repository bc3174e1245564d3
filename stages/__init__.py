"""One thin script per DVC stage (`python -m stages.<name>`), each reading only its params section.

The paths below are the ones dvc.yaml declares; keep the two in step.
"""

import sys
from pathlib import Path

from lenet5.errors import UserError

DATA_DIR = Path("data/mnist")
SAMPLES_DIR = Path("data/samples")
CHECKPOINT = Path("models/lenet.ckpt")
CHECKPOINT_LOGITS = Path("models/lenet.test-logits.npy")
EXPORT_DIR = Path("models/export")
DEPLOY_DIR = Path("models/deploy")
METRICS_DIR = Path("metrics")


def run(main) -> None:
    """Run a stage; expected failures (bad params, bad data, missing tools) end in one clear line."""
    try:
        main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
