/* snnfit connectome P.toml -o OUT (stage 1): generates the connectome, writes network_structure.npz
 * and network_statistics.csv, then runs the network for [simulation] duration (at least one
 * chunk) on homogeneous Poisson input at the [feedforward.activity] rates (one trial) and writes activity_statistics.csv and the
 * traces the activity dashboard draws (results/dashboard_traces.npz).
 *
 * The check run uses this file's neurons and synapses with every scaling factor 1: the network as
 * stage 2 receives it, before homeostatic tuning. network_structure.npz keeps the connectome and its
 * weights only; each later stage simulates it with its own file's synapses. The console says so, and
 * says why a cell type is silent (its mean membrane potential against its threshold). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/mem.h"
#include "core/progress.h"
#include "inputs/poisson.h"
#include "model/connectome.h"
#include "model/spike_stats.h"
#include "plot/dashboards.h"
#include "stages/stage.h"
#include "stages/traces.h"

/* Per (source type, target type) pair of each layer: edges, density, degrees and weights. Degrees
 * count only the pair's edges; std over neurons with ddof 0; weights over the pair's synapses. */
static int write_network_statistics(const char *path, const snn_params *p, const snn_structure *s,
                                    snn_error *err) {
    snn_atomic_file af;
    int rc = snn_atomic_open(&af, path, err);
    if (rc) return rc;
    fprintf(af.fp, "layer,source_type,target_type,n_source,n_target,edges,density,in_degree_mean,"
                   "in_degree_std,out_degree_mean,out_degree_std,weight_mean,weight_std\n");
    int64_t n = s->n;
    int64_t *deg = calloc((size_t)(n > s->n_in ? n : s->n_in) + 1, sizeof *deg);
    int64_t *indeg = calloc((size_t)n + 1, sizeof *indeg);
    if (!deg || !indeg) {
        free(deg);
        free(indeg);
        snn_atomic_abort(&af);
        return snn_fail(err, SNN_ERUN, "out of memory computing network statistics");
    }
    for (int layer = 0; layer < 2; layer++) {
        const snn_layer_params *src = layer == 0 ? &p->rec : &p->ff;
        int64_t n_src = layer == 0 ? n : s->n_in;
        const int64_t *src_type = layer == 0 ? s->cell_types : s->ff_cell_types;
        const snn_sparse *m = layer == 0 ? &s->rec : &s->ff;
        for (int a = 0; a < src->n_types; a++)
            for (int b = 0; b < p->rec.n_types; b++) {
                int64_t ns = 0, nt = 0, edges = 0, self_pairs = 0;
                double ws = 0, ws2 = 0;
                memset(indeg, 0, (size_t)n * sizeof *indeg);
                for (int64_t j = 0; j < n; j++) nt += s->cell_types[j] == b;
                for (int64_t i = 0; i < n_src; i++) {
                    if (src_type[i] != a) continue;
                    ns++;
                    if (layer == 0 && s->cell_types[i] == b) self_pairs++;
                    int64_t d = 0;
                    for (int64_t e = m->row[i]; e < m->row[i + 1]; e++) {
                        const int64_t j = m->col[e];
                        if (s->cell_types[j] != b) continue;
                        d++;
                        indeg[j]++;
                        double x = m->w[e];
                        ws += x;
                        ws2 += x * x;
                    }
                    deg[i] = d;
                    edges += d;
                }
                double om = 0, os = 0, im = 0, is = 0;
                if (ns) {
                    for (int64_t i = 0; i < n_src; i++)
                        if (src_type[i] == a) om += (double)deg[i];
                    om /= (double)ns;
                    for (int64_t i = 0; i < n_src; i++)
                        if (src_type[i] == a) os += ((double)deg[i] - om) * ((double)deg[i] - om);
                    os = sqrt(os / (double)ns);
                }
                if (nt) {
                    for (int64_t j = 0; j < n; j++)
                        if (s->cell_types[j] == b) im += (double)indeg[j];
                    im /= (double)nt;
                    for (int64_t j = 0; j < n; j++)
                        if (s->cell_types[j] == b) is += ((double)indeg[j] - im) * ((double)indeg[j] - im);
                    is = sqrt(is / (double)nt);
                }
                double pairs = (double)ns * (double)nt - (double)self_pairs;
                double wm = edges ? ws / (double)edges : 0;
                double wsd = edges ? sqrt(fmax(0, ws2 / (double)edges - wm * wm)) : 0;
                fprintf(af.fp, "%s,%s,%s,%lld,%lld,%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n",
                        layer == 0 ? "recurrent" : "feedforward", src->type_names[a], p->rec.type_names[b],
                        (long long)ns, (long long)nt, (long long)edges, pairs > 0 ? (double)edges / pairs : 0.0,
                        im, is, om, os, wm, wsd);
            }
    }
    free(deg);
    free(indeg);
    return snn_atomic_commit(&af, err);
}

/* The reference's per-type activity statistics (figures.md section 2.10) of the short run. */
static int write_activity_statistics(const char *path, const snn_params *p, const snn_network *net,
                                     const double *rates, const double *cv, const double *v_mean,
                                     const double *v_std, snn_error *err) {
    snn_atomic_file af;
    int rc = snn_atomic_open(&af, path, err);
    if (rc) return rc;
    fprintf(af.fp, "cell_type,cell_type_name,n_neurons,mean_firing_rate_hz,std_firing_rate_hz,n_silent_cells,"
                   "mean_cv,std_cv,mean_of_mean_voltages,std_of_mean_voltages,mean_of_std_voltages,"
                   "std_of_std_voltages\n");
    for (int t = 0; t < p->rec.n_types; t++) {
        snn_type_summary ts;
        snn_type_summarise(net->type, net->n, t, rates, cv, &ts);
        snn_type_summary vm, vs;
        snn_type_summarise(net->type, net->n, t, v_mean, NULL, &vm);
        snn_type_summarise(net->type, net->n, t, v_std, NULL, &vs);
        /* a CV needs 3 spikes: without any such neuron the field is empty (as pandas writes NaN) */
        char cvm[32] = "", cvs[32] = "", cvtext[32] = "-";
        if (isfinite(ts.cv_mean)) {
            snprintf(cvm, sizeof cvm, "%.6g", ts.cv_mean);
            snprintf(cvs, sizeof cvs, "%.6g", ts.cv_std);
            snprintf(cvtext, sizeof cvtext, "%.2f", ts.cv_mean);
        }
        fprintf(af.fp, "%d,%s,%lld,%.6g,%.6g,%lld,%s,%s,%.6g,%.6g,%.6g,%.6g\n", t, p->rec.type_names[t],
                (long long)ts.n_neurons, ts.rate_mean, ts.rate_std, (long long)ts.n_silent, cvm, cvs, vm.rate_mean,
                vm.rate_std, vs.rate_mean, vs.rate_std);
        printf("  %-12s %5lld neurons: %.2f +- %.2f Hz, %lld silent, CV %s\n", p->rec.type_names[t],
               (long long)ts.n_neurons, ts.rate_mean, ts.rate_std, (long long)ts.n_silent, cvtext);
    }
    return snn_atomic_commit(&af, err);
}

/* A check run that is (nearly) all silent, or runs away, looks like a broken network; say why: how far
 * below threshold the membrane potential stays on these inputs, or that nothing is tuned yet. */
static void explain_check(const snn_params *p, const snn_network *net, const double *rates, const double *v_mean) {
    int any = 0, runaway = 0;
    for (int t = 0; t < p->rec.n_types; t++) {
        int64_t m = 0, silent = 0;
        double v = 0, r = 0;
        for (int64_t j = 0; j < net->n; j++)
            if (net->type[j] == t) m++, silent += rates[j] == 0, v += v_mean[j], r += rates[j];
        /* the excitatory (first) type above 10 Hz or any type above 50 Hz: as stage 3's warning */
        if (m > 0 && r / (double)m > (t == 0 ? 10.0 : 50.0)) runaway = 1;
        if (m == 0 || silent < 0.9 * (double)m) continue;
        v /= (double)m;
        const snn_physiology *ph = &p->rec.physiology[t];
        printf("  %s: %lld of %lld silent: the mean membrane potential, %.1f mV, stays %.1f mV below the "
               "threshold (%g mV)\n", p->rec.type_names[t], (long long)silent, (long long)m, v, ph->theta - v,
               ph->theta);
        any = 1;
    }
    if (any)
        printf("  The check run uses this file's [feedforward.activity] rates and synapses (g_bar) with scaling\n"
               "  factors 1; synapses too weak for the inputs leave the network silent. Stage 2 learns the\n"
               "  scaling factors, and stages 2-4 simulate the network with their own files' synapses (the\n"
               "  shipped ones have g_bar 10x the reference's stage-1 file, conductance-based-Dp.toml).\n");
    if (runaway)
        printf("  These rates are high because nothing is tuned yet (scaling factors 1): stage 2 (snnfit\n"
               "  homeostatic) learns the scaling factors that bring them to its targets.\n");
}

static int activity_run(const snn_stage_opts *o, const snn_params *p, const snn_structure *s, snn_error *err) {
    /* at least one chunk (the loader refuses a shorter duration), at most SNN_MAX_STEPS */
    int64_t T = snn_params_num_chunks(&p->sim) * p->sim.chunk_size;
    snn_network net;
    int rc = snn_network_build(&net, &p->rec, &p->ff, s, p->sim.dt, err);
    if (rc) return rc;
    snn_stage_print_refractory(p);
    printf("\nCheck run: %.1f s of Poisson input at the [feedforward.activity] rates, with this file's synapses "
           "and every scaling factor 1 (the network before stage 2 tunes it)...\n", (double)T * p->sim.dt / 1000.0);
    int64_t n = s->n, n_in = s->n_in;
    double *rates_in = snn_calloc((size_t)(n_in ? n_in : 1), sizeof(double), "input rates", err);
    uint8_t *in = snn_calloc((size_t)T, (size_t)n_in, "input spikes", err);
    uint8_t *out = snn_calloc((size_t)T, (size_t)n, "output spikes", err);
    double *v_sum = snn_calloc((size_t)n, sizeof(double), "voltage sums", err);
    double *v_sumsq = snn_calloc((size_t)n, sizeof(double), "voltage sums", err);
    int64_t *counts = snn_calloc((size_t)n, sizeof(int64_t), "spike counts", err);
    double *rates = snn_calloc((size_t)n, sizeof(double), "rates", err);
    double *cv = snn_calloc((size_t)n, sizeof(double), "CVs", err);
    snn_state st = {0}, start = {0};
    snn_poisson ps = {0};
    if (!rates_in || !in || !out || !v_sum || !v_sumsq || !counts || !rates || !cv) {
        rc = SNN_ERUN;
        goto done;
    }
    for (int64_t m = 0; m < n_in; m++) rates_in[m] = p->ff.firing_rate[s->ff_cell_types[m]];
    rc = snn_poisson_init_rates(&ps, n_in, rates_in, p->sim.dt, p->sim.seed, SNN_RNG_POISSON, err);
    if (!rc) rc = snn_poisson_draw_rates(&ps, 0, 0, T, in, err);
    if (!rc) rc = snn_state_alloc(&st, &net, 1, err);
    if (!rc) rc = snn_state_alloc(&start, &net, 1, err);
    if (rc) goto done;
    snn_progress bar;
    snn_progress_start(&bar, "Simulating", T, o->quiet);
    snn_track tr = {.trial = 0, .v_sum = v_sum, .v_sumsq = v_sumsq};
    for (int64_t t0 = 0; t0 < T; t0 += p->sim.chunk_size) {
        int64_t L = T - t0 < p->sim.chunk_size ? T - t0 : p->sim.chunk_size;
        snn_forward_chunk(&net, &st, L, in + t0 * n_in, out + t0 * n, &tr, 1);
        snn_progress_update(&bar, t0 + L, NULL);
    }
    snn_progress_finish(&bar);
    snn_spike_counts(out, 1, T, n, counts);
    double secs = (double)T * p->sim.dt / 1000.0;
    for (int64_t j = 0; j < n; j++) {
        rates[j] = (double)counts[j] / secs;
        double m = v_sum[j] / (double)T;
        v_sum[j] = m;
        v_sumsq[j] = T > 1 ? sqrt(fmax(0, (v_sumsq[j] - (double)T * m * m) / (double)(T - 1))) : 0;
    }
    snn_spike_cv(out, 1, T, n, cv);
    char path[SNN_PATH_MAX];
    snn_path_join(path, sizeof path, o->output, "activity_statistics.csv", NULL);
    rc = write_activity_statistics(path, p, &net, rates, cv, v_sum, v_sumsq, err);
    if (rc) goto done;
    explain_check(p, &net, rates, v_sum);
    char dir[SNN_PATH_MAX];
    snn_path_join(dir, sizeof dir, o->output, "results", NULL);
    rc = snn_mkdirs(dir, err);
    if (rc) goto done;
    snn_path_join(path, sizeof path, dir, "dashboard_traces.npz", NULL);
    rc = snn_traces_write(path, &net, &start, 0, in, T, p->rec.type_names, s->assembly_ids, NULL, 0, err);
    if (!rc) printf("✓ Activity statistics and dashboard traces saved to %s\n", o->output);
    if (!rc) rc = snn_plot_dashboards(o->output, path, s, p, 0, err);
done:
    snn_poisson_free(&ps);
    snn_state_free(&st);
    snn_state_free(&start);
    free(rates_in);
    free(in);
    free(out);
    free(v_sum);
    free(v_sumsq);
    free(counts);
    free(rates);
    free(cv);
    snn_network_free(&net);
    return rc;
}

int snn_stage_connectome(const snn_stage_opts *o, snn_error *err) {
    snn_params *p = calloc(1, sizeof *p);
    if (!p) return snn_fail(err, SNN_ERUN, "out of memory");
    snn_structure s = {0};
    int rc = snn_stage_check_io(o, err);
    if (!rc) rc = snn_params_load(o->params_path, SNN_STAGE_CONNECTOME, p, err);
    if (!rc) rc = snn_stage_check_output(o, err);  /* before the generation, which can take minutes */
    if (rc) goto done;
    snn_mem_estimate est;
    snn_est_connectome(p, &est);
    if ((rc = snn_stage_check_memory(o, &est, o->params_path, err))) goto done;
    printf("Using seed: %llu\n", (unsigned long long)p->sim.seed);
    printf("Generating connectome: %lld neurons", (long long)p->rec.num_neurons);
    if (p->rec.num_assemblies > 0) printf(" in %d assemblies", p->rec.num_assemblies);
    printf(", %lld inputs...\n", (long long)p->ff.num_neurons);
    rc = snn_connectome_generate(p, 0, &s, err);
    if (!rc) rc = snn_stage_prepare_output(o, err);  /* impossible parameters leave no output behind */
    if (rc) goto done;
    int64_t e_rec = s.rec.nnz, e_ff = s.ff.nnz;
    printf("✓ Generated %lld recurrent and %lld feedforward synapses\n", (long long)e_rec, (long long)e_ff);

    char path[SNN_PATH_MAX];
    snn_path_join(path, sizeof path, o->output, "network_structure.npz", NULL);
    const snn_net_format fmt = p->output_format == SNN_OUTPUT_DENSE    ? SNN_NET_DENSE
                               : p->output_format == SNN_OUTPUT_SPARSE ? SNN_NET_SPARSE
                                                                       : snn_structure_auto_format(&s);
    rc = snn_structure_save_as(path, &s, fmt, err);
    if (rc) goto done;
    printf("✓ Network structure saved to %s (%s)\n", path, fmt == SNN_NET_SPARSE ? "sparse" : "dense");
    snn_path_join(path, sizeof path, o->output, "network_statistics.csv", NULL);
    rc = write_network_statistics(path, p, &s, err);
    if (rc) goto done;
    printf("✓ Network statistics saved to %s\n", path);
    rc = activity_run(o, p, &s, err);
    if (!rc) rc = snn_stage_copy_params(o, err);
    if (!rc) printf("Peak memory: %.1f MiB\n", (double)snn_peak_rss_bytes() / 1048576.0);
done:
    snn_structure_free(&s);
    free(p);
    return rc;
}
