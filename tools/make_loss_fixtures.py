#!/usr/bin/python3
"""Writes the loss fixtures that tests/unit/test_loss.c compares src/train/loss.c against (run with
Debian's /usr/bin/python3, which has python3-torch; CI does not run this, the fixtures are committed).

    /usr/bin/python3 tools/make_loss_fixtures.py        # writes tests/fixtures/loss/*.npz

Every loss of SPEC section 7.3 is written here from its formula, in float64 with autograd, without the
C code's tricks: van Rossum as an explicit causal convolution (a Toeplitz matrix of kernel taps plus the
decayed carried state), membrane variance from the voltages themselves (torch.std), CV with numpy.
Gradients are dL/ds (unscaled); the C test multiplies them by its `scale`.

Files (B = 3 trials, T = 50 steps, N = 7 neurons):
  vr_exp.npz, vr_2exp.npz  two consecutive chunks (s1, t1) then (s2, t2); the state entering chunk 2 is
                           chunk 1's last filtered value, detached; loss1, loss2, grad1, grad2.
  rate_silent.npz          rate loss against a random target and against the teacher's own rates,
                           silent penalty with per-neuron alpha.
  cv.npz                   per-(trial, neuron) CVs (NaN where < 3 spikes) and the loss against a
                           per-neuron target (one NaN entry) and against the teacher.
  memvar.npz               voltages v [B][T][N], theta, target; loss and dL/dv.
  weight_ratio.npz         SF (3x3), SF_FF (2x3), exc_type 0; loss and gradients.
"""
import math
import os

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "loss")
B, T, N = 3, 50, 7
DT = 0.5


def spikes(rng, p):
    """0/1 spikes with a per-neuron probability; neuron 0 is silent in trial 0 so edge cases occur."""
    s = (rng.random_sample((B, T, N)) < p[None, None, :]).astype(np.uint8)
    s[0, :, 0] = 0
    return s


def taps(k, n):
    """Lower-triangular Toeplitz matrix K[t, u] = k^(t-u) for t >= u: y = K @ o is the causal filter."""
    t = torch.arange(n, dtype=torch.float64)
    d = t[:, None] - t[None, :]
    return torch.where(d >= 0, k ** d.clamp(min=0), torch.zeros(()))


def vr_filter(o, k, prev):
    """o (B, T, N); prev (B, N): the filter value at the step before the chunk. Returns (y, y[:, -1])."""
    n = o.shape[1]
    y = torch.einsum("tu,bun->btn", taps(k, n), o)
    carry = k ** torch.arange(1, n + 1, dtype=torch.float64)        # prev decays one step at t = 0
    y = y + carry[None, :, None] * prev[:, None, :]
    return y, y[:, -1, :]


def norm_peak(tr, td):
    r = tr / td
    return r ** (r / (1 - r)) - r ** (1 / (1 - r))


def van_rossum_case(rng, name, two_exp):
    tau, tau_rise, tau_decay = 8.0, 2.0, 12.0
    ps = rng.uniform(0.05, 0.4, N)
    s1, t1, s2, t2 = spikes(rng, ps), spikes(rng, ps), spikes(rng, ps), spikes(rng, ps)
    if two_exp:
        ks = [math.exp(-DT / tau_decay), math.exp(-DT / tau_rise)]
        signs = [1.0 / norm_peak(tau_rise, tau_decay), -1.0 / norm_peak(tau_rise, tau_decay)]
    else:
        ks, signs = [math.exp(-DT / tau)], [1.0]
    zero = torch.zeros(B, N)
    prev_s = [zero] * len(ks)
    prev_t = [zero] * len(ks)
    out = {}
    for c, (sn, tn) in enumerate([(s1, t1), (s2, t2)], start=1):
        o = torch.tensor(sn, dtype=torch.float64, requires_grad=True)
        tg = torch.tensor(tn, dtype=torch.float64)
        ys = torch.zeros(B, T, N)
        yt = torch.zeros(B, T, N)
        for i, (k, sg) in enumerate(zip(ks, signs)):
            a, last_s = vr_filter(o, k, prev_s[i])
            b, last_t = vr_filter(tg, k, prev_t[i])
            ys = ys + sg * a
            yt = yt + sg * b
            prev_s[i] = last_s.detach()      # no gradient crosses the chunk boundary
            prev_t[i] = last_t.detach()
        loss = ((ys - yt) ** 2).mean()
        loss.backward()
        out[f"loss{c}"] = np.float64(loss.item())
        out[f"grad{c}"] = o.grad.numpy().copy()
    np.savez_compressed(os.path.join(OUT, name), s1=s1, t1=t1, s2=s2, t2=t2, dt=DT, tau=tau,
                        tau_rise=tau_rise, tau_decay=tau_decay, two_exp=int(two_exp), **out)


def rate_silent_case(rng):
    ps = rng.uniform(0.0, 0.3, N)
    s = spikes(rng, ps)
    teacher = spikes(rng, ps)
    Ts = T * DT / 1000.0
    target = rng.uniform(0.0, 300.0, N)
    alpha = rng.uniform(0.001, 0.02, N)

    o = torch.tensor(s, dtype=torch.float64, requires_grad=True)
    r = o.sum(dim=1).mean(dim=0) / Ts
    tgt = torch.tensor(target)
    rate_loss = ((r - tgt) ** 2 / (tgt + 1.0)).mean()
    rate_loss.backward()
    rate_grad = o.grad.numpy().copy()
    rates = r.detach().numpy().copy()

    teacher_rates = teacher.astype(np.float64).sum(axis=1).mean(axis=0) / Ts
    o = torch.tensor(s, dtype=torch.float64, requires_grad=True)
    r = o.sum(dim=1).mean(dim=0) / Ts
    tgt = torch.tensor(teacher_rates)
    rate_loss_t = ((r - tgt) ** 2 / (tgt + 1.0)).mean()
    rate_loss_t.backward()
    rate_grad_t = o.grad.numpy().copy()

    o = torch.tensor(s, dtype=torch.float64, requires_grad=True)
    rbj = o.sum(dim=1) / Ts
    silent_loss = torch.exp(-torch.tensor(alpha)[None, :] * rbj).mean()
    silent_loss.backward()
    np.savez_compressed(os.path.join(OUT, "rate_silent.npz"), s=s, teacher=teacher, dt=DT, target=target,
                        alpha=alpha, rates=rates, teacher_rates=teacher_rates, rate_loss=rate_loss.item(),
                        rate_grad=rate_grad, rate_loss_teacher=rate_loss_t.item(), rate_grad_teacher=rate_grad_t,
                        silent_r=rbj.detach().numpy(), silent_loss=silent_loss.item(),
                        silent_grad=o.grad.numpy().copy())


def cv_of(train):
    idx = np.flatnonzero(train)
    if idx.size < 3:
        return np.nan
    isi = np.diff(idx).astype(np.float64)
    return np.std(isi, ddof=1) / np.mean(isi)


def cv_case(rng):
    ps = rng.uniform(0.02, 0.3, N)
    s = spikes(rng, ps)
    teacher = spikes(rng, ps)
    s[1, :, 2] = 0
    s[1, [4, 30], 2] = 1        # 2 spikes: undefined
    s[2, [3, 9, 15, 21], 3] = 1  # regular train: CV 0 (others added too by chance are kept)
    teacher[2, :, 4] = 0
    teacher[2, [5, 6, 40], 4] = 1
    teacher[0, :, 5] = 0         # undefined in the teacher only
    target = rng.uniform(0.2, 1.2, N)
    target[6] = np.nan           # a neuron without a target is left out
    cv_s = np.array([[cv_of(s[b, :, j]) for j in range(N)] for b in range(B)])
    cv_t = np.array([[cv_of(teacher[b, :, j]) for j in range(N)] for b in range(B)])
    d = cv_s - target[None, :]
    ok = np.isfinite(d)
    loss_target = float(np.mean(d[ok] ** 2)) if ok.any() else 0.0
    d = cv_s - cv_t
    ok = np.isfinite(d)
    loss_teacher = float(np.mean(d[ok] ** 2)) if ok.any() else 0.0
    np.savez_compressed(os.path.join(OUT, "cv.npz"), s=s, teacher=teacher, target=target, cv_s=cv_s,
                        cv_t=cv_t, loss_target=loss_target, loss_teacher=loss_teacher)


def memvar_case(rng):
    v = -55.0 + 4.0 * rng.standard_normal((B, T, N))
    v[1, :, 3] += np.linspace(-3.0, 6.0, T)        # drifting trace, not just noise
    theta = rng.uniform(-45.0, -40.0, N)
    target = rng.uniform(0.05, 0.5, N)
    vt = torch.tensor(v, requires_grad=True)
    m = vt.mean(dim=1)
    sd = vt.std(dim=1, unbiased=True)
    ratio = sd / (torch.tensor(theta)[None, :] - m + 1e-8)
    loss = ((ratio - torch.tensor(target)[None, :]) ** 2).mean()
    loss.backward()
    np.savez_compressed(os.path.join(OUT, "memvar.npz"), v=v, theta=theta, target=target, loss=loss.item(),
                        grad=vt.grad.numpy())


def weight_ratio_case(rng):
    sf = torch.tensor(rng.uniform(0.5, 2.0, (3, 3)), requires_grad=True)
    sf_ff = torch.tensor(rng.uniform(0.5, 2.0, (2, 3)), requires_grad=True)
    exc, target = 1, 1.3
    R = sf[exc].mean() / (sf_ff.mean() + 1e-8)
    loss = (R - target) ** 2
    loss.backward()
    np.savez_compressed(os.path.join(OUT, "weight_ratio.npz"), sf=sf.detach().numpy(),
                        sf_ff=sf_ff.detach().numpy(), exc_type=exc, target=target, loss=loss.item(),
                        g_sf=sf.grad.numpy(), g_sf_ff=sf_ff.grad.numpy())


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.RandomState(20240611)
    van_rossum_case(rng, "vr_exp.npz", False)
    van_rossum_case(rng, "vr_2exp.npz", True)
    rate_silent_case(rng)
    cv_case(rng)
    memvar_case(rng)
    weight_ratio_case(rng)


if __name__ == "__main__":
    main()
