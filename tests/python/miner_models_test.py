#!/usr/bin/python3
"""Models as a miner writes them, scripted with torch.jit.script: ordinary
layers (nn.ReLU, F.relu, nn.Dropout, nn.SiLU, nn.LeakyReLU, nn.ELU,
nn.Hardtanh, nn.TransformerEncoderLayer) pass `crucible models inspect`, and
`crucible eval` says what went wrong with the others: the model's own
exception, every accepted output layout, and how many forecast values were
not finite.

    /usr/bin/python3 tests/python/miner_models_test.py PATH_TO_CRUCIBLE
"""
import json
import os
import re
import sys
import tempfile
import warnings
from typing import List

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402

SERIES, LENGTH, LEVELS = 8, 128, 9  # eval's task: --series 8 --length 128, default levels


class Layer(nn.Module):
    """Naive forecast through `layer`, on a [B, H, 1] window of the inputs."""

    def __init__(self, layer: nn.Module, width: int = 1):
        super().__init__()
        self.up = nn.Linear(1, width)
        self.layer = layer
        self.down = nn.Linear(width, 1)

    def forward(self, inputs: torch.Tensor, prediction_length: int,
                quantiles: List[float]) -> torch.Tensor:
        x = self.down(self.layer(self.up(inputs[:, :prediction_length, :])))
        return x.unsqueeze(-1).repeat(1, 1, 1, len(quantiles))


class FunctionalRelu(nn.Module):
    def forward(self, inputs: torch.Tensor, prediction_length: int,
                quantiles: List[float]) -> torch.Tensor:
        x = F.relu(inputs[:, :prediction_length, :])
        return x.unsqueeze(-1).repeat(1, 1, 1, len(quantiles))


class Raises(nn.Module):
    def forward(self, inputs: torch.Tensor, prediction_length: int,
                quantiles: List[float]) -> torch.Tensor:
        if inputs.size(0) > 0:
            raise ValueError("bad input")
        return inputs


class WrongShape(nn.Module):
    def forward(self, inputs: torch.Tensor, prediction_length: int,
                quantiles: List[float]) -> torch.Tensor:
        return inputs.sum(2)


class NotFinite(nn.Module):
    """NaN at the first 3 values and +inf at the next 2."""

    def forward(self, inputs: torch.Tensor, prediction_length: int,
                quantiles: List[float]) -> torch.Tensor:
        n = inputs.size(0) * prediction_length * len(quantiles)
        x = torch.arange(n, dtype=torch.float32)
        x = torch.where(x < 3.0, x * float("nan"), torch.where(x < 5.0, x / 0.0, x))
        return x.view(inputs.size(0), prediction_length, 1, len(quantiles))


LAYERS = {
    "relu": Layer(nn.ReLU()),
    "functional_relu": FunctionalRelu(),
    "dropout": Layer(nn.Dropout(0.1)),
    "silu": Layer(nn.SiLU()),
    "leaky_relu": Layer(nn.LeakyReLU()),
    "elu": Layer(nn.ELU()),
    "hardtanh": Layer(nn.Hardtanh()),
    "transformer": Layer(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 8),
    "transformer_gelu_seq_first": Layer(
        nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", norm_first=True), 8),
}


def save(module, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch 1.13 on nn.TransformerEncoderLayer's batch_first
        torch.jit.script(module.eval()).save(path)
    return path


def main():
    binary = oracle.binary_from_argv()
    report = oracle.Report()
    with tempfile.TemporaryDirectory() as tmp:
        models = os.path.join(tmp, "models")
        os.makedirs(models)
        for i, (name, module) in enumerate(LAYERS.items()):
            path = save(module, os.path.join(models, f"{i}_{name}.pt"))
            result = oracle.run(binary, ["models", "inspect", path])
            report.check(f"inspect {name}: accepted", result.returncode == 0, result.stderr)
        save(Raises(), os.path.join(models, "20_raises.pt"))
        save(WrongShape(), os.path.join(models, "21_wrong_shape.pt"))
        save(NotFinite(), os.path.join(models, "22_not_finite.pt"))

        for isolation in ("process", "none"):
            out = os.path.join(tmp, f"result-{isolation}.json")
            result = oracle.run(binary, ["eval", "--models", models, "--seed", "3", "--series",
                                         SERIES, "--length", LENGTH, "--isolation", isolation,
                                         "--out", out])
            if not report.check(f"eval --isolation {isolation}: exits 0", result.returncode == 0,
                                result.stderr[-2000:]):
                continue
            with open(out) as f:
                runs = {os.path.splitext(os.path.basename(m["file"]))[0]: m
                        for m in json.load(f)["models"]}
            tag = f"eval --isolation {isolation}"
            for i, name in enumerate(LAYERS):
                run = runs[f"{i}_{name}"]
                report.check(f"{tag}: {name} ok", run["status"] == "ok" and not run["reason"], run)
            run = runs["20_raises"]
            report.check(f"{tag}: the model's own exception",
                         run["status"] == "failed" and run["reason"] == "ValueError: bad input",
                         run)
            run = runs["21_wrong_shape"]
            layouts = re.fullmatch(
                rf"returned shape \[{SERIES}, \d+\], expected \[B, >=H, 1, Q\] or \[B, >=H, Q\] "
                rf"with B={SERIES}, H=(\d+), Q={LEVELS}", run["reason"])
            report.check(f"{tag}: every accepted layout",
                         run["status"] == "bad-output" and layouts is not None, run)
            run = runs["22_not_finite"]
            total = f"{SERIES * int(layouts.group(1)) * LEVELS:,}" if layouts else "?"
            report.check(f"{tag}: non-finite forecasts counted",
                         run["status"] == "ok" and run["reason"] ==
                         f"5 of {total} forecast values were not finite (scored as +-1e9)", run)
            report.check(f"{tag}: non-finite forecasts scored", run["mean_loss"] is not None, run)
    report.finish()


if __name__ == "__main__":
    main()
