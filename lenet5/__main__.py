"""Command line: `python -m lenet5 classify PATH...` (the inference app)."""

import argparse
import sys
from pathlib import Path

from lenet5 import app
from lenet5.backends import open_backend
from lenet5.errors import UserError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lenet5", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    classify = commands.add_parser(
        "classify", help="classify digit images (png/jpg/bmp), print top-5, write outputs/<image>.txt",
        description="Classify digit images with a deployed LeNet-5. Dark digits on light paper are detected "
                    "and inverted; photos and scans are framed like MNIST. Exit code 1 if any file failed.")
    classify.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files or folders")
    classify.add_argument("--model", type=Path, default=None,
                          help=f"deployed model (.onnx or .om); default: the one in {app.DEPLOY_DIR}/")
    classify.add_argument("--output-dir", type=Path, default=Path("outputs"), help="where <image>.txt go")
    classify.add_argument("--threads", type=int, default=0, help="runtime threads (0 = runtime's choice)")
    args = parser.parse_args(argv)

    try:
        backend = open_backend(args.model or app.default_model(), threads=args.threads)
    except (UserError, ValueError) as err:
        app.report_error(err)
        return 2
    failures = []

    def on_error(err):
        failures.append(err)
        app.report_error(err)

    images = app.collect_images(args.paths)
    try:
        predictions = app.classify(backend, images, on_error=on_error)
    except UserError as err:            # the runtime itself failed (e.g. an acl call on a board)
        app.report_error(err)
        return 2
    finally:
        backend.close()
    for prediction in predictions:
        print(app.format_top5(prediction))
        app.write_output(prediction, args.output_dir)
    if not images:
        app.report_error(ValueError(f"no png/jpg/bmp images in {', '.join(map(str, args.paths))}"))
        return 1
    print(f"classified {len(predictions)} of {len(images)} images; results in {args.output_dir}/", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
