/* The schemas of the connectome (stage 1), teacher (stage 3), simulate, train (stage 4) and
 * homeostatic (stage 2) commands; the two training stages' own sections are in config/params_train.c. Every check happens here, before a command does any
 * work, so that later code can trust the struct. */
#include "config/params.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config/limits.h"
#include "config/params_read.h"
#include "config/params_train.h"
#include "config/toml.h"

#define ARRLEN(a) ((int)(sizeof(a) / sizeof *(a)))

typedef struct loader {
    snn_pr r;
    snn_stage stage;
    snn_params *p;
} loader;

static const char *const OPTIMISABLE[] = {"weights", "scaling_factors", "scaling_factors_recurrent",
                                          "scaling_factors_feedforward"};

/* The keys each table accepts: shared by the loaders below and by snn_params_schema_keys, which
 * lists them for docs/parameters.md and its test, so that the documented schema cannot drift from
 * the one enforced. */
static const char *const ROOT_KEYS_CONNECTOME[] = {"simulation", "recurrent", "feedforward", "output"};
static const char *const ROOT_KEYS_TEACHER[] = {"simulation", "recurrent", "feedforward", "odours",
                                                "tau",        "temperature", "sigma"};
static const char *const ROOT_KEYS_SIMULATE[] = {"simulation", "recurrent", "feedforward", "odours",
                                                 "tau",        "temperature", "sigma",     "tracking"};
static const char *const ROOT_KEYS_TRAIN[] = {"simulation",      "training",        "targets",
                                              "hyperparameters", "scaling_factors", "recurrent",
                                              "feedforward",     "wandb"};
static const char *const SIM_KEYS_CONNECTOME[] = {"dt", "duration", "seed", "chunk_size", "optimisable"};
static const char *const SIM_KEYS[] = {"dt",        "duration",  "seed",       "chunk_size",
                                       "batch_size", "plot_size", "optimisable"};
static const char *const CELL_TYPE_KEYS[] = {"names", "proportion"};
static const char *const PHYSIOLOGY_KEYS[] = {"tau_mem", "theta", "U_reset", "E_L", "g_L", "tau_ref"};
static const char *const SYNAPSE_KEYS[] = {"names", "tau_rise", "tau_decay", "E_syn", "g_bar"};
static const char *const REC_TOPOLOGY_KEYS[] = {"num_neurons", "num_assemblies", "neurons_per_assembly",
                                                "conn_within", "conn_between"};
static const char *const FF_TOPOLOGY_KEYS[] = {"num_neurons", "conn_inputs"};
static const char *const WEIGHT_KEYS[] = {"w_mu", "w_sigma"};
static const char *const ACTIVITY_KEYS[] = {"firing_rate"};
static const char *const OU_KEYS[] = {"tau", "temperature", "sigma"};
static const char *const ODOUR_KEYS[] = {"baseline_rate", "modulation_rate", "modulation_fraction"};
static const char *const TRACKING_KEYS[] = {"trials", "neurons"};
static const char *const OUTPUT_KEYS[] = {"sparse"};

static void type_name_ptrs(const snn_layer_params *l, const char **out) {
    for (int i = 0; i < l->n_types; i++) out[i] = l->type_names[i];
}

/* ---------------------------------------------------------------------------------------------- */
/* [simulation] */

/* The keys of [simulation] in the stages loaded here (not stages 2 and 4: config/params_train.c). */
static int sim_keys(snn_stage stage, const char *const **keys) {
    if (stage == SNN_STAGE_CONNECTOME) {
        *keys = SIM_KEYS_CONNECTOME;
        return ARRLEN(SIM_KEYS_CONNECTOME);
    }
    *keys = SIM_KEYS;
    return ARRLEN(SIM_KEYS);
}

static int load_simulation(loader *L, const toml_value *root) {
    const snn_pr *r = &L->r;
    snn_sim_params *s = &L->p->sim;
    const toml_value *t;
    int rc;
    if ((rc = snn_pr_table(r, root, "", "simulation", 1, &t))) return rc;
    const char *const *keys;
    int nk = sim_keys(L->stage, &keys);
    if ((rc = snn_pr_check_keys(r, t, "simulation", keys, nk))) return rc;

    if ((rc = snn_pr_num(r, t, "simulation", "dt", 1, SNN_DOM_POS, &s->dt, &s->has_dt))) return rc;
    if ((rc = snn_pr_num(r, t, "simulation", "duration", 1, SNN_DOM_POS, &s->duration, &s->has_duration))) return rc;
    int64_t seed = 0;
    if ((rc = snn_pr_int(r, t, "simulation", "seed", 1, 0, INT64_MAX, &seed, NULL))) return rc;
    s->seed = (uint64_t)seed;
    if ((rc = snn_pr_int(r, t, "simulation", "chunk_size", 1, 1, SNN_MAX_STEPS, &s->chunk_size, NULL))) return rc;
    if ((rc = snn_params_check_steps(r, t, "simulation", s))) return rc;
    int teacher = L->stage == SNN_STAGE_TEACHER;
    s->batch_size = 1; /* simulate runs one trial unless told otherwise */
    if ((rc = snn_pr_int(r, t, "simulation", "batch_size", teacher, 1, SNN_MAX_TRIALS, &s->batch_size,
                         &s->has_batch_size)))
        return rc;
    /* at least one chunk: the dashboards of stage 3 draw the last plot_size chunks */
    if ((rc = snn_pr_int(r, t, "simulation", "plot_size", teacher, 1, SNN_MAX_STEPS, &s->plot_size, &s->has_plot_size)))
        return rc;
    if (s->has_plot_size && s->plot_size > SNN_MAX_STEPS / s->chunk_size)
        return snn_pr_fail(r, toml_get(t, "plot_size")->line, "simulation", "plot_size",
                           "%lld chunks of %lld steps are more than %lld time steps (the most one run may take)",
                           (long long)s->plot_size, (long long)s->chunk_size, (long long)SNN_MAX_STEPS);
    /* stage 1's check run and stage 3 need at least one whole chunk */
    if ((L->stage == SNN_STAGE_CONNECTOME || teacher) && snn_params_num_chunks(s) < 1)
        return snn_pr_fail(r, toml_get(t, "duration")->line, "simulation", "duration",
                           "%g ms is shorter than one chunk (chunk_size %lld x dt %g ms = %g ms): %s", s->duration,
                           (long long)s->chunk_size, s->dt, (double)s->chunk_size * s->dt,
                           teacher ? "nothing to simulate" : "the check run after generating the network needs one");
    char opt[64];
    int has_opt = 0;
    /* read to validate only: the reference never used it */
    if ((rc = snn_pr_str(r, t, "simulation", "optimisable", 0, opt, sizeof opt, &has_opt))) return rc;
    if (has_opt) {
        int ok = 0;
        for (int i = 0; i < ARRLEN(OPTIMISABLE); i++) ok |= strcmp(opt, OPTIMISABLE[i]) == 0;
        if (!ok)
            return snn_pr_fail(r, toml_get(t, "optimisable")->line, "simulation", "optimisable",
                               "expected one of \"weights\", \"scaling_factors\", \"scaling_factors_recurrent\", "
                               "\"scaling_factors_feedforward\", got \"%s\"",
                               opt);
    }
    return SNN_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* layers */

static int load_cell_types(loader *L, const toml_value *layer_t, const char *lname, snn_layer_params *l) {
    const snn_pr *r = &L->r;
    const toml_value *t;
    int rc;
    char path[128];
    snn_pr_join(path, sizeof path, lname, "cell_types");
    if ((rc = snn_pr_table(r, layer_t, lname, "cell_types", 1, &t))) return rc;
    if ((rc = snn_pr_check_keys(r, t, path, CELL_TYPE_KEYS, ARRLEN(CELL_TYPE_KEYS)))) return rc;
    if ((rc = snn_pr_str_list(r, t, path, "names", 1, &l->type_names[0][0], SNN_NAME_MAX, SNN_MAX_TYPES, &l->n_types,
                              NULL)))
        return rc;
    if (l->n_types == 0)
        return snn_pr_fail(r, toml_get(t, "names")->line, path, "names", "at least one cell type is needed");
    int np = 0;
    int need = L->stage == SNN_STAGE_CONNECTOME;
    if ((rc = snn_pr_num_list(r, t, path, "proportion", need, SNN_DOM_PROB, l->proportion, SNN_MAX_TYPES, &np,
                              &l->has_proportion)))
        return rc;
    if (l->has_proportion) {
        int line = toml_get(t, "proportion")->line;
        if (np != l->n_types)
            return snn_pr_fail(r, line, path, "proportion", "has %d entries but names has %d (one per cell type)",
                               np, l->n_types);
        double sum = 0;
        for (int i = 0; i < np; i++) sum += l->proportion[i];
        if (fabs(sum - 1.0) > 1e-6)
            return snn_pr_fail(r, line, path, "proportion", "must sum to 1 (within 1e-6), got %.9g", sum);
    }
    return SNN_OK;
}

static int load_physiology(loader *L, const toml_value *layer_t, snn_layer_params *l) {
    const snn_pr *r = &L->r;
    const toml_value *t;
    int rc;
    if ((rc = snn_pr_table(r, layer_t, "recurrent", "physiology", 1, &t))) return rc;
    const char *names[SNN_MAX_TYPES];
    type_name_ptrs(l, names);
    if ((rc = snn_pr_check_names(r, t, "recurrent.physiology", names, l->n_types, "a recurrent cell type")))
        return rc;
    for (int i = 0; i < l->n_types; i++) {
        const toml_value *pt;
        if ((rc = snn_pr_table(r, t, "recurrent.physiology", names[i], 1, &pt))) return rc;
        char path[128];
        snn_pr_join(path, sizeof path, "recurrent.physiology", names[i]);
        snn_physiology *ph = &l->physiology[i];
        if ((rc = snn_pr_check_keys(r, pt, path, PHYSIOLOGY_KEYS, ARRLEN(PHYSIOLOGY_KEYS)))) return rc;
        if ((rc = snn_pr_num(r, pt, path, "tau_mem", 1, SNN_DOM_POS, &ph->tau_mem, NULL))) return rc;
        if ((rc = snn_pr_num(r, pt, path, "theta", 1, SNN_DOM_ANY, &ph->theta, NULL))) return rc;
        if ((rc = snn_pr_num(r, pt, path, "U_reset", 1, SNN_DOM_ANY, &ph->U_reset, NULL))) return rc;
        if ((rc = snn_pr_num(r, pt, path, "E_L", 1, SNN_DOM_ANY, &ph->E_L, NULL))) return rc;
        if ((rc = snn_pr_num(r, pt, path, "g_L", 1, SNN_DOM_POS, &ph->g_L, NULL))) return rc;
        if ((rc = snn_pr_num(r, pt, path, "tau_ref", 1, SNN_DOM_NONNEG, &ph->tau_ref, NULL))) return rc;
        if (!(ph->theta > ph->U_reset))
            return snn_pr_fail(r, toml_get(pt, "theta")->line, path, "theta",
                               "the threshold (%g mV) must be above U_reset (%g mV), or the neuron fires forever",
                               ph->theta, ph->U_reset);
    }
    l->has_physiology = 1;
    return SNN_OK;
}

static int load_synapses(loader *L, const toml_value *layer_t, const char *lname, snn_layer_params *l) {
    const snn_pr *r = &L->r;
    const toml_value *t;
    int rc;
    char spath[128];
    snn_pr_join(spath, sizeof spath, lname, "synapses");
    if ((rc = snn_pr_table(r, layer_t, lname, "synapses", 1, &t))) return rc;
    const char *names[SNN_MAX_TYPES];
    type_name_ptrs(l, names);
    char what[64];
    snprintf(what, sizeof what, "a %s cell type", lname);
    if ((rc = snn_pr_check_names(r, t, spath, names, l->n_types, what))) return rc;
    l->n_synapses = 0;
    /* file order, not type order: the reference numbers synapses this way */
    for (size_t k = 0; k < t->nkeys; k++) {
        const char *tname = t->keys[k];
        const toml_value *st;
        if ((rc = snn_pr_table(r, t, spath, tname, 1, &st))) return rc;
        char path[192];
        snn_pr_join(path, sizeof path, spath, tname);
        if ((rc = snn_pr_check_keys(r, st, path, SYNAPSE_KEYS, ARRLEN(SYNAPSE_KEYS)))) return rc;
        char syn_names[SNN_MAX_SYNAPSES][SNN_NAME_MAX];
        double tr[SNN_MAX_SYNAPSES], td[SNN_MAX_SYNAPSES], es[SNN_MAX_SYNAPSES], gb[SNN_MAX_SYNAPSES];
        int n = 0, m = 0;
        if ((rc = snn_pr_str_list(r, st, path, "names", 1, &syn_names[0][0], SNN_NAME_MAX, SNN_MAX_SYNAPSES, &n, NULL)))
            return rc;
        if (l->n_synapses + n > SNN_MAX_SYNAPSES)
            return snn_pr_fail(r, toml_get(st, "names")->line, path, "names",
                               "the %s layer would have %d synapse types; at most %d are supported", lname,
                               l->n_synapses + n, SNN_MAX_SYNAPSES);
        struct {
            const char *key;
            snn_dom dom;
            double *dst;
        } lists[] = {{"tau_rise", SNN_DOM_POS, tr}, {"tau_decay", SNN_DOM_POS, td}, {"E_syn", SNN_DOM_ANY, es},
                     {"g_bar", SNN_DOM_NONNEG, gb}};
        for (int j = 0; j < ARRLEN(lists); j++) {
            if ((rc = snn_pr_num_list(r, st, path, lists[j].key, 1, lists[j].dom, lists[j].dst, SNN_MAX_SYNAPSES, &m,
                                      NULL)))
                return rc;
            if (m != n)
                return snn_pr_fail(r, toml_get(st, lists[j].key)->line, path, lists[j].key,
                                   "has %d entries but names has %d (one per synapse)", m, n);
        }
        for (int j = 0; j < n; j++) {
            if (tr[j] == td[j])
                return snn_pr_fail(r, toml_get(st, "tau_decay")->line, path, "tau_decay",
                                   "entry %d (%s) equals tau_rise (%g ms); the synapse model divides by zero "
                                   "(by tau_decay - tau_rise) when they are equal",
                                   j, syn_names[j], td[j]);
            snn_synapse_param *sp = &l->synapses[l->n_synapses++];
            memcpy(sp->name, syn_names[j], SNN_NAME_MAX);
            sp->owner = snn_params_type_index(l, tname);
            sp->tau_rise = tr[j];
            sp->tau_decay = td[j];
            sp->E_syn = es[j];
            sp->g_bar = gb[j];
        }
    }
    return SNN_OK;
}

static int load_rec_topology(loader *L, const toml_value *t, snn_layer_params *l) {
    const snn_pr *r = &L->r;
    const char *path = "recurrent.topology";
    int rc;
    if ((rc = snn_pr_check_keys(r, t, path, REC_TOPOLOGY_KEYS, ARRLEN(REC_TOPOLOGY_KEYS)))) return rc;
    if ((rc = snn_pr_int(r, t, path, "num_neurons", 1, 1, INT32_MAX, &l->num_neurons, NULL))) return rc;
    int64_t na = 0, npa = 0;
    int has_na = 0;
    if ((rc = snn_pr_int(r, t, path, "num_assemblies", 0, 0, l->num_neurons, &na, &has_na))) return rc;
    l->num_assemblies = (int)na;
    if ((rc = snn_pr_int(r, t, path, "neurons_per_assembly", 0, 0, INT64_MAX, &npa, NULL))) return rc;
    const char *names[SNN_MAX_TYPES];
    type_name_ptrs(l, names);
    int n = l->n_types;
    if ((rc = snn_pr_matrix(r, t, path, "conn_within", 1, SNN_DOM_PROB, n, names, n, names, &l->conn_within[0][0],
                            SNN_MAX_TYPES, &l->has_conn_within)))
        return rc;
    if ((rc = snn_pr_matrix(r, t, path, "conn_between", l->num_assemblies > 0, SNN_DOM_PROB, n, names, n, names,
                            &l->conn_between[0][0], SNN_MAX_TYPES, &l->has_conn_between)))
        return rc;
    l->has_topology = 1;
    return SNN_OK;
}

static int load_ff_topology(loader *L, const toml_value *t, snn_layer_params *ff, const snn_layer_params *rec) {
    const snn_pr *r = &L->r;
    const char *path = "feedforward.topology";
    int rc;
    if ((rc = snn_pr_check_keys(r, t, path, FF_TOPOLOGY_KEYS, ARRLEN(FF_TOPOLOGY_KEYS)))) return rc;
    if ((rc = snn_pr_int(r, t, path, "num_neurons", 1, 1, INT32_MAX, &ff->num_neurons, NULL))) return rc;
    const char *fn[SNN_MAX_TYPES], *rn[SNN_MAX_TYPES];
    type_name_ptrs(ff, fn);
    type_name_ptrs(rec, rn);
    if ((rc = snn_pr_matrix(r, t, path, "conn_inputs", 1, SNN_DOM_PROB, ff->n_types, fn, rec->n_types, rn,
                            &ff->conn_inputs[0][0], SNN_MAX_TYPES, &ff->has_conn_inputs)))
        return rc;
    ff->has_topology = 1;
    return SNN_OK;
}

static int load_weights(loader *L, const toml_value *t, const char *lname, snn_layer_params *l,
                        const snn_layer_params *rec) {
    const snn_pr *r = &L->r;
    char path[128];
    snn_pr_join(path, sizeof path, lname, "weights");
    int rc;
    if ((rc = snn_pr_check_keys(r, t, path, WEIGHT_KEYS, ARRLEN(WEIGHT_KEYS)))) return rc;
    const char *rows[SNN_MAX_TYPES], *cols[SNN_MAX_TYPES];
    type_name_ptrs(l, rows);
    type_name_ptrs(rec, cols);
    if ((rc = snn_pr_matrix(r, t, path, "w_mu", 1, SNN_DOM_WEIGHT, l->n_types, rows, rec->n_types, cols,
                            &l->w_mu[0][0], SNN_MAX_TYPES, NULL)))
        return rc;
    if ((rc = snn_pr_matrix(r, t, path, "w_sigma", 1, SNN_DOM_NONNEG, l->n_types, rows, rec->n_types, cols,
                            &l->w_sigma[0][0], SNN_MAX_TYPES, NULL)))
        return rc;
    l->has_weights = 1;
    return SNN_OK;
}

static int load_activity(loader *L, const toml_value *t, snn_layer_params *ff) {
    const snn_pr *r = &L->r;
    const char *names[SNN_MAX_TYPES];
    type_name_ptrs(ff, names);
    int rc;
    if ((rc = snn_pr_check_names(r, t, "feedforward.activity", names, ff->n_types, "a feedforward cell type")))
        return rc;
    for (int i = 0; i < ff->n_types; i++) {
        const toml_value *at;
        if ((rc = snn_pr_table(r, t, "feedforward.activity", names[i], 1, &at))) return rc;
        char path[128];
        snn_pr_join(path, sizeof path, "feedforward.activity", names[i]);
        if ((rc = snn_pr_check_keys(r, at, path, ACTIVITY_KEYS, ARRLEN(ACTIVITY_KEYS)))) return rc;
        if ((rc = snn_pr_num(r, at, path, "firing_rate", 1, SNN_DOM_RATE, &ff->firing_rate[i], NULL))) return rc;
    }
    ff->has_activity = 1;
    return SNN_OK;
}

/* Which sub-tables of a layer a stage knows, and which it needs. */
typedef struct layer_schema {
    int topology, weights, activity, physiology; /* 0 = unknown key, 1 = optional, 2 = required */
} layer_schema;

static layer_schema schema_for(snn_stage stage, int recurrent) {
    layer_schema s = {0, 0, 0, 0};
    switch (stage) {
    case SNN_STAGE_CONNECTOME:
        s.topology = s.weights = 2;
        s.activity = recurrent ? 0 : 2;
        s.physiology = recurrent ? 2 : 0;
        break;
    case SNN_STAGE_TEACHER:
    case SNN_STAGE_TRAIN:
        s.physiology = recurrent ? 2 : 0;
        break;
    case SNN_STAGE_SIMULATE:
        s.topology = s.weights = 1;
        s.activity = recurrent ? 0 : 1;
        s.physiology = recurrent ? 2 : 0;
        break;
    case SNN_STAGE_HOMEOSTATIC:
        /* topology and weights only generate the connectome, which -i makes unnecessary; the
         * Poisson input needs its rates */
        s.topology = s.weights = 1;
        s.activity = recurrent ? 0 : 2;
        s.physiology = recurrent ? 2 : 0;
        break;
    }
    return s;
}

/* The keys of [<layer>] under schema s, into keys (room for 8); returns their number. */
static int layer_keys(layer_schema s, const char **keys) {
    int nk = 0;
    keys[nk++] = "cell_types";
    if (s.topology) keys[nk++] = "topology";
    if (s.weights) keys[nk++] = "weights";
    if (s.physiology) keys[nk++] = "physiology";
    if (s.activity) keys[nk++] = "activity";
    keys[nk++] = "synapses";
    return nk;
}

static int load_layer(loader *L, const toml_value *root, int recurrent) {
    const snn_pr *r = &L->r;
    const char *lname = recurrent ? "recurrent" : "feedforward";
    snn_layer_params *l = recurrent ? &L->p->rec : &L->p->ff;
    const toml_value *t;
    int rc;
    if ((rc = snn_pr_table(r, root, "", lname, 1, &t))) return rc;
    layer_schema s = schema_for(L->stage, recurrent);
    const char *keys[8];
    int nk = layer_keys(s, keys);
    if ((rc = snn_pr_check_keys(r, t, lname, keys, nk))) return rc;
    if ((rc = load_cell_types(L, t, lname, l))) return rc;
    if (s.physiology && (rc = load_physiology(L, t, l))) return rc;
    if ((rc = load_synapses(L, t, lname, l))) return rc;
    const snn_layer_params *rec = &L->p->rec;
    const toml_value *sub;
    if (s.topology) {
        if ((rc = snn_pr_table(r, t, lname, "topology", s.topology == 2, &sub))) return rc;
        if (sub && (rc = recurrent ? load_rec_topology(L, sub, l) : load_ff_topology(L, sub, l, rec))) return rc;
    }
    if (s.weights) {
        if ((rc = snn_pr_table(r, t, lname, "weights", s.weights == 2, &sub))) return rc;
        if (sub && (rc = load_weights(L, sub, lname, l, recurrent ? l : rec))) return rc;
    }
    if (s.activity) {
        if ((rc = snn_pr_table(r, t, lname, "activity", s.activity == 2, &sub))) return rc;
        if (sub && (rc = load_activity(L, sub, l))) return rc;
    }
    return SNN_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* [odours] and the OU process keys, which may sit under [odours] or at the top level */

static int load_odours(loader *L, const toml_value *root) {
    const snn_pr *r = &L->r;
    snn_params *p = L->p;
    int required = L->stage == SNN_STAGE_TEACHER;
    int top_ou = 0;
    for (int i = 0; i < 3; i++) top_ou |= toml_get(root, OU_KEYS[i]) != NULL;
    const toml_value *t;
    int rc;
    if ((rc = snn_pr_table(r, root, "", "odours", required || top_ou, &t))) return rc;
    if (!t) return SNN_OK;

    const snn_layer_params *ff = &p->ff;
    const char *cands[SNN_MAX_TYPES + 3];
    int nc = 0;
    for (int i = 0; i < 3; i++) cands[nc++] = OU_KEYS[i];
    for (int i = 0; i < ff->n_types; i++) cands[nc++] = ff->type_names[i];
    if ((rc = snn_pr_check_names(r, t, "odours", cands, nc,
                                 "tau, temperature, sigma or a feedforward cell type")))
        return rc;

    double *dst[3] = {&p->ou_tau, &p->ou_temperature, &p->ou_sigma};
    snn_dom dom[3] = {SNN_DOM_POS, SNN_DOM_POS, SNN_DOM_NONNEG};
    for (int i = 0; i < 3; i++) {
        const toml_value *in_t = toml_get(t, OU_KEYS[i]), *in_root = toml_get(root, OU_KEYS[i]);
        if (in_t && in_root)
            return snn_pr_fail(r, in_root->line, "", OU_KEYS[i],
                               "given both at the top level and under [odours] (line %d); write it once", in_t->line);
        if (!in_t && !in_root)
            return snn_fail(r->err, SNN_EINPUT,
                            "%s:%d: [odours] is missing required key '%s' (it may also be written at the top level)",
                            r->file, t->line, OU_KEYS[i]);
        if (in_t)
            rc = snn_pr_num(r, t, "odours", OU_KEYS[i], 1, dom[i], dst[i], NULL);
        else
            rc = snn_pr_num(r, root, "", OU_KEYS[i], 1, dom[i], dst[i], NULL);
        if (rc) return rc;
    }
    for (int i = 0; i < ff->n_types; i++) {
        const toml_value *ot;
        if ((rc = snn_pr_table(r, t, "odours", ff->type_names[i], 1, &ot))) return rc;
        char path[128];
        snn_pr_join(path, sizeof path, "odours", ff->type_names[i]);
        snn_odour_params *o = &p->odours[i];
        if ((rc = snn_pr_check_keys(r, ot, path, ODOUR_KEYS, ARRLEN(ODOUR_KEYS)))) return rc;
        if ((rc = snn_pr_num(r, ot, path, "baseline_rate", 1, SNN_DOM_RATE, &o->baseline_rate, NULL))) return rc;
        if ((rc = snn_pr_num(r, ot, path, "modulation_rate", 1, SNN_DOM_RATE, &o->modulation_rate, NULL))) return rc;
        if ((rc = snn_pr_num(r, ot, path, "modulation_fraction", 1, SNN_DOM_PROB, &o->modulation_fraction, NULL)))
            return rc;
    }
    p->has_odours = 1;
    return SNN_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* [tracking] (simulate) */

static int load_tracking(loader *L, const toml_value *root) {
    const snn_pr *r = &L->r;
    snn_params *p = L->p;
    snn_tracking_params *tr = &p->tracking;
    tr->n_trials = 1;
    tr->trials[0] = 0;
    tr->n_neurons = 0;
    tr->all_neurons = 0;
    const toml_value *t;
    int rc;
    if ((rc = snn_pr_table(r, root, "", "tracking", 0, &t))) return rc;
    if (!t) return SNN_OK;
    if ((rc = snn_pr_check_keys(r, t, "tracking", TRACKING_KEYS, ARRLEN(TRACKING_KEYS)))) return rc;
    if ((rc = snn_pr_int_list(r, t, "tracking", "trials", 0, 0, INT64_MAX, tr->trials, SNN_MAX_TRACKED, &tr->n_trials,
                              NULL)))
        return rc;
    for (int i = 0; i < tr->n_trials; i++)
        if (tr->trials[i] >= p->sim.batch_size)
            return snn_pr_fail(r, toml_get(t, "trials")->line, "tracking", "trials",
                               "trial %lld does not exist: [simulation] batch_size is %lld (trials 0..%lld)",
                               (long long)tr->trials[i], (long long)p->sim.batch_size,
                               (long long)p->sim.batch_size - 1);
    toml_value *nv = toml_get(t, "neurons");
    if (nv && nv->type == TOML_STRING) {
        nv->used = 1;
        if (strcmp(nv->str, "all"))
            return snn_pr_fail(r, nv->line, "tracking", "neurons",
                               "expected a list of neuron indices or \"all\", got \"%s\"", nv->str);
        tr->all_neurons = 1;
    } else if ((rc = snn_pr_int_list(r, t, "tracking", "neurons", 0, 0, INT64_MAX, tr->neurons, SNN_MAX_TRACKED,
                                     &tr->n_neurons, NULL))) {
        return rc;
    }
    for (int i = 0; p->rec.has_topology && i < tr->n_neurons; i++)
        if (tr->neurons[i] >= p->rec.num_neurons)
            return snn_pr_fail(r, toml_get(t, "neurons")->line, "tracking", "neurons",
                               "neuron %lld does not exist: [recurrent.topology] num_neurons is %lld",
                               (long long)tr->neurons[i], (long long)p->rec.num_neurons);
    const char *which[2] = {"trials", "neurons"};
    const int64_t *vals[2] = {tr->trials, tr->neurons};
    int counts[2] = {tr->n_trials, tr->n_neurons};
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < counts[w]; i++)
            for (int j = 0; j < i; j++)
                if (vals[w][i] == vals[w][j])
                    return snn_pr_fail(r, toml_get(t, which[w])->line, "tracking", which[w], "%lld appears twice",
                                       (long long)vals[w][i]);
    p->has_tracking = 1;
    return SNN_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* [output] (connectome): sparse = true | false | "auto" */

static int load_output(loader *L, const toml_value *root) {
    const snn_pr *r = &L->r;
    const toml_value *t;
    int rc;
    L->p->output_format = SNN_OUTPUT_AUTO;
    if ((rc = snn_pr_table(r, root, "", "output", 0, &t))) return rc;
    if (!t) return SNN_OK;
    if ((rc = snn_pr_check_keys(r, t, "output", OUTPUT_KEYS, ARRLEN(OUTPUT_KEYS)))) return rc;
    toml_value *v = toml_get(t, "sparse");
    if (!v) return SNN_OK;
    v->used = 1;
    if (v->type == TOML_BOOL) L->p->output_format = v->b ? SNN_OUTPUT_SPARSE : SNN_OUTPUT_DENSE;
    else if (v->type == TOML_STRING && !strcmp(v->str, "auto")) L->p->output_format = SNN_OUTPUT_AUTO;
    else return snn_pr_fail(r, v->line, "output", "sparse", "expected true, false or \"auto\"");
    return SNN_OK;
}

/* ---------------------------------------------------------------------------------------------- */

/* The top-level keys of a stage's files, into *keys; returns their number. */
static int root_keys(snn_stage stage, const char *const **keys) {
    /* stage 2 knows the same sections as stage 4 */
    switch (stage) {
    case SNN_STAGE_CONNECTOME: *keys = ROOT_KEYS_CONNECTOME; return ARRLEN(ROOT_KEYS_CONNECTOME);
    case SNN_STAGE_TEACHER: *keys = ROOT_KEYS_TEACHER; return ARRLEN(ROOT_KEYS_TEACHER);
    case SNN_STAGE_TRAIN:
    case SNN_STAGE_HOMEOSTATIC: *keys = ROOT_KEYS_TRAIN; return ARRLEN(ROOT_KEYS_TRAIN);
    case SNN_STAGE_SIMULATE: break;
    }
    *keys = ROOT_KEYS_SIMULATE;
    return ARRLEN(ROOT_KEYS_SIMULATE);
}

static int load_tree(loader *L, const toml_value *root) {
    const snn_pr *r = &L->r;
    int rc;
    const char *const *keys;
    int nk = root_keys(L->stage, &keys);
    if ((rc = snn_pr_check_keys(r, root, "", keys, nk))) return rc;
    if (L->stage == SNN_STAGE_TRAIN || L->stage == SNN_STAGE_HOMEOSTATIC) {
        /* the objective's per-type keys need the cell-type names, hence the layers in between */
        if (L->stage == SNN_STAGE_TRAIN) rc = snn_params_train_schedule(r, root, L->p);
        else rc = snn_params_homeostatic_schedule(r, root, L->p);
        if (rc) return rc;
        if ((rc = load_layer(L, root, 1))) return rc;
        if ((rc = load_layer(L, root, 0))) return rc;
        return snn_params_train_objective(r, root, L->p);
    }
    if ((rc = load_simulation(L, root))) return rc;
    if ((rc = load_layer(L, root, 1))) return rc;
    if ((rc = load_layer(L, root, 0))) return rc;
    if (L->stage != SNN_STAGE_CONNECTOME && (rc = load_odours(L, root))) return rc;
    if (L->stage == SNN_STAGE_CONNECTOME && (rc = load_output(L, root))) return rc;
    if (L->stage == SNN_STAGE_SIMULATE && (rc = load_tracking(L, root))) return rc;
    return SNN_OK;
}

static int load_root(toml_value *root, const char *name, snn_stage stage, snn_params *out, snn_error *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", name);
    out->stage = stage;
    loader L = {.r = {.file = name, .err = err}, .stage = stage, .p = out};
    int rc = load_tree(&L, root);
    toml_free(root);
    return rc;
}

int snn_params_load(const char *path, snn_stage stage, snn_params *out, snn_error *err) {
    toml_value *root = toml_parse_file(path, err);
    if (!root) return SNN_EINPUT;
    return load_root(root, path, stage, out, err);
}

int snn_params_training_stage(const char *path, snn_stage *out, snn_error *err) {
    toml_value *root = toml_parse_file(path, err);
    if (!root) return SNN_EINPUT;
    const toml_value *sim = toml_get(root, "simulation");
    *out = sim && sim->type == TOML_TABLE && toml_get(sim, "duration") ? SNN_STAGE_HOMEOSTATIC : SNN_STAGE_TRAIN;
    toml_free(root);
    return SNN_OK;
}

int snn_params_load_string(const char *text, const char *name, snn_stage stage, snn_params *out, snn_error *err) {
    toml_value *root = toml_parse_string(text, name, err);
    if (!root) return SNN_EINPUT;
    return load_root(root, name, stage, out, err);
}

/* ---------------------------------------------------------------------------------------------- */
/* the schema as a list of key paths, walking the tables the loaders above check against */

static void emit(const char *prefix, const char *const *keys, int n, snn_params_key_cb cb, void *ctx) {
    for (int i = 0; i < n; i++) {
        char path[256];
        snn_pr_join(path, sizeof path, prefix, keys[i]);
        cb(path, ctx);
    }
}

static void schema_layer(snn_stage stage, int recurrent, snn_params_key_cb cb, void *ctx) {
    const char *lname = recurrent ? "recurrent" : "feedforward";
    const char *keys[8];
    int nk = layer_keys(schema_for(stage, recurrent), keys);
    for (int i = 0; i < nk; i++) {
        char path[128];
        const char *k = keys[i];
        if (!strcmp(k, "cell_types")) {
            snprintf(path, sizeof path, "%s.%s", lname, k);
            emit(path, CELL_TYPE_KEYS, ARRLEN(CELL_TYPE_KEYS), cb, ctx);
        } else if (!strcmp(k, "topology")) {
            snprintf(path, sizeof path, "%s.%s", lname, k);
            if (recurrent) emit(path, REC_TOPOLOGY_KEYS, ARRLEN(REC_TOPOLOGY_KEYS), cb, ctx);
            else emit(path, FF_TOPOLOGY_KEYS, ARRLEN(FF_TOPOLOGY_KEYS), cb, ctx);
        } else if (!strcmp(k, "weights")) {
            snprintf(path, sizeof path, "%s.%s", lname, k);
            emit(path, WEIGHT_KEYS, ARRLEN(WEIGHT_KEYS), cb, ctx);
        } else if (!strcmp(k, "physiology")) {
            snprintf(path, sizeof path, "%s.%s.<type>", lname, k);
            emit(path, PHYSIOLOGY_KEYS, ARRLEN(PHYSIOLOGY_KEYS), cb, ctx);
        } else if (!strcmp(k, "activity")) {
            snprintf(path, sizeof path, "%s.%s.<type>", lname, k);
            emit(path, ACTIVITY_KEYS, ARRLEN(ACTIVITY_KEYS), cb, ctx);
        } else if (!strcmp(k, "synapses")) {
            snprintf(path, sizeof path, "%s.%s.<type>", lname, k);
            emit(path, SYNAPSE_KEYS, ARRLEN(SYNAPSE_KEYS), cb, ctx);
        } else {
            /* a key without a sub-walker is listed as it is, so that it still needs documenting */
            emit(lname, &keys[i], 1, cb, ctx);
        }
    }
}

void snn_params_schema_keys(snn_stage stage, snn_params_key_cb cb, void *ctx) {
    const char *const *keys;
    int nk = root_keys(stage, &keys);
    const int training = stage == SNN_STAGE_TRAIN || stage == SNN_STAGE_HOMEOSTATIC;
    for (int i = 0; i < nk; i++) {
        const char *k = keys[i];
        if (training && snn_params_train_schema_table(stage, k, cb, ctx)) continue;
        if (!strcmp(k, "simulation")) {
            const char *const *sk;
            int n = sim_keys(stage, &sk);
            emit(k, sk, n, cb, ctx);
        } else if (!strcmp(k, "recurrent") || !strcmp(k, "feedforward")) {
            schema_layer(stage, !strcmp(k, "recurrent"), cb, ctx);
        } else if (!strcmp(k, "odours")) {
            emit(k, OU_KEYS, ARRLEN(OU_KEYS), cb, ctx);
            emit("odours.<type>", ODOUR_KEYS, ARRLEN(ODOUR_KEYS), cb, ctx);
        } else if (!strcmp(k, "tracking")) {
            emit(k, TRACKING_KEYS, ARRLEN(TRACKING_KEYS), cb, ctx);
        } else if (!strcmp(k, "output")) {
            emit(k, OUTPUT_KEYS, ARRLEN(OUTPUT_KEYS), cb, ctx);
        } else {
            emit("", &keys[i], 1, cb, ctx);
        }
    }
}
