"""Converts the C. elegans hermaphrodite connectome of White et al. (1986), as stored by OpenWorm's
ConnectomeToolbox (tests/data/celegans/aconnectome_white_1986_whole.csv: tab-separated pre, post,
type chemical/electrical, synapses), into the two CSV files of `snnfit import`.

    celegans_to_import.py OUT_DIR

Kept: chemical synapses between neurons. Dropped: gap junctions (snnfit models chemical synapses
only) and every non-neuronal partner: LegacyBodyWallMuscles, the pharyngeal muscles pm1..pm8, the
marginal cells MCL/MCR and the GLR glia. Neurons get ids 1..N in name order.

OUT_DIR/neurons.csv  root_id, name, cell_type, input
    cell_type: GABA for the 26 GABAergic neurons (DD1-6, VD1-13, RMED, RMEV, RMEL, RMER, AVL, DVB,
    RIS), ACh_or_other for the rest; input: "sensory" for the 24 amphid sensory neurons (ADF, ADL,
    AFD, ASE, ASG, ASH, ASI, ASJ, ASK, AWA, AWB, AWC, left and right), which become the inputs.
OUT_DIR/edges.csv    pre_root_id, post_root_id, syn_count (one row per row of the source file;
    the source lists each pair once per type, so no pair repeats)
OUT_DIR/expected.npz the matrices the import must produce, computed here independently of snnfit:
    names (recurrent then input order), W (recurrent x recurrent), W_ff (input x recurrent),
    inhibitory (per recurrent neuron), dropped_onto_inputs (chemical edges onto amphid neurons)
Standard library and numpy only."""
import csv
import os
import sys

import numpy as np

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "celegans", "aconnectome_white_1986_whole.csv")
GABA = {f"DD{i}" for i in range(1, 7)} | {f"VD{i}" for i in range(1, 14)} | {"RMED", "RMEV", "RMEL", "RMER", "AVL", "DVB", "RIS"}
AMPHID = {c + s for c in ("ADF", "ADL", "AFD", "ASE", "ASG", "ASH", "ASI", "ASJ", "ASK", "AWA", "AWB", "AWC") for s in "LR"}


def is_neuron(name):
    return not (name == "LegacyBodyWallMuscles" or name.startswith("pm") or name in ("MCL", "MCR") or name.startswith("GLR"))


def main(out):
    os.makedirs(out, exist_ok=True)
    with open(SRC, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    chem = [r for r in rows if r["type"] == "chemical" and is_neuron(r["pre"]) and is_neuron(r["post"])]
    names = sorted({r["pre"] for r in chem} | {r["post"] for r in chem})
    assert GABA <= set(names), GABA - set(names)
    assert AMPHID <= set(names), AMPHID - set(names)
    ids = {n: i + 1 for i, n in enumerate(names)}
    with open(os.path.join(out, "neurons.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["root_id", "name", "cell_type", "input"])
        for n in names:
            w.writerow([ids[n], n, "GABA" if n in GABA else "ACh_or_other", "sensory" if n in AMPHID else ""])
    with open(os.path.join(out, "edges.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["pre_root_id", "post_root_id", "syn_count"])
        for r in chem:
            w.writerow([ids[r["pre"]], ids[r["post"]], r["synapses"]])
    # the expected network: recurrent neurons and inputs each in id (= name) order
    rec = [n for n in names if n not in AMPHID]
    inp = [n for n in names if n in AMPHID]
    ri, ii = {n: k for k, n in enumerate(rec)}, {n: k for k, n in enumerate(inp)}
    W = np.zeros((len(rec), len(rec)), np.float32)
    Wff = np.zeros((len(inp), len(rec)), np.float32)
    onto_inputs = self_loops = 0
    for r in chem:
        a, b, s = r["pre"], r["post"], float(r["synapses"])
        if b in AMPHID:
            onto_inputs += 1
        elif a == b:
            self_loops += 1
        elif a in AMPHID:
            Wff[ii[a], ri[b]] += s
        else:
            W[ri[a], ri[b]] += s
    np.savez(os.path.join(out, "expected.npz"), names=np.array(rec + inp), W=W, W_ff=Wff,
             inhibitory=np.array([n in GABA for n in rec]), dropped_onto_inputs=onto_inputs, self_loops=self_loops)
    print(f"{len(names)} neurons ({len(rec)} recurrent, {len(inp)} amphid inputs, {len(GABA)} GABAergic), "
          f"{len(chem)} chemical connections between neurons ({onto_inputs} onto inputs, {self_loops} self-loops)")


if __name__ == "__main__":
    main(sys.argv[1])
