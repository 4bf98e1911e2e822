#!/usr/bin/python3
"""snnfit against Brian2 (C++ standalone) on the same network, inputs and discrete model (make bench-brian2).

Builds the network of a stage-1/2 folder (network_structure.npz) in Brian2 with the model of docs/model.md:
1 ms Euler steps, the rise and decay conductance components of every synapse column with their clamp,
the refractory hold, and snnfit's step order. Both simulators run the same trial of recorded input spikes
(input_spikes of a stage-3 store); only the time loop is timed (Brian2: its C++ network run; snnfit:
snnfit-engine-bench), wall and CPU time, the minimum of --repeats runs taken alternately. Prints the time
per trial-step and the rates per cell type of both, side by side, and how long their spike trains agree.

Brian2's step, in the order of its schedule slots (the same as snnfit's step):
  start      the threshold v - theta > 0 on the previous voltage (spikes of this step)
  groups     Euler: currents from the previous v and G, v update (frozen while the refractory counter
             is > 0); G *= alpha (Euler on dG/dt = -G (1 - alpha) / dt); then the counter counts down
  synapses   recurrent and input spikes add w * g_scale to both components of their columns
  synapses+  the clamp of every component (run_regularly after the synaptic pathways)
  resets     spiking neurons: v = U_reset, counter = round(tau_ref / dt)
Brian2 works in float64 and sums each spike event into G separately (snnfit: float32 conductances, the
events of a step summed first), so the two are the same model but not the same bits: the rates agree
closely, spike trains diverge over time as any chaotic network's do.

Usage: bench/brian2_compare.py --params TEACHER.toml --network DIR --store spike_data.zarr
           --engine build/snnfit-engine-bench [--steps 10000] [--repeats 3] [--threads 1,2] [--out DIR]
"""
import argparse
import math
import os
import re
import subprocess
import sys
import time
import tomllib

import numpy as np


def model_constants(params, dt):
    """Per-type physiology and per-column synapse constants, as snnfit computes them (src/model/network.c)."""
    rec, ff = params["recurrent"], params["feedforward"]
    types = rec["cell_types"]["names"]
    ff_types = ff["cell_types"]["names"]
    phys = []
    for t in types:
        p = rec["physiology"][t]
        c_m = p["tau_mem"] * p["g_L"]
        phys.append(dict(theta=p["theta"], u_reset=p["U_reset"], e_l=p["E_L"],
                         leak=1.0 - math.exp(-dt / p["tau_mem"]), dtc=dt / c_m,
                         ref_steps=int(round(p.get("tau_ref", 0.0) / dt))))
    cols = []  # recurrent columns (per type, file order), then feedforward ones
    for layer, names, group0 in ((rec, types, 0), (ff, ff_types, len(types))):
        for k, t in enumerate(names):
            syn = layer["synapses"][t]
            for q in range(len(syn["names"])):
                tr, td = syn["tau_rise"][q], syn["tau_decay"][q]
                rr = tr / td
                norm = rr ** (rr / (1 - rr)) - rr ** (1 / (1 - rr))
                cols.append(dict(group=group0 + k, e=syn["E_syn"][q], a0=math.exp(-dt / tr),
                                 a1=math.exp(-dt / td), sc0=-syn["g_bar"][q] / norm, sc1=syn["g_bar"][q] / norm))
    return types, ff_types, phys, cols


def brian2_build(net, inputs, params, dt, steps, threads, workdir, record=False):
    """Builds the Brian2 C++ standalone project in workdir and runs it once; returns the spike counts per
    neuron (and, with record, the spikes' neuron indices and times in steps)."""
    import brian2 as b2

    b2.set_device("cpp_standalone", directory=workdir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
    b2.prefs.logging.console_log_level = "ERROR"
    b2.defaultclock.dt = dt * b2.ms
    types, ff_types, phys, cols = model_constants(params, dt)
    ctype = net["cell_type_indices"].astype(np.int64)
    n = ctype.size
    S = len(cols)
    # Euler steps of 1 ms with every quantity in snnfit's units (mV, nS, pF, ms), as plain numbers
    isyn = " + ".join(f"(g0_{s} + g1_{s}) * (v - {cols[s]['e']!r})" for s in range(S)) or "0"
    # the refractory hold is snnfit's counter: v does not move while r > 0 (Brian2's own refractoriness
    # would end the hold one step early, and a condition on r would end it at once)
    eqs = [f"dv/dt = int(r == 0) * (-({isyn}) * dtc - (v - e_l) * leak) / ms : 1"]
    for s, c in enumerate(cols):
        eqs.append(f"dg0_{s}/dt = -g0_{s} * {1 - c['a0']!r} / ms : 1")
        eqs.append(f"dg1_{s}/dt = -g1_{s} * {1 - c['a1']!r} / ms : 1")
    eqs += ["theta : 1 (constant)", "u_reset : 1 (constant)", "e_l : 1 (constant)", "leak : 1 (constant)",
            "dtc : 1 (constant)", "ref_steps : integer (constant)", "r : integer"]
    G = b2.NeuronGroup(n, "\n".join(eqs), threshold="v - theta > 0", reset="v = u_reset\nr = ref_steps",
                       method="euler", name="neurons")
    G.thresholder["spike"].when = "start"  # spikes of this step from the previous voltage
    for key in ("theta", "u_reset", "e_l", "leak", "dtc", "ref_steps"):
        setattr(G, key, np.array([phys[t][key] for t in ctype]))
    G.v = np.array([phys[t]["u_reset"] for t in ctype])
    G.run_regularly("r = r - int(r > 0)", when="groups", order=1)
    objects = [G]
    # recurrent synapses, one pathway per presynaptic type (the columns it owns)
    conn, w = net["recurrent_connectivity"].astype(bool), net["recurrent_weights"]
    for k in range(len(types)):
        own = [s for s, c in enumerate(cols) if c["group"] == k]
        if not own:
            continue
        pre, post = np.nonzero(conn & (ctype == k)[:, None])
        on_pre = "\n".join(f"g{c}_{s}_post += w * {cols[s]['sc' + str(c)]!r}" for s in own for c in (0, 1))
        syn = b2.Synapses(G, G, "w : 1 (constant)", on_pre=on_pre, name=f"rec_{k}")
        syn.connect(i=pre, j=post)
        syn.w = w[pre, post].astype(np.float64)
        objects.append(syn)
    # inputs: the recorded spikes of the trial, through the feedforward synapses
    ff_type = net["feedforward_cell_type_indices"].astype(np.int64)
    t_idx, m_idx = np.nonzero(inputs[:steps])
    P = b2.SpikeGeneratorGroup(ff_type.size, m_idx, t_idx * dt * b2.ms, name="inputs")
    objects.append(P)
    conn_ff, w_ff = net["feedforward_connectivity"].astype(bool), net["feedforward_weights"]
    for k in range(len(ff_types)):
        own = [s for s, c in enumerate(cols) if c["group"] == len(types) + k]
        if not own:
            continue
        pre, post = np.nonzero(conn_ff & (ff_type == k)[:, None])
        on_pre = "\n".join(f"g{c}_{s}_post += w * {cols[s]['sc' + str(c)]!r}" for s in own for c in (0, 1))
        syn = b2.Synapses(P, G, "w : 1 (constant)", on_pre=on_pre, name=f"ff_{k}")
        syn.connect(i=pre, j=post)
        syn.w = w_ff[pre, post].astype(np.float64)
        objects.append(syn)
    # the clamp, after every synaptic pathway of the step
    clamp = "\n".join(f"g0_{s} = clip(g0_{s}, {c['sc0']!r}, 0)\ng1_{s} = clip(g1_{s}, 0, {c['sc1']!r})"
                      for s, c in enumerate(cols))
    if clamp:
        G.run_regularly(clamp, when="synapses", order=10)
    mon = b2.SpikeMonitor(G, record=record, name="spikes")
    objects.append(mon)
    network = b2.Network(objects)
    # the time loop's wall and CPU time, measured as snnfit-engine-bench measures its own (Brian2's
    # last_run_time is std::clock(), the CPU time): on a shared machine the CPU time leaves out the time
    # slices lost to other processes, which the wall time counts
    b2.device.insert_code("before_network_run", "struct timespec snn_w0, snn_c0; clock_gettime(CLOCK_MONOTONIC, &snn_w0); "
                          "clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &snn_c0);")
    b2.device.insert_code("after_network_run", "{ struct timespec w1, c1; clock_gettime(CLOCK_MONOTONIC, &w1); "
                          "clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1); "
                          "FILE *f = fopen(\"results/loop_time.txt\", \"w\"); if (f) { fprintf(f, \"%.9f %.9f\\n\", "
                          "(double)(w1.tv_sec - snn_w0.tv_sec) + 1e-9 * (double)(w1.tv_nsec - snn_w0.tv_nsec), "
                          "(double)(c1.tv_sec - snn_c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - snn_c0.tv_nsec)); "
                          "fclose(f); } }")
    network.run(steps * dt * b2.ms, namespace={})
    t0 = time.time()
    b2.device.build(directory=workdir, compile=True, run=True, with_output=False)
    print(f"  Brian2 ({threads} thread{'s' if threads > 1 else ''}): built and ran once in {time.time() - t0:.0f} s",
          flush=True)
    counts = np.asarray(mon.count[:])
    if record:
        counts = (counts, np.asarray(mon.i[:]), np.round(np.asarray(mon.t[:] / b2.ms) / dt).astype(np.int64))
    b2.device.reinit()
    b2.device.activate()
    return counts


def brian2_time(workdir):
    """Runs a built project again; returns the wall and CPU seconds of its time loop."""
    subprocess.run(["./main"], cwd=workdir, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(workdir, "results", "loop_time.txt")) as f:
        wall, cpu = f.read().split()
    return float(wall), float(cpu)


def snnfit_time(engine, params_path, network, store, steps, threads, spikes_path=None):
    """One run of snnfit's engine on trial 0; returns the wall and CPU seconds of its time loop."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [engine, params_path, network, store, "--trials", "1", "--steps", str(steps), "--repeats", "1"]
    if spikes_path:
        cmd += ["--spikes", spikes_path]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    m = re.search(r"forward: ([0-9.]+) us per trial-step .*CPU time ([0-9.]+) us", out)
    return float(m.group(1)) * 1e-6 * steps, float(m.group(2)) * 1e-6 * steps


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", required=True, help="stage-3 parameter file (physiology and synapses)")
    ap.add_argument("--network", required=True, help="folder with network_structure.npz")
    ap.add_argument("--store", required=True, help="a stage-3 spike_data.zarr (input_spikes of trial 0 are used)")
    ap.add_argument("--engine", required=True, help="the snnfit-engine-bench binary")
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default="1,2", help="thread counts to time (comma-separated)")
    ap.add_argument("--out", default="bench-output/brian2", help="work folder (Brian2 projects, spikes)")
    ap.add_argument("--agree-steps", type=int, default=500,
                    help="first compare both simulators' spike trains over this many steps (0: skip)")
    a = ap.parse_args()
    try:
        import brian2  # noqa: F401
    except ImportError:
        sys.exit("Brian2 is not installed: apt-get install -y python3-brian")
    import zarr

    with open(a.params, "rb") as f:
        params = tomllib.load(f)
    dt = float(params["simulation"]["dt"])
    net = dict(np.load(os.path.join(a.network, "network_structure.npz")))
    inputs = np.asarray(zarr.open(a.store, mode="r")["input_spikes"][0, : a.steps]).astype(bool)
    steps = min(a.steps, inputs.shape[0])
    threads = [int(x) for x in a.threads.split(",") if x]
    os.makedirs(a.out, exist_ok=True)
    ctype = net["cell_type_indices"].astype(np.int64)
    types = params["recurrent"]["cell_types"]["names"]
    n = ctype.size

    def rates(counts):
        return [counts[ctype == k].sum() / ((ctype == k).sum() * steps * dt / 1000.0) for k in range(len(types))]

    cpu = open("/proc/cpuinfo").read()
    model = re.search(r"model name\s*:\s*(.*)", cpu)
    print(f"machine: {os.cpu_count()} cores, {model.group(1) if model else 'unknown CPU'}; "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    print(f"network: {n} neurons, {inputs.shape[1]} inputs; trial 0 of {a.store}, {steps} steps of {dt} ms; "
          f"time loop only, min of {a.repeats} runs")
    if a.agree_steps > 0:
        # the same model: spike for spike until float32 (snnfit) and float64 (Brian2) rounding diverge
        k = min(a.agree_steps, steps)
        sp = os.path.join(a.out, "snnfit-spikes-agree.u8")
        snnfit_time(a.engine, a.params, a.network, a.store, k, 1, sp)
        mine = np.fromfile(sp, dtype=np.uint8).reshape(k, n) != 0
        _, bi, bt = brian2_build(net, inputs, params, dt, k, 1, os.path.abspath(os.path.join(a.out, "brian2-agree")),
                                 record=True)
        theirs = np.zeros((k, n), dtype=bool)
        theirs[bt, bi] = True
        differ = np.nonzero((mine != theirs).any(axis=1))[0]
        if differ.size == 0:
            print(f"spike trains: identical over the first {k} steps ({int(mine.sum())} spikes)")
        else:
            d = int(differ[0])
            print(f"spike trains: identical over the first {d} steps ({int(mine[:d].sum())} spikes), then they "
                  f"diverge ({int(mine.sum())} and {int(theirs.sum())} spikes in {k} steps)")
    # build Brian2's projects (one per thread count) and run snnfit once for its spikes, then time both
    # alternately, so that both see the same machine (its other load) over the same minutes
    counts = {}
    for th in threads:
        sp = os.path.join(a.out, f"snnfit-spikes-{th}.u8")
        snnfit_time(a.engine, a.params, a.network, a.store, steps, th, sp)
        counts[("snnfit", th)] = np.fromfile(sp, dtype=np.uint8).reshape(steps, n).sum(axis=0)
        counts[("brian2", th)] = brian2_build(net, inputs, params, dt, steps, th,
                                              os.path.abspath(os.path.join(a.out, f"brian2-{th}")))
    times = {k: [] for k in counts}
    for rep in range(a.repeats):
        for th in threads:
            times[("snnfit", th)].append(snnfit_time(a.engine, a.params, a.network, a.store, steps, th))
            times[("brian2", th)].append(brian2_time(os.path.abspath(os.path.join(a.out, f"brian2-{th}"))))
        print(f"  round {rep + 1} of {a.repeats}: " + ", ".join(
            f"{k[0]} {k[1]}t {v[-1][0] * 1e6 / steps:.1f} us ({v[-1][1] * 1e6 / steps:.1f} CPU)"
            for k, v in times.items()), flush=True)
    names = {"snnfit": "snnfit", "brian2": "Brian2 C++ standalone"}
    per = 1e6 / steps
    rows = [(names[k[0]], k[1], min(x[0] for x in v) * per, float(np.median([x[0] for x in v])) * per,
             min(x[1] for x in v) * per, rates(counts[k]))
            for k, v in sorted(times.items(), key=lambda kv: (kv[0][0] != "snnfit", kv[0][1]))]
    print()
    head = ("| simulator | threads | us per trial-step (min) | median | CPU us per trial-step (min) | " +
            " | ".join(f"{t} Hz" for t in types) + " |")
    print(head)
    print("|" + "---|" * (5 + len(types)))
    for name, th, tmin, tmed, cmin, r in rows:
        print(f"| {name} | {th} | {tmin:.2f} | {tmed:.2f} | {cmin:.2f} | " + " | ".join(f"{x:.3f}" for x in r) + " |")
    print()
    for th in threads:
        s_ = [r for r in rows if r[0] == "snnfit" and r[1] == th]
        b_ = [r for r in rows if r[0] != "snnfit" and r[1] == th]
        if s_ and b_:
            print(f"{th} thread{'s' if th > 1 else ''}: snnfit is {b_[0][2] / s_[0][2]:.2f}x Brian2 C++ standalone "
                  f"(wall), {b_[0][4] / s_[0][4]:.2f}x in CPU time per trial-step")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
