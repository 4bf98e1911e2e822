#!/usr/bin/python3
"""Writes the model fixtures the C tests compare against (run with Debian's /usr/bin/python3, which
has python3-torch; CI does not run this, the fixtures are committed).

    /usr/bin/python3 tools/make_fixtures.py [forward|gradients|forced]   # writes tests/fixtures/model/*.npz

forward_ref0.npz / forward_ref8.npz: a small active network (240 neurons, 80 inputs, 4 trials,
400 steps) simulated by tools/reference_model.py in float64 with tau_ref = 0 (the reference's model)
and tau_ref = 8 ms; the C simulator must give identical spike trains and voltages within 1e-3 mV.
Voltages are stored every v_stride-th step (steps v_stride-1, 2 v_stride-1, ...) to keep the files small;
the final state (v, G) is stored in full.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_model import Model, spike_time_loss  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "model")


def small_network(seed, n=240, n_in=80, frac_e=0.8):
    rng = np.random.RandomState(seed)
    ct = (rng.random_sample(n) >= frac_e).astype(np.int64)          # 0 = E, 1 = I
    fft = np.zeros(n_in, dtype=np.int64)
    p = np.array([[0.10, 0.20], [0.30, 0.20]])
    conn = rng.random_sample((n, n)) < p[ct][:, ct]
    np.fill_diagonal(conn, False)
    mean = np.array([[0.1, 0.05], [0.1, 0.4]])[ct][:, ct]
    W = np.where(conn, mean * rng.lognormal(-0.125, 0.5, (n, n)), 0.0).astype(np.float32)
    conn_ff = rng.random_sample((n_in, n)) < 0.2
    ff_mean = np.where(ct == 0, 0.5, 0.04)[None, :]
    W_ff = np.where(conn_ff, ff_mean * rng.lognormal(-0.125, 0.5, (n_in, n)), 0.0).astype(np.float32)
    return ct, fft, W, conn, W_ff, conn_ff


PHYS = [dict(tau_mem=85.0, theta=-38.0, U_reset=-60.0, E_L=-60.0, g_L=1.35, tau_ref=8.0),
        dict(tau_mem=50.0, theta=-45.0, U_reset=-60.0, E_L=-60.0, g_L=0.9, tau_ref=8.0)]
SYN_REC = [dict(owner=0, tau_rise=0.1, tau_decay=5.0, E_syn=0.0, g_bar=4.177),
           dict(owner=0, tau_rise=10.0, tau_decay=70.0, E_syn=0.0, g_bar=0.448),
           dict(owner=1, tau_rise=1.0, tau_decay=6.0, E_syn=-70.0, g_bar=8.139)]
SYN_FF = [dict(owner=0, tau_rise=0.1, tau_decay=5.0, E_syn=0.0, g_bar=4.177),
          dict(owner=0, tau_rise=10.0, tau_decay=70.0, E_syn=0.0, g_bar=0.448)]


def forward_fixture(name, tau_ref, seed=7, B=4, T=320, dt=1.0, rate=12.0, v_stride=5, min_margin=5e-5):
    """Searches input realisations until no voltage comes closer than min_margin mV to its threshold:
    the C code runs in float32 (rounding ~1e-5 mV), and a spike decided by a smaller margin would make
    the comparison test rounding rather than the model."""
    ct, fft, W, conn, W_ff, conn_ff = small_network(seed)
    phys = [dict(p, tau_ref=tau_ref) for p in PHYS]
    m = Model(phys, SYN_REC, SYN_FF, ct, fft, dt)
    theta = np.array([p["theta"] for p in phys])[ct]
    n_types, n_ff = 2, 1
    sf = np.ones((n_types, n_types))
    sf_ff = np.ones((n_ff, n_types))
    for input_seed in range(seed + 1, seed + 1000):
        rng = np.random.RandomState(input_seed)
        x = (rng.random_sample((B, T, W_ff.shape[0])) < rate * dt / 1000.0)
        with torch.no_grad():
            spikes, volts, state = m.run(torch.tensor(W, dtype=torch.float64),
                                         torch.tensor(W_ff, dtype=torch.float64), torch.tensor(sf),
                                         torch.tensor(sf_ff), torch.tensor(x), m.initial_state(B))
        margin = np.abs(volts.numpy() - theta).min()
        if margin > min_margin:
            break
    print(f"{name}: input seed {input_seed}, closest approach to threshold {margin:.2e} mV")
    spikes = spikes.numpy().astype(bool)
    rates = spikes.mean(axis=(0, 1)) * 1000.0 / dt
    print(f"{name}: mean rate E {rates[ct == 0].mean():.2f} Hz, I {rates[ct == 1].mean():.2f} Hz, "
          f"silent {np.mean(rates == 0):.2f}, spikes {spikes.sum()}")
    phys_arr = np.array([[p[k] for k in ("tau_mem", "theta", "U_reset", "E_L", "g_L", "tau_ref")] for p in phys])
    syn_arr = lambda L: np.array([[s["owner"], s["tau_rise"], s["tau_decay"], s["E_syn"], s["g_bar"]] for s in L])
    np.savez_compressed(os.path.join(OUT, name), dt=np.float64(dt), cell_types=ct, ff_types=fft,
                        W=W, conn=conn, W_ff=W_ff, conn_ff=conn_ff, physiology=phys_arr,
                        syn_rec=syn_arr(SYN_REC), syn_ff=syn_arr(SYN_FF), inputs=x,
                        spikes=spikes, v_stride=np.int64(v_stride),
                        voltages=volts.numpy()[:, v_stride - 1::v_stride, :].astype(np.float32),
                        final_v=state[0].numpy(), final_g=state[1].numpy().astype(np.float32))


def main_forward():
    os.makedirs(OUT, exist_ok=True)
    forward_fixture("forward_ref0.npz", tau_ref=0.0)
    forward_fixture("forward_ref8.npz", tau_ref=8.0)


def gradient_fixture(name, tau_ref, mode, seed=7, B=3, warm=60, T=120, dt=1.0, rate=12.0, scale=200.0,
                     min_margin=5e-5, n_strong=40, with_v=True):
    """BPTT through one chunk against torch autograd (float64). The loss is synthetic so that the reverse
    pass is tested on its own: L = sum R*s + sum (a/2 v^2 + c v) with random R [B][T][N] and a, c [B][N]
    (v = voltage after each step), so dL/ds = R and dL/dv = a v + c, which the C test feeds in. The chunk
    starts from the state after `warm` steps (a constant), with scaling factors away from 1 and a few
    strong synapses so that the clamp engages."""
    ct, fft, W, conn, W_ff, conn_ff = small_network(seed)
    rng = np.random.RandomState(seed + 100)
    # a few strong synapses: a single spike through them exceeds the clamp (w * SF > 1)
    strong = np.argwhere(conn)[rng.choice(int(conn.sum()), n_strong, replace=False)]
    W = W.copy()
    W[strong[:, 0], strong[:, 1]] = 1.6
    phys = [dict(p, tau_ref=tau_ref) for p in PHYS]
    m = Model(phys, SYN_REC, SYN_FF, ct, fft, dt, surrgrad_scale=scale)
    theta = np.array([p["theta"] for p in phys])[ct]
    sf = np.array([[1.15, 0.85], [0.9, 1.1]])
    sf_ff = np.array([[1.05, 0.95]])
    N = len(ct)
    for input_seed in range(seed + 1, seed + 1000):
        r2 = np.random.RandomState(input_seed)
        x = r2.random_sample((B, warm + T, W_ff.shape[0])) < rate * dt / 1000.0
        Wt = torch.tensor(W, dtype=torch.float64, requires_grad=(mode == "weights"))
        Wft = torch.tensor(W_ff, dtype=torch.float64, requires_grad=(mode == "weights"))
        SFt = torch.tensor(sf, requires_grad=(mode == "scaling_factors"))
        SFft = torch.tensor(sf_ff, requires_grad=(mode == "scaling_factors"))
        with torch.no_grad():
            _, v_w, state = m.run(Wt, Wft, SFt, SFft, torch.tensor(x[:, :warm]), m.initial_state(B))
        state = tuple(s.detach().clone() for s in state)
        spikes, volts, _, pre = m.run(Wt, Wft, SFt, SFft, torch.tensor(x[:, warm:]), state, record=True)
        margin = min(np.abs(volts.detach().numpy() - theta).min(), np.abs(v_w.numpy() - theta).min(),
                     np.abs(state[0].numpy() - theta).min())
        if margin > min_margin:
            break
    pre = torch.stack(pre, 1).numpy()  # [B][T][N][2][S]
    lo, hi = m.lo.numpy(), m.hi.numpy()
    clamped = int(np.sum((pre < lo) | (pre > hi)))
    R = rng.randint(-3, 4, size=(B, T, N)).astype(np.float64)  # small integers: a compact fixture
    a = np.abs(rng.standard_normal((B, N))) * 1e-3 * with_v
    c = rng.standard_normal((B, N)) * 1e-2 * with_v
    Rt, at, ctt = torch.tensor(R), torch.tensor(a), torch.tensor(c)
    L = (Rt * spikes).sum() + (0.5 * at[:, None, :] * volts ** 2 + ctt[:, None, :] * volts).sum()
    L.backward()
    print(f"{name}: input seed {input_seed}, margin {margin:.2e} mV, {int(spikes.sum())} spikes in the chunk, "
          f"{clamped} clamped conductance values")
    out = dict(dt=np.float64(dt), cell_types=ct, ff_types=fft, W=W, conn=conn, W_ff=W_ff, conn_ff=conn_ff,
               physiology=np.array([[p[k] for k in ("tau_mem", "theta", "U_reset", "E_L", "g_L", "tau_ref")]
                                    for p in phys]),
               syn_rec=np.array([[s["owner"], s["tau_rise"], s["tau_decay"], s["E_syn"], s["g_bar"]] for s in SYN_REC]),
               syn_ff=np.array([[s["owner"], s["tau_rise"], s["tau_decay"], s["E_syn"], s["g_bar"]] for s in SYN_FF]),
               sf=sf, sf_ff=sf_ff, surrgrad_scale=np.float64(scale), warm=np.int64(warm), inputs=x,
               spikes=spikes.detach().numpy().astype(bool), R=R.astype(np.int8), a=a, c=c,
               clamped=np.int64(clamped), loss=np.float64(L.item()))
    if mode == "scaling_factors":
        out.update(grad_sf=SFt.grad.numpy(), grad_sf_ff=SFft.grad.numpy())
    else:
        out.update(grad_w=Wt.grad.numpy()[conn].astype(np.float64), grad_w_ff=Wft.grad.numpy()[conn_ff])
    np.savez_compressed(os.path.join(OUT, name), **out)


def forced_fixture(name, tau_ref, mode, kind, seed=7, B=2, T=240, dt=1.0, rate=14.0, delta=0.2, burn_in=12,
                   n_strong=40, min_margin=5e-5):
    """Teacher forcing (SPEC 7.8a) against torch autograd (float64). A teacher (the network at SF = 1,
    with a few strong synapses so that the clamp binds) runs freely from the initial state; its spikes
    then drive a student with other factors (scaling-factor modes) or other per-synapse weights (weights
    mode) through run_forced, and the spike-time loss is summed from step burn_in on. Stores the loss,
    its gradient, the Gauss-Newton matrix in SF space (scaling-factor modes), the counts of reproduced
    and extra spikes, and the student's final v. Also checks here that the forced student at the
    teacher's own parameters has exactly the teacher's voltages."""
    ct, fft, W, conn, W_ff, conn_ff = small_network(seed)
    rng = np.random.RandomState(seed + 200)
    strong = np.argwhere(conn)[rng.choice(int(conn.sum()), n_strong, replace=False)]
    W = W.copy()
    W[strong[:, 0], strong[:, 1]] = 1.6
    phys = [dict(p, tau_ref=tau_ref) for p in PHYS]
    m = Model(phys, SYN_REC, SYN_FF, ct, fft, dt)
    theta_n = np.array([p["theta"] for p in phys])[ct]
    theta = torch.tensor(theta_n)
    N, n_in = len(ct), W_ff.shape[0]
    one, one_ff = torch.ones(2, 2, dtype=torch.float64), torch.ones(1, 2, dtype=torch.float64)
    if mode == "scaling_factors":
        sf, sf_ff = np.array([[1.2, 0.8], [0.85, 1.15]]), np.array([[1.1, 0.9]])
        Ws, Wffs = W, W_ff
    else:
        sf, sf_ff = np.ones((2, 2)), np.ones((1, 2))
        Ws = np.where(conn, W * rng.lognormal(0.0, 0.3, W.shape), 0.0).astype(np.float32)
        Wffs = np.where(conn_ff, W_ff * rng.lognormal(0.0, 0.3, W_ff.shape), 0.0).astype(np.float32)
    Wt, Wfft = torch.tensor(W, dtype=torch.float64), torch.tensor(W_ff, dtype=torch.float64)
    for input_seed in range(seed + 1, seed + 1000):
        r2 = np.random.RandomState(input_seed)
        x = torch.tensor(r2.random_sample((B, T, n_in)) < rate * dt / 1000.0)
        with torch.no_grad():
            teacher, v_after, _ = m.run(Wt, Wfft, one, one_ff, x, m.initial_state(B))
            v_free_before = torch.cat([m.U_reset.expand(B, 1, N), v_after[:, :-1]], 1)
            v_id, _ = m.run_forced(Wt, Wfft, one, one_ff, x, teacher, m.initial_state(B))
            assert torch.equal(v_id, v_free_before), "forced student at the teacher's parameters differs"
            v_s, _ = m.run_forced(torch.tensor(Ws, dtype=torch.float64), torch.tensor(Wffs, dtype=torch.float64),
                                  torch.tensor(sf), torch.tensor(sf_ff), x, teacher, m.initial_state(B))
        margin = min(np.abs(v_s.numpy() - theta_n).min(), np.abs(v_id.numpy() - theta_n).min())
        if margin > min_margin:
            break
    Wst = torch.tensor(Ws, dtype=torch.float64, requires_grad=(mode == "weights"))
    Wffst = torch.tensor(Wffs, dtype=torch.float64, requires_grad=(mode == "weights"))
    SFt = torch.tensor(sf, requires_grad=(mode == "scaling_factors"))
    SFft = torch.tensor(sf_ff, requires_grad=(mode == "scaling_factors"))
    v_b, (v_end, _, _) = m.run_forced(Wst, Wffst, SFt, SFft, x, teacher, m.initial_state(B))
    L, count, w2 = spike_time_loss(v_b, teacher, theta, delta, kind, burn_in)
    L.backward()
    tb, sb = teacher[:, burn_in:].numpy().astype(bool), (v_b.detach()[:, burn_in:] > theta).numpy()
    counts = np.array([[tb[..., ct == l].sum(), (tb & sb)[..., ct == l].sum(), (~tb & sb)[..., ct == l].sum()]
                       for l in range(2)], dtype=np.int64)
    print(f"{name}: input seed {input_seed}, margin {margin:.2e} mV, {int(teacher.sum())} teacher spikes, "
          f"{m.forced_clamped} clamped values, loss {L.item():.6g} over {count}, "
          f"reproduced {counts[:, 1].sum()} of {counts[:, 0].sum()}, extra {counts[:, 2].sum()}")
    out = dict(dt=np.float64(dt), cell_types=ct, ff_types=fft, W=Ws, conn=conn, W_ff=Wffs, conn_ff=conn_ff,
               physiology=np.array([[p[k] for k in ("tau_mem", "theta", "U_reset", "E_L", "g_L", "tau_ref")]
                                    for p in phys]),
               syn_rec=np.array([[s["owner"], s["tau_rise"], s["tau_decay"], s["E_syn"], s["g_bar"]] for s in SYN_REC]),
               syn_ff=np.array([[s["owner"], s["tau_rise"], s["tau_decay"], s["E_syn"], s["g_bar"]] for s in SYN_FF]),
               sf=sf, sf_ff=sf_ff, inputs=x.numpy(), teacher=teacher.numpy().astype(bool), delta=np.float64(delta),
               kind=np.int64(0 if kind == "cross_entropy" else 1), burn_in=np.int64(burn_in),
               loss=np.float64(L.item()), count=np.int64(count), counts=counts, final_v=v_end.detach().numpy(),
               clamped=np.int64(m.forced_clamped))
    if mode == "scaling_factors":
        out.update(grad_sf=SFt.grad.numpy(), grad_sf_ff=SFft.grad.numpy())
        # Gauss-Newton J^T diag(w2) J in SF space, as the Hessian at the point of
        # 1/2 sum w2 (v(SF) - v(SF0))^2 (its residual is 0 there, so only the J^T W J term remains)
        v0 = v_b.detach()[:, burn_in:]

        def gn_objective(p):
            vv, _ = m.run_forced(Wt, Wfft, p[:4].reshape(2, 2), p[4:].reshape(1, 2), x, teacher, m.initial_state(B))
            return 0.5 * (w2 * (vv[:, burn_in:] - v0) ** 2).sum()
        p0 = torch.tensor(np.concatenate([sf.ravel(), sf_ff.ravel()]))
        H = torch.autograd.functional.hessian(gn_objective, p0).numpy()
        # as the C code reports it: per postsynaptic type l, over the groups k (E, I, mitral):
        # gn[l][k1][k2] = H[(k1, l), (k2, l)] with index (k, l) -> k * 2 + l (SF_FF after SF)
        gn = np.zeros((2, 3, 3))
        for l in range(2):
            idx = [0 * 2 + l, 1 * 2 + l, 4 + l]
            gn[l] = H[np.ix_(idx, idx)]
        off = [H[0 * 2 + 0, 0 * 2 + 1], H[4, 5]]
        assert max(abs(o) for o in off) == 0.0, "the Gauss-Newton matrix couples postsynaptic types"
        out.update(gn=gn)
    else:
        out.update(grad_w=Wst.grad.numpy()[conn].astype(np.float64), grad_w_ff=Wffst.grad.numpy()[conn_ff])
    np.savez_compressed(os.path.join(OUT, name), **out)


def main_forced():
    os.makedirs(OUT, exist_ok=True)
    forced_fixture("forced_sf_ref8.npz", 8.0, "scaling_factors", "cross_entropy")
    forced_fixture("forced_sf_ref0_hinge.npz", 0.0, "scaling_factors", "squared_hinge", burn_in=0)
    forced_fixture("forced_w_ref8.npz", 8.0, "weights", "cross_entropy")


if __name__ == "__main__":
    if len(sys.argv) == 1 or sys.argv[1] in ("all", "forward"):
        main_forward()
    if len(sys.argv) == 1 or sys.argv[1] in ("all", "gradients"):
        gradient_fixture("grad_sf_ref8.npz", 8.0, "scaling_factors")
        gradient_fixture("grad_sf_ref0.npz", 0.0, "scaling_factors")
        gradient_fixture("grad_w_ref8.npz", 8.0, "weights")
    if len(sys.argv) == 1 or sys.argv[1] in ("all", "forced"):
        main_forced()
