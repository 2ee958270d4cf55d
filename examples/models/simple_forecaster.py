#!/usr/bin/python3
"""A complete TorchScript candidate model (docs/models.md): the last observed
value as the median, and a spread that grows with the square root of the
horizon, from the standard deviation of the series' steps.

    /usr/bin/python3 examples/models/simple_forecaster.py OUT.pt

Needs PyTorch (Debian 12: apt-get install python3-torch, PyTorch 1.13.1).
Check the result with `crucible models inspect OUT.pt`.
"""
import sys
from typing import List

import torch
from torch import nn


class SimpleForecaster(nn.Module):
    def __init__(self):
        super().__init__()
        # A learnable spread factor: real models hold their weights the same way.
        self.scale = nn.Parameter(torch.ones(1))

    @torch.jit.export
    def forecast(self, inputs: torch.Tensor, prediction_length: int,
                 quantiles: List[float], lengths: torch.Tensor) -> torch.Tensor:
        # inputs [B, T, 1] float32, left-aligned, right-padded with 0;
        # lengths [B] int64: how many of the T steps are real.
        x = inputs[:, :, 0]
        steps = torch.arange(x.size(1), device=x.device)
        mask = (steps.unsqueeze(0) < lengths.unsqueeze(1)).to(x.dtype)
        last = torch.gather(x, 1, torch.clamp(lengths - 1, min=0).unsqueeze(1))  # [B, 1]
        # Standard deviation of the steps x[t] - x[t-1] inside the series.
        diffs = (x[:, 1:] - x[:, :-1]) * mask[:, 1:]
        count = torch.clamp(mask[:, 1:].sum(1, keepdim=True), min=1.0)
        mean = diffs.sum(1, keepdim=True) / count
        var = ((diffs - mean) * mask[:, 1:]).pow(2).sum(1, keepdim=True) / count
        h = torch.arange(1, prediction_length + 1, dtype=x.dtype, device=x.device)
        spread = self.scale * torch.sqrt(var + 1e-6) * torch.sqrt(h).unsqueeze(0)  # [B, H]
        # Normal quantiles: z_q = sqrt(2) * erfinv(2q - 1).
        q = torch.tensor(quantiles, dtype=x.dtype, device=x.device)
        z = 1.4142135623730951 * torch.erfinv(2.0 * q - 1.0)
        out = last.unsqueeze(-1) + spread.unsqueeze(-1) * z  # [B, H, Q]
        return out.unsqueeze(2)  # [B, H, 1, Q]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: simple_forecaster.py OUT.pt")
    model = torch.jit.script(SimpleForecaster().eval())
    model.save(sys.argv[1])
    print(f"wrote {sys.argv[1]} (PyTorch {torch.__version__})")


if __name__ == "__main__":
    main()
