"""Python baseline for crucible's synthetic Gaussian-process generator.

It makes synthetic series the way the reference Bittensor subnet (Epochor)
does, in the KernelSynth style, with scikit-learn kernels:

  * a bank of sklearn.gaussian_process.kernels: ExpSineSquared, RBF,
    RationalQuadratic, Matern (nu in {0.5, 1.5, 2.5}), WhiteKernel,
    ConstantKernel, DotProduct, and the products and sums locally periodic
    (ExpSineSquared * RBF), quadratic (DotProduct ** 2) and trend plus
    seasonality (DotProduct + ExpSineSquared); every term is scaled by a
    ConstantKernel variance;
  * per kernel, a random composition of 2 to 6 bank entries joined one by one
    with a random + or *;
  * the Gram matrix kernel(x) on x = linspace(0, 1, L).reshape(L, 1), plus
    1e-6 * I, factored by numpy.linalg.cholesky; on LinAlgError the
    composition is redrawn (at most MAX_REDRAWS times);
  * samples = chol @ rng.standard_normal((L, samples_per_kernel)), with
    ceil(series / samples_per_kernel) kernels run by joblib.Parallel(n_jobs=-1)
    and the first `series` columns kept;
  * the input/target split per series: u ~ Uniform(0.5, 0.95),
    split = clamp(floor(L * u), 1, L - 1), inputs and targets right-padded with
    0 to the longest.

Hyper-parameters are log-uniform draws (lengthscales 0.01..0.5, periods
0.02..0.5, variances 0.1..2) from numpy.random.default_rng; each kernel gets
its own generator from SeedSequence(seed).spawn so workers are reproducible.

"seconds" is the median over --repeats of the generation alone (compositions,
Gram matrices, Cholesky, sampling, split; the first repeat also starts the
joblib worker pool). "seconds_with_start" is one run of this script with
--once, timed from outside as a subprocess, so it includes the interpreter
start and the numpy / scikit-learn / joblib imports.

    apt-get install -y python3-sklearn python3-joblib
    /usr/bin/python3 benchmarks/python_gp_reference.py --series 1000 \
        --length 1024 --samples-per-kernel 50 --seed 7 --repeats 3
"""
import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.gaussian_process.kernels import (RBF, ConstantKernel, DotProduct, ExpSineSquared,
                                              Matern, RationalQuadratic, WhiteKernel)

JITTER = 1e-6
MAX_REDRAWS = 10


def log_uniform(rng, low, high):
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def scaled(rng, kernel):
    """kernel times a ConstantKernel variance drawn log-uniform in 0.1..2."""
    return ConstantKernel(log_uniform(rng, 0.1, 2.0), "fixed") * kernel


def bank_entry(rng):
    """One randomly chosen kernel of the bank with fresh hyper-parameters."""
    length = lambda: log_uniform(rng, 0.01, 0.5)
    period = lambda: log_uniform(rng, 0.02, 0.5)
    choice = int(rng.integers(0, 10))
    if choice == 0:
        return scaled(rng, ExpSineSquared(length_scale=log_uniform(rng, 0.3, 3.0), periodicity=period()))
    if choice == 1:
        return scaled(rng, RBF(length_scale=length()))
    if choice == 2:
        return scaled(rng, RationalQuadratic(length_scale=length(), alpha=log_uniform(rng, 0.1, 10.0)))
    if choice == 3:
        return scaled(rng, Matern(length_scale=length(), nu=float(rng.choice([0.5, 1.5, 2.5]))))
    if choice == 4:
        return WhiteKernel(noise_level=log_uniform(rng, 1e-3, 0.1))
    if choice == 5:
        return ConstantKernel(log_uniform(rng, 0.1, 2.0))
    if choice == 6:
        return scaled(rng, DotProduct(sigma_0=log_uniform(rng, 0.1, 2.0)))
    if choice == 7:  # locally periodic
        return scaled(rng, ExpSineSquared(length_scale=log_uniform(rng, 0.3, 3.0), periodicity=period())
                      * RBF(length_scale=log_uniform(rng, 0.1, 1.0)))
    if choice == 8:  # quadratic trend
        return scaled(rng, DotProduct(sigma_0=log_uniform(rng, 0.1, 1.0)) ** 2)
    # trend plus seasonality
    return scaled(rng, DotProduct(sigma_0=log_uniform(rng, 0.1, 1.0))
                  + ExpSineSquared(length_scale=log_uniform(rng, 0.3, 3.0), periodicity=period()))


def composition(rng):
    """2 to 6 bank entries joined left to right with a random + or *."""
    kernel = bank_entry(rng)
    for _ in range(int(rng.integers(2, 7)) - 1):
        other = bank_entry(rng)
        kernel = kernel + other if rng.random() < 0.5 else kernel * other
    return kernel


def sample_kernel(seed_seq, length, samples):
    """[length, samples] draws from one random composition, and its redraws."""
    rng = np.random.default_rng(seed_seq)
    x = np.linspace(0.0, 1.0, length).reshape(length, 1)
    for redraws in range(MAX_REDRAWS + 1):
        gram = composition(rng)(x) + JITTER * np.eye(length)
        try:
            chol = np.linalg.cholesky(gram)
        except np.linalg.LinAlgError:
            continue
        return chol @ rng.standard_normal((length, samples)), redraws
    raise RuntimeError(f"no positive-definite composition in {MAX_REDRAWS + 1} draws")


def split_series(rng, series):
    """Random input/target split per row, both right-padded with 0."""
    count, length = series.shape
    u = rng.uniform(0.5, 0.95, count)
    splits = np.clip(np.floor(length * u).astype(np.int64), 1, length - 1)
    inputs = np.zeros((count, splits.max()))
    targets = np.zeros((count, length - splits.min()))
    for row, split in enumerate(splits):
        inputs[row, :split] = series[row, :split]
        targets[row, :length - split] = series[row, split:]
    return inputs, targets, splits


def generate(series, length, samples_per_kernel, seed):
    """Returns (inputs, targets, splits, kernels, redraws)."""
    kernels = -(-series // samples_per_kernel)
    children = np.random.SeedSequence(seed).spawn(kernels + 1)
    results = Parallel(n_jobs=-1)(
        delayed(sample_kernel)(child, length, samples_per_kernel) for child in children[:kernels])
    samples = np.concatenate([block for block, _ in results], axis=1)[:, :series].T
    inputs, targets, splits = split_series(np.random.default_rng(children[-1]), samples)
    return inputs, targets, splits, kernels, sum(r for _, r in results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--length", type=int, default=1024)
    parser.add_argument("--samples-per-kernel", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--once", action="store_true", help="generate once, print nothing")
    args = parser.parse_args()
    if args.series < 1 or args.length < 2 or args.samples_per_kernel < 1 or args.repeats < 1:
        parser.error("need series >= 1, length >= 2, samples-per-kernel >= 1, repeats >= 1")
    sizes = (args.series, args.length, args.samples_per_kernel, args.seed)
    if args.once:
        generate(*sizes)
        return

    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        inputs, targets, _, kernels, redraws = generate(*sizes)
        times.append(time.perf_counter() - start)
    assert inputs.shape[0] == targets.shape[0] == args.series

    command = [sys.executable, __file__, "--series", str(args.series), "--length", str(args.length),
               "--samples-per-kernel", str(args.samples_per_kernel), "--seed", str(args.seed), "--once"]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    with_start = time.perf_counter() - start

    print(json.dumps({"job": "gp_reference", "series": args.series, "length": args.length,
                      "samples_per_kernel": args.samples_per_kernel, "kernels": kernels,
                      "seconds": round(statistics.median(times), 4),
                      "seconds_with_start": round(with_start, 4), "redraws": redraws}))


if __name__ == "__main__":
    main()
