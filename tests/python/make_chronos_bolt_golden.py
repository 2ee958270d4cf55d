"""Writes tests/golden/chronos_bolt/<case>/: small random Chronos-Bolt models and
what amazon's chronos-forecasting (ChronosBoltPipeline.predict_quantiles) forecasts
with them, the reference for crucible's C++ Chronos-Bolt forward pass.

    scripts/make-chronos-venv.sh && .venv-chronos/bin/python tests/python/make_chronos_bolt_golden.py

Each case folder: model/{config.json, model.safetensors} (as save_pretrained wrote
them), inputs.npy float32 [S, Tmax] (left-aligned, right-padded with 0),
input_lengths.npy int64 [S], quantiles.npy float64 [Q] (the task's levels),
expected.npy float32 [S, H, Q] (the official float32 forecasts), truth.npy
float64 [S, H, Q] (the same pipeline in float64: the reference both float32
forecasts are measured against) and case.json. Deterministic: a rerun gives the
same bytes (`--truth-only` adds truth.npy to existing cases). Also imported by chronos_bolt_live_test.py for build_model().
"""
import json
import logging
import shutil
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parents[1] / "golden" / "chronos_bolt"
LEVELS9 = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
SUBSET = [0.1, 0.5, 0.9]
OFF_GRID = [0.05, 0.25, 0.5, 0.75, 0.95]   # interpolation, and clamping at both ends

# name: T5 shape, activation, chronos_config. M2 has num_heads * d_kv != d_model.
MODELS = {
    "relu_p16_reg": dict(seed=101, d_model=64, d_ff=128, d_kv=16, num_heads=4, num_layers=2,
                         num_decoder_layers=1, feed_forward_proj="relu", context_length=128,
                         prediction_length=16, patch=16, use_reg_token=True, quantiles=LEVELS9),
    "gelu_p8_noreg": dict(seed=102, d_model=32, d_ff=64, d_kv=16, num_heads=3, num_layers=2,
                          num_decoder_layers=2, feed_forward_proj="gated-gelu", context_length=64,
                          prediction_length=12, patch=8, use_reg_token=False, quantiles=LEVELS9,
                          layer_norm_epsilon=1e-5),
    "gelu_p16_reg": dict(seed=103, d_model=32, d_ff=48, d_kv=8, num_heads=4, num_layers=3,
                         num_decoder_layers=2, feed_forward_proj="gated-gelu", context_length=64,
                         prediction_length=8, patch=16, use_reg_token=True, quantiles=LEVELS9),
    "relu_p8_noreg_q5": dict(seed=104, d_model=32, d_ff=64, d_kv=8, num_heads=2, num_layers=2,
                             num_decoder_layers=1, feed_forward_proj="relu", context_length=256,
                             prediction_length=10, patch=8, use_reg_token=False,
                             quantiles=[0.1, 0.3, 0.5, 0.7, 0.9]),
}

# (case, model, horizon H, task levels, series lengths; "c" + n = constant series of length n)
CASES = [
    ("relu_p16_reg_h10_levels9", "relu_p16_reg", 10, LEVELS9, [300, 128, 77, 33, 1, "c20"]),
    ("relu_p16_reg_h40_subset", "relu_p16_reg", 40, SUBSET, [300, 150, 45, 17, 5]),
    ("gelu_p8_noreg_h7_offgrid", "gelu_p8_noreg", 7, OFF_GRID, [300, 64, 100, 13, 1, "c9", 40]),
    ("gelu_p8_noreg_h30_levels9", "gelu_p8_noreg", 30, LEVELS9, [64, 250, 3, 31]),
    ("gelu_p16_reg_h24_offgrid", "gelu_p16_reg", 24, OFF_GRID, [300, 61, 16, 8, "c30"]),
    ("gelu_p16_reg_h5_subset", "gelu_p16_reg", 5, SUBSET, [70, 2, 49, 300]),
    ("relu_p8_noreg_q5_h6_offgrid", "relu_p8_noreg_q5", 6, OFF_GRID, [300, 256, 99, 1, "c12", 57]),
    ("relu_p8_noreg_q5_h25_levels9", "relu_p8_noreg_q5", 25, LEVELS9, [280, 120, 7, 200]),
]


def quiet():
    import transformers
    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore")
    logging.getLogger().setLevel(logging.ERROR)
    for name in list(logging.root.manager.loggerDict):
        if "chronos" in name:
            logging.getLogger(name).setLevel(logging.ERROR)


def build_model(seed, d_model, d_ff, d_kv, num_heads, num_layers, num_decoder_layers,
                feed_forward_proj, context_length, prediction_length, patch, use_reg_token,
                quantiles, layer_norm_epsilon=1e-6):
    """A seeded random ChronosBoltModelForForecasting whose every weight matters."""
    from transformers import T5Config
    from chronos.chronos_bolt import ChronosBoltModelForForecasting
    config = T5Config(
        d_model=d_model, d_ff=d_ff, d_kv=d_kv, num_heads=num_heads, num_layers=num_layers,
        num_decoder_layers=num_decoder_layers, feed_forward_proj=feed_forward_proj,
        layer_norm_epsilon=layer_norm_epsilon, relative_attention_num_buckets=32,
        relative_attention_max_distance=128, decoder_start_token_id=0, dropout_rate=0.1,
        initializer_factor=1.0, architectures=["ChronosBoltModelForForecasting"],
        chronos_config=dict(context_length=context_length, prediction_length=prediction_length,
                            input_patch_size=patch, input_patch_stride=patch,
                            quantiles=list(quantiles), use_reg_token=use_reg_token))
    torch.manual_seed(seed)
    model = ChronosBoltModelForForecasting(config)
    with torch.no_grad():   # the default init leaves biases 0 and norms 1: perturb all
        for name, p in model.named_parameters():
            noise = torch.randn_like(p)
            if "relative_attention_bias" in name:
                p.add_(noise)                      # std 1: a wrong bucket shows
            elif "layer_norm" in name:
                p.copy_(1.0 + 0.2 * noise)
            else:
                p.add_(0.1 * noise)
    return model.eval()


def make_series(rng, spec):
    """float32 series: a random walk or a noisy sinusoid around level ~50, scale ~10."""
    if isinstance(spec, str):                    # "cN": constant, scale 0 path
        return np.full(int(spec[1:]), 42.5, dtype=np.float32)
    level, scale = rng.uniform(20, 80), rng.uniform(3, 15)
    t = np.arange(spec)
    if rng.random() < 0.5:
        x = level + 0.3 * scale * np.cumsum(rng.standard_normal(spec))
    else:
        x = (level + scale * np.sin(2 * np.pi * t / rng.uniform(6, 40) + rng.uniform(0, 6))
             + 0.2 * scale * rng.standard_normal(spec))
    if spec >= 60:                               # a constant run at the end
        x[-15:] = x[-16]
    return x.astype(np.float32)


def forecast(pipeline, series, horizon, levels):
    """predict_quantiles on true contexts: float32 [S, H, Q]."""
    context = [torch.tensor(s) for s in series]
    with torch.no_grad():
        q, _ = pipeline.predict_quantiles(context, prediction_length=horizon,
                                          quantile_levels=list(levels))
    return q.numpy().astype(np.float32)


def forecast_float64(folder, series, horizon, levels):
    """The official pipeline with its model in float64 and float64 contexts: the
    truth the float32 forecasts are measured against. The pipeline returns
    float32, so the truth carries one float32 rounding (relative 6e-8), far
    under the float32 forward's own error (1e-6 to 1e-4 here)."""
    from chronos import ChronosBoltPipeline
    pipeline = ChronosBoltPipeline.from_pretrained(folder / "model")
    pipeline.model = pipeline.model.double()
    context = [torch.tensor(s.astype(np.float64)) for s in series]
    with torch.no_grad():
        q, _ = pipeline.predict_quantiles(context, prediction_length=horizon,
                                          quantile_levels=list(levels))
    return q.numpy().astype(np.float64)


def write_truth(folder, horizon, levels):
    """truth.npy float64 [S, H, Q] for a case folder already written."""
    inputs = np.load(folder / "inputs.npy")
    n = np.load(folder / "input_lengths.npy")
    series = [inputs[j, :n[j]] for j in range(len(n))]
    np.save(folder / "truth.npy", forecast_float64(folder, series, horizon, levels))


def main():
    quiet()
    torch.set_num_threads(1)                    # a fixed reduction order
    from chronos import ChronosBoltPipeline
    package = {p: version(p) for p in ("chronos-forecasting", "transformers")}
    package["torch"] = torch.__version__
    OUT.mkdir(parents=True, exist_ok=True)
    for index, (case, model_name, horizon, levels, lengths) in enumerate(CASES):
        folder = OUT / case
        shutil.rmtree(folder, ignore_errors=True)
        spec = MODELS[model_name]
        model = build_model(**spec)
        model.save_pretrained(folder / "model", safe_serialization=True)
        (folder / "model" / "generation_config.json").unlink(missing_ok=True)
        pipeline = ChronosBoltPipeline.from_pretrained(folder / "model")

        rng = np.random.default_rng(1000 + index)
        series = [make_series(rng, n) for n in lengths]
        n = np.array([len(s) for s in series], dtype=np.int64)
        inputs = np.zeros((len(series), n.max()), dtype=np.float32)
        for j, s in enumerate(series):
            inputs[j, :len(s)] = s
        expected = forecast(pipeline, series, horizon, levels)
        assert expected.shape == (len(series), horizon, len(levels))
        assert np.isfinite(expected).all()

        np.save(folder / "inputs.npy", inputs)
        np.save(folder / "input_lengths.npy", n)
        np.save(folder / "quantiles.npy", np.array(levels, dtype=np.float64))
        np.save(folder / "expected.npy", expected)
        write_truth(folder, horizon, levels)
        description = (f"model {model_name} ({spec['feed_forward_proj']}, patch {spec['patch']}, "
                       f"reg token {spec['use_reg_token']}, context {spec['context_length']}, "
                       f"prediction {spec['prediction_length']}, quantiles {spec['quantiles']}); "
                       f"H {horizon}; task levels {levels}; series lengths {n.tolist()}")
        info = {"horizon": horizon, "description": description, "package": package}
        (folder / "case.json").write_text(json.dumps(info, indent=1) + "\n")
        print(f"{case}: inputs {list(inputs.shape)} expected {list(expected.shape)}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--truth-only"]:   # add truth.npy to the committed cases
        quiet()
        torch.set_num_threads(1)
        for case, _, horizon, levels, _ in CASES:
            write_truth(OUT / case, horizon, levels)
        sys.exit(0)
    sys.exit(main())
