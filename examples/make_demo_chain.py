#!/usr/bin/env python3
"""Writes the demo's local model hub and local chain (stdlib only).

Usage: make_demo_chain.py MODELS_DIR HUB_DIR CHAIN_DIR

Every *.pt in MODELS_DIR and every native model folder (config.json +
model.safetensors; the baselines of `crucible models make-baselines`) becomes
a repository demo/<name> at a commit named after its content, plus one broken
model (a file that is not a TorchScript archive). The chain has uid 0,
a validator, and one miner per model committed to it for competition 0, with
the secure hash of docs/scoring.md section 7, so the validator verifies every
download. Blocks advance every 0.02 s, so a task window (150 blocks, about
30 minutes on a real subnet) passes every 3 s and the demo's validator scores
its queue once per window, three windows in a few seconds. The chain records
no block hashes, so the validator warns that its tasks are predictable (a
real subnet's bridge records them).
"""
import base64
import hashlib
import json
import os
import sys


def sha256_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def content_hash(files):
    """files: {relative path: bytes}; docs/scoring.md section 7."""
    return sha256_b64("".join(sha256_b64(files[p]) for p in sorted(files)).encode())


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    models_dir, hub_dir, chain_dir = sys.argv[1:4]
    models = {}  # repository name -> {file name: bytes}
    for name in sorted(os.listdir(models_dir)):
        path = os.path.join(models_dir, name)
        repo = name.removesuffix(".pt").split("_", 1)[-1].replace("_", "-")
        if name.endswith(".pt"):
            with open(path, "rb") as f:
                models[repo] = {"model.pt": f.read()}
        elif os.path.isfile(os.path.join(path, "config.json")):
            models[repo] = {}
            for file in ("config.json", "model.safetensors"):
                with open(os.path.join(path, file), "rb") as f:
                    models[repo][file] = f.read()
    models["broken"] = {"model.pt": b"this is not a TorchScript archive\n"}

    neurons = [{"uid": 0, "hotkey": "5DemoValidator", "stake": 1000.0, "validator_permit": True}]
    commitments = {}
    for uid, (name, files) in enumerate(models.items(), start=1):
        commit = content_hash(files).encode().hex()[:12]
        for file, data in files.items():
            write(os.path.join(hub_dir, "demo", name, commit, file), data)
        hotkey = f"5DemoMiner{uid:02d}"
        secure = sha256_b64((content_hash(files) + hotkey).encode())
        neurons.append({"uid": uid, "hotkey": hotkey, "stake": 1.0, "validator_permit": False})
        commitments[hotkey] = {"commitment": f"demo/{name}:{commit}:{secure}:0", "block": 900 + uid}

    os.makedirs(chain_dir, exist_ok=True)
    metagraph = {"netuid": 1, "block": 1000, "seconds_per_block": 0.02, "neurons": neurons}
    with open(os.path.join(chain_dir, "metagraph.json"), "w") as f:
        json.dump(metagraph, f, indent=1)
    with open(os.path.join(chain_dir, "commitments.json"), "w") as f:
        json.dump(commitments, f, indent=1)
    print(f"hub {hub_dir}: {len(models)} repositories; chain {chain_dir}: "
          f"{len(neurons) - 1} miners + 1 validator")


if __name__ == "__main__":
    main()
