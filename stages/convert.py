"""Stage convert (ATC's role): models/export/lenet.onnx (or .air) -> models/deploy/<deployable model> (params `convert`)."""

from lenet5 import params
from lenet5.convert import MODEL_FILES, ConvertParams, compile_with_atc, describe, optimize_for_onnxruntime
from lenet5.files import atomic_path, write_json
from stages import DEPLOY_DIR, EXPORT_DIR, METRICS_DIR, run


def main():
    p = params.load(ConvertParams, "convert")
    with atomic_path(DEPLOY_DIR, directory=True) as tmp:
        model = tmp / MODEL_FILES[p.target]
        if p.target == "onnxruntime":
            optimize_for_onnxruntime(EXPORT_DIR / "lenet.onnx", model, p.ort_optimization)
        else:
            compile_with_atc(EXPORT_DIR / f"lenet.{p.atc_input}", model, p)
        summary = describe(model, p.target)
    write_json(METRICS_DIR / "convert.json", summary)
    print(f"wrote {DEPLOY_DIR / model.name} ({summary['size_bytes']:,} bytes)")


if __name__ == "__main__":
    run(main)
