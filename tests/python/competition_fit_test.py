#!/usr/bin/python3
"""A chronos-bolt-small-shaped model (47.7 M parameters, 191 MB in float32),
the size the docs tell miners to start from, under examples/schedule.json:

- `crucible models inspect --schedule examples/schedule.json --competition 1`
  accepts it (200 MiB, 50 M parameters), and competition 0 (50 MiB, 10 M)
  refuses it naming both limits with their numbers;
- `crucible eval --schedule examples/schedule.json --competition 1` scores it
  (status ok, 50 finite losses);
- the same weights saved in two shards with a model.safetensors.index.json
  (as save_pretrained writes a large model) are accepted by inspect, and a
  validator on examples/schedule.json, at a block where competition 1 is
  active, installs that sharded copy committed for competition 1 and scores
  it ok. (Sharded and single-file forecasts are compared bit for bit by
  tests/native_model_test.cpp, on a small model.)

The weights are random (numpy, seeded); the folder is written here in the
safetensors format (8-byte header length, JSON header, raw little-endian data).
Its context_length is 512, not the released 2048: the parameter count and the
file size do not depend on it, and the forwards (eval's and the validator's,
on competition 1's 50 series of 4096 points) cost about a quarter.

    /usr/bin/python3 tests/python/competition_fit_test.py CRUCIBLE_BINARY
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

from oracle import Report
from validator_harness import commitment, folder_files, start_validator, stop, verdict_rows, wait_for, write_json

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEDULE = os.path.join(HERE, "..", "..", "examples", "schedule.json")
# The released chronos-bolt-small's shape (its config.json).
SMALL = dict(d_model=512, d_ff=2048, d_kv=64, num_heads=8, num_layers=6, num_decoder_layers=6)
PATCH, HORIZON, LEVELS, BUCKETS = 16, 64, [round(0.1 * i, 1) for i in range(1, 10)], 32
REPORT = Report()


def check(condition, what):
    REPORT.check(what, condition)


def bolt_tensors(seed):
    """{name: float32 array} of a Chronos-Bolt of the SMALL shape, random."""
    rng = np.random.default_rng(seed)
    d, ff, heads = SMALL["d_model"], SMALL["d_ff"], SMALL["num_heads"]
    inner = SMALL["d_kv"] * heads
    out = {}

    def dense(name, rows, cols):
        out[name] = (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)

    def norm(name):
        out[name] = np.ones(d, np.float32)

    def attention(prefix, relative):
        for w in "qkv":
            dense(prefix + w + ".weight", inner, d)
        dense(prefix + "o.weight", d, inner)
        if relative:
            dense(prefix + "relative_attention_bias.weight", BUCKETS, heads)

    for stack, layers in (("encoder", SMALL["num_layers"]), ("decoder", SMALL["num_decoder_layers"])):
        for b in range(layers):
            block = "%s.block.%d.layer." % (stack, b)
            attention(block + "0.SelfAttention.", b == 0)
            norm(block + "0.layer_norm.weight")
            ffn = 1
            if stack == "decoder":
                attention(block + "1.EncDecAttention.", False)
                norm(block + "1.layer_norm.weight")
                ffn = 2
            dense(block + "%d.DenseReluDense.wi.weight" % ffn, ff, d)
            dense(block + "%d.DenseReluDense.wo.weight" % ffn, d, ff)
            norm(block + "%d.layer_norm.weight" % ffn)
        norm(stack + ".final_layer_norm.weight")
    for name, width_in, width_out in (("input_patch_embedding", 2 * PATCH, d),
                                      ("output_patch_embedding", d, len(LEVELS) * HORIZON)):
        dense(name + ".hidden_layer.weight", ff, width_in)
        dense(name + ".output_layer.weight", width_out, ff)
        dense(name + ".residual_layer.weight", width_out, width_in)
        for layer, width in (("hidden_layer", ff), ("output_layer", width_out),
                             ("residual_layer", width_out)):
            out["%s.%s.bias" % (name, layer)] = np.zeros(width, np.float32)
    dense("shared.weight", 2, d)
    return out


def write_safetensors(path, tensors):
    header, offset = {}, 0
    for name, array in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for array in tensors.values():
            f.write(array.astype("<f4").tobytes())


def write_config(folder):
    write_json(os.path.join(folder, "config.json"), {
        "architectures": ["ChronosBoltModelForForecasting"], "model_type": "t5", **SMALL,
        "feed_forward_proj": "relu", "layer_norm_epsilon": 1e-6,
        "relative_attention_num_buckets": BUCKETS, "relative_attention_max_distance": 128,
        "vocab_size": 2, "decoder_start_token_id": 0, "pad_token_id": 0, "eos_token_id": 1,
        "chronos_pipeline_class": "ChronosBoltPipeline",
        "chronos_config": {"context_length": 512, "prediction_length": HORIZON,
                           "input_patch_size": PATCH, "input_patch_stride": PATCH,
                           "quantiles": LEVELS, "use_reg_token": True}})


def write_models(root):
    """models/1_single (model.safetensors) and models/2_sharded (two shards
    and an index) holding the same weights."""
    tensors = bolt_tensors(seed=7)
    single, sharded = os.path.join(root, "models", "1_single"), os.path.join(root, "models",
                                                                            "2_sharded")
    for folder in (single, sharded):
        os.makedirs(folder)
        write_config(folder)
    write_safetensors(os.path.join(single, "model.safetensors"), tensors)
    names = list(tensors)
    halves = (names[:len(names) // 2], names[len(names) // 2:])
    weight_map = {}
    for k, part in enumerate(halves, start=1):
        shard = "model-%05d-of-00002.safetensors" % k
        write_safetensors(os.path.join(sharded, shard), {n: tensors[n] for n in part})
        weight_map.update({n: shard for n in part})
    total = sum(a.nbytes for a in tensors.values())
    write_json(os.path.join(sharded, "model.safetensors.index.json"),
               {"metadata": {"total_size": total}, "weight_map": weight_map})
    return single, sharded, sum(a.size for a in tensors.values())


def inspect(folder, competition):
    return subprocess.run([CRUCIBLE, "models", "inspect", folder, "--schedule", SCHEDULE,
                           "--competition", str(competition)], capture_output=True, text=True)


def check_validator(root, sharded):
    """A validator on examples/schedule.json at block 5000100 (competition 1
    active) with the sharded model committed to competition 1."""
    hub, chain = os.path.join(root, "hub"), os.path.join(root, "chain")
    shutil.copytree(sharded, os.path.join(hub, "ns", "bolt-small", "c1"))
    files = folder_files(sharded)
    os.makedirs(chain)
    write_json(os.path.join(chain, "metagraph.json"), {
        "netuid": 7, "block": 5_000_100, "seconds_per_block": 0, "time": time.time(),
        "neurons": [{"uid": 0, "hotkey": "validator0", "stake": 100.0, "validator_permit": True},
                    {"uid": 1, "hotkey": "miner1", "stake": 1.0, "validator_permit": False}]})
    write_json(os.path.join(chain, "commitments.json"), {"miner1": {
        "commitment": commitment("bolt-small", "c1", files, "miner1", competition=1),
        "block": 900}})
    del files
    state = os.path.join(root, "state")
    process = start_validator(CRUCIBLE, chain, hub, state, SCHEDULE,
                              os.path.join(root, "validator.log"), "--timeout-per-model", "300")
    rows = []

    def scored():
        rows[:] = [row for row in verdict_rows(state) if row["uid"] == 1]
        return bool(rows)

    try:
        check(wait_for(scored, 400), "the validator ran the sharded bolt-small model")
    finally:
        stop(process)
    check(bool(rows) and rows[0]["status"] == "ok",
          "the validator scores it ok in competition 1 (%s)" % (rows[:1],))


def main():
    global CRUCIBLE
    CRUCIBLE = os.path.abspath(sys.argv[1])
    root = tempfile.mkdtemp(prefix="crucible-fit-")
    try:
        single, sharded, parameters = write_models(root)
        size = sum(os.path.getsize(os.path.join(single, n)) for n in os.listdir(single))
        print("bolt-small shape: %d parameters, %d bytes" % (parameters, size))
        check(47_000_000 < parameters < 48_000_000 and 180e6 < size < 200e6,
              "the model has bolt-small's size")
        out = inspect(single, 1)
        check(out.returncode == 0 and "verdict       accepted" in out.stdout,
              "inspect: competition 1 accepts it (%s)" % out.stderr.strip())
        check("parameters    %d" % parameters in out.stdout, "inspect counts its parameters")
        out = inspect(single, 0)
        check(out.returncode == 1 and "over the limit of 52428800 bytes" in out.stderr and
              "is over the limit 10000000" in out.stderr and len(out.stderr.splitlines()) == 1,
              "inspect: competition 0 refuses it naming both limits (%s)" % out.stderr.strip())
        out = inspect(sharded, 1)
        check(out.returncode == 0 and "verdict       accepted" in out.stdout,
              "inspect: competition 1 accepts the sharded copy (%s)" % out.stderr.strip())
        result = os.path.join(root, "result.json")
        out = subprocess.run([CRUCIBLE, "eval", "--models", single,
                              "--schedule", SCHEDULE, "--competition", "1", "--seed", "3",
                              "--device", "cpu", "--out", result], capture_output=True, text=True)
        check(out.returncode == 0, "eval --competition 1 runs (%s)" % out.stderr.strip()[-300:])
        with open(result) as f:
            models = {m["uid"]: m for m in json.load(f)["models"]}
        check(models[1]["status"] == "ok",
              "eval scores it ok (%s)" % [(m["status"], m["reason"]) for m in models.values()])
        losses = np.array(models[1]["losses"], dtype=float)
        check(np.isfinite(losses).all() and len(losses) == 50,
              "50 finite losses (competition 1's task)")
        check_validator(root, sharded)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    REPORT.finish()


if __name__ == "__main__":
    main()
