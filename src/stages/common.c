#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "core/fsutil.h"
#include "stages/stage.h"

static int dir_is_empty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 1;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

int snn_stage_check_output(const snn_stage_opts *o, snn_error *err) {
    if (o->output == NULL || !*o->output) return snn_fail(err, SNN_EINPUT, "no output folder given (-o OUT)");
    if (!snn_path_exists(o->output) || o->keep_existing) return SNN_OK;
    if (!snn_is_dir(o->output))
        return snn_fail(err, SNN_EINPUT, "%s: output path exists and is not a folder", o->output);
    if (!dir_is_empty(o->output) && !o->overwrite)
        return snn_fail(err, SNN_EINPUT, "%s: output folder exists and is not empty (use --overwrite to replace it)",
                        o->output);
    return SNN_OK;
}

int snn_stage_prepare_output(const snn_stage_opts *o, snn_error *err) {
    int rc = snn_stage_check_output(o, err);
    if (rc) return rc;
    if (snn_path_exists(o->output) && !o->keep_existing) {
        if (!dir_is_empty(o->output)) {
            if (snn_remove_tree(o->output) != 0)
                return snn_fail(err, SNN_ERUN, "%s: cannot remove the old output folder", o->output);
        }
    }
    return snn_mkdirs(o->output, err);
}

int snn_stage_copy_params(const snn_stage_opts *o, snn_error *err) {
    char dst[SNN_PATH_MAX];
    int rc = snn_path_join(dst, sizeof dst, o->output, "parameters.toml", err);
    if (rc) return rc;
    return snn_copy_file(o->params_path, dst, err);
}

int snn_stage_structure_path(const char *input, char *out, size_t n, snn_error *err) {
    if (input == NULL || !*input)
        return snn_fail(err, SNN_EINPUT, "no input given (-i IN: a folder with network_structure.npz)");
    if (snn_is_dir(input)) {
        int rc = snn_path_join(out, n, input, "network_structure.npz", err);
        if (rc) return rc;
        if (!snn_path_exists(out)) return snn_fail(err, SNN_EINPUT, "%s: no such file (input folder %s)", out, input);
        return SNN_OK;
    }
    if (!snn_path_exists(input))
        return snn_fail(err, SNN_EINPUT, "%s: no such file or folder (expected network_structure.npz or a folder holding it)",
                        input);
    if ((size_t)snprintf(out, n, "%s", input) >= n) return snn_fail(err, SNN_EINPUT, "%s: path too long", input);
    return SNN_OK;
}

int snn_stage_load_network(const snn_params *p, const char *structure_path, snn_structure *s,
                           snn_network *net, snn_error *err) {
    int rc = snn_structure_load(structure_path, p->rec.n_types, p->ff.n_types, s, err);
    if (rc) return rc;
    rc = snn_network_build(net, &p->rec, &p->ff, s, p->sim.dt, err);
    if (rc) {
        snn_structure_free(s);
        return rc;
    }
    return SNN_OK;
}

snn_mem_sizes snn_stage_mem_sizes(const snn_network *net) {
    return (snn_mem_sizes){.n = net->n, .n_in = net->n_in, .nnz = net->rec.nnz, .nnz_ff = net->ff.nnz,
                           .n_cols = net->n_cols, .n_groups = net->n_groups, .n_types = net->n_types};
}

void snn_stage_print_memory(const snn_network *net, int training, uint64_t estimate) {
    const snn_mem_sizes z = snn_stage_mem_sizes(net);
    const double mib = 1048576.0;
    printf("Memory: network %.1f MiB (%lld synapses x %d B, %lld neurons); %llu B per neuron per trial of state",
           (double)(snn_mem_structure(&z) + snn_mem_network(&z)) / mib, (long long)(z.nnz + z.nnz_ff),
           (int)(SNN_MEM_STRUCTURE_PER_SYNAPSE + snn_mem_network_per_synapse()), (long long)z.n,
           (unsigned long long)snn_mem_state_per_neuron_trial(&z));
    if (training)
        printf(", %llu B of reverse pass, %llu B per neuron per step per trial of tape",
               (unsigned long long)snn_mem_backward_per_neuron_trial(&z), (unsigned long long)snn_mem_tape_per_neuron_step());
    printf("; this run: about %.1f MiB\n", (double)estimate / mib);
}

void snn_stage_print_refractory(const snn_params *p) {
    int any = 0;
    for (int t = 0; t < p->rec.n_types; t++) any |= p->rec.physiology[t].tau_ref > 0;
    if (!any) {
        printf("Refractory period: none (tau_ref = 0, the reference model)\n");
        return;
    }
    printf("Refractory period in force:");
    for (int t = 0; t < p->rec.n_types; t++)
        printf(" %s %g ms%s", p->rec.type_names[t], p->rec.physiology[t].tau_ref,
               t + 1 < p->rec.n_types ? "," : "");
    printf(" (set tau_ref = 0 to reproduce the reference, which ignores it)\n");
}
