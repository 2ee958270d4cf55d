"""Live check of `crucible eval` on native Chronos-Bolt models against amazon's
chronos-forecasting: two seeded random small models, the native baselines
`crucible models make-baselines` writes (loaded by the official
BaseChronosPipeline.from_pretrained, which must pick ChronosBoltPipeline), a
synth task, and the per-series CRPS of the official pipeline's forecasts
(numpy, docs/scoring.md section 3) compared with result.json to 1e-4 relative
+ 1e-6 absolute. One model is also saved sharded by the official
save_pretrained(max_shard_size=...): its losses must equal the single file's
exactly.

    python3 tests/python/chronos_bolt_live_test.py CRUCIBLE_BINARY VENV_DIR

VENV_DIR is made by scripts/make-chronos-venv.sh; without VENV_DIR/.ready the
test prints SKIP and exits 0. Started with another python, it re-executes
itself with VENV_DIR/bin/python.
"""
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = {"3-bolt-a": 31, "7-bolt-b": 77}          # folder -> seed; uid = first number
SHAPE = dict(d_model=32, d_ff=64, d_kv=8, num_heads=4, num_layers=2, num_decoder_layers=2,
             feed_forward_proj="relu", context_length=128, prediction_length=32, patch=16,
             use_reg_token=True, quantiles=[round(0.1 * i, 1) for i in range(1, 10)])
RTOL, ATOL = 1e-4, 1e-6
SHARDED = {"9-bolt-a-sharded": "3-bolt-a"}        # saved again in shards: the same losses
SHARD_SIZE = "100KB"                               # the models are ~400 KB: 4+ shards
BASELINES = {"6_bolt_gaussian": "16-baseline-gaussian", "7_bolt_random": "17-baseline-random"}


def reexec_in_venv():
    if len(sys.argv) != 3 or not os.path.isfile(sys.argv[1]):
        sys.exit(f"usage: {Path(sys.argv[0]).name} CRUCIBLE_BINARY VENV_DIR")
    venv = Path(sys.argv[2]).resolve()
    if not (venv / ".ready").is_file():
        print(f"SKIP: {venv}/.ready missing (run scripts/make-chronos-venv.sh {venv})")
        sys.exit(0)
    if Path(sys.prefix).resolve() != venv:
        python = str(venv / "bin" / "python")
        os.execv(python, [python, __file__, os.path.abspath(sys.argv[1]), str(venv)])


def expected_losses(pipeline, inputs, input_lengths, targets, target_lengths, levels):
    """Per-series CRPS of the official forecasts on the true contexts; NaN for n = 0."""
    import numpy as np
    import oracle
    from make_chronos_bolt_golden import forecast
    series = [inputs[j, :input_lengths[j]] for j in range(len(input_lengths))]
    fc = forecast(pipeline, series, targets.shape[1], levels)     # [S, H, Q]
    y, x = oracle.sanitize(targets, fc)
    crps = oracle.crps_numpy(x, y)                                  # [S, H]
    steps = np.arange(targets.shape[1])[None, :] < target_lengths[:, None]
    total = np.where(steps, crps, 0.0).sum(axis=1)
    return np.where(target_lengths > 0, total / np.maximum(target_lengths, 1), np.nan)


def save_models(binary, models, report):
    """The seeded models (one of them sharded too) and copies of the native baselines."""
    import oracle
    from make_chronos_bolt_golden import build_model
    for folder, seed in MODELS.items():
        build_model(seed=seed, **SHAPE).save_pretrained(models / folder, safe_serialization=True)
    for folder, source in SHARDED.items():
        build_model(seed=MODELS[source], **SHAPE).save_pretrained(
            models / folder, safe_serialization=True, max_shard_size=SHARD_SIZE)
        shards = sorted(p.name for p in (models / folder).glob("*.safetensors"))
        print(f"{folder}: {len(shards)} shards", flush=True)
        report.check(f"{folder} saved in shards",
                     len(shards) >= 2 and (models / folder / "model.safetensors.index.json").is_file()
                     and "model.safetensors" not in shards, ", ".join(shards))
    for path in models.glob("*/generation_config.json"):
        path.unlink()
    baselines = models.parent / "baselines"
    done = oracle.run(binary, ["models", "make-baselines", "--out", baselines], timeout=300)
    if done.returncode != 0:
        sys.exit(f"FAIL crucible models make-baselines exited {done.returncode}: "
                 f"{(done.stderr or done.stdout).strip()[-500:]}")
    native = sorted(p.name for p in baselines.iterdir() if (p / "config.json").is_file()
                    and "ChronosBoltModelForForecasting" in (p / "config.json").read_text())
    report.check("make-baselines writes the Chronos-Bolt baselines", native == sorted(BASELINES),
                 f"Chronos-Bolt folders {native}")
    for name in native:
        shutil.copytree(baselines / name, models / BASELINES.get(name, name))


def load_official(folder, baseline, report):
    """The official pipeline of a folder; a baseline through BaseChronosPipeline, as users load it."""
    from chronos import BaseChronosPipeline, ChronosBoltPipeline
    if not baseline:
        return ChronosBoltPipeline.from_pretrained(folder)
    pipeline = BaseChronosPipeline.from_pretrained(folder)
    report.check(f"{folder.name} loads as ChronosBoltPipeline",
                 isinstance(pipeline, ChronosBoltPipeline), type(pipeline).__name__)
    return pipeline


# name -> (use_reg_token of the saved model, edit of its config.json, whether the
# official loader loads it, what crucible says: None = accepted, else a part of the reason)
PROBES = {
    "unknown-key": (True, lambda c: c["chronos_config"].update(use_regularization=True), False,
                    'chronos_config: unknown key "use_regularization"'),
    "reg-default": (True, lambda c: c["chronos_config"].pop("use_reg_token"), False,
                    "(config.json has no chronos_config.use_reg_token, so the default false "
                    "applies)"),
    "noreg-default": (False, lambda c: c["chronos_config"].pop("use_reg_token"), True, None),
    "pickle": (False, None, True, "pytorch_model.bin is a pickled checkpoint"),
}


def probe_official_agreement(binary, probes, report):
    """crucible refuses the configs the official loader refuses, accepts those it completes
    with its defaults, and refuses a pickle (which it would load) with the fix."""
    import oracle
    from chronos import ChronosBoltPipeline
    from make_chronos_bolt_golden import build_model
    for name, (reg, edit, official_loads, refusal) in PROBES.items():
        folder = probes / name
        model = build_model(seed=5, **{**SHAPE, "use_reg_token": reg})
        model.save_pretrained(folder, safe_serialization=name != "pickle")
        if edit is not None:
            config = json.loads((folder / "config.json").read_text())
            edit(config)
            (folder / "config.json").write_text(json.dumps(config))
        try:
            ChronosBoltPipeline.from_pretrained(folder)
            loaded = "loads"
        except Exception as e:  # the official loader's own refusal, whatever its type
            loaded = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        report.check(f"probe {name}: the official loader {'loads' if official_loads else 'refuses'}",
                     (loaded == "loads") == official_loads, loaded)
        done = oracle.run(binary, ["models", "inspect", folder], timeout=120)
        said = (done.stdout + done.stderr).strip()
        if refusal is None:
            report.check(f"probe {name}: crucible accepts", done.returncode == 0, said[-400:])
        else:
            report.check(f"probe {name}: crucible refuses, saying why",
                         done.returncode != 0 and refusal in said, said[-400:])
        print(f"probe {name}: official {loaded}; crucible exit {done.returncode}", flush=True)


def main():
    reexec_in_venv()
    sys.path.insert(0, str(HERE))
    import numpy as np
    import torch
    import oracle
    from make_chronos_bolt_golden import quiet
    quiet()
    torch.set_num_threads(1)
    binary = sys.argv[1]
    report = oracle.Report()
    tmp = Path(tempfile.mkdtemp(prefix="bolt-live-"))
    save_models(binary, tmp / "models", report)
    probe_official_agreement(binary, tmp / "probes", report)

    for args in (["synth", "--seed", 11, "--series", 12, "--length", 200, "--out", tmp / "task"],
                 ["eval", "--models", tmp / "models", "--data", tmp / "task", "--seed", 11,
                  "--out", tmp / "result.json"]):
        done = oracle.run(binary, args, timeout=900)
        if done.returncode != 0:
            sys.exit(f"FAIL crucible {args[0]} exited {done.returncode} (kept {tmp}): "
                     f"{(done.stderr or done.stdout).strip()[-500:]}")
    task = {k: np.load(tmp / "task" / f"{k}.npy")
            for k in ("inputs", "input_lengths", "targets", "target_lengths")}
    entries = {e["uid"]: e for e in json.loads((tmp / "result.json").read_text())["models"]}

    for folder in list(MODELS) + list(SHARDED) + list(BASELINES.values()):
        uid = int(folder.replace("_", "-").split("-")[0])
        entry = entries.get(uid)
        if not report.check(f"uid {uid} in result.json", entry is not None, f"uids {sorted(entries)}"):
            continue
        ok = report.check(f"uid {uid} status", entry.get("status") == "ok",
                          f"{entry.get('status')}: {entry.get('reason')}")
        ok &= report.check(f"uid {uid} format", entry.get("format") == "native",
                           str(entry.get("format")))
        if not ok:
            continue
        if folder in SHARDED:
            single = entries.get(int(SHARDED[folder].split("-")[0])) or {}
            report.check(f"uid {uid} (sharded) losses equal the single file's exactly",
                         entry.get("losses") == single.get("losses"),
                         f"{entry.get('losses')} vs {single.get('losses')}")
            print(f"uid {uid} ({folder}): status ok, sharded, losses equal {SHARDED[folder]}'s",
                  flush=True)
            continue
        pipeline = load_official(tmp / "models" / folder, folder in BASELINES.values(), report)
        want = expected_losses(pipeline, task["inputs"], task["input_lengths"], task["targets"],
                               task["target_lengths"], SHAPE["quantiles"])
        got = oracle.json_floats(entry.get("losses") or [])
        if got.shape != want.shape:
            report.check(f"uid {uid} losses", False, f"{got.size} losses for {want.size} series")
            continue
        bad = [f"series {j}: crucible {g!r} official {w!r}" for j, (g, w) in enumerate(zip(got, want))
               if not oracle.close([g], [w], RTOL, ATOL)]
        keep = ~np.isnan(want)
        worst = np.max(np.abs(got - want)[keep] / np.abs(want[keep]), initial=0.0)
        print(f"uid {uid} ({folder}): status ok, format native, {keep.sum()} series, "
              f"max rel diff {worst:.2e}, mean loss {np.nanmean(want):.6f}", flush=True)
        report.check(f"uid {uid} per-series CRPS vs chronos-forecasting", not bad, "; ".join(bad))
    if report.failed:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp)
    report.finish()


if __name__ == "__main__":
    main()
