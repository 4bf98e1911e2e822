/* The training schemas: stage 4 and stage 2, which shares stage 4's objective sections. Two
 * spellings meet in stage 4: the seed's fitting-activity.toml (everything about the schedule under
 * [simulation], iterations called epochs) and the reference's train-student.toml (a [training]
 * table, epochs counting passes over the teacher data). A file may mix them, but a setting written
 * in both is an error rather than a silent choice between two values. Stage 2 has one spelling, the
 * reference's homeostatic-plasticity.toml. */
#include "config/params_train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config/params.h"
#include "config/limits.h"
#include "config/toml.h"

#define ARRLEN(a) ((int)(sizeof(a) / sizeof *(a)))

/* In snn_optimisable order. */
static const char *const OPTIMISABLE[] = {"scaling_factors", "scaling_factors_recurrent",
                                          "scaling_factors_feedforward", "weights"};

/* In SNN_LOSS_* order. */
static const char *const LOSS_NAMES[SNN_N_LOSSES] = {"van_rossum",        "firing_rate",  "silent_penalty", "cv",
                                                     "membrane_variance", "weight_ratio", "spike_time"};
/* stage 2 knows every loss but those that compare with a teacher's spikes (the first and the last) */
#define HOMEO_LOSS_FIRST 1
#define HOMEO_LOSS_COUNT (SNN_N_LOSSES - 2)
static const char *const METHODS[] = {"closed_loop", "teacher_forced"};
static const char *const OPTIMISERS[] = {"adam", "lbfgs"};
static const char *const SPIKE_TIME_LOSSES[] = {"cross_entropy", "squared_hinge"};

/* The keys each table accepts: shared by the loaders below and by snn_params_train_schema_table,
 * which lists them for docs/parameters.md and its test. */
static const char *const TRAIN_SIM_KEYS[] = {"seed",         "chunk_size",    "dt",        "epochs",
                                             "accumulation_interval", "checkpoint_interval",
                                             "log_interval", "plot_interval", "plot_size"};
static const char *const TRAIN_TRAINING_KEYS[] = {"epochs",          "chunks_per_update", "log_interval",
                                                  "checkpoint_interval", "plot_interval", "plot_size",
                                                  "mixed_precision", "weight_perturbation_variance",
                                                  "grad_norm_clip",  "optimisable", "method", "optimiser",
                                                  "fit_steps", "burn_in", "lbfgs_history", "gradient_tolerance",
                                                  "change_tolerance", "eval_chunks"};
static const char *const HOMEO_SIM_KEYS[] = {"dt", "duration", "seed", "chunk_size", "optimisable"};
static const char *const HOMEO_TRAINING_KEYS[] = {"batch_size",      "chunks_per_update", "log_interval",
                                                  "checkpoint_interval", "plot_interval", "plot_size",
                                                  "mixed_precision", "grad_norm_clip",    "optimisable"};
/* the singular spellings are stage 2's (the reference's homeostatic-plasticity.toml) */
static const char *const TARGET_KEYS[] = {"firing_rates", "firing_rate",     "cvs",         "cv",
                                          "alpha",        "threshold_ratio", "weight_ratio"};
static const char *const HP_KEYS[] = {"learning_rate",       "surrgrad_scale",       "van_rossum_tau",
                                      "van_rossum_tau_rise", "van_rossum_tau_decay", "loss_weight",
                                      "spike_time_delta",    "spike_time_loss",      "surrogate_cutoff"};
/* stage 2 knows every key but the van Rossum ones (first in HP_KEYS and in LOSS_NAMES) */
static const char *const HP_KEYS_HOMEO[] = {"learning_rate", "surrgrad_scale", "loss_weight", "surrogate_cutoff"};
static const char *const SF_KEYS[] = {"recurrent", "feedforward"};
static const char *const WANDB_KEYS[] = {"enabled", "project", "entity", "tags", "notes"};

static int optimisable_index(const char *s) {
    for (int i = 0; i < ARRLEN(OPTIMISABLE); i++)
        if (strcmp(s, OPTIMISABLE[i]) == 0) return i;
    return -1;
}

static int read_training_options(const snn_pr *r, const toml_value *tr, snn_train_params *tp);
static int read_method(const snn_pr *r, const toml_value *tr, snn_train_params *tp);
static void set_method_defaults(snn_train_params *tp);

/* A key that belongs elsewhere gets a message saying where, which edit distance cannot. */
typedef struct hint {
    const char *key, *text;
} hint;

static int check_keys_hinted(const snn_pr *r, const toml_value *t, const char *tpath, const char *const *allowed,
                             int n, const hint *hints, int nh) {
    for (size_t k = 0; k < t->nkeys; k++) {
        int known = 0;
        for (int i = 0; i < n && !known; i++) known = strcmp(t->keys[k], allowed[i]) == 0;
        for (int i = 0; i < nh && !known; i++)
            if (strcmp(t->keys[k], hints[i].key) == 0)
                return snn_pr_fail(r, t->vals[k]->line, tpath, t->keys[k], "%s", hints[i].text);
    }
    return snn_pr_check_keys(r, t, tpath, allowed, n);
}

static const char NO_BATCH[] =
    "not a stage-4 key: the trials (and their number) come from the teacher data";

int snn_params_check_steps(const snn_pr *r, const toml_value *t, const char *tpath, const snn_sim_params *s) {
    if (!s->has_duration || !s->has_dt) return SNN_OK;
    double steps = s->duration / s->dt;
    if (steps <= (double)SNN_MAX_STEPS) return SNN_OK;
    const toml_value *d = toml_get(t, "duration");
    return snn_pr_fail(r, d ? d->line : t->line, tpath, "duration",
                       "%g ms at dt = %g ms is %.3g time steps, more than %lld (the most one run may take; check "
                       "duration and dt)",
                       s->duration, s->dt, steps, (long long)SNN_MAX_STEPS);
}

/* One setting with a key in [simulation] and one in [training] (tr may be NULL); has may be NULL. */
static int read_either_int(const snn_pr *r, const toml_value *sim, const toml_value *tr, const char *skey,
                           const char *tkey, int64_t min, int64_t max, int64_t *out, int *has) {
    const toml_value *a = toml_get(sim, skey), *b = tr ? toml_get(tr, tkey) : NULL;
    if (a && b)
        return snn_pr_fail(r, b->line, "training", tkey,
                           "the same setting as [simulation] %s (line %d): write only one of them", skey, a->line);
    if (b) return snn_pr_int(r, tr, "training", tkey, 1, min, max, out, has);
    return snn_pr_int(r, sim, "simulation", skey, 0, min, max, out, has);
}

/* The key of a setting as the file spells it: [training] key when given there, else [simulation]. */
static const toml_value *either(const toml_value *sim, const toml_value *tr, const char *skey, const char *tkey,
                                const char **tpath, const char **key) {
    const toml_value *b = tr ? toml_get(tr, tkey) : NULL;
    if (b) {
        *tpath = "training";
        *key = tkey;
        return b;
    }
    *tpath = "simulation";
    *key = skey;
    return toml_get(sim, skey);
}

/* plot_size chunks of trial 0 are kept in memory: at most SNN_MAX_STEPS time steps. */
static int check_plot_size(const snn_pr *r, const toml_value *sim, const toml_value *tr, const snn_sim_params *s,
                           const snn_train_params *tp) {
    if (tp->plot_size <= SNN_MAX_STEPS / s->chunk_size) return SNN_OK;
    const char *tpath, *key;
    const toml_value *v = either(sim, tr, "plot_size", "plot_size", &tpath, &key);
    return snn_pr_fail(r, v ? v->line : sim->line, tpath, key,
                       "%lld chunks of %lld steps are more than %lld time steps (the most one run may take)",
                       (long long)tp->plot_size, (long long)s->chunk_size, (long long)SNN_MAX_STEPS);
}

/* An accumulation window longer than the run would never end in an optimiser step. */
static int check_accumulation(const snn_pr *r, const toml_value *sim, const toml_value *tr,
                              const snn_train_params *tp, int64_t iterations) {
    if (tp->accumulation_interval <= iterations) return SNN_OK;
    const char *tpath, *key;
    const toml_value *v = either(sim, tr, "accumulation_interval", "chunks_per_update", &tpath, &key);
    return snn_pr_fail(r, v ? v->line : sim->line, tpath, key,
                       "%lld iterations per optimiser step, but the run has only %lld iterations: no step would "
                       "ever be taken",
                       (long long)tp->accumulation_interval, (long long)iterations);
}

int snn_params_train_accumulation_check(const snn_params *p, int64_t iterations, snn_error *err) {
    const snn_train_params *tp = &p->train;
    if (tp->accumulation_interval <= iterations) return SNN_OK;
    return snn_fail(err, SNN_EINPUT,
                    "%s: accumulation_interval (chunks_per_update) is %lld iterations per optimiser step, but the run "
                    "has only %lld iterations: no step would ever be taken",
                    p->path, (long long)tp->accumulation_interval, (long long)iterations);
}

int snn_params_train_schedule(const snn_pr *r, const toml_value *root, snn_params *p) {
    snn_sim_params *s = &p->sim;
    snn_train_params *tp = &p->train;
    const toml_value *sim, *tr;
    int rc;
    if ((rc = snn_pr_table(r, root, "", "simulation", 1, &sim))) return rc;
    if ((rc = snn_pr_table(r, root, "", "training", 0, &tr))) return rc;

    static const hint sim_hints[] = {
        {"batch_size", NO_BATCH},
        {"duration", "not a stage-4 key: the run's length is [simulation] epochs (iterations) or [training] "
                     "epochs (passes over the teacher data)"},
        {"chunks_per_update", "belongs in [training]; here it is called accumulation_interval"},
        {"optimisable", "belongs in [training]"},
        {"weight_perturbation_variance", "belongs in [training]"},
        {"grad_norm_clip", "belongs in [training]"},
        {"mixed_precision", "belongs in [training]"},
    };
    if ((rc = check_keys_hinted(r, sim, "simulation", TRAIN_SIM_KEYS, ARRLEN(TRAIN_SIM_KEYS), sim_hints,
                                ARRLEN(sim_hints))))
        return rc;
    static const hint tr_hints[] = {
        {"batch_size", NO_BATCH},
        {"accumulation_interval",
         "not a key of [training]: write chunks_per_update here, or accumulation_interval under [simulation]"},
        {"seed", "belongs in [simulation]"},
        {"chunk_size", "belongs in [simulation]"},
        {"dt", "belongs in [simulation]"},
    };
    if (tr && (rc = check_keys_hinted(r, tr, "training", TRAIN_TRAINING_KEYS, ARRLEN(TRAIN_TRAINING_KEYS),
                                      tr_hints, ARRLEN(tr_hints))))
        return rc;

    int64_t seed = 0;
    if ((rc = snn_pr_int(r, sim, "simulation", "seed", 1, 0, INT64_MAX, &seed, NULL))) return rc;
    s->seed = (uint64_t)seed;
    if ((rc = snn_pr_int(r, sim, "simulation", "chunk_size", 1, 1, SNN_MAX_STEPS, &s->chunk_size, NULL))) return rc;
    /* dt is the teacher data's; a value here is a check the stage makes against it */
    if ((rc = snn_pr_num(r, sim, "simulation", "dt", 0, SNN_DOM_POS, &s->dt, &s->has_dt))) return rc;

    /* how long: the two epochs mean different things, so exactly one must be given */
    const toml_value *it = toml_get(sim, "epochs"), *pa = tr ? toml_get(tr, "epochs") : NULL;
    if (it && pa)
        return snn_pr_fail(r, pa->line, "training", "epochs",
                           "[simulation] epochs (line %d) is given too; give exactly one: [simulation] epochs "
                           "counts iterations, [training] epochs passes over the teacher data",
                           it->line);
    if (!it && !pa)
        return snn_fail(r->err, SNN_EINPUT,
                        "%s:%d: [simulation] is missing required key 'epochs' (the number of iterations; or give "
                        "[training] epochs, the number of passes over the teacher data)",
                        r->file, sim->line);
    if (it && (rc = snn_pr_int(r, sim, "simulation", "epochs", 1, 1, SNN_MAX_ITERATIONS, &tp->iterations,
                               &tp->has_iterations)))
        return rc;
    if (pa && (rc = snn_pr_int(r, tr, "training", "epochs", 1, 1, SNN_MAX_ITERATIONS, &tp->passes, &tp->has_passes)))
        return rc;

    tp->accumulation_interval = 1;
    tp->checkpoint_interval = 50;
    tp->plot_size = 1;
    int has_log = 0, has_plot = 0;
    const int64_t MI = SNN_MAX_ITERATIONS;
    if ((rc = read_either_int(r, sim, tr, "accumulation_interval", "chunks_per_update", 1, MI,
                              &tp->accumulation_interval, NULL)))
        return rc;
    if ((rc = read_either_int(r, sim, tr, "checkpoint_interval", "checkpoint_interval", 1, MI, &tp->checkpoint_interval,
                              NULL)))
        return rc;
    if ((rc = read_either_int(r, sim, tr, "log_interval", "log_interval", 1, MI, &tp->log_interval, &has_log)))
        return rc;
    if ((rc = read_either_int(r, sim, tr, "plot_interval", "plot_interval", 1, MI, &tp->plot_interval, &has_plot)))
        return rc;
    if ((rc = read_either_int(r, sim, tr, "plot_size", "plot_size", 1, SNN_MAX_STEPS, &tp->plot_size, NULL))) return rc;
    if ((rc = check_plot_size(r, sim, tr, s, tp))) return rc;
    if (tp->has_iterations && (rc = check_accumulation(r, sim, tr, tp, tp->iterations))) return rc;
    /* the seed logs and plots at every weight update */
    if (!has_log) tp->log_interval = tp->accumulation_interval;
    if (!has_plot) tp->plot_interval = tp->accumulation_interval;

    tp->weight_perturbation_variance = 0;
    tp->optimisable = SNN_OPT_SCALING_FACTORS;
    set_method_defaults(tp);
    if (!tr) return SNN_OK;
    if ((rc = snn_pr_num(r, tr, "training", "weight_perturbation_variance", 0, SNN_DOM_NONNEG,
                         &tp->weight_perturbation_variance, NULL)))
        return rc;
    if ((rc = read_training_options(r, tr, tp))) return rc;
    return read_method(r, tr, tp);
}

static void set_method_defaults(snn_train_params *tp) {
    tp->method = SNN_METHOD_CLOSED_LOOP;
    tp->optimiser = SNN_OPTIMISER_ADAM;
    tp->has_fit_steps = 0;
    tp->fit_steps = 0;
    tp->burn_in = 0;
    tp->lbfgs_history = 10;
    tp->gradient_tolerance = 1e-5;
    tp->change_tolerance = 1e-9;
    tp->eval_chunks = -1;
    tp->spike_time_delta = 0.2;
    tp->spike_time_loss = 0;
}

static int read_choice(const snn_pr *r, const toml_value *t, const char *tpath, const char *key,
                       const char *const *choices, int n, int *out, int *has) {
    char buf[64];
    int given = 0, rc;
    if ((rc = snn_pr_str(r, t, tpath, key, 0, buf, sizeof buf, &given))) return rc;
    if (has) *has = given;
    if (!given) return SNN_OK;
    for (int i = 0; i < n; i++)
        if (!strcmp(buf, choices[i])) {
            *out = i;
            return SNN_OK;
        }
    char list[256] = "";
    for (int i = 0; i < n; i++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s\"%s\"", i ? (i == n - 1 ? " or " : ", ") : "", choices[i]);
    }
    return snn_pr_fail(r, toml_get(t, key)->line, tpath, key, "expected %s, got \"%s\"", list, buf);
}

/* Stage 4's [training] method, optimiser and the keys of the teacher-forced fit. */
static int read_method(const snn_pr *r, const toml_value *tr, snn_train_params *tp) {
    int rc, m = 0, o = 0, has_o = 0;
    const char *t = "training";
    if ((rc = read_choice(r, tr, t, "method", METHODS, ARRLEN(METHODS), &m, NULL))) return rc;
    tp->method = (snn_method)m;
    /* full-batch L-BFGS where the loss is a smooth function of the whole data; Adam otherwise */
    o = tp->method == SNN_METHOD_TEACHER_FORCED ? SNN_OPTIMISER_LBFGS : SNN_OPTIMISER_ADAM;
    if ((rc = read_choice(r, tr, t, "optimiser", OPTIMISERS, ARRLEN(OPTIMISERS), &o, &has_o))) return rc;
    tp->optimiser = (snn_optimiser)o;
    if (tp->optimiser == SNN_OPTIMISER_LBFGS && tp->method != SNN_METHOD_TEACHER_FORCED)
        return snn_pr_fail(r, toml_get(tr, "optimiser")->line, t, "optimiser",
                           "\"lbfgs\" needs method = \"teacher_forced\": closed-loop losses are chunk by chunk "
                           "with truncated gradients, which a line search cannot use; use \"adam\"");
    if ((rc = snn_pr_int(r, tr, t, "fit_steps", 0, 1, INT64_MAX, &tp->fit_steps, &tp->has_fit_steps))) return rc;
    if ((rc = snn_pr_num(r, tr, t, "burn_in", 0, SNN_DOM_NONNEG, &tp->burn_in, NULL))) return rc;
    if ((rc = snn_pr_int(r, tr, t, "lbfgs_history", 0, 1, 1000, &tp->lbfgs_history, NULL))) return rc;
    if ((rc = snn_pr_num(r, tr, t, "gradient_tolerance", 0, SNN_DOM_NONNEG, &tp->gradient_tolerance, NULL)))
        return rc;
    if ((rc = snn_pr_num(r, tr, t, "change_tolerance", 0, SNN_DOM_NONNEG, &tp->change_tolerance, NULL))) return rc;
    int has_eval = 0;
    if ((rc = snn_pr_int(r, tr, t, "eval_chunks", 0, 1, INT64_MAX, &tp->eval_chunks, &has_eval))) return rc;
    if (!has_eval) tp->eval_chunks = -1;
    return SNN_OK;
}

/* Stage 2. The reference's layout: the run's length is [simulation] duration, the trials are
 * [training] batch_size; the intervals take the stage-4 defaults when absent. */
int snn_params_homeostatic_schedule(const snn_pr *r, const toml_value *root, snn_params *p) {
    snn_sim_params *s = &p->sim;
    snn_train_params *tp = &p->train;
    const toml_value *sim, *tr;
    int rc;
    if ((rc = snn_pr_table(r, root, "", "simulation", 1, &sim))) return rc;
    if ((rc = snn_pr_table(r, root, "", "training", 1, &tr))) return rc;
    static const hint sim_hints[] = {
        {"batch_size", "belongs in [training] (the number of trials)"},
        {"epochs", "not a stage-2 key: the run has int(duration / (chunk_size * dt)) iterations"},
        {"accumulation_interval", "not a stage-2 key: write [training] chunks_per_update"},
        {"checkpoint_interval", "belongs in [training]"},
        {"log_interval", "belongs in [training]"},
        {"plot_interval", "belongs in [training]"},
        {"plot_size", "belongs in [training]"},
    };
    if ((rc = check_keys_hinted(r, sim, "simulation", HOMEO_SIM_KEYS, ARRLEN(HOMEO_SIM_KEYS), sim_hints,
                                ARRLEN(sim_hints))))
        return rc;
    static const hint tr_hints[] = {
        {"epochs", "not a stage-2 key: the run has int([simulation] duration / (chunk_size * dt)) iterations"},
        {"weight_perturbation_variance", "a stage-4 key: stage 2 has no teacher whose weights it perturbs"},
        {"accumulation_interval", "not a key of [training]: write chunks_per_update"},
        {"seed", "belongs in [simulation]"},
        {"chunk_size", "belongs in [simulation]"},
        {"dt", "belongs in [simulation]"},
        {"duration", "belongs in [simulation]"},
    };
    if ((rc = check_keys_hinted(r, tr, "training", HOMEO_TRAINING_KEYS, ARRLEN(HOMEO_TRAINING_KEYS), tr_hints,
                                ARRLEN(tr_hints))))
        return rc;

    if ((rc = snn_pr_num(r, sim, "simulation", "dt", 1, SNN_DOM_POS, &s->dt, &s->has_dt))) return rc;
    if ((rc = snn_pr_num(r, sim, "simulation", "duration", 1, SNN_DOM_POS, &s->duration, &s->has_duration)))
        return rc;
    int64_t seed = 0;
    if ((rc = snn_pr_int(r, sim, "simulation", "seed", 1, 0, INT64_MAX, &seed, NULL))) return rc;
    s->seed = (uint64_t)seed;
    if ((rc = snn_pr_int(r, sim, "simulation", "chunk_size", 1, 1, SNN_MAX_STEPS, &s->chunk_size, NULL))) return rc;
    if ((rc = snn_params_check_steps(r, sim, "simulation", s))) return rc;
    /* initial_state/ and final_state/ hold a 10 s run */
    if (10000.0 / s->dt > (double)SNN_MAX_STEPS)
        return snn_pr_fail(r, toml_get(sim, "dt")->line, "simulation", "dt",
                           "%g ms: the 10 s runs of initial_state/ and final_state/ would take more than %lld time steps",
                           s->dt, (long long)SNN_MAX_STEPS);
    char opt[64];
    int has_opt = 0;
    /* the reference's SimulationConfig has this field but never reads it: validated, then ignored */
    if ((rc = snn_pr_str(r, sim, "simulation", "optimisable", 0, opt, sizeof opt, &has_opt))) return rc;
    if (has_opt && optimisable_index(opt) < 0)
        return snn_pr_fail(r, toml_get(sim, "optimisable")->line, "simulation", "optimisable",
                           "expected one of \"scaling_factors\", \"scaling_factors_recurrent\", "
                           "\"scaling_factors_feedforward\", \"weights\", got \"%s\"",
                           opt);
    tp->iterations = snn_params_num_chunks(s);
    tp->has_iterations = 1;
    if (tp->iterations < 1)
        return snn_pr_fail(r, toml_get(sim, "duration")->line, "simulation", "duration",
                           "%g ms is shorter than one chunk (chunk_size x dt = %g ms): nothing to train", s->duration,
                           (double)s->chunk_size * s->dt);

    if ((rc = snn_pr_int(r, tr, "training", "batch_size", 1, 1, SNN_MAX_TRIALS, &s->batch_size, &s->has_batch_size)))
        return rc;
    tp->accumulation_interval = 1;
    tp->checkpoint_interval = 50;
    tp->plot_size = 1;
    int has_log = 0, has_plot = 0;
    const char *t = "training";
    const int64_t MI = SNN_MAX_ITERATIONS;
    if ((rc = snn_pr_int(r, tr, t, "chunks_per_update", 0, 1, MI, &tp->accumulation_interval, NULL))) return rc;
    if ((rc = snn_pr_int(r, tr, t, "checkpoint_interval", 0, 1, MI, &tp->checkpoint_interval, NULL))) return rc;
    if ((rc = snn_pr_int(r, tr, t, "log_interval", 0, 1, MI, &tp->log_interval, &has_log))) return rc;
    if ((rc = snn_pr_int(r, tr, t, "plot_interval", 0, 1, MI, &tp->plot_interval, &has_plot))) return rc;
    if ((rc = snn_pr_int(r, tr, t, "plot_size", 0, 1, SNN_MAX_STEPS, &tp->plot_size, NULL))) return rc;
    if ((rc = check_plot_size(r, sim, tr, s, tp))) return rc;
    if ((rc = check_accumulation(r, sim, tr, tp, tp->iterations))) return rc;
    if (!has_log) tp->log_interval = tp->accumulation_interval;
    if (!has_plot) tp->plot_interval = tp->accumulation_interval;
    tp->weight_perturbation_variance = 0;
    tp->optimisable = SNN_OPT_SCALING_FACTORS;
    set_method_defaults(tp);
    return read_training_options(r, tr, tp);
}

/* [training] grad_norm_clip, mixed_precision and optimisable, which both stages spell alike. */
static int read_training_options(const snn_pr *r, const toml_value *tr, snn_train_params *tp) {
    int rc;
    if ((rc = snn_pr_num(r, tr, "training", "grad_norm_clip", 0, SNN_DOM_POS, &tp->grad_norm_clip,
                         &tp->has_grad_norm_clip)))
        return rc;
    int mp = 0;
    if ((rc = snn_pr_bool(r, tr, "training", "mixed_precision", 0, &mp, &tp->mixed_precision_given))) return rc;
    char opt[64];
    int has_opt = 0;
    if ((rc = snn_pr_str(r, tr, "training", "optimisable", 0, opt, sizeof opt, &has_opt))) return rc;
    if (has_opt) {
        int k = optimisable_index(opt);
        if (k < 0)
            return snn_pr_fail(r, toml_get(tr, "optimisable")->line, "training", "optimisable",
                               "expected one of \"scaling_factors\", \"scaling_factors_recurrent\", "
                               "\"scaling_factors_feedforward\", \"weights\", got \"%s\"",
                               opt);
        tp->optimisable = (snn_optimisable)k;
    }
    return SNN_OK;
}

/* ---------------------------------------------------------------------------------------------- */

/* Which of two spellings of one key a table uses (NULL: neither); both is an error naming both. */
static int one_spelling(const snn_pr *r, const toml_value *t, const char *tpath, const char *k1, const char *k2,
                        const char **key) {
    const toml_value *a = toml_get(t, k1), *b = toml_get(t, k2);
    *key = a ? k1 : b ? k2 : NULL;
    if (!a || !b) return SNN_OK;
    const char *later = a->line >= b->line ? k1 : k2, *earlier = later == k1 ? k2 : k1;
    return snn_pr_fail(r, toml_get(t, later)->line, tpath, later,
                       "the same setting as %s (line %d): write only one of them", earlier,
                       toml_get(t, earlier)->line);
}

static int load_targets(const snn_pr *r, const toml_value *root, snn_params *p) {
    snn_train_params *tp = &p->train;
    const snn_layer_params *rec = &p->rec;
    int n = rec->n_types;
    for (int i = 0; i < n; i++) {
        tp->alpha[i] = 0.01;
        tp->threshold_ratio[i] = 0.8;
    }
    tp->target_weight_ratio = 2.0;
    /* stage 2 has no teacher: its rate targets must be given, and its CV target is the reference's 1
     * (a Poisson-like irregularity) unless given */
    const int homeo = p->stage == SNN_STAGE_HOMEOSTATIC;
    if (homeo) {
        for (int i = 0; i < n; i++) tp->target_cv[i] = 1.0;
        tp->has_target_cvs = 1;
    }
    const toml_value *t;
    int rc;
    if ((rc = snn_pr_table(r, root, "", "targets", homeo, &t))) return rc;
    if (!t) return SNN_OK;
    if ((rc = snn_pr_check_keys(r, t, "targets", TARGET_KEYS, ARRLEN(TARGET_KEYS)))) return rc;
    const char *names[SNN_MAX_TYPES];
    for (int i = 0; i < n; i++) names[i] = rec->type_names[i];
    const char *what = "a recurrent cell type";
    const char *key;
    if ((rc = one_spelling(r, t, "targets", "firing_rates", "firing_rate", &key))) return rc;
    if (!key && homeo)
        return snn_fail(r->err, SNN_EINPUT,
                        "%s:%d: [targets] is missing required key 'firing_rate' (Hz, one number or one per recurrent "
                        "cell type: stage 2 has no teacher whose rates it could match)",
                        r->file, t->line);
    if (key && (rc = snn_pr_per_type(r, t, "targets", key, 1, SNN_DOM_RATE, names, n, what, tp->target_rate,
                                     &tp->has_target_rates)))
        return rc;
    if ((rc = one_spelling(r, t, "targets", "cvs", "cv", &key))) return rc;
    if (key && (rc = snn_pr_per_type(r, t, "targets", key, 1, SNN_DOM_NONNEG, names, n, what, tp->target_cv,
                                     &tp->has_target_cvs)))
        return rc;
    if ((rc = snn_pr_per_type(r, t, "targets", "alpha", 0, SNN_DOM_NONNEG, names, n, what, tp->alpha, NULL)))
        return rc;
    if ((rc = snn_pr_per_type(r, t, "targets", "threshold_ratio", 0, SNN_DOM_NONNEG, names, n, what,
                              tp->threshold_ratio, NULL)))
        return rc;
    /* a ratio of two means of positive factors: 0 could only be approached by silencing the network */
    return snn_pr_num(r, t, "targets", "weight_ratio", 0, SNN_DOM_POS, &tp->target_weight_ratio, NULL);
}

static int load_hyperparameters(const snn_pr *r, const toml_value *root, snn_params *p) {
    snn_train_params *tp = &p->train;
    const toml_value *t, *lw;
    int rc;
    if ((rc = snn_pr_table(r, root, "", "hyperparameters", 1, &t))) return rc;
    static const char NO_TEACHER[] = "a stage-4 key: stage 2 has no teacher spikes to compare with";
    static const hint homeo_hints[] = {{"van_rossum_tau", NO_TEACHER},
                                       {"van_rossum_tau_rise", NO_TEACHER},
                                       {"van_rossum_tau_decay", NO_TEACHER},
                                       {"spike_time_delta", NO_TEACHER},
                                       {"spike_time_loss", NO_TEACHER}};
    /* stage 2 knows every key but the van Rossum ones (first in HP_KEYS and in LOSS_NAMES) */
    const int homeo = p->stage == SNN_STAGE_HOMEOSTATIC;
    if (homeo) {
        rc = check_keys_hinted(r, t, "hyperparameters", HP_KEYS_HOMEO, ARRLEN(HP_KEYS_HOMEO), homeo_hints,
                               ARRLEN(homeo_hints));
    } else {
        rc = snn_pr_check_keys(r, t, "hyperparameters", HP_KEYS, ARRLEN(HP_KEYS));
    }
    if (rc) return rc;
    const char *hp = "hyperparameters";
    /* L-BFGS chooses its steps by a line search: no learning rate */
    const int need_lr = homeo || tp->optimiser == SNN_OPTIMISER_ADAM;
    if ((rc = snn_pr_num(r, t, hp, "learning_rate", need_lr, SNN_DOM_POS, &tp->learning_rate, NULL))) return rc;
    if (!homeo) {
        if ((rc = snn_pr_num(r, t, hp, "spike_time_delta", 0, SNN_DOM_POS, &tp->spike_time_delta, NULL))) return rc;
        if ((rc = read_choice(r, t, hp, "spike_time_loss", SPIKE_TIME_LOSSES, ARRLEN(SPIKE_TIME_LOSSES),
                              &tp->spike_time_loss, NULL)))
            return rc;
    }
    /* the reference's defaults: 200 in stage 2, 500 in stage 4 */
    tp->surrgrad_scale = homeo ? 200 : 500;
    if ((rc = snn_pr_num(r, t, hp, "surrgrad_scale", 0, SNN_DOM_POS, &tp->surrgrad_scale, NULL))) return rc;
    tp->surrogate_cutoff = 0;
    if ((rc = snn_pr_num(r, t, hp, "surrogate_cutoff", 0, SNN_DOM_NONNEG, &tp->surrogate_cutoff, NULL))) return rc;
    if (tp->surrogate_cutoff >= 1)
        return snn_pr_fail(r, toml_get(t, "surrogate_cutoff")->line, hp, "surrogate_cutoff",
                           "must be below 1 (a fraction of the surrogate's peak; 0 is the exact gradient), got %g",
                           tp->surrogate_cutoff);
    /* the cutoff approximates the closed loop's reverse pass; a forced student's gradients never use it */
    if (!homeo && tp->method == SNN_METHOD_TEACHER_FORCED && tp->surrogate_cutoff > 0)
        return snn_pr_fail(r, toml_get(t, "surrogate_cutoff")->line, hp, "surrogate_cutoff",
                           "applies to method = \"closed_loop\" only (it approximates the closed loop's reverse "
                           "pass; teacher forcing has its own exact gradients): remove it or set it to 0");

    tp->van_rossum_tau = 10;
    int has_tau = 0, has_rise = 0, has_decay = 0;
    if ((rc = snn_pr_num(r, t, hp, "van_rossum_tau", 0, SNN_DOM_POS, &tp->van_rossum_tau, &has_tau))) return rc;
    if ((rc = snn_pr_num(r, t, hp, "van_rossum_tau_rise", 0, SNN_DOM_POS, &tp->van_rossum_tau_rise, &has_rise)))
        return rc;
    if ((rc = snn_pr_num(r, t, hp, "van_rossum_tau_decay", 0, SNN_DOM_POS, &tp->van_rossum_tau_decay, &has_decay)))
        return rc;
    if (has_rise != has_decay) {
        const char *given = has_rise ? "van_rossum_tau_rise" : "van_rossum_tau_decay";
        return snn_pr_fail(r, toml_get(t, given)->line, hp, given,
                           "van_rossum_tau_rise and van_rossum_tau_decay go together (the difference-of-exponentials "
                           "kernel needs both); %s is missing",
                           has_rise ? "van_rossum_tau_decay" : "van_rossum_tau_rise");
    }
    if (has_rise) {
        if (has_tau)
            return snn_pr_fail(r, toml_get(t, "van_rossum_tau")->line, hp, "van_rossum_tau",
                               "give either van_rossum_tau (an exponential kernel) or van_rossum_tau_rise and "
                               "van_rossum_tau_decay (a difference of exponentials), not both");
        if (!(tp->van_rossum_tau_rise < tp->van_rossum_tau_decay))
            return snn_pr_fail(r, toml_get(t, "van_rossum_tau_decay")->line, hp, "van_rossum_tau_decay",
                               "must be greater than van_rossum_tau_rise (%g ms), got %g ms",
                               tp->van_rossum_tau_rise, tp->van_rossum_tau_decay);
        tp->has_van_rossum_rise_decay = 1;
    }

    if ((rc = snn_pr_table(r, t, hp, "loss_weight", 0, &lw))) return rc;
    const char *const *names = LOSS_NAMES;
    const int first = homeo ? HOMEO_LOSS_FIRST : 0, count = homeo ? HOMEO_LOSS_COUNT : SNN_N_LOSSES;
    double with_gradient = 0;
    if (lw) {
        static const hint homeo_loss_hints[] = {{"van_rossum", NO_TEACHER}, {"spike_time", NO_TEACHER}};
        if (homeo)
            rc = check_keys_hinted(r, lw, "hyperparameters.loss_weight", names + first, count, homeo_loss_hints, 2);
        else
            rc = snn_pr_check_keys(r, lw, "hyperparameters.loss_weight", names, SNN_N_LOSSES);
        if (rc) return rc;
        for (int i = first; i < first + count; i++) {
            if ((rc = snn_pr_num(r, lw, "hyperparameters.loss_weight", names[i], 0, SNN_DOM_NONNEG, &tp->loss_weight[i],
                                 NULL)))
                return rc;
            if (i != SNN_LOSS_CV) with_gradient += tp->loss_weight[i];
        }
    }
    if (!homeo && tp->method == SNN_METHOD_TEACHER_FORCED) {
        /* a forced student has no spikes of its own: the losses that compare its spikes do not apply */
        for (int i = 0; i < SNN_N_LOSSES; i++) {
            if (i == SNN_LOSS_SPIKE_TIME || i == SNN_LOSS_WEIGHT_RATIO || tp->loss_weight[i] == 0) continue;
            return snn_pr_fail(r, toml_get(lw, names[i])->line, "hyperparameters.loss_weight", names[i],
                               "method = \"teacher_forced\" fits the spike-time loss (and optionally weight_ratio); "
                               "%s compares the student's own spikes, which a forced student does not have: set it "
                               "to 0 or use method = \"closed_loop\"",
                               names[i]);
        }
        if (!(tp->loss_weight[SNN_LOSS_SPIKE_TIME] > 0))
            return snn_pr_fail(r, lw ? lw->line : t->line, hp, "loss_weight",
                               "method = \"teacher_forced\" needs loss_weight.spike_time > 0 (the loss it fits)");
    }
    if (!homeo && tp->method == SNN_METHOD_CLOSED_LOOP && tp->loss_weight[SNN_LOSS_SPIKE_TIME] > 0)
        return snn_pr_fail(r, toml_get(lw, "spike_time")->line, "hyperparameters.loss_weight", "spike_time",
                           "the spike-time loss needs [training] method = \"teacher_forced\" (it compares the "
                           "voltage of a student driven by the teacher's spikes)");
    if (with_gradient == 0) {
        int line = lw ? lw->line : t->line;
        if (tp->loss_weight[SNN_LOSS_CV] > 0)
            return snn_pr_fail(r, line, hp, "loss_weight",
                               "only the cv loss has a weight, and it has no gradient (it is logged only): nothing "
                               "to train; give %sfiring_rate, silent_penalty, membrane_variance or "
                               "weight_ratio a weight > 0",
                               homeo ? "" : "van_rossum, ");
        return snn_pr_fail(r, line, hp, "loss_weight",
                           "every loss weight is 0: nothing to train; give at least one of %sfiring_rate, "
                           "silent_penalty, membrane_variance, weight_ratio a weight > 0",
                           homeo ? "" : "van_rossum, ");
    }
    return SNN_OK;
}

static int load_scaling_factors(const snn_pr *r, const toml_value *root, snn_params *p) {
    snn_train_params *tp = &p->train;
    const snn_layer_params *rec = &p->rec, *ff = &p->ff;
    for (int i = 0; i < SNN_MAX_TYPES; i++)
        for (int j = 0; j < SNN_MAX_TYPES; j++) tp->sf_init[i][j] = tp->sf_ff_init[i][j] = 1.0;
    const toml_value *t;
    int rc;
    if ((rc = snn_pr_table(r, root, "", "scaling_factors", 0, &t))) return rc;
    if (!t) return SNN_OK;
    if ((rc = snn_pr_check_keys(r, t, "scaling_factors", SF_KEYS, ARRLEN(SF_KEYS)))) return rc;
    const char *rn[SNN_MAX_TYPES], *fn[SNN_MAX_TYPES];
    for (int i = 0; i < rec->n_types; i++) rn[i] = rec->type_names[i];
    for (int i = 0; i < ff->n_types; i++) fn[i] = ff->type_names[i];
    /* > 0: the factors multiply log-normal weights and the reference rejects others at construction */
    if ((rc = snn_pr_matrix(r, t, "scaling_factors", "recurrent", 0, SNN_DOM_FACTOR, rec->n_types, rn, rec->n_types, rn,
                            &tp->sf_init[0][0], SNN_MAX_TYPES, NULL)))
        return rc;
    return snn_pr_matrix(r, t, "scaling_factors", "feedforward", 0, SNN_DOM_FACTOR, ff->n_types, fn, rec->n_types, rn,
                         &tp->sf_ff_init[0][0], SNN_MAX_TYPES, NULL);
}

static int load_wandb(const snn_pr *r, const toml_value *root, snn_params *p) {
    snn_wandb_params *w = &p->wandb;
    const toml_value *t;
    int rc;
    if ((rc = snn_pr_table(r, root, "", "wandb", 0, &t))) return rc;
    if (!t) return SNN_OK;
    if ((rc = snn_pr_check_keys(r, t, "wandb", WANDB_KEYS, ARRLEN(WANDB_KEYS)))) return rc;
    if ((rc = snn_pr_bool(r, t, "wandb", "enabled", 0, &w->enabled, NULL))) return rc;
    if ((rc = snn_pr_str(r, t, "wandb", "project", 0, w->project, sizeof w->project, NULL))) return rc;
    if ((rc = snn_pr_str(r, t, "wandb", "entity", 0, w->entity, sizeof w->entity, NULL))) return rc;
    if ((rc = snn_pr_str(r, t, "wandb", "notes", 0, w->notes, sizeof w->notes, NULL))) return rc;
    if ((rc = snn_pr_str_list(r, t, "wandb", "tags", 0, &w->tags[0][0], SNN_NAME_MAX, SNN_MAX_WANDB_TAGS, &w->n_tags,
                              NULL)))
        return rc;
    p->has_wandb = 1;
    return SNN_OK;
}

int snn_params_train_objective(const snn_pr *r, const toml_value *root, snn_params *p) {
    int rc;
    if ((rc = load_targets(r, root, p))) return rc;
    if ((rc = load_hyperparameters(r, root, p))) return rc;
    if ((rc = load_scaling_factors(r, root, p))) return rc;
    return load_wandb(r, root, p);
}

/* ---------------------------------------------------------------------------------------------- */

static void emit_keys(const char *prefix, const char *const *keys, int n, snn_params_key_cb cb, void *ctx) {
    for (int i = 0; i < n; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s.%s", prefix, keys[i]);
        cb(path, ctx);
    }
}

int snn_params_train_schema_table(snn_stage stage, const char *table, snn_params_key_cb cb, void *ctx) {
    const int homeo = stage == SNN_STAGE_HOMEOSTATIC;
    if (!strcmp(table, "simulation")) {
        if (homeo) emit_keys(table, HOMEO_SIM_KEYS, ARRLEN(HOMEO_SIM_KEYS), cb, ctx);
        else emit_keys(table, TRAIN_SIM_KEYS, ARRLEN(TRAIN_SIM_KEYS), cb, ctx);
    } else if (!strcmp(table, "training")) {
        if (homeo) emit_keys(table, HOMEO_TRAINING_KEYS, ARRLEN(HOMEO_TRAINING_KEYS), cb, ctx);
        else emit_keys(table, TRAIN_TRAINING_KEYS, ARRLEN(TRAIN_TRAINING_KEYS), cb, ctx);
    } else if (!strcmp(table, "targets")) {
        emit_keys(table, TARGET_KEYS, ARRLEN(TARGET_KEYS), cb, ctx);
    } else if (!strcmp(table, "hyperparameters")) {
        const char *const *keys = homeo ? HP_KEYS_HOMEO : HP_KEYS;
        int n = homeo ? ARRLEN(HP_KEYS_HOMEO) : ARRLEN(HP_KEYS);
        for (int i = 0; i < n; i++) {
            if (strcmp(keys[i], "loss_weight") == 0)
                emit_keys("hyperparameters.loss_weight", LOSS_NAMES + (homeo ? HOMEO_LOSS_FIRST : 0),
                          homeo ? HOMEO_LOSS_COUNT : SNN_N_LOSSES, cb, ctx);
            else
                emit_keys(table, keys + i, 1, cb, ctx);
        }
    } else if (!strcmp(table, "scaling_factors")) {
        emit_keys(table, SF_KEYS, ARRLEN(SF_KEYS), cb, ctx);
    } else if (!strcmp(table, "wandb")) {
        emit_keys(table, WANDB_KEYS, ARRLEN(WANDB_KEYS), cb, ctx);
    } else {
        return 0;
    }
    return 1;
}
