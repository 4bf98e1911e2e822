/* The analysis commands (SPEC section 8; reference/figures.md sections 6 and 7):
 *
 * snnfit compare EXP OUT TEACHER.toml: a finished stage-4 run EXP against its target. Odour-1 input
 * (homogeneous Poisson at odour pattern 0's rates, computed from the target network with TEACHER.toml's
 * [odours], as stage 3 does); the target network (EXP/inputs/network_structure.npz, with TEACHER.toml's
 * neurons and synapses) run as two trials with different Poisson trial keys, and the trained network
 * (EXP/final_state/network_structure.npz, which holds the best checkpoint's effective weights, with the
 * student's neurons and synapses from EXP/parameters.toml) run on the first target trial's input
 * spikes. Writes the correlogram (F4), the interleaved raster (F5), the connectivity and activity
 * dashboards of both networks, and compare_spikes.npz (the three runs' spikes) into OUT.
 *
 * snnfit odourants EXP: a stage-3 run EXP (parameters.toml, inputs/network_structure.npz). Odour 1,
 * odour 1 again (same rates, other Poisson trial key) and the baseline (every input at its type's
 * baseline_rate), each a trial of its own with its own network state (the reference let the three
 * share one state after the first chunk). Writes F6 and F7 into EXP/figures/.
 *
 * Both use 10 s windows for the rate scatter, shortened to half the run when the run is shorter than
 * 20 s (snn_analysis_window_steps), so that the window always fits (the reference's does not). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/mem.h"
#include "core/progress.h"
#include "inputs/odours.h"
#include "inputs/poisson.h"
#include "io/npz.h"
#include "plot/analysis_figures.h"
#include "plot/dashboards.h"
#include "stages/stage.h"
#include "stages/traces.h"

/* ---------------------------------------------------------------- shared helpers */

static int require_file(const char *path, const char *what, snn_error *err) {
    if (!snn_path_exists(path)) return snn_fail(err, SNN_EINPUT, "%s: no such file (%s)", path, what);
    return SNN_OK;
}

static int join3(char *out, size_t n, const char *a, const char *b, const char *c, snn_error *err) {
    char tmp[SNN_PATH_MAX];
    int rc = snn_path_join(tmp, sizeof tmp, a, b, err);
    if (!rc) rc = snn_path_join(out, n, tmp, c, err);
    return rc;
}

/* What a run folder that is not a teacher's holds, by the files its stage leaves (NULL: none of them). */
static const char *run_kind(const char *dir) {
    static const struct {
        const char *file, *kind;
    } marks[] = {{"targets", "a stage-4 (training) run"},
                 {"checkpoints", "a stage-2 (homeostatic plasticity) run"},
                 {"network_statistics.csv", "a stage-1 (connectome) run"},
                 {"simulation.npz", "a simulate run"},
                 {"compare_spikes.npz", "a compare output folder"}};
    for (size_t k = 0; k < sizeof marks / sizeof *marks; k++) {
        char p[SNN_PATH_MAX];
        if (!snn_path_join(p, sizeof p, dir, marks[k].file, NULL) && snn_path_exists(p)) return marks[k].kind;
    }
    return NULL;
}

/* The two files must describe the same cell types: the trained network is the target's structure. */
static int check_same_layers(const snn_params *a, const snn_params *b, snn_error *err) {
    const snn_layer_params *la[2] = {&a->rec, &a->ff}, *lb[2] = {&b->rec, &b->ff};
    const char *which[2] = {"recurrent", "feedforward"};
    for (int q = 0; q < 2; q++) {
        int same = la[q]->n_types == lb[q]->n_types;
        for (int t = 0; same && t < la[q]->n_types; t++) same = !strcmp(la[q]->type_names[t], lb[q]->type_names[t]);
        if (!same)
            return snn_fail(err, SNN_EINPUT, "%s: [%s.cell_types] names differ from those of %s", b->path, which[q],
                            a->path);
    }
    return SNN_OK;
}

/* Odour pattern 0 (the lowest assembly id), from the network's feedforward weights and p's [odours],
 * as stage 3 computes the patterns. rates: n_in doubles. */
static int odour_one(const snn_params *p, const snn_structure *s, const char *spath, double *rates, snn_error *err) {
    const snn_odour_params *odp[SNN_MAX_TYPES];
    const char *ffn[SNN_MAX_TYPES];
    for (int t = 0; t < p->ff.n_types; t++) {
        odp[t] = &p->odours[t];
        ffn[t] = p->ff.type_names[t];
    }
    snn_odour_network on = {.n_inputs = s->n_in, .n_neurons = s->n, .ff = &s->ff, .ff_type = s->ff_cell_types,
                            .cell_type = s->cell_types, .assembly = s->assembly_ids, .target_type = 0,
                            .n_ff_types = p->ff.n_types, .odours = odp, .ff_type_names = ffn};
    double *patterns = NULL;
    int32_t *ids = NULL;
    int np = 0;
    int rc = snn_odour_patterns(&on, &patterns, &ids, &np, err);
    if (rc) {
        if (err && rc == SNN_EINPUT) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err->msg);
            snprintf(err->msg, sizeof err->msg, "%.1000s: %.1000s", spath, m);
        }
        return rc;
    }
    memcpy(rates, patterns, (size_t)s->n_in * sizeof *rates);
    snn_free(patterns);
    snn_free(ids);
    return SNN_OK;
}

static const char *fmt_r(char *buf, size_t n, double r) {
    if (isfinite(r)) snprintf(buf, n, "%.3f", r);
    else snprintf(buf, n, "nan");
    return buf;
}

/* ---------------------------------------------------------------- compare */

typedef struct compare_run {
    snn_params *ps, *pt;             /* student (EXP/parameters.toml), teacher (TEACHER.toml) */
    snn_structure s_t, s_tr;         /* target, trained */
    snn_network net_t, net_tr;
    snn_state st_t, st_tr;           /* 2 trials (target runs 1, 2), 1 trial (trained) */
    snn_poisson ps_in;
    double *rates_in;                /* n_in: odour 1 */
    uint8_t *in;                     /* [2][T][n_in] */
    uint8_t *out_t;                  /* [2][T][n] */
    uint8_t *out_tr;                 /* [T][n] */
    double *wr[3];                   /* windowed rates [W][n]: target 1, target 2, trained */
} compare_run;

static void compare_free(compare_run *r) {
    snn_poisson_free(&r->ps_in);
    snn_state_free(&r->st_t);
    snn_state_free(&r->st_tr);
    snn_network_free(&r->net_t);
    snn_network_free(&r->net_tr);
    snn_structure_free(&r->s_t);
    snn_structure_free(&r->s_tr);
    free(r->rates_in);
    free(r->in);
    free(r->out_t);
    free(r->out_tr);
    for (int i = 0; i < 3; i++) free(r->wr[i]);
    free(r->ps);
    free(r->pt);
}

/* A dashboard of the activity of one run: its traces (replayed from the initial state) into a
 * temporary npz beside the figure, the figure, then the npz is removed (compare_spikes.npz keeps the
 * spikes). */
static int activity_dashboard(const char *out, const char *name, const snn_network *net, const snn_structure *s,
                              const snn_params *p, const uint8_t *inputs, int64_t T, snn_error *err) {
    char tpath[SNN_PATH_MAX], png[SNN_PATH_MAX], file[128];
    snn_state start = {0};
    snprintf(file, sizeof file, ".traces_%s.npz", name);
    int rc = snn_path_join(tpath, sizeof tpath, out, file, err);
    snprintf(file, sizeof file, "activity_dashboard_%s.png", name);
    if (!rc) rc = snn_path_join(png, sizeof png, out, file, err);
    if (!rc) rc = snn_state_alloc(&start, net, 1, err);
    /* no assembly restriction for the traced neuron, as the reference's compare script */
    if (!rc) rc = snn_traces_write(tpath, net, &start, 0, inputs, T, p->rec.type_names, NULL, NULL, 0, err);
    if (!rc) rc = snn_plot_activity(png, tpath, s, p, err);
    snn_state_free(&start);
    remove(tpath);
    if (!rc) printf("  ✓ Saved: %s\n", png);
    return rc;
}

int snn_stage_compare(const snn_stage_opts *o, snn_error *err) {
    compare_run r = {0};
    const char *exp = o->input, *out = o->output, *tfile = o->params_path;
    char sp_params[SNN_PATH_MAX], target_np[SNN_PATH_MAX], trained_np[SNN_PATH_MAX], path[SNN_PATH_MAX];
    if (!exp || !out || !tfile) return snn_fail(err, SNN_EINPUT, "usage: snnfit compare EXP OUT TEACHER.toml");
    const snn_stage_input in[2] = {{"the run compared (EXP)", exp}, {"the teacher's parameter file", tfile}};
    int rc = snn_stage_check_inputs(NULL, out, in, 2, err);
    if (rc) return rc;
    if (!snn_is_dir(exp))
        return snn_fail(err, SNN_EINPUT, "%s: no such folder (expected a finished stage-4 run)", exp);
    rc = snn_path_join(sp_params, sizeof sp_params, exp, "parameters.toml", err);
    if (!rc) rc = join3(target_np, sizeof target_np, exp, "inputs", "network_structure.npz", err);
    if (!rc) rc = join3(trained_np, sizeof trained_np, exp, "final_state", "network_structure.npz", err);
    if (!rc) rc = require_file(sp_params, "the student's parameters of a stage-4 run", err);
    if (!rc) rc = require_file(target_np, "the target network, copied there by stage 4", err);
    if (!rc) rc = require_file(trained_np, "the trained network: is the stage-4 run finished?", err);
    if (!rc) rc = require_file(tfile, "the teacher's parameter file", err);
    if (rc) return rc;
    r.ps = calloc(1, sizeof *r.ps);
    r.pt = calloc(1, sizeof *r.pt);
    if (!r.ps || !r.pt) {
        compare_free(&r);
        return snn_fail(err, SNN_ERUN, "out of memory");
    }
    snn_params *ps = r.ps, *pt = r.pt;
    rc = snn_params_load(sp_params, SNN_STAGE_TRAIN, ps, err);
    if (!rc) rc = snn_params_load(tfile, SNN_STAGE_TEACHER, pt, err);
    if (!rc) rc = check_same_layers(pt, ps, err);
    if (rc) goto done;
    const double dt = pt->sim.dt;
    if (ps->sim.has_dt && fabs(ps->sim.dt - dt) > 1e-9 * dt) {
        rc = snn_fail(err, SNN_EINPUT, "%s: [simulation] dt = %g ms but %s says dt = %g ms", sp_params, ps->sim.dt,
                      tfile, dt);
        goto done;
    }
    /* stage 4 takes dt from the teacher data; the teacher file carries it */
    ps->sim.dt = dt;
    rc = snn_stage_check_structure_memory(o, target_np, err);
    if (!rc) rc = snn_stage_load_network(pt, target_np, &r.s_t, &r.net_t, err);
    if (rc) goto done;
    rc = snn_stage_load_network(ps, trained_np, &r.s_tr, &r.net_tr, err);
    if (rc) goto done;
    const int64_t n = r.s_t.n, n_in = r.s_t.n_in;
    if (r.s_tr.n != n || r.s_tr.n_in != n_in ||
        memcmp(r.s_tr.cell_types, r.s_t.cell_types, (size_t)n * sizeof(int64_t)) ||
        memcmp(r.s_tr.ff_cell_types, r.s_t.ff_cell_types, (size_t)n_in * sizeof(int64_t))) {
        rc = snn_fail(err, SNN_EINPUT,
                      "%s: the trained network (%lld neurons, %lld inputs) is not the target's structure %s "
                      "(%lld neurons, %lld inputs, or other cell types)",
                      trained_np, (long long)r.s_tr.n, (long long)r.s_tr.n_in, target_np, (long long)n, (long long)n_in);
        goto done;
    }
    r.rates_in = malloc((size_t)(n_in ? n_in : 1) * sizeof *r.rates_in);
    if (!r.rates_in) {
        rc = snn_fail(err, SNN_ERUN, "out of memory");
        goto done;
    }
    rc = odour_one(pt, &r.s_t, target_np, r.rates_in, err);
    if (rc) goto done;

    /* Duration: the student's plot window (plot_size chunks), but at least two 10 s windows, so that
     * the reference's window fits; the window then is 10 s (snn_analysis_window_steps). */
    const int64_t w_ref = (int64_t)(SNN_ANALYSIS_WINDOW_MS / dt + 0.5);
    int64_t T = ps->train.plot_size * ps->sim.chunk_size;
    if (T < 2 * w_ref) T = 2 * w_ref;
    const int64_t w = snn_analysis_window_steps(T, dt), W = T / w, L = pt->sim.chunk_size;
    {
        snn_mem_net z;
        snn_mem_estimate est;
        snn_mem_net_of(pt, &r.s_t, &z);
        snn_est_analysis(&z, 2, 3, T, W, &est);
        if ((rc = snn_stage_check_memory(o, &est, tfile, err))) goto done;
    }
    rc = snn_stage_prepare_output(o, err);
    if (!rc) rc = snn_stage_copy_params(o, err);  /* OUT/parameters.toml: the TEACHER.toml used */
    if (rc) goto done;

    printf("Using seed: %llu (the student's)\n", (unsigned long long)ps->sim.seed);
    printf("✓ Loaded target network with %lld neurons and %lld inputs from %s\n", (long long)n, (long long)n_in,
           target_np);
    printf("✓ Loaded trained network from %s (the best checkpoint's effective weights)\n", trained_np);
    double mean_rate = 0;
    for (int64_t k = 0; k < n_in; k++) mean_rate += r.rates_in[k];
    printf("✓ Generated odour 1 firing rates: (%lld,), mean %.2f Hz\n", (long long)n_in,
           n_in ? mean_rate / (double)n_in : 0.0);
    printf("  Running %.1f s (%lld steps of %g ms) for comparison; windows of %.2f s (%lld windows)\n",
           (double)T * dt / 1000.0, (long long)T, dt, (double)w * dt / 1000.0, (long long)W);
    snn_stage_print_refractory(pt);

    r.in = snn_calloc((size_t)(2 * T * n_in + 1), 1, "input spikes", err);
    r.out_t = snn_calloc((size_t)(2 * T * n), 1, "target spikes", err);
    r.out_tr = snn_calloc((size_t)(T * n), 1, "trained spikes", err);
    for (int i = 0; i < 3; i++) r.wr[i] = snn_calloc((size_t)(W * n + 1), sizeof(double), "windowed rates", err);
    if (!r.in || !r.out_t || !r.out_tr || !r.wr[0] || !r.wr[1] || !r.wr[2]) {
        rc = SNN_ERUN;
        goto done;
    }
    rc = snn_poisson_init_rates(&r.ps_in, n_in, r.rates_in, dt, ps->sim.seed, SNN_RNG_POISSON_AUX, err);
    /* target runs 1 and 2: trial keys 0 and 1, independent realisations of the same rates */
    for (uint32_t b = 0; !rc && b < 2; b++)
        rc = snn_poisson_draw_rates(&r.ps_in, b, 0, T, r.in + (size_t)b * T * n_in, err);
    if (!rc) rc = snn_state_alloc(&r.st_t, &r.net_t, 2, err);
    if (!rc) rc = snn_state_alloc(&r.st_tr, &r.net_tr, 1, err);
    if (rc) goto done;

    printf("  Running target network (odour 1, two independent input realisations) and trained network "
           "(target run 1's input spikes)...\n");
    fflush(stdout);
    snn_progress bar;
    snn_progress_start(&bar, "Compare", (T + L - 1) / L, o->quiet);
    double t0 = snn_now();
    for (int64_t c = 0; c * L < T; c++) {
        int64_t s0 = c * L, len = T - s0 < L ? T - s0 : L;
        /* three independent runs: target 1 and 2 (trials of one state) and trained */
#pragma omp parallel for schedule(dynamic, 1)
        for (int q = 0; q < 3; q++) {
            int b = q < 2 ? q : 0;
            const uint8_t *x = r.in + ((size_t)b * T + s0) * n_in;
            if (q < 2) snn_forward_trial(&r.net_t, &r.st_t, q, len, x, r.out_t + ((size_t)q * T + s0) * n, NULL);
            else snn_forward_trial(&r.net_tr, &r.st_tr, 0, len, x, r.out_tr + (size_t)s0 * n, NULL);
        }
        snn_progress_update(&bar, c + 1, NULL);
    }
    snn_progress_finish(&bar);
    const uint8_t *spk[3] = {r.out_t, r.out_t + (size_t)T * n, r.out_tr};
    int64_t total[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        for (int64_t k = 0; k < T * n; k++) total[i] += spk[i][k];
        snn_windowed_rates(spk[i], T, n, w, dt, r.wr[i]);
    }
    const double secs = (double)T * dt / 1000.0;
    printf("✓ Simulated in %.2f s: mean rates target run 1 %.2f Hz, run 2 %.2f Hz, trained %.2f Hz\n", snn_now() - t0,
           (double)total[0] / ((double)n * secs), (double)total[1] / ((double)n * secs),
           (double)total[2] / ((double)n * secs));
    const double r_poisson = snn_pearson(r.wr[0], r.wr[1], W * n), r_learning = snn_pearson(r.wr[0], r.wr[2], W * n);

    printf("Generating comparison plots...\n");
    const char *tn[SNN_MAX_TYPES];
    for (int t = 0; t < pt->rec.n_types; t++) tn[t] = pt->rec.type_names[t];
    snn_rate_scatter panels[2] = {
        {r.wr[0], r.wr[1], W * n, r_poisson, "Poisson Variability: Target Run 1 vs Run 2",
         "Target Run 1 Firing Rate (Hz)", "Target Run 2 Firing Rate (Hz)", W, n, (double)w * dt / 1000.0,
         r.s_t.cell_types, pt->rec.n_types, tn},
        {r.wr[0], r.wr[2], W * n, r_learning, "Learning Variability: Target vs Trained",
         "Target Network Firing Rate (Hz)", "Trained Network Firing Rate (Hz)", W, n, (double)w * dt / 1000.0,
         r.s_t.cell_types, pt->rec.n_types, tn},
    };
    rc = snn_path_join(path, sizeof path, out, "firing_rate_correlogram.png", err);
    if (!rc) rc = snn_plot_rate_correlogram(path, 2100, 1050, 1, panels, err);
    if (rc) goto done;
    printf("  ✓ Saved: %s\n", path);
    rc = snn_path_join(path, sizeof path, out, "spike_raster_comparison.png", err);
    if (!rc) rc = snn_plot_raster_comparison(path, spk[0], spk[2], T, n, dt, err);
    if (rc) goto done;
    printf("  ✓ Saved: %s\n", path);
    rc = snn_path_join(path, sizeof path, out, "connectivity_dashboard_target.png", err);
    if (!rc) rc = snn_plot_connectivity(path, &r.s_t, pt, err);
    if (!rc) printf("  ✓ Saved: %s\n", path);
    if (!rc) rc = snn_path_join(path, sizeof path, out, "connectivity_dashboard_trained.png", err);
    if (!rc) rc = snn_plot_connectivity(path, &r.s_tr, ps, err);
    if (!rc) printf("  ✓ Saved: %s\n", path);
    if (!rc) rc = activity_dashboard(out, "target", &r.net_t, &r.s_t, pt, r.in, T, err);
    if (!rc) rc = activity_dashboard(out, "trained", &r.net_tr, &r.s_tr, ps, r.in, T, err);
    if (rc) goto done;

    /* the spikes of the three runs, for checks outside (the identity test of a student that is the
     * teacher) and further analysis */
    rc = snn_path_join(path, sizeof path, out, "compare_spikes.npz", err);
    if (rc) goto done;
    snn_npz_writer *z = snn_npz_create(path, 1, err);
    if (!z) {
        rc = err && err->code ? err->code : SNN_ERUN;
        goto done;
    }
    int64_t sh_tn[2] = {T, n}, sh_tin[2] = {T, n_in}, sh_in[1] = {n_in};
    rc = snn_npz_add(z, "target_run1", SNN_BOOL, 2, sh_tn, spk[0], err);
    if (!rc) rc = snn_npz_add(z, "target_run2", SNN_BOOL, 2, sh_tn, spk[1], err);
    if (!rc) rc = snn_npz_add(z, "trained", SNN_BOOL, 2, sh_tn, spk[2], err);
    if (!rc) rc = snn_npz_add(z, "input_spikes", SNN_BOOL, 2, sh_tin, r.in, err);
    if (!rc) rc = snn_npz_add(z, "input_rates", SNN_F64, 1, sh_in, r.rates_in, err);
    if (!rc) rc = snn_npz_add_scalar_f64(z, "dt", dt, err);
    if (!rc) rc = snn_npz_add_scalar_i64(z, "window_steps", w, err);
    if (!rc) rc = snn_npz_add_scalar_f64(z, "poisson_r", r_poisson, err);
    if (!rc) rc = snn_npz_add_scalar_f64(z, "learning_r", r_learning, err);
    if (rc) {
        snn_npz_abort(z);
        goto done;
    }
    rc = snn_npz_close(z, err);
    if (rc) goto done;
    printf("  ✓ Saved: %s\n", path);

    char a[32], b[32];
    printf("✓ All plots saved to %s\n", out);
    printf("Poisson variability (target run 1 vs run 2): r = %s\n", fmt_r(a, sizeof a, r_poisson));
    printf("Learning variability (target vs trained):    r = %s\n", fmt_r(b, sizeof b, r_learning));
    /* per cell type: the pooled r above is inflated by the rate differences between types (a network
     * that got every type's mean rate right scores well whatever it does within a type) */
    const int nt = pt->rec.n_types;
    double rp[SNN_MAX_TYPES], rl[SNN_MAX_TYPES];
    double *xa = malloc((size_t)(W * n + 1) * sizeof(double)), *xb = malloc((size_t)(W * n + 1) * sizeof(double)),
           *xc = malloc((size_t)(W * n + 1) * sizeof(double));
    if (!xa || !xb || !xc) {
        free(xa);
        free(xb);
        free(xc);
        rc = snn_fail(err, SNN_ERUN, "out of memory");
        goto done;
    }
    int worst = -1, defined = 1;
    double worst_gap = -INFINITY;
    printf("Per cell type (windowed rates of the type's neurons):\n");
    for (int l = 0; l < nt; l++) {
        int64_t m = 0;
        for (int64_t q = 0; q < W; q++)
            for (int64_t j = 0; j < n; j++) {
                if (r.s_t.cell_types[j] != l) continue;
                xa[m] = r.wr[0][q * n + j];
                xb[m] = r.wr[1][q * n + j];
                xc[m++] = r.wr[2][q * n + j];
            }
        rp[l] = m > 1 ? snn_pearson(xa, xb, m) : NAN;
        rl[l] = m > 1 ? snn_pearson(xa, xc, m) : NAN;
        char c1[32], c2[32];
        double gap = rp[l] - rl[l];
        printf("  %-14s Poisson r = %s, learning r = %s", pt->rec.type_names[l], fmt_r(c1, sizeof c1, rp[l]),
               fmt_r(c2, sizeof c2, rl[l]));
        if (isfinite(gap)) {
            printf(", gap %+.3f: %s\n", gap,
                   gap <= 0.05 ? "within input noise" : gap <= 0.2 ? "somewhat beyond input noise" : "far beyond input noise");
            if (gap > worst_gap) {
                worst_gap = gap;
                worst = l;
            }
        } else {
            printf(" (a run has constant rates in this type)\n");
            defined = 0;
        }
    }
    free(xa);
    free(xb);
    free(xc);
    /* the reading, by the numbers: learning variability near the Poisson variability (within 0.05 in r)
     * in every cell type means the student is as close to the target as input noise allows */
    char reading[512];
    if (!isfinite(r_poisson) || !isfinite(r_learning) || worst < 0)
        snprintf(reading, sizeof reading, "undefined (a run has constant rates)");
    else if (worst_gap <= 0.05)
        snprintf(reading, sizeof reading,
                 "the trained network matches the target about as well as input noise allows in every cell type%s "
                 "(largest gap %.3f, %s)",
                 defined ? "" : " with varying rates", worst_gap, pt->rec.type_names[worst]);
    else
        snprintf(reading, sizeof reading,
                 "the trained network differs from the target more than input noise does: %s learning r %.3f vs "
                 "Poisson r %.3f (gap %.3f)%s",
                 pt->rec.type_names[worst], rl[worst], rp[worst], worst_gap,
                 r_learning >= r_poisson - 0.05 ? "; the pooled r hides it (it is inflated by the rate gap between types)"
                                                : "");
    printf("Reading: learning variability r=%s vs Poisson variability r=%s: %s\n", b, a, reading);
done:
    compare_free(&r);
    return rc;
}

/* ---------------------------------------------------------------- odourants */

int snn_stage_odourants(const snn_stage_opts *o, snn_error *err) {
    const char *exp = o->input;
    char params[SNN_PATH_MAX], spath[SNN_PATH_MAX], figs[SNN_PATH_MAX], path[SNN_PATH_MAX];
    if (!exp) return snn_fail(err, SNN_EINPUT, "usage: snnfit odourants EXP");
    if (!snn_is_dir(exp)) return snn_fail(err, SNN_EINPUT, "%s: no such folder (expected a stage-3 run)", exp);
    const char *kind = run_kind(exp);
    if (kind)
        return snn_fail(err, SNN_EINPUT, "%s is %s, not a stage-3 (teacher) run: odourants analyses a teacher; give "
                        "its folder (for a student, the -i it was trained on)", exp, kind);
    int rc = snn_path_join(params, sizeof params, exp, "parameters.toml", err);
    if (!rc) rc = join3(spath, sizeof spath, exp, "inputs", "network_structure.npz", err);
    if (!rc) rc = snn_path_join(figs, sizeof figs, exp, "figures", err);
    if (!rc) rc = require_file(params, "the teacher's parameters of a stage-3 run", err);
    if (!rc) rc = require_file(spath, "the teacher network, copied there by stage 3", err);
    if (rc) return rc;
    /* the figures go into EXP/figures/: one writer in EXP at a time */
    if ((rc = snn_stage_lock(exp, err))) return rc;
    snn_params *p = calloc(1, sizeof *p);
    snn_structure s = {0};
    snn_network net = {0};
    snn_state st = {0};
    snn_poisson gen[2] = {{0}};
    double *rates[2] = {NULL, NULL}, *wr[3] = {NULL, NULL, NULL};
    uint8_t *in = NULL, *out = NULL;
    if (!p) return snn_fail(err, SNN_ERUN, "out of memory");
    rc = snn_params_load(params, SNN_STAGE_TEACHER, p, err);
    if (!rc) rc = snn_stage_check_structure_memory(o, spath, err);
    if (!rc) rc = snn_stage_load_network(p, spath, &s, &net, err);
    if (rc) goto done;
    const int64_t n = s.n, n_in = s.n_in, L = p->sim.chunk_size, T = p->sim.plot_size * L;
    const double dt = p->sim.dt;
    const int64_t w = snn_analysis_window_steps(T, dt), W = w > 0 ? T / w : 0;
    if (W < 2) {
        rc = snn_fail(err, SNN_EINPUT, "%s: [simulation] plot_size x chunk_size = %lld steps is too short for two "
                      "rate windows", params, (long long)T);
        goto done;
    }
    {
        snn_mem_net z;
        snn_mem_estimate est;
        snn_mem_net_of(p, &s, &z);
        snn_est_analysis(&z, 1, 3, L, W, &est);
        if ((rc = snn_stage_check_memory(o, &est, params, err))) goto done;
    }
    for (int i = 0; i < 2; i++) rates[i] = snn_calloc((size_t)(n_in + 1), sizeof(double), "input rates", err);
    for (int i = 0; i < 3; i++) wr[i] = snn_calloc((size_t)(W * n + 1), sizeof(double), "windowed rates", err);
    in = snn_calloc((size_t)(3 * L * n_in + 1), 1, "input spikes of a chunk", err);
    out = snn_calloc((size_t)(3 * L * n + 1), 1, "output spikes of a chunk", err);
    if (!rates[0] || !rates[1] || !wr[0] || !wr[1] || !wr[2] || !in || !out) {
        rc = SNN_ERUN;
        goto done;
    }
    rc = odour_one(p, &s, spath, rates[0], err);
    if (rc) goto done;
    {
        const snn_odour_params *odp[SNN_MAX_TYPES];
        const char *ffn[SNN_MAX_TYPES];
        for (int t = 0; t < p->ff.n_types; t++) {
            odp[t] = &p->odours[t];
            ffn[t] = p->ff.type_names[t];
        }
        rc = snn_odour_baseline(n_in, s.ff_cell_types, p->ff.n_types, odp, ffn, rates[1], err);
        if (rc) goto done;
    }
    rc = snn_mkdirs(figs, err);
    if (rc) goto done;

    printf("Using seed: %llu\n", (unsigned long long)p->sim.seed);
    printf("✓ Loaded network with %lld neurons from %s\n", (long long)n, spath);
    printf("✓ Generated odour 1 and baseline firing rates: (%lld,) each\n", (long long)n_in);
    printf("Generating network responses for Odourant 1, Odourant 1 (repeat) and Baseline, each with its own "
           "network state: %.1f s (%lld steps of %g ms), windows of %.2f s (%lld windows)\n",
           (double)T * dt / 1000.0, (long long)T, dt, (double)w * dt / 1000.0, (long long)W);
    snn_stage_print_refractory(p);
    fflush(stdout);
    rc = snn_poisson_init_rates(&gen[0], n_in, rates[0], dt, p->sim.seed, SNN_RNG_POISSON_AUX, err);
    if (!rc) rc = snn_poisson_init_rates(&gen[1], n_in, rates[1], dt, p->sim.seed, SNN_RNG_POISSON_AUX, err);
    if (!rc) rc = snn_state_alloc(&st, &net, 3, err);
    if (rc) goto done;
    snn_progress bar;
    snn_progress_start(&bar, "Odourants", (T + L - 1) / L, o->quiet);
    const double secs = (double)w * dt / 1000.0;
    int fail = 0;
    snn_error ferr = {0};
    for (int64_t c = 0; c * L < T && !fail; c++) {
        int64_t s0 = c * L, len = T - s0 < L ? T - s0 : L;
        /* trial b: 0 odour 1, 1 odour 1 again, 2 baseline; trial b is also its Poisson trial key, so the
         * three input realisations are independent */
#pragma omp parallel for schedule(dynamic, 1)
        for (int b = 0; b < 3; b++) {
            snn_error e2 = {0};
            uint8_t *x = in + (size_t)b * L * n_in, *y = out + (size_t)b * L * n;
            if (snn_poisson_draw_rates(&gen[b == 2], (uint32_t)b, s0, len, x, &e2)) {
#pragma omp critical
                if (!ferr.code) ferr = e2;
#pragma omp atomic write
                fail = 1;
                continue;
            }
            snn_forward_trial(&net, &st, b, len, x, y, NULL);
            for (int64_t t = 0; t < len; t++) {
                int64_t k = (s0 + t) / w;
                if (k >= W) break;  /* trailing steps beyond the last whole window */
                double *o2 = wr[b] + k * n;
                const uint8_t *sp = y + t * n;
                for (int64_t j = 0; j < n; j++) o2[j] += sp[j];
            }
        }
        snn_progress_update(&bar, c + 1, NULL);
    }
    snn_progress_finish(&bar);
    if (fail) {
        if (err) *err = ferr;
        rc = ferr.code ? ferr.code : SNN_ERUN;
        goto done;
    }
    for (int b = 0; b < 3; b++)
        for (int64_t k = 0; k < W * n; k++) wr[b][k] /= secs;
    printf("✓ Network simulations completed\n");
    const double r_base = snn_pearson(wr[0], wr[2], W * n), r_rep = snn_pearson(wr[0], wr[1], W * n);

    rc = snn_path_join(path, sizeof path, figs, "input_firing_rates_histogram.png", err);
    if (!rc) rc = snn_plot_input_rate_histogram(path, rates[0], n_in, 1, err);
    if (rc) goto done;
    printf("✓ Saved: %s\n", path);
    const char *tn[SNN_MAX_TYPES];
    for (int t = 0; t < p->rec.n_types; t++) tn[t] = p->rec.type_names[t];
    snn_rate_scatter panels[2] = {
        {wr[0], wr[2], W * n, r_base, "Network Activity: Odourant 1 vs Baseline", "Odourant 1 Firing Rate (Hz)",
         "Baseline Firing Rate (Hz)", W, n, secs, s.cell_types, p->rec.n_types, tn},
        {wr[0], wr[1], W * n, r_rep, "Network Activity: Same Odourant, Different Noise", "Odourant 1 Firing Rate (Hz)",
         "Odourant 1 Firing Rate (noise variant) (Hz)", W, n, secs, s.cell_types, p->rec.n_types, tn},
    };
    rc = snn_path_join(path, sizeof path, figs, "odourant_vs_baseline_correlogram.png", err);
    if (!rc) rc = snn_plot_rate_correlogram(path, 2400, 900, 0, panels, err);
    if (rc) goto done;
    printf("✓ Saved: %s\n", path);
    char a[32], b[32];
    printf("Odourant 1 vs baseline: r = %s; odourant 1 vs odourant 1 (other noise): r = %s\n",
           fmt_r(a, sizeof a, r_base), fmt_r(b, sizeof b, r_rep));
    printf("✓ All plots saved to %s\n", figs);
done:
    free(in);
    free(out);
    for (int i = 0; i < 2; i++) free(rates[i]);
    for (int i = 0; i < 3; i++) free(wr[i]);
    snn_poisson_free(&gen[0]);
    snn_poisson_free(&gen[1]);
    snn_state_free(&st);
    snn_network_free(&net);
    snn_structure_free(&s);
    free(p);
    return rc;
}
