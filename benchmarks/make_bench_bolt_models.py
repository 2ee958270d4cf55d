"""Writes U random Chronos-Bolt models of one config, as native folders
DIR/NN-bolt/{config.json, model.safetensors}, for the Chronos-Bolt benchmarks.
Shape ratios of amazon/chronos-bolt-tiny (d_model 256, d_ff 1024, d_kv 64,
4 heads, 4+4 layers, context 2048, prediction 64, patch 16/16, relu, REG token):
d_ff = 4 d_model, d_kv = 64, heads = d_model / 64.

    .venv-chronos/bin/python benchmarks/make_bench_bolt_models.py --out /tmp/bolt --count 8 --d-model 256
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
from make_chronos_bolt_golden import LEVELS9, build_model, quiet  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4, help="encoder and decoder layers each")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.d_model % 64:
        sys.exit("--d-model must be a multiple of 64 (d_kv 64)")
    quiet()
    shape = dict(d_model=a.d_model, d_ff=4 * a.d_model, d_kv=64, num_heads=a.d_model // 64,
                 num_layers=a.layers, num_decoder_layers=a.layers, feed_forward_proj="relu",
                 context_length=2048, prediction_length=64, patch=16, use_reg_token=True,
                 quantiles=LEVELS9)
    for i in range(1, a.count + 1):
        folder = a.out / f"{i:02d}-bolt"
        build_model(seed=a.seed * 1000 + i, **shape).save_pretrained(folder, safe_serialization=True)
        (folder / "generation_config.json").unlink(missing_ok=True)
    print(f"wrote {a.count} models (d_model {a.d_model}, {a.layers}+{a.layers} layers) to {a.out}")


if __name__ == "__main__":
    main()
