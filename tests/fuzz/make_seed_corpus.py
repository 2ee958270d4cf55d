#!/usr/bin/env python3
"""Writes the generated seed inputs of tests/fuzz/corpus/<target>/ (stdlib only).

Usage: make_seed_corpus.py [CORPUS_DIR [CRUCIBLE_BINARY]]
  CORPUS_DIR defaults to the corpus folder beside this script. The TorchScript
  seeds are written only when CRUCIBLE_BINARY is given: its
  `models make-baselines` makes the archives (byte-identical on every run).

Each target gets small valid inputs and a few invalid ones near the edge of
what its parser accepts. Files are overwritten, never deleted: the
regression-* inputs kept beside them (crashes found and fixed) stay. The
output is deterministic, so rerunning it changes nothing.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def npy(descr, shape, data, major=1, fortran="False"):
    shape_text = f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_text}, }}"
    prefix = 8 + (2 if major == 1 else 4)
    total = (prefix + len(header) + 1 + 63) // 64 * 64
    header += " " * (total - prefix - len(header) - 1) + "\n"
    length = struct.pack("<H" if major == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([major, 0]) + length + header.encode() + data


def npy_seeds(folder):
    write(folder, "valid-f4-2x3.npy", npy("<f4", [2, 3], struct.pack("<6f", 1, 2, 3, 4.5, -1, 0)))
    write(folder, "valid-f8-3.npy", npy("<f8", [3], struct.pack("<3d", 0.5, 1e300, -2)))
    write(folder, "valid-i4-2x1.npy", npy("<i4", [2, 1], struct.pack("<2i", 7, -7)))
    write(folder, "valid-i8-v2.npy", npy("<i8", [2], struct.pack("<2q", 4, 5), major=2))
    write(folder, "valid-f4-scalar.npy", npy("<f4", [], struct.pack("<f", 3)))
    write(folder, "valid-f8-empty-0x4.npy", npy("<f8", [0, 4], b""))
    write(folder, "invalid-big-endian.npy", npy(">f4", [1], b"\0\0\0\0"))
    write(folder, "invalid-float16.npy", npy("<f2", [1], b"\0\0"))
    write(folder, "invalid-fortran.npy", npy("<f4", [1], b"\0\0\0\0", fortran="True"))
    write(folder, "invalid-truncated-data.npy", npy("<f8", [4], b"\0" * 20))
    write(folder, "invalid-version-3.npy", b"\x93NUMPY\x03\x00" + b"\0" * 60)


def safetensors(header, data=b"", pad=True):
    text = json.dumps(header, separators=(",", ":"))
    if pad:
        text += " " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text.encode() + data


def safetensors_seeds(folder):
    f32 = struct.pack("<4f", 1, -2, 0.5, 3)
    write(folder, "valid-f32-2x2.safetensors",
          safetensors({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}, f32))
    halves = struct.pack("<3H", 0x3C00, 0x7C00, 0x0001)
    write(folder, "valid-f16-bf16-metadata.safetensors", safetensors({
        "__metadata__": {"format": "pt"},
        "h": {"dtype": "F16", "shape": [3], "data_offsets": [0, 6]},
        "b": {"dtype": "BF16", "shape": [], "data_offsets": [8, 10]},
        "e": {"dtype": "F32", "shape": [0, 5], "data_offsets": [10, 10]}},
        halves + b"\0\0" + struct.pack("<H", 0x3F80)))
    write(folder, "valid-empty-header.safetensors", safetensors({}))
    write(folder, "invalid-overlap.safetensors", safetensors({
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12))
    write(folder, "invalid-past-end.safetensors",
          safetensors({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8))
    duplicate = b'{"a":{"dtype":"F32","dtype":"F32","shape":[],"data_offsets":[0,4]}}'
    write(folder, "invalid-duplicate-key.safetensors",
          struct.pack("<Q", len(duplicate)) + duplicate + b"\0" * 4)
    write(folder, "invalid-length-past-end.safetensors", struct.pack("<Q", 1 << 20) + b"{}")
    # After the 8 length bytes, a model.safetensors.index.json (parse_safetensors_index).
    index = json.dumps({"metadata": {"total_size": 24}, "weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})
    write(folder, "index-valid.safetensors", struct.pack("<Q", len(index)) + index.encode())
    bad_index = b'{"metadata":{},"weight_map":{"a":"../x.safetensors","a":"y.safetensors"}}'
    write(folder, "index-invalid-path-duplicate.safetensors",
          struct.pack("<Q", len(bad_index)) + bad_index)


# The smallest Chronos-Bolt: every size 1 or 2, so the whole safetensors is a few KB.
TINY_CONFIG = {
    "architectures": ["ChronosBoltModelForForecasting"],
    "d_model": 2, "d_ff": 2, "d_kv": 1, "num_heads": 1, "num_layers": 1,
    "num_decoder_layers": 1, "relative_attention_num_buckets": 4,
    "relative_attention_max_distance": 8, "layer_norm_epsilon": 1e-6,
    "feed_forward_proj": "relu", "decoder_start_token_id": 0, "vocab_size": 1,
    "chronos_config": {"context_length": 4, "prediction_length": 1, "input_patch_size": 1,
                       "input_patch_stride": 1, "quantiles": [0.5], "use_reg_token": False},
}


def tensor_shapes(c):
    """Mirrors chronos_bolt_tensor_shapes (engine/models/native/chronos_bolt/chronos_bolt_config.cpp)."""
    chronos = c["chronos_config"]
    d, ff, inner = c["d_model"], c["d_ff"], c["num_heads"] * c["d_kv"]
    gated = c["feed_forward_proj"].startswith("gated-")
    shapes = {"shared.weight": [2 if chronos["use_reg_token"] else 1, d]}

    def residual(prefix, n_in, hidden, n_out):
        shapes.update({prefix + "hidden_layer.weight": [hidden, n_in],
                       prefix + "hidden_layer.bias": [hidden],
                       prefix + "output_layer.weight": [n_out, hidden],
                       prefix + "output_layer.bias": [n_out],
                       prefix + "residual_layer.weight": [n_out, n_in],
                       prefix + "residual_layer.bias": [n_out]})

    def attention(prefix, bias_table):
        for name in "qkv":
            shapes[prefix + name + ".weight"] = [inner, d]
        shapes[prefix + "o.weight"] = [d, inner]
        if bias_table:
            shapes[prefix + "relative_attention_bias.weight"] = [
                c["relative_attention_num_buckets"], c["num_heads"]]

    def feed_forward(prefix):
        for name in (["wi_0", "wi_1"] if gated else ["wi"]):
            shapes[prefix + name + ".weight"] = [ff, d]
        shapes[prefix + "wo.weight"] = [d, ff]

    residual("input_patch_embedding.", 2 * chronos["input_patch_size"], ff, d)
    residual("output_patch_embedding.", d, ff,
             len(chronos["quantiles"]) * chronos["prediction_length"])
    for i in range(c["num_layers"]):
        block = f"encoder.block.{i}.layer."
        attention(block + "0.SelfAttention.", i == 0)
        shapes[block + "0.layer_norm.weight"] = [d]
        feed_forward(block + "1.DenseReluDense.")
        shapes[block + "1.layer_norm.weight"] = [d]
    shapes["encoder.final_layer_norm.weight"] = [d]
    for i in range(c["num_decoder_layers"]):
        block = f"decoder.block.{i}.layer."
        attention(block + "0.SelfAttention.", i == 0)
        shapes[block + "0.layer_norm.weight"] = [d]
        attention(block + "1.EncDecAttention.", False)
        shapes[block + "1.layer_norm.weight"] = [d]
        feed_forward(block + "2.DenseReluDense.")
        shapes[block + "2.layer_norm.weight"] = [d]
    shapes["decoder.final_layer_norm.weight"] = [d]
    return shapes


def model_weights(config, tied_copy=False):
    """A safetensors image with every tensor of `config`, values 0.25 (F32)."""
    shapes = tensor_shapes(config)
    if tied_copy:
        shapes["encoder.embed_tokens.weight"] = shapes["shared.weight"]
    header, data = {}, b""
    for name in sorted(shapes):
        count = 1
        for dim in shapes[name]:
            count *= dim
        header[name] = {"dtype": "F32", "shape": shapes[name],
                        "data_offsets": [len(data), len(data) + 4 * count]}
        data += struct.pack(f"<{count}f", *([0.25] * count))
    return safetensors(header, data)


def native_model_seeds(folder):
    def model(config, weights):
        return json.dumps(config, indent=1).encode() + b"\0" + weights

    write(folder, "valid-tiny-relu.bin", model(TINY_CONFIG, model_weights(TINY_CONFIG, True)))
    gated = json.loads(json.dumps(TINY_CONFIG))
    gated.update({"feed_forward_proj": "gated-gelu", "num_layers": 2})
    gated["chronos_config"].update({"use_reg_token": True, "quantiles": [0.1, 0.5, 0.9]})
    write(folder, "valid-tiny-gated-gelu-reg.bin", model(gated, model_weights(gated)))
    write(folder, "invalid-tiny-missing-tensors.bin",
          model(TINY_CONFIG, safetensors({"shared.weight": {
              "dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]}}, b"\0" * 8)))
    nan = model_weights(TINY_CONFIG)
    write(folder, "invalid-tiny-nan-weight.bin",
          model(TINY_CONFIG, nan[:-4] + struct.pack("<f", float("nan"))))
    golden = os.path.join(REPO, "tests/golden/chronos_bolt/relu_p8_noreg_q5_h6_offgrid/model")
    with open(os.path.join(golden, "config.json"), "rb") as f:
        write(folder, "golden-config-no-weights.bin", f.read())
    write(folder, "invalid-architecture.bin", '{"architectures": ["T5Model"]}\0')
    chronos2 = os.path.join(REPO, "tests/golden/chronos2/models/b9")
    with open(os.path.join(chronos2, "config.json"), "rb") as f, \
            open(os.path.join(chronos2, "model.safetensors"), "rb") as g:
        write(folder, "golden-chronos2.bin", f.read() + b"\0" + g.read())


def model_id_seeds(folder):
    write(folder, "valid-full", "demo/naive:0a1b2c3d4e5f:q1w2e3r4t5y6u7i8o9p0==:0")
    write(folder, "valid-empty-fields", "ns/name:::")
    write(folder, "valid-long-name", "ns/" + "n" * 150 + ":c:h:12")
    write(folder, "valid-big-competition", "a/b:c:h:9223372036854775807")
    write(folder, "invalid-five-fields", "a/b:c:h:1:2")
    write(folder, "invalid-no-slash", "ab:c:h:1")
    write(folder, "invalid-competition-overflow", "a/b:c:h:9223372036854775808")


def schedule_seeds(folder):
    shutil.copyfile(os.path.join(REPO, "examples/schedule.json"),
                    os.path.join(folder, "valid-example-schedule.json"))
    write(folder, "valid-minimal.json",
          '{"schedule": [{"start_block": 0, "competitions": '
          '[{"id": 0, "reward_share": 1, "tasks": [{}]}]}]}')
    write(folder, "valid-all-sections.json", json.dumps({"schedule": [{
        "start_block": 7, "competitions": [{
            "id": 3, "name": "c", "reward_share": 0.5, "sample_min": 2,
            "constraints": {"max_file_bytes": 10, "max_parameters": 20},
            "tasks": [{"metric": "wql", "quantiles": [0.9, 0.1, 0.1], "weight": 2,
                       "group_targets": 2, "past_covariates": 1, "known_covariates": 1}],
            "ema": {"alpha": 1, "alpha_init": 0.5, "baseline": -3},
            "rewards": {"strategy": "ranked_decay", "decay": 0.5, "exponent": 2,
                        "first_place_boost": 1.5, "min_weight": 0.1},
            "epsilon": {"enabled": True, "start": 0.01, "end": 0.001, "decay_blocks": 100},
            "copy_penalty": {"enabled": True, "penalty": 0.25}}]}]}))
    write(folder, "invalid-shares-over-one.json",
          '{"schedule": [{"start_block": 0, "competitions": ['
          '{"id": 0, "reward_share": 0.7, "tasks": [{}]},'
          '{"id": 1, "reward_share": 0.7, "tasks": [{}]}]}]}')
    write(folder, "invalid-unknown-key.json", '{"schedule": [], "extra": 1}')
    write(folder, "invalid-syntax.json", '{"schedule": [')


def local_chain_seeds(folder):
    write(folder, "valid-metagraph.json", json.dumps({
        "netuid": 1, "block": 1000, "seconds_per_block": 12, "time": 1700000000.5,
        "neurons": [
            {"uid": 1, "hotkey": "5Miner", "stake": 1.0, "validator_permit": False},
            {"uid": 0, "hotkey": "5Validator", "stake": 1000.0, "validator_permit": True,
             "weights": [0.0, 1.0]}]}, indent=1))
    write(folder, "valid-commitments.json", json.dumps({
        "5Miner": {"commitment": "demo/naive:abc:hash=:0", "block": 990},
        "5Other": {"commitment": "", "block": 0, "extra": True}}, indent=1))
    write(folder, "invalid-metagraph-duplicate-uid.json", json.dumps({
        "netuid": 1, "block": 1, "seconds_per_block": 0, "neurons": [
            {"uid": 0, "hotkey": "a", "stake": 0, "validator_permit": False},
            {"uid": 0, "hotkey": "b", "stake": 0, "validator_permit": False}]}))
    write(folder, "invalid-metagraph-uid-out-of-range.json",
          '{"netuid": 1, "block": 1, "seconds_per_block": 0, "neurons": '
          '[{"uid": 5, "hotkey": "a", "stake": 0, "validator_permit": false}]}')
    write(folder, "invalid-commitments-empty-hotkey.json",
          '{"": {"commitment": "a/b:c:d:0", "block": 1}}')


def hub_file_list_seeds(folder):
    write(folder, "valid-list.json", json.dumps({
        "id": "demo/naive", "sha": "abc",
        "siblings": [{"rfilename": "config.json", "size": 1024},
                     {"rfilename": "model.safetensors", "size": None},
                     {"rfilename": "sub dir/weights %1.bin"},
                     {"rfilename": "\u00e9t\u00e9/x~y.txt", "size": 0}]}))
    write(folder, "valid-empty-list.json", '{"siblings": []}')
    write(folder, "invalid-dot-dot.json", '{"siblings": [{"rfilename": "a/../b"}]}')
    write(folder, "invalid-file-and-folder.json",
          '{"siblings": [{"rfilename": "a"}, {"rfilename": "a/b"}]}')
    write(folder, "invalid-listed-twice.json",
          '{"siblings": [{"rfilename": "a"}, {"rfilename": "a"}]}')
    write(folder, "invalid-size.json", '{"siblings": [{"rfilename": "a", "size": -1}]}')


def torchscript_seeds(folder, crucible):
    with tempfile.TemporaryDirectory() as models:
        subprocess.run([crucible, "models", "make-baselines", "--out", models], check=True,
                       stdout=subprocess.DEVNULL)
        for name, seed in [("0_naive.pt", "valid-naive.pt"), ("4_linear_ar.pt", "valid-linear-ar.pt")]:
            shutil.copyfile(os.path.join(models, name), os.path.join(folder, seed))
    with open(os.path.join(folder, "valid-naive.pt"), "rb") as f:
        naive = f.read()
    write(folder, "invalid-truncated.pt", naive[:len(naive) // 2])
    write(folder, "invalid-text", "this is not a TorchScript archive\n")


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    for target, seeds in [("npy", npy_seeds), ("safetensors", safetensors_seeds),
                          ("native_model", native_model_seeds), ("model_id", model_id_seeds),
                          ("schedule", schedule_seeds), ("local_chain", local_chain_seeds),
                          ("hub_file_list", hub_file_list_seeds)]:
        folder = os.path.join(corpus, target)
        os.makedirs(folder, exist_ok=True)
        seeds(folder)
    if len(sys.argv) > 2:
        torchscript_seeds(os.path.join(corpus, "torchscript"), sys.argv[2])


if __name__ == "__main__":
    main()
