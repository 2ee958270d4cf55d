"""The official side of the Chronos-2 benchmark (engine_bench's BM_Chronos2Cpu):
amazon's chronos-forecasting 2.3.2, one interpreter looping over U random
Chronos-2 models, each loaded with Chronos2Pipeline.from_pretrained(...,
attn_implementation="eager") and run with predict_quantiles on a grouped task
with covariates.

The same models and task as the C++ benchmark:
  models  model i: torch's default generator seeded 1000 + i, then per tensor in
          name order randn(shape) * 0.05 (layer norms 1); chronos-2-small's shape
          ratios at --d-model (d_ff 4 d_model, d_model / 64 heads of d_kv 64,
          6 layers, context 2048, patch 16, 64 output patches, 21 levels, arcsinh)
  task    `crucible synth --series GROUPS --length 1024 --seed 1 --group-targets 1
          --past-covariates 1 --known-covariates 1` (written by this script with
          --crucible, or read from --data): per group a dict with the target, the
          past-only and the known covariate's past, and the known covariate's future
  request horizon = the task's target width, levels 0.1 .. 0.9, the pipeline's
          defaults otherwise (batch_size 256, cross_learning off)

Torch runs with --threads threads (default: the cores, as crucible). Prints, per
model, load and predict seconds; then series/s (U x rows / predict seconds, rows
counting the covariates as crucible does) and seconds per model, predict only
and with the loads.

    .venv-chronos2/bin/python benchmarks/chronos2_reference.py --crucible build/apps/crucible \\
        --models 16 --d-model 128 --groups 50
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LEVELS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
Q21 = [0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7,
       0.75, 0.8, 0.85, 0.9, 0.95, 0.99]


def write_model(folder, index, d_model):
    """Model `index` as save_pretrained writes it (the weights of
    engine_bench's random_chronos2_weights)."""
    import torch
    from chronos.chronos2 import Chronos2CoreConfig, Chronos2Model
    chronos_config = dict(context_length=2048, input_patch_size=16, input_patch_stride=16,
                          output_patch_size=16, quantiles=Q21, use_reg_token=True,
                          use_arcsinh=True, max_output_patches=64, time_encoding_scale=2048)
    config = Chronos2CoreConfig(d_model=d_model, d_kv=64, d_ff=4 * d_model, num_layers=6,
                                num_heads=d_model // 64, feed_forward_proj="relu",
                                attn_implementation="eager", architectures=["Chronos2Model"],
                                chronos_config=chronos_config)
    config.chronos_pipeline_class = "Chronos2Pipeline"
    model = Chronos2Model(config)
    torch.manual_seed(1000 + index)
    state = model.state_dict()
    with torch.no_grad():
        for name in sorted(state):
            if name.endswith(("inv_freq", "quantiles")):   # buffers, not weights
                continue
            if "layer_norm" in name:
                state[name].fill_(1.0)
            else:
                state[name].copy_(torch.randn(state[name].shape) * 0.05)
    model.save_pretrained(folder)


def read_task(folder):
    """The task's groups as the pipeline's list of dicts (1 target, 1 past-only
    covariate, 1 known covariate per group), its horizon and its row count."""
    import numpy as np
    t = {k: np.load(Path(folder) / f"{k}.npy") for k in
         ("inputs", "input_lengths", "targets", "group_ids", "roles", "future_inputs")}
    groups = []
    for g in np.unique(t["group_ids"]):
        rows = np.flatnonzero(t["group_ids"] == g)
        by_role = {int(t["roles"][r]): r for r in rows}
        if sorted(t["roles"][rows]) != [0, 1, 2]:
            sys.exit(f"chronos2_reference: group {g} is not 1 target + 1 past + 1 known row")
        n = int(t["input_lengths"][rows[0]])
        known = by_role[2]
        groups.append({
            "target": t["inputs"][by_role[0], :n],
            "past_covariates": {"past": t["inputs"][by_role[1], :n],
                                "known": t["inputs"][known, :n]},
            "future_covariates": {"known": t["future_inputs"][known]},
        })
    return groups, t["targets"].shape[1], len(t["group_ids"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=int, default=16, help="U")
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--groups", type=int, default=50)
    ap.add_argument("--data", type=Path, help="a task folder of crucible synth (as above)")
    ap.add_argument("--crucible", type=Path, help="crucible binary: writes the task")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    if not a.data and not a.crucible:
        ap.error("give --data or --crucible")
    import warnings
    warnings.filterwarnings("ignore")
    import numpy as np
    import torch
    import transformers
    from chronos import Chronos2Pipeline
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory(prefix="crucible-chronos2-ref.") as work:
        data = a.data
        if data is None:
            data = Path(work) / "task"
            subprocess.run([str(a.crucible), "synth", "--series", str(a.groups), "--length",
                            "1024", "--seed", "1", "--group-targets", "1", "--past-covariates",
                            "1", "--known-covariates", "1", "--out", str(data)], check=True,
                           stdout=subprocess.DEVNULL)
        groups, horizon, rows = read_task(data)
        roles = np.load(Path(data) / "roles.npy")
        lengths = np.load(Path(data) / "target_lengths.npy")[roles == 0]
        steps = np.arange(horizon)[None, :]
        folders = []
        for i in range(a.models):
            folders.append(Path(work) / f"model{i:03d}")
            write_model(folders[-1], i, a.d_model)
        print(f"U={a.models} d_model={a.d_model} groups={len(groups)} rows={rows} "
              f"horizon={horizon} threads={torch.get_num_threads()} device={a.device} "
              f"torch={torch.__version__}", flush=True)
        load_total = predict_total = 0.0
        for folder in folders:
            t0 = time.perf_counter()
            pipeline = Chronos2Pipeline.from_pretrained(folder, attn_implementation="eager")
            pipeline.model.to(a.device)
            t1 = time.perf_counter()
            with torch.no_grad():
                quantiles, _ = pipeline.predict_quantiles(groups, prediction_length=horizon,
                                                          quantile_levels=LEVELS)
            t2 = time.perf_counter()
            # the median over each target's true steps (engine_bench's median0)
            median = torch.cat(quantiles).numpy()[..., 4]
            median = float(np.mean(median[steps < lengths[:, None]]))
            load_total += t1 - t0
            predict_total += t2 - t1
            print(f"{folder.name}: load {t1 - t0:.3f} s, predict {t2 - t1:.3f} s, "
                  f"mean median {median:.6f}", flush=True)
    print(f"predict_seconds={predict_total:.3f} load_seconds={load_total:.3f}")
    print(f"series/s={a.models * rows / predict_total:.1f} "
          f"s/model={predict_total / a.models:.3f} "
          f"s/model_with_load={(predict_total + load_total) / a.models:.3f}")


if __name__ == "__main__":
    main()
