"""An independent float64 PyTorch implementation of snnfit's network model (SPEC section 4).

Written from the equations of SPEC.md, not from the C code, so that the C simulator (and later its
gradient) can be checked against it. Everything is dense and simple; speed does not matter here.

State per trial: v[N], G[N][2][S], r[N] (refractory steps left). One step:
 1. s = (v - theta > 0)
 2. I_s = (G0_s + G1_s)(v - E_s); I_leak = (v - E_L)(1 - beta) C_m / dt
 3. v~ = v - (sum_s I_s + I_leak) dt / C_m; v_new = v~ (1 - s) + U_reset s (the reset term's s is
    detached); refractory: if r > 0 then v_new = U_reset and r -= 1; if s then r = round(tau_ref/dt)
 4. G *= alpha
 5. G[j][c][s] += sum_i s_i W[i][j] SF[type i][type j] g_scale[c][s] for columns s owned by type i
 6. the same for the inputs x_t with W_ff and SF_ff
 7. clamp component 0 to [g_scale0, 0] and component 1 to [0, g_scale1]
"""
import math

import torch


class SpikeFn(torch.autograd.Function):
    """Heaviside forward; fast-sigmoid surrogate 1/(scale|u| + 1)^2 backward."""

    @staticmethod
    def forward(ctx, u, scale):
        ctx.save_for_backward(u)
        ctx.scale = scale
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        return grad / (ctx.scale * u.abs() + 1.0) ** 2, None


def norm_peak(tau_rise, tau_decay):
    rr = tau_rise / tau_decay
    return rr ** (rr / (1.0 - rr)) - rr ** (1.0 / (1.0 - rr))


class Model:
    """phys: list per recurrent type of dict(tau_mem, theta, U_reset, E_L, g_L, tau_ref);
    syn_rec / syn_ff: lists of dict(owner, tau_rise, tau_decay, E_syn, g_bar)."""

    def __init__(self, phys, syn_rec, syn_ff, cell_types, ff_types, dt, surrgrad_scale=500.0):
        d = torch.float64
        self.dt = float(dt)
        self.n = len(cell_types)
        self.ct = torch.as_tensor(cell_types, dtype=torch.long)
        self.fft = torch.as_tensor(ff_types, dtype=torch.long)
        self.n_types = len(phys)
        self.n_ff_types = int(max(ff_types)) + 1 if len(ff_types) else 1
        p = lambda k: torch.tensor([phys[t][k] for t in cell_types.tolist()], dtype=d)
        self.theta, self.U_reset, self.E_L = p("theta"), p("U_reset"), p("E_L")
        tau_mem, g_L = p("tau_mem"), p("g_L")
        self.C_m = tau_mem * g_L
        self.beta = torch.exp(-self.dt / tau_mem)
        self.ref_steps = torch.tensor([round(phys[t]["tau_ref"] / self.dt) for t in cell_types.tolist()],
                                      dtype=torch.long)
        syns = list(syn_rec) + list(syn_ff)
        self.S = len(syns)
        self.S_rec = len(syn_rec)
        self.E_syn = torch.tensor([s["E_syn"] for s in syns], dtype=d)
        self.alpha = torch.tensor([[math.exp(-self.dt / s["tau_rise"]) for s in syns],
                                   [math.exp(-self.dt / s["tau_decay"]) for s in syns]], dtype=d)
        np_ = [norm_peak(s["tau_rise"], s["tau_decay"]) for s in syns]
        self.g_scale = torch.tensor([[-s["g_bar"] / q for s, q in zip(syns, np_)],
                                     [s["g_bar"] / q for s, q in zip(syns, np_)]], dtype=d)
        # own_rec[k][s] = 1 if recurrent type k owns column s; own_ff likewise for feedforward types
        self.own_rec = torch.zeros(self.n_types, self.S, dtype=d)
        for s, sp in enumerate(syn_rec):
            self.own_rec[sp["owner"], s] = 1
        self.own_ff = torch.zeros(self.n_ff_types, self.S, dtype=d)
        for q, sp in enumerate(syn_ff):
            self.own_ff[sp["owner"], self.S_rec + q] = 1
        self.scale = surrgrad_scale
        self.lo = torch.stack([self.g_scale[0], torch.zeros(self.S, dtype=d)])  # [2][S]
        self.hi = torch.stack([torch.zeros(self.S, dtype=d), self.g_scale[1]])

    def initial_state(self, B):
        d = torch.float64
        return (self.U_reset.expand(B, self.n).clone(), torch.zeros(B, self.n, 2, self.S, dtype=d),
                torch.zeros(B, self.n, dtype=torch.long))

    def run(self, W, W_ff, SF, SF_ff, x, state, record=False):
        """x: [B][T][N_in] 0/1 (constants). W: [N][N], W_ff: [N_in][N], SF: [types][types],
        SF_ff: [ff types][types] (tensors, may require grad). Returns spikes [B][T][N] (with the
        surrogate gradient), voltages after each step [B][T][N] (differentiable), the final state,
        and, if record, the pre-clamp conductances per step (for checking the clamp)."""
        v, G, r = state
        B, T, _ = x.shape
        ct, fft = self.ct, self.fft
        # effective weights and per-(presynaptic, target) column factors
        W_eff = W * SF[ct][:, ct]                   # [N][N]
        Wff_eff = W_ff * SF_ff[fft][:, ct]          # [N_in][N]
        own_pre = self.own_rec[ct]                  # [N][S]
        own_in = self.own_ff[fft]                   # [N_in][S]
        spikes, volts, pre_clamp = [], [], []
        for t in range(T):
            u = v - self.theta
            s = SpikeFn.apply(u, self.scale)                      # [B][N]
            gsum = G[:, :, 0, :] + G[:, :, 1, :]                  # [B][N][S]
            I = gsum * (v.unsqueeze(-1) - self.E_syn)             # [B][N][S]
            I_leak = (v - self.E_L) * (1 - self.beta) * self.C_m / self.dt
            v_tilde = v - (I.sum(-1) + I_leak) * self.dt / self.C_m
            v_new = v_tilde * (1 - s) + self.U_reset * s.detach()
            held = r > 0
            v_new = torch.where(held, self.U_reset.expand_as(v_new), v_new)
            r = torch.where(held, r - 1, r)
            r = torch.where(s.detach() > 0, self.ref_steps.expand_as(r), r)
            G = G * self.alpha                                    # [B][N][2][S] * [2][S]
            # increments: drive[b][j][s] = sum_i s_i W_eff[i][j] own_pre[i][s] (+ inputs)
            drive = torch.einsum("bi,ij,is->bjs", s, W_eff, own_pre)
            xt = x[:, t, :].to(torch.float64)
            drive = drive + torch.einsum("bm,mj,ms->bjs", xt, Wff_eff, own_in)
            G = G + drive.unsqueeze(2) * self.g_scale.unsqueeze(0).unsqueeze(0)  # [B][N][2][S]
            if record:
                pre_clamp.append(G.detach().clone())
            G = torch.clamp(G, self.lo, self.hi)
            v = v_new
            spikes.append(s)
            volts.append(v)
        out = (torch.stack(spikes, 1), torch.stack(volts, 1), (v, G, r))
        return out + (pre_clamp,) if record else out

    def run_forced(self, W, W_ff, SF, SF_ff, x, teacher, state):
        """Teacher forcing (SPEC 7.8a): the step above with the spike s taken from the teacher's spikes
        teacher [B][T][N] (constants) instead of from v > theta, so the student's reset, refractory hold
        and recurrent input are the teacher's. Returns the voltage that decides each step's spike (v
        before the step) [B][T][N] (differentiable) and the final state."""
        v, G, r = state
        B, T, _ = x.shape
        ct, fft = self.ct, self.fft
        W_eff = W * SF[ct][:, ct]
        Wff_eff = W_ff * SF_ff[fft][:, ct]
        own_pre = self.own_rec[ct]
        own_in = self.own_ff[fft]
        self.forced_clamped = 0  # conductance values that left their bounds (for the fixtures' report)
        before = []
        for t in range(T):
            before.append(v)
            s = teacher[:, t, :].to(torch.float64)
            gsum = G[:, :, 0, :] + G[:, :, 1, :]
            I = gsum * (v.unsqueeze(-1) - self.E_syn)
            I_leak = (v - self.E_L) * (1 - self.beta) * self.C_m / self.dt
            v_tilde = v - (I.sum(-1) + I_leak) * self.dt / self.C_m
            held = (r > 0) | (s > 0)
            v_new = torch.where(held, self.U_reset.expand_as(v_tilde), v_tilde)
            r = torch.where(r > 0, r - 1, r)
            r = torch.where(s > 0, self.ref_steps.expand_as(r), r)
            G = G * self.alpha
            drive = torch.einsum("bi,ij,is->bjs", s, W_eff, own_pre)
            drive = drive + torch.einsum("bm,mj,ms->bjs", x[:, t, :].to(torch.float64), Wff_eff, own_in)
            G = G + drive.unsqueeze(2) * self.g_scale.unsqueeze(0).unsqueeze(0)
            self.forced_clamped += int(((G.detach() < self.lo) | (G.detach() > self.hi)).sum())
            G = torch.clamp(G, self.lo, self.hi)
            v = v_new
        return torch.stack(before, 1), (v, G, r)


def spike_time_loss(v_before, teacher, theta, delta, kind="cross_entropy", burn_in=0):
    """The teacher-forced loss, summed over (trial, step >= burn_in, neuron): z = (v - theta) / delta
    against the teacher's spike s; cross-entropy softplus(z) - s z, or squared hinge max(0, 1 - y z)^2
    with y = 2 s - 1. Returns (sum, number of elements, per-element weight of the Gauss-Newton matrix
    d2l/dv2, detached)."""
    z = (v_before[:, burn_in:, :] - theta) / delta
    s = teacher[:, burn_in:, :].to(torch.float64)
    if kind == "cross_entropy":
        l = torch.logaddexp(torch.zeros_like(z), z) - s * z
        sig = torch.sigmoid(z.detach())
        w2 = sig * (1 - sig) / delta ** 2
    else:
        y = 2 * s - 1
        m = 1 - y * z
        l = torch.clamp(m, min=0) ** 2
        w2 = 2.0 * (m.detach() > 0).to(torch.float64) / delta ** 2
    return l.sum(), l.numel(), w2
