#!/usr/bin/python3
"""Writes the Adam/clipping fixtures that tests/unit/test_adam.c compares against (run with Debian's
/usr/bin/python3, which has python3-torch; CI does not run this, the fixtures are committed).

    /usr/bin/python3 tools/make_adam_fixtures.py      # writes tests/fixtures/adam/*.npz

Each fixture runs torch.optim.Adam (default betas (0.9, 0.999), eps 1e-8) in float64 for `steps`
steps on parameters split over several tensors (the C side sees them concatenated into one flat
vector), with random gradients whose scale jumps between small and large so that
torch.nn.utils.clip_grad_norm_ engages on some steps and not on others. Arrays:

    lr, clip          scalars (clip < 0: no clipping)
    sizes             (k,)  lengths of the torch parameter tensors, in concatenation order
    params0           (n,)  initial parameters
    grads             (steps, n) raw gradients given to each step (before clipping)
    norms             (steps,)   total norm returned by clip_grad_norm_ (0 when not clipping)
    clipped           (steps, n) gradients after clipping, as Adam saw them (not in adam_long)
    params            (steps, n) parameters after each step
    exp_avg, exp_avg_sq (n,)    moments after the last step

The bits depend on torch's CPU kernels: on a CPU with FMA (AVX2/AVX-512 dispatch) torch 1.13 fuses
the moment updates (see src/train/adam.c), which the C code reproduces with fma(); the committed
fixtures were written on such a machine (torch 1.13, AVX-512).
"""
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "adam")


def run(name, seed, sizes, steps, lr, clip, keep_clipped=True):
    rng = np.random.RandomState(seed)
    n = sum(sizes)
    p0 = rng.normal(0.0, 1.0, n)
    # a scale per step: mostly O(0.1) norms, with jumps by 1e3 that the clip (if any) must catch
    scales = np.where(rng.random_sample(steps) < 0.4, 10.0, 0.02) * np.exp(rng.normal(0, 1, steps))
    grads = rng.normal(0.0, 1.0, (steps, n)) * scales[:, None]
    # a few exact zeros and a sign pattern repeated, so that some moments sit at 0 for a while
    grads[:, 3] = 0.0
    grads[: steps // 2, 5] = 0.0

    tensors, off = [], 0
    for s in sizes:
        tensors.append(torch.nn.Parameter(torch.tensor(p0[off:off + s], dtype=torch.float64)))
        off += s
    opt = torch.optim.Adam(tensors, lr=lr)
    out_params = np.zeros((steps, n))
    out_clipped = np.zeros((steps, n))
    norms = np.zeros(steps)
    n_clipped = 0
    for k in range(steps):
        off = 0
        for t, s in zip(tensors, sizes):
            t.grad = torch.tensor(grads[k, off:off + s].copy(), dtype=torch.float64)
            off += s
        if clip >= 0:
            norms[k] = float(torch.nn.utils.clip_grad_norm_(tensors, clip))
            n_clipped += int(norms[k] + 1e-6 > clip)
        out_clipped[k] = np.concatenate([t.grad.numpy() for t in tensors])
        opt.step()
        out_params[k] = np.concatenate([t.detach().numpy() for t in tensors])
    m = np.concatenate([opt.state[t]["exp_avg"].numpy() for t in tensors])
    v = np.concatenate([opt.state[t]["exp_avg_sq"].numpy() for t in tensors])
    extra = dict(clipped=out_clipped) if keep_clipped else {}
    np.savez_compressed(os.path.join(OUT, name), lr=np.float64(lr), clip=np.float64(clip),
                        sizes=np.array(sizes, dtype=np.int64), params0=p0, grads=grads, norms=norms,
                        params=out_params, exp_avg=m, exp_avg_sq=v, **extra)
    print(f"{name}: n={n} steps={steps} clipped on {n_clipped} steps")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    run("adam_clip.npz", 11, [25, 12, 4], 20, 1e-2, 1.0)
    run("adam_noclip.npz", 12, [37], 20, 3e-3, -1.0)
    # long vector: exercises the blocked norm summation against torch's reduction
    run("adam_long.npz", 13, [600, 200], 5, 5e-2, 0.5, keep_clipped=False)


if __name__ == "__main__":
    main()
