#include "stages/memory.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/checked.h"
#include "core/real.h"
#include "model/structure.h"

void snn_mem_init(snn_mem_estimate *e) { memset(e, 0, sizeof *e); }

void snn_mem_add(snn_mem_estimate *e, const char *what, double count, double elem, int transient) {
    double b = count * elem;
    if (!(b > 0)) return;
    for (int i = 0; i < e->n; i++)
        if (e->part[i].what == what && e->part[i].transient == transient) {
            e->part[i].bytes += b;
            return;
        }
    if (e->n == SNN_MEM_MAX_PARTS) {
        e->part[e->n - 1].bytes += b; /* cannot happen with the lists below; never lose bytes */
        return;
    }
    e->part[e->n++] = (snn_mem_part){what, b, transient};
}

double snn_mem_total(const snn_mem_estimate *e) {
    double resident = 0, peak = 0;
    for (int i = 0; i < e->n; i++) {
        if (e->part[i].transient) peak = fmax(peak, e->part[i].bytes);
        else resident += e->part[i].bytes;
    }
    return resident + peak + SNN_MEM_FIXED;
}

void snn_mem_net_of(const snn_params *p, const snn_structure *s, snn_mem_net *z) {
    memset(z, 0, sizeof *z);
    z->n_cols = p->rec.n_synapses + p->ff.n_synapses;
    z->n_groups = p->rec.n_types + p->ff.n_types;
    z->n_types = p->rec.n_types;
    if (s) {
        z->n = s->n;
        z->n_in = s->n_in;
        z->nnz = (double)s->rec.nnz;
        z->nnz_ff = (double)s->ff.nnz;
        return;
    }
    z->n = p->rec.num_neurons;
    z->n_in = p->ff.num_neurons;
    double pr = 0, pf = 0;
    for (int i = 0; i < p->rec.n_types; i++)
        for (int j = 0; j < p->rec.n_types; j++) {
            pr = fmax(pr, p->rec.conn_within[i][j]);
            if (p->rec.has_conn_between) pr = fmax(pr, p->rec.conn_between[i][j]);
        }
    for (int i = 0; i < p->ff.n_types; i++)
        for (int j = 0; j < p->rec.n_types; j++) pf = fmax(pf, p->ff.conn_inputs[i][j]);
    z->nnz = (double)z->n * (double)z->n * pr;
    z->nnz_ff = (double)z->n_in * (double)z->n * pf;
}

/* the structure's sparse rows (column index and float32 weight per synapse, a row pointer per row) and
 * its per-neuron arrays (types, assemblies); a dense file is read row block by row block into them */
void snn_est_structure(snn_mem_estimate *e, const snn_mem_net *z) {
    snn_mem_add(e, "network structure (sparse rows)", z->nnz + z->nnz_ff, 8, 0);
    snn_mem_add(e, "network structure (sparse rows)", (double)z->n + (double)z->n_in + 2, 8 + 12, 0);
}

/* the simulator's network: sparse rows and per-neuron constants */
static void network(snn_mem_estimate *e, const snn_mem_net *z) {
    snn_mem_add(e, "network (sparse synapses)", z->nnz + z->nnz_ff, 8 + sizeof(snn_real), 0);
    snn_mem_add(e, "network (sparse synapses)", (double)z->n + (double)z->n_in + 2, 8, 0);
    snn_mem_add(e, "network (sparse synapses)", (double)z->n, 4 + 6 * sizeof(snn_real), 0);
}

/* the state of the simulated trials (snn_state) */
static void state(snn_mem_estimate *e, const snn_mem_net *z, double trials, const char *what) {
    double per = 8 + 4 + 4 + 2 * sizeof(snn_real) + sizeof(snn_real) * (2.0 * z->n_cols + z->n_groups);
    snn_mem_add(e, what, trials * (double)z->n, per, 0);
}

/* saving a structure: the connectivity normalised and every array encoded once more */
static void saving_structure(snn_mem_estimate *e, const snn_mem_net *z, int effective) {
    /* a dense file is generated row by row from the sparse rows (no N x N buffer); a sparse one encodes
     * its arrays once more; with effective weights the structure is copied first */
    snn_mem_add(e, "saving a network structure", z->nnz + z->nnz_ff, effective ? 16 : 8, 1);
}

/* the traces of one trial over `steps` steps for the dashboards, encoded into an npz */
static void traces(snn_mem_estimate *e, const snn_mem_net *z, double steps) {
    snn_mem_add(e, "dashboard traces", steps, 2.0 * (double)z->n + 2.0 * (double)z->n_in + 32.0 * z->n_cols, 1);
}

void snn_est_connectome(const snn_params *p, snn_mem_estimate *e) {
    snn_mem_net z;
    snn_mem_net_of(p, NULL, &z);
    snn_mem_init(e);
    snn_est_structure(e, &z);
    snn_mem_add(e, "connectome generator", (double)z.n + (double)z.n_in, 32, 0);
    saving_structure(e, &z, 0);
    /* the check run: one trial of every step, network and state */
    double T = (double)snn_params_num_chunks(&p->sim) * (double)p->sim.chunk_size;
    snn_mem_net zz = z;
    snn_mem_estimate run;
    snn_mem_init(&run);
    network(&run, &zz);
    state(&run, &zz, 2, "network state");
    snn_mem_add(&run, "check run spikes", T, (double)z.n + (double)z.n_in, 0);
    snn_mem_add(&run, "check run spikes", (double)z.n, 64, 0);
    traces(&run, &zz, T);
    double check = snn_mem_total(&run) - SNN_MEM_FIXED;
    snn_mem_add(e, "check run (network, state, spikes, traces)", check, 1, 1);
}

void snn_est_teacher(const snn_params *p, const snn_mem_net *z, int n_patterns, snn_mem_estimate *e) {
    const double B = (double)p->sim.batch_size, L = (double)p->sim.chunk_size, P = n_patterns;
    const double n = (double)z->n, n_in = (double)z->n_in;
    const double n_chunks = (double)snn_params_num_chunks(&p->sim);
    const double Tw = fmin((double)p->sim.plot_size, n_chunks) * L;
    snn_mem_init(e);
    snn_est_structure(e, z);
    network(e, z);
    state(e, z, B + 1, "network state of every trial");
    snn_mem_add(e, "odour patterns and inputs", P * n_in, 24, 0);
    snn_mem_add(e, "odour patterns and inputs", P * B, 16, 0);
    /* two chunks of inputs, outputs and OU weights: one simulated while the other is written */
    snn_mem_add(e, "chunk buffers", 2 * B * L, n_in + n + 4 * P, 0);
    snn_mem_add(e, "chunk buffers", B * n, 4, 0);
    snn_mem_add(e, "plotted window", Tw, n_in + 4 * P, 0);
    /* chunks compressed in flight, at most one chunk of each array per task */
    snn_mem_add(e, "zarr compression", B * L, n + n_in + 4 * P, 0);
    traces(e, z, Tw);
    snn_mem_add(e, "copying the network file", z->nnz + z->nnz_ff, 8, 1);
}

void snn_est_train(const snn_params *p, const snn_mem_net *z, int64_t trials, double dt, int64_t zchunk_trials,
                   int64_t zchunk_steps, snn_mem_estimate *e) {
    const snn_train_params *tp = &p->train;
    const double B = (double)trials, L = (double)p->sim.chunk_size;
    const double n = (double)z->n, n_in = (double)z->n_in, S = z->n_cols, G = z->n_groups;
    const double R = sizeof(snn_real);
    const int weights = tp->optimisable == SNN_OPT_WEIGHTS;
    const double n_params = weights ? z->nnz + z->nnz_ff : (double)z->n_types * (z->n_groups);
    const double probe = dt > 0 ? floor(10000.0 / dt + 0.5) : 0;
    snn_mem_init(e);
    snn_est_structure(e, z);
    network(e, z);
    state(e, z, B, "network state of every trial");
    /* parameters, gradients, best parameters and Adam's moments */
    snn_mem_add(e, "parameters, gradients and Adam", n_params, 8.0 * 7, 0);
    if (weights) snn_mem_add(e, "parameters, gradients and Adam", z->nnz + z->nnz_ff, 8.0 * 2, 0);
    snn_mem_add(e, "accumulation window", (double)tp->accumulation_interval, 8, 0);
    snn_mem_add(e, "statistics window (plot_size chunks of trial 0)", (double)tp->plot_size * L, n, 0);
    snn_mem_add(e, "chunk buffers (inputs, teacher and student spikes)", B * L, n_in + 2 * n, 0);
    /* the tape: v before every step and after the last, the conductance sums, the flags */
    snn_mem_add(e, "BPTT tape", B * (2 * L + 1) * n, R, 0);
    snn_mem_add(e, "BPTT tape", B * L * n, 2, 0);
    snn_mem_add(e, "BPTT work", B * n, R * (3 + 2 * S + 2 * G) + 5, 0);
    snn_mem_add(e, "BPTT work", B * G * z->n_types, 8, 0);
    snn_mem_add(e, "BPTT work", B * n_in, 1, 0);
    snn_mem_add(e, "loss buffers", B * n, 8.0 * 6, 0);
    snn_mem_add(e, "loss buffers", n, 8.0 * 9, 0);
    if (tp->loss_weight[SNN_LOSS_VAN_ROSSUM] > 0) {
        const int two = tp->has_van_rossum_rise_decay;
        const double tau = two ? tp->van_rossum_tau_rise : tp->van_rossum_tau;
        /* the reverse recurrence restarts from a stored state every 5 tau / dt steps */
        double K = dt > 0 ? fmax(1.0, fmin(L, 5.0 * tau / dt)) : L;
        double ckpts = ceil(L / K), nc = two ? 2 : 1;
        snn_mem_add(e, "van Rossum filters", B * n, 8.0 * (4 + (2 * ckpts + 3) * nc), 0);
    }
    /* inputs of the epoch figures and (stage 2) of the 10 s runs of initial_state/ and final_state/ */
    snn_mem_add(e, "figure inputs", fmin((double)tp->plot_size * L, fmax(probe, L)), n_in, 0);
    if (zchunk_trials > 0) {
        /* the teacher data: each array keeps its last decoded chunk and the file's bytes */
        snn_mem_add(e, "teacher data reader", 2.0 * (double)zchunk_trials * (double)zchunk_steps, n + n_in, 0);
        /* initial_state/ and final_state/: trial 0's inputs read chunk by chunk */
        snn_mem_add(e, "initial and final state", probe, n_in, 1);
        snn_mem_add(e, "initial and final state", B * L, n + n_in, 1);
    } else {
        snn_mem_add(e, "Poisson inputs of the 10 s runs", probe, n_in, 0);
    }
    saving_structure(e, z, 1);
    traces(e, z, probe);
    /* a checkpoint: the state, the filters and the statistics window encoded */
    snn_mem_add(e, "writing a checkpoint", B * n, 8 + 4 + 2 * S * R + 32, 1);
    snn_mem_add(e, "writing a checkpoint", (double)tp->plot_size * L * n + n_params * 8 * 7, 1, 1);
}

void snn_est_analysis(const snn_mem_net *z, int nets, int64_t trials, int64_t steps, int64_t windows,
                      snn_mem_estimate *e) {
    const double T = (double)steps, n = (double)z->n, n_in = (double)z->n_in;
    snn_mem_init(e);
    for (int i = 0; i < nets; i++) {
        snn_est_structure(e, z);
        network(e, z);
    }
    state(e, z, (double)trials, "network state of every trial");
    snn_mem_add(e, "spikes of every run", T * (double)trials, n + n_in, 0);
    snn_mem_add(e, "windowed rates", (double)windows * n * 3, 8, 0);
    traces(e, z, T);
}

int snn_mem_check(const snn_mem_estimate *e, uint64_t allowed, int explicit, const char *where, snn_error *err) {
    double total = snn_mem_total(e);
    if (allowed == 0 || total <= (double)allowed) return SNN_OK;
    /* the three largest parts, so that the user sees which setting to change */
    int idx[SNN_MEM_MAX_PARTS];
    for (int i = 0; i < e->n; i++) idx[i] = i;
    for (int i = 0; i < e->n; i++)
        for (int j = i + 1; j < e->n; j++)
            if (e->part[idx[j]].bytes > e->part[idx[i]].bytes) {
                int t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
            }
    char parts[600] = "", need[32], have[32];
    size_t used = 0;
    for (int i = 0; i < e->n && i < 3; i++) {
        char b[32];
        snn_format_bytes(e->part[idx[i]].bytes, b, sizeof b);
        int w = snprintf(parts + used, sizeof parts - used, "%s%s %s", i ? ", " : "", e->part[idx[i]].what, b);
        if (w < 0 || (size_t)w >= sizeof parts - used) break;
        used += (size_t)w;
    }
    snn_format_bytes(total, need, sizeof need);
    snn_format_bytes((double)allowed, have, sizeof have);
    return snn_fail(err, SNN_EINPUT,
                    "%s: this run needs about %s of memory (%s), more than --max-memory allows (%s%s); make the "
                    "run smaller or give a larger --max-memory",
                    where, need, parts, have, explicit ? "" : ": the memory available now");
}
