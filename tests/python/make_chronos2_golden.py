"""Writes tests/golden/chronos2/: small random Chronos-2 models and what amazon's
chronos-forecasting 2.3.2 (Chronos2Pipeline.predict_quantiles) forecasts with them,
the reference for crucible's C++ Chronos-2 forward pass.

    scripts/make-chronos2-venv.sh && .venv-chronos2/bin/python tests/python/make_chronos2_golden.py \
        [--out DIR] [--seed-offset N]

Layout (tests/golden/chronos2/README.md has the conventions in full):
  models/<model>/{config.json, model.safetensors}   as save_pretrained wrote them
  <case>/context.npy float32 [S, Tmax]   the pipeline's rows, left-aligned, right-padded with 0
         context_lengths.npy int64 [S], group_ids.npy int64 [S], roles.npy int8 [S]
         (0 target, 1 past-only covariate, 2 known covariate), future_values.npy float32 [S, H]
         (known covariates' future values, NaN elsewhere), quantiles.npy float64 [Q],
         expected.npy float32 [R, H, Q] (official float32 run, target rows in row order),
         truth.npy float64 [R, H, Q] (the same pipeline and weights in float64), case.json.
Deterministic: a rerun gives the same bytes. --seed-offset N draws other weights and
inputs (for a live test); --out DIR writes elsewhere. Importable (build_model, MODELS,
CASES, write_fixtures) for such a test.
"""
import argparse
import contextlib
import json
import math
import shutil
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from make_chronos_bolt_golden import make_series as bolt_series, quiet

OUT = Path(__file__).resolve().parents[1] / "golden" / "chronos2"

Q21 = [0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7,
       0.75, 0.8, 0.85, 0.9, 0.95, 0.99]                    # the released Chronos-2 levels
Q9 = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]          # the pipeline's default request
Q13 = [0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98]
OFF9 = [0.05, 0.25, 0.5, 0.75, 0.95]        # b9: interpolation, and both ends outside 0.1..0.9
OFF13 = [0.01, 0.1, 0.35, 0.5, 0.975, 0.99]  # c13: 0.01 and 0.99 outside 0.02..0.98

# Every model keeps use_reg_token (false fails an assert in 2.3.2's forward) and
# input_patch_stride == patch (as released; another stride runs, with overlapping
# patches whose time encodings no longer match their times). What varies: arcsinh, activation,
# heads * d_kv != d_model, layers, layer-norm eps, rope_theta, time_encoding_scale
# (default = context_length, or set apart), context_length off the patch grid,
# max_output_patches, patch 8/16 and three quantile sets.
MODELS = {
    "a21": dict(seed=201, d_model=64, d_kv=16, num_heads=4, d_ff=128, num_layers=2,
                activation="relu", layer_norm_epsilon=1e-6, rope_theta=10000.0,
                context_length=128, patch=16, max_output_patches=2, quantiles=Q21,
                use_arcsinh=True, time_encoding_scale=None),
    "b9": dict(seed=202, d_model=32, d_kv=8, num_heads=3, d_ff=64, num_layers=3,
               activation="relu", layer_norm_epsilon=1e-5, rope_theta=10000.0,
               context_length=60, patch=8, max_output_patches=4, quantiles=Q9,
               use_arcsinh=False, time_encoding_scale=None),
    "c13": dict(seed=203, d_model=48, d_kv=32, num_heads=2, d_ff=96, num_layers=1,
                activation="gelu", layer_norm_epsilon=1e-6, rope_theta=500.0,
                context_length=96, patch=16, max_output_patches=3, quantiles=Q13,
                use_arcsinh=True, time_encoding_scale=100),
}


def G(length, targets=1, past=0, known=0, nan=None, const=False, future_nan=False):
    """One group (one input dict of the pipeline): `targets` target rows, `past`
    past-only and `known` known covariates, all `length` long. nan: None, "gaps"
    (a long NaN run, scattered NaNs, a NaN last value), "lead" (first half NaN) or
    "tail" (the last 20 values NaN); const: the targets are constant;
    future_nan: NaN at two future steps of the first known covariate."""
    return dict(length=length, targets=targets, past=past, known=known, nan=nan, const=const,
                future_nan=future_nan)


# (case, model, horizon H, requested levels, groups)
CASES = [
    ("a21_univariate_h24", "a21", 24, Q9, [G(100)]),
    ("a21_independent_h32", "a21", 32, Q21,
     [G(300), G(128), G(77, nan="gaps"), G(33), G(5), G(1), G(40, const=True)]),
    ("a21_nan_gaps_h16", "a21", 16, Q21,
     [G(100, nan="gaps"), G(64, nan="lead"), G(90, nan="tail"), G(50, past=1, nan="gaps")]),
    ("a21_past_covariates_h40", "a21", 40, Q21,
     [G(150, past=2), G(70, past=2, nan="gaps"), G(12, past=2)]),
    ("b9_multivariate_h20", "b9", 20, OFF9, [G(90, targets=3), G(30, targets=3, nan="gaps")]),
    ("b9_known_covariates_h50", "b9", 50, Q9,
     [G(80, past=1, known=2, future_nan=True), G(45, past=1, known=2), G(6, past=1, known=2)]),
    ("b9_long_h70", "b9", 70, OFF9,
     [G(100), G(7), G(3, const=True), G(60, nan="lead"), G(59)]),
    ("c13_large_group_h30", "c13", 30, OFF13,
     [G(120, targets=4, past=10, known=6), G(50)]),
    ("c13_mixed_h100", "c13", 100, Q13,
     [G(200), G(64, targets=2), G(30, past=1, nan="gaps"), G(90, known=1),
      G(25, const=True, known=1), G(150, targets=2, past=2, known=1, future_nan=True)]),
]


def build_model(seed, d_model, d_kv, num_heads, d_ff, num_layers, activation, layer_norm_epsilon,
                rope_theta, context_length, patch, max_output_patches, quantiles, use_arcsinh,
                time_encoding_scale):
    """A seeded random Chronos2Model whose every weight matters."""
    from chronos.chronos2 import Chronos2CoreConfig, Chronos2Model
    chronos_config = dict(context_length=context_length, input_patch_size=patch,
                          input_patch_stride=patch, output_patch_size=patch,
                          quantiles=list(quantiles), use_reg_token=True, use_arcsinh=use_arcsinh,
                          max_output_patches=max_output_patches)
    if time_encoding_scale is not None:
        chronos_config["time_encoding_scale"] = time_encoding_scale
    config = Chronos2CoreConfig(
        d_model=d_model, d_kv=d_kv, d_ff=d_ff, num_layers=num_layers, num_heads=num_heads,
        dropout_rate=0.1, layer_norm_epsilon=layer_norm_epsilon, feed_forward_proj=activation,
        rope_theta=rope_theta, attn_implementation="eager", architectures=["Chronos2Model"],
        chronos_config=chronos_config)
    model = Chronos2Model(config)
    # The default init (initializer_factor 0.05) gives near-zero forecasts and leaves
    # biases 0 and norms 1: redraw everything from one seeded generator instead.
    # Linear weights get std 1/sqrt(fan_in); q and k a bit more, so that the unscaled
    # q.k scores have std ~1.7 and the softmaxes are neither flat nor one-hot; the
    # output head a bit less, so that sinh (use_arcsinh) keeps forecasts in range.
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if name.endswith("layer_norm.weight"):
                p.copy_(1.0 + 0.2 * noise)
            elif name.endswith(".bias"):
                p.copy_(0.1 * noise)
            elif name == "shared.weight":
                p.copy_(noise)
            elif name.endswith((".q.weight", ".k.weight")):
                p.copy_(1.3 * noise * p.shape[1] ** -0.5 * d_kv ** -0.25)
            elif name.startswith("output_patch_embedding.") and name.endswith(".weight") \
                    and "hidden_layer" not in name:
                p.copy_(0.6 * noise * p.shape[1] ** -0.5)   # forecasts within a few sd (sinh)
            else:
                p.copy_(noise * p.shape[1] ** -0.5)
    return model.eval()


def make_series(rng, n, const=False):
    """float32 series: the Chronos-Bolt fixtures' random walks and noisy sinusoids
    (scale 3..15, a constant last 15 values from length 60), moved to levels -10..50."""
    if const:   # a multiple of 1/4: the float32 mean is exact, scale 0 -> eps 1e-5
        return np.full(n, np.float32(round(rng.uniform(-10, 50) * 4) / 4), dtype=np.float32)
    return bolt_series(rng, n) - np.float32(30)


def add_nans(rng, x, pattern):
    """NaN (missing observations) into x in place, per `pattern` (see G)."""
    n = len(x)
    if pattern == "gaps":
        run = min(35, n // 3)       # holds a whole 16-patch when n >= 105
        start = int(rng.integers(n // 4, n // 2))
        x[start:start + run] = np.nan
        x[rng.choice(n, size=min(3, n // 4), replace=False)] = np.nan
        x[-1] = np.nan
    elif pattern == "lead":
        x[:n // 2] = np.nan
    elif pattern == "tail":
        x[-20:] = np.nan


def make_group(rng, spec, horizon):
    """The input dict of one group, covariate names in the order the pipeline stacks them."""
    n = spec["length"]
    rows = [make_series(rng, n, spec["const"]) for _ in range(spec["targets"])]
    target = rows[0] if spec["targets"] == 1 else np.stack(rows)
    group = {"target": target}
    if spec["past"] or spec["known"]:
        group["past_covariates"], group["future_covariates"] = {}, {}
    for i in range(spec["past"]):
        group["past_covariates"][f"past{i:02d}"] = make_series(rng, n)
    for i in range(spec["known"]):
        full = make_series(rng, n + horizon)
        group["past_covariates"][f"known{i:02d}"] = full[:n]
        future = full[n:].copy()
        if spec["future_nan"] and i == 0:
            future[[1, min(5, horizon - 1)]] = np.nan
        group["future_covariates"][f"known{i:02d}"] = future
    if spec["nan"]:
        for row in ([target] if target.ndim == 1 else list(target)):
            add_nans(rng, row, spec["nan"])
        for x in group.get("past_covariates", {}).values():
            add_nans(rng, x, spec["nan"])
    return group


def describe(spec):
    """One line for case.json: what a group holds."""
    parts = [f"{spec['targets']} target{'s' * (spec['targets'] > 1)}"]
    parts += [f"{spec['past']} past-only"] if spec["past"] else []
    parts += [f"{spec['known']} known"] if spec["known"] else []
    extra = [{"gaps": "NaN gaps", "lead": "first half NaN", "tail": "last 20 NaN"}[spec["nan"]]
             ] if spec["nan"] else []
    extra += ["constant targets"] if spec["const"] else []
    extra += ["NaN at 2 future steps of known00"] if spec["future_nan"] else []
    return f"length {spec['length']}: " + " + ".join(parts) + "".join(f"; {e}" for e in extra)


def schema(group):
    """What the list-of-dicts path needs equal across dicts: target rows, covariate names."""
    return (np.shape(group["target"])[:-1], tuple(sorted(group.get("past_covariates", {}))),
            tuple(sorted(group.get("future_covariates", {}))))


def pipeline_inputs(groups, horizon):
    """What predict_quantiles gets: the list of dicts when every group has the same
    schema, else (the pipeline refuses mixed schemas in one list of dicts) each dict
    converted by the official preprocess.from_list_of_dicts, the PreparedInput path."""
    from chronos.chronos2 import preprocess
    if len({schema(g) for g in groups}) == 1:
        return list(groups)
    return [p for g in groups for p in preprocess.from_list_of_dicts([g], horizon)]


def rows_of(groups, horizon):
    """The rows the pipeline feeds the model, in its order: per group (in input order)
    its targets, then past-only covariates, then known covariates (each sorted by name)."""
    from chronos.chronos2 import preprocess
    context, future, group_ids, roles = [], [], [], []
    for gid, g in enumerate(groups):
        (p,) = preprocess.from_list_of_dicts([g], horizon)
        c, f = p["context"].numpy(), p["future_covariates"].numpy()
        n_t, n_c, n_k = p["n_targets"], p["n_covariates"], p["n_future_covariates"]
        role = [0] * n_t + [1] * (n_c - n_k) + [2] * n_k
        for j in range(len(c)):
            context.append(c[j])
            future.append(f[j])
            group_ids.append(gid)
            roles.append(role[j])
    return context, future, group_ids, roles


@contextlib.contextmanager
def float64_everywhere():
    """The pipeline and model code ask for float32 by name in places (instance norm,
    softmax via .float(), RoPE, time encodings, the pipeline's batch and quantile
    code); inside this block those names mean float64, so a model made .double()
    computes the whole prediction in float64. Only for the truth run."""
    saved = (torch.float32, torch.float, torch.get_default_dtype())
    had_float = "float" in torch.Tensor.__dict__
    torch.float32 = torch.float = torch.float64
    torch.Tensor.float = torch.Tensor.double
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.float32, torch.float = saved[0], saved[1]
        torch.set_default_dtype(saved[2])
        if not had_float:
            del torch.Tensor.float


def predict(pipeline, groups, horizon, levels):
    """predict_quantiles: [R, H, Q] for the target rows, groups in order."""
    with torch.no_grad():
        q, _ = pipeline.predict_quantiles(pipeline_inputs(groups, horizon),
                                          prediction_length=horizon, quantile_levels=list(levels))
    return torch.cat(q, dim=0).numpy()


def load_pipeline(model_dir, float64=False):
    from chronos import Chronos2Pipeline
    pipeline = Chronos2Pipeline.from_pretrained(model_dir, attn_implementation="eager")
    if float64:
        # The official float64 pipeline gives NaN: its softmax runs in float32, where
        # the float64 mask value finfo(float64).min overflows to -inf and a fully
        # masked group-attention row becomes NaN, which then leaks. Hence
        # float64_everywhere(), and RoPE frequencies recomputed in float64 (the
        # buffer was made in float32 when the model was built).
        pipeline.model = pipeline.model.double()
        theta = pipeline.model.config.rope_theta
        d_kv = pipeline.model.config.d_kv
        for module in pipeline.model.modules():
            if hasattr(module, "inv_freq"):
                exponent = torch.arange(0, d_kv, 2, dtype=torch.float64) / d_kv
                module.inv_freq = 1.0 / theta ** exponent
    return pipeline


def relative_error(expected, truth):
    """Per target row: max |expected - truth| / max |truth| (relative) and
    max |expected - truth| (absolute)."""
    scale = np.abs(truth).reshape(len(truth), -1).max(axis=1)
    err = np.abs(expected.astype(np.float64) - truth).reshape(len(truth), -1).max(axis=1)
    return err / np.maximum(scale, 1e-30), err


# ---------------------------------------------------------------------------
# An independent float64 numpy implementation of the pipeline and the model,
# written from README.md's conventions and reading only a case folder and its
# model: after each case is written it must reproduce truth.npy (to ~1e-14),
# which checks both the written conventions and that truth.npy is float64 all
# through. Also a compact executable spec for the C++ port.

UNROLLED = np.array(Q9)       # the pipeline's default unrolled_quantiles


def _act(name, x):
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "gelu":        # exact (erf) GELU, transformers' ACT2FN["gelu"]
        return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    raise ValueError(f"activation {name} not in this reference")


def _linear(w, name, x, bias=True):
    y = x @ w[name + ".weight"].T
    return y + w[name + ".bias"] if bias else y


def _residual_block(w, name, x, act):
    hidden = _act(act, _linear(w, name + ".hidden_layer", x))
    return _linear(w, name + ".output_layer", hidden) + _linear(w, name + ".residual_layer", x)


def _rms_norm(x, weight, eps):  # T5 layer norm: no mean, no bias
    return weight * x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)


def _attention(w, name, x, mask, heads, d_kv, rope=None):
    """x [B, L, d], additive mask broadcasting to [B, heads, L, L]; no 1/sqrt(d_kv)."""
    b, length, _ = x.shape
    q, k, v = (_linear(w, f"{name}.{p}", x, bias=False).reshape(b, length, heads, d_kv)
               .transpose(0, 2, 1, 3) for p in "qkv")
    if rope is not None:                    # rotate_half: (x1, x2) -> (-x2, x1)
        cos, sin = rope
        q = q * cos + np.concatenate([-q[..., d_kv // 2:], q[..., :d_kv // 2]], -1) * sin
        k = k * cos + np.concatenate([-k[..., d_kv // 2:], k[..., :d_kv // 2]], -1) * sin
    scores = q @ k.transpose(0, 1, 3, 2) + mask
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    out = (weights @ v).transpose(0, 2, 1, 3).reshape(b, length, heads * d_kv)
    return _linear(w, name + ".o", out, bias=False)


def _forward(cfg, w, context, group_ids, future, n_out):
    """Chronos2Model.forward: context [B, T] (NaN = missing), future [B, n_out * P]
    (NaN = unknown) -> quantile forecasts [B, Q, n_out * P] in the data's units."""
    cc = cfg["chronos_config"]
    patch, act, eps = cc["input_patch_size"], cfg["dense_act_fn"], cfg["layer_norm_epsilon"]
    heads, d_kv, scale_t = cfg["num_heads"], cfg["d_kv"], cc["time_encoding_scale"]
    b = len(context)
    context = context[:, -cc["context_length"]:]
    observed = ~np.isnan(context)
    with np.errstate(all="ignore"):         # rows without any observation: loc 0, scale 1
        loc = np.nan_to_num(np.nanmean(context, 1, keepdims=True), nan=0.0)
        scale = np.nan_to_num(np.sqrt(np.nanmean((context - loc) ** 2, 1, keepdims=True)), nan=1.0)
    scale = np.where(scale == 0, 1e-5, scale)

    def normalise(x):
        z = (x - loc) / scale
        return np.arcsinh(z) if cc["use_arcsinh"] else z

    pad = (-context.shape[1]) % patch       # left-pad to whole patches
    values = np.concatenate([np.zeros((b, pad)), np.where(observed, normalise(context), 0)], 1)
    mask = np.concatenate([np.zeros((b, pad)), observed], 1)
    n_ctx = values.shape[1] // patch
    values, mask = values.reshape(b, n_ctx, patch), mask.reshape(b, n_ctx, patch)
    time = np.broadcast_to((np.arange(-n_ctx * patch, 0) / scale_t).reshape(n_ctx, patch),
                           values.shape)
    embeds = _residual_block(w, "input_patch_embedding",
                             np.concatenate([time, values, mask], -1), act)

    known = ~np.isnan(future)               # future patches: known covariate values
    f_values = np.where(known, normalise(np.where(known, future, 0.0)), 0.0)
    f_values = f_values.reshape(b, n_out, patch)
    f_mask = known.astype(np.float64).reshape(b, n_out, patch)
    f_time = np.broadcast_to((np.arange(n_out * patch) / scale_t).reshape(n_out, patch),
                             f_values.shape)
    f_embeds = _residual_block(w, "input_patch_embedding",
                               np.concatenate([f_time, f_values, f_mask], -1), act)

    reg = np.broadcast_to(w["shared.weight"][cfg["reg_token_id"]], (b, 1, cfg["d_model"]))
    h = np.concatenate([embeds, reg, f_embeds], 1)                  # [B, L, d]
    attend = np.concatenate([mask.sum(-1) > 0, np.ones((b, 1 + n_out), bool)], 1)
    length = h.shape[1]
    freq = np.arange(length)[:, None] / cfg["rope_theta"] ** (np.arange(0, d_kv, 2) / d_kv)
    rope = (np.cos(np.concatenate([freq, freq], -1)), np.sin(np.concatenate([freq, freq], -1)))
    big = np.finfo(np.float64).min
    time_mask = np.where(attend, 0.0, big)[:, None, None, :]
    same = group_ids[:, None] == group_ids[None, :]
    group_mask = np.where(same[None] & attend.T[:, None, :], 0.0, big)[:, None]  # [L, 1, B, B]
    for i in range(cfg["num_layers"]):
        p = f"encoder.block.{i}.layer."
        z = _rms_norm(h, w[p + "0.layer_norm.weight"], eps)
        h = h + _attention(w, p + "0.self_attention", z, time_mask, heads, d_kv, rope)
        t = h.transpose(1, 0, 2)            # attention across the rows, per position
        z = _rms_norm(t, w[p + "1.layer_norm.weight"], eps)
        t = t + _attention(w, p + "1.self_attention", z, group_mask, heads, d_kv)
        h = t.transpose(1, 0, 2)
        z = _rms_norm(h, w[p + "2.layer_norm.weight"], eps)
        h = h + _act(act, z @ w[p + "2.mlp.wi.weight"].T) @ w[p + "2.mlp.wo.weight"].T
    h = _rms_norm(h, w["encoder.final_layer_norm.weight"], eps)
    out = _residual_block(w, "output_patch_embedding", h[:, -n_out:], act)
    n_q = len(cc["quantiles"])
    out = out.reshape(b, n_out, n_q, patch).transpose(0, 2, 1, 3).reshape(b, n_q, n_out * patch)
    if cc["use_arcsinh"]:
        out = np.sinh(out)
    return out * scale[:, :, None] + loc[:, :, None]


def _interpolate(query, levels, values):
    """chronos.utils.interpolate_quantiles: values [..., K] at levels [K] or [..., K]."""
    levels = np.broadcast_to(levels, values.shape).reshape(-1, values.shape[-1])
    flat = values.reshape(-1, values.shape[-1])
    if levels.min() > 0.0:                  # decided over the whole batch
        levels = np.concatenate([np.zeros((len(levels), 1)), levels], 1)
        flat = np.concatenate([flat[:, :1], flat], 1)
    if levels.max() < 1.0:
        levels = np.concatenate([levels, np.ones((len(levels), 1))], 1)
        flat = np.concatenate([flat, flat[:, -1:]], 1)
    out = np.empty((len(flat), len(query)))
    for r in range(len(flat)):
        upper = np.minimum(np.searchsorted(levels[r], query, side="right"), levels.shape[1] - 1)
        lower = upper - 1
        with np.errstate(all="ignore"):
            gap = levels[r, upper] - levels[r, lower]
            weight = np.nan_to_num((query - levels[r, lower]) / gap)
        out[r] = flat[r, lower] + weight * (flat[r, upper] - flat[r, lower])
    return out.reshape(*values.shape[:-1], len(query))


def _mass(levels):
    """Probability mass per level: (q[i+1] - q[i-1]) / 2 with q[-1] = 0, q[K] = 1, normalised."""
    edges = np.concatenate([[0.0], levels, [1.0]])
    mass = (edges[2:] - edges[:-2]) / 2
    return mass / mass.sum()


def numpy_reference(folder):
    """predict_quantiles for a case folder, in float64 numpy: [R, H, Q]."""
    from safetensors.numpy import load_file
    info = json.loads((folder / "case.json").read_text())
    model_dir = folder.parent / "models" / info["model"]
    cfg = json.loads((model_dir / "config.json").read_text())
    w = {k: v.astype(np.float64) for k, v in load_file(model_dir / "model.safetensors").items()}
    cc = cfg["chronos_config"]
    patch, limit, most = cc["output_patch_size"], cc["context_length"], cc["max_output_patches"]
    model_q = np.array(cc["quantiles"])
    ctx, lengths = np.load(folder / "context.npy"), np.load(folder / "context_lengths.npy")
    group_ids, roles = np.load(folder / "group_ids.npy"), np.load(folder / "roles.npy")
    future = np.load(folder / "future_values.npy").astype(np.float64)
    levels, horizon = np.load(folder / "quantiles.npy"), info["horizon"]

    rows = [ctx[j, :lengths[j]].astype(np.float64)[-limit:] for j in range(len(lengths))]
    width = max(len(r) for r in rows)       # the batch: left-padded with NaN
    context = np.stack([np.concatenate([np.full(width - len(r), np.nan), r]) for r in rows])

    def step(context, group_ids, future, n_out):
        size = n_out * patch                # future values NaN-padded or cut to n_out patches
        if size > future.shape[1]:
            nan = np.full((len(future), size - future.shape[1]), np.nan)
            future = np.concatenate([future, nan], 1)
        return _forward(cfg, w, context, group_ids, future[:, :size], n_out)

    def n_out(remaining):                   # output patches of the next forward
        return min(-(-remaining // patch), most)
    pred = step(context, group_ids, future, n_out(horizon))
    preds, remaining = [pred], horizon - pred.shape[-1]
    if remaining > 0:                       # one path per unrolled quantile, own groups
        u = len(UNROLLED)
        context = np.repeat(context[:, None], u, 1)
        future = np.repeat(future[:, None], u, 1)
        group_ids = group_ids[:, None] * u + np.arange(u)[None]
        weights = np.outer(_mass(UNROLLED), _mass(model_q)).reshape(-1)
        weights /= weights.sum()
    while remaining > 0:
        appended = _interpolate(UNROLLED, model_q, pred.transpose(0, 2, 1)).transpose(0, 2, 1)
        context = np.concatenate([context, appended], -1)[..., -limit:]
        h = pred.shape[-1]                  # known future values replace the appended ones
        context[..., -h:] = np.where(np.isnan(future[..., :h]), context[..., -h:], future[..., :h])
        future = future[..., h:]
        b = len(context)
        out = step(context.reshape(b * u, -1), group_ids.reshape(-1), future.reshape(b * u, -1),
                   n_out(remaining))
        samples = out.reshape(b, u * len(model_q), -1).transpose(0, 2, 1)   # [B, h, U*Q]
        order = np.argsort(samples, -1, kind="stable")
        cumulative = np.clip(np.cumsum(weights[order], -1), 0.0, 1.0)
        pred = _interpolate(model_q, cumulative, np.take_along_axis(samples, order, -1))
        pred = pred.transpose(0, 2, 1)
        preds.append(pred)
        remaining -= pred.shape[-1]
    full = np.concatenate(preds, -1)[..., :horizon][roles == 0].transpose(0, 2, 1)
    if set(levels.tolist()) <= set(model_q.tolist()):
        return full[..., [model_q.tolist().index(q) for q in levels]]
    return _interpolate(levels, model_q, full)


def write_fixtures(out, seed_offset=0, log=print):
    """Writes out/models/<model>/ and out/<case>/ (others in out are left alone)."""
    quiet()
    torch.set_num_threads(1)                    # a fixed reduction order
    out = Path(out)
    package = {p: version(p) for p in ("chronos-forecasting", "transformers", "numpy")}
    package["torch"] = torch.__version__
    for name, spec in MODELS.items():
        folder = out / "models" / name
        shutil.rmtree(folder, ignore_errors=True)
        spec = dict(spec, seed=spec["seed"] + seed_offset)
        build_model(**spec).save_pretrained(folder, safe_serialization=True)
        (folder / "generation_config.json").unlink(missing_ok=True)

    for index, (case, model_name, horizon, levels, specs) in enumerate(CASES):
        folder = out / case
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        model_dir = out / "models" / model_name
        rng = np.random.default_rng(1000 + index + seed_offset)
        groups = [make_group(rng, s, horizon) for s in specs]

        expected = predict(load_pipeline(model_dir), groups, horizon, levels).astype(np.float32)
        pipeline64 = load_pipeline(model_dir, float64=True)
        with float64_everywhere():
            truth = predict(pipeline64, groups, horizon, levels)
        assert truth.dtype == np.float64, truth.dtype

        context, future, group_ids, roles = rows_of(groups, horizon)
        lengths = np.array([len(c) for c in context], dtype=np.int64)
        padded = np.zeros((len(context), lengths.max()), dtype=np.float32)
        for j, c in enumerate(context):
            padded[j, :len(c)] = c
        roles = np.array(roles, dtype=np.int8)
        n_targets = int((roles == 0).sum())
        assert expected.shape == (n_targets, horizon, len(levels)), expected.shape
        assert np.isfinite(expected).all() and np.isfinite(truth).all()

        np.save(folder / "context.npy", padded)
        np.save(folder / "context_lengths.npy", lengths)
        np.save(folder / "group_ids.npy", np.array(group_ids, dtype=np.int64))
        np.save(folder / "roles.npy", roles)
        np.save(folder / "future_values.npy", np.stack(future).astype(np.float32))
        np.save(folder / "quantiles.npy", np.array(levels, dtype=np.float64))
        np.save(folder / "expected.npy", expected)
        np.save(folder / "truth.npy", truth)

        patch, most = MODELS[model_name]["patch"], MODELS[model_name]["max_output_patches"]
        forwards, covered = 0, 0                # model forwards per predict call
        while covered < horizon:
            covered += min(-(-(horizon - covered) // patch), most) * patch
            forwards += 1
        rel_rows, abs_rows = relative_error(expected, truth)
        rel, absolute = rel_rows.max(), abs_rows.max()
        info = {
            "model": model_name,
            "horizon": horizon,
            "quantiles": list(levels),
            "rows": len(roles),
            "targets": n_targets,
            "groups": [describe(s) for s in specs],
            "pipeline_input": ("list of dicts" if len({schema(g) for g in groups}) == 1
                               else "PreparedInput per group (mixed schemas)"),
            "model_forwards": forwards,
            "float32_error": float(f"{rel:.3g}"),
            "float32_error_abs": float(f"{absolute:.3g}"),
            "float32_error_rows": [float(f"{x:.3g}") for x in rel_rows],
            "seed_offset": seed_offset,
            "package": package,
        }
        (folder / "case.json").write_text(json.dumps(info, indent=1) + "\n")
        reference = numpy_reference(folder)
        check = np.abs(reference - truth).max() / np.abs(truth).max()
        assert check < 1e-10, f"{case}: the numpy reference is {check:.1e} off truth.npy"
        log(f"{case}: rows {len(roles)} (targets {n_targets}, groups {len(specs)}) "
            f"context {list(padded.shape)} expected {list(expected.shape)} forwards {forwards} "
            f"float32 error {rel:.2e} (abs {absolute:.2e}), numpy reference {check:.0e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed-offset", type=int, default=0)
    args = parser.parse_args()
    write_fixtures(args.out, args.seed_offset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
