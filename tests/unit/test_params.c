#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "config/params.h"
#include "config/toml.h"
#include "testutil.h"

/* A small valid stage-1 file. Values are distinct where a test needs to find a line by its text. */
static const char *BASE_CONN =
    "[simulation]\n"
    "dt = 1.0\n"
    "duration = 1000.0\n"
    "seed = 7\n"
    "chunk_size = 100\n"
    "\n"
    "[feedforward.cell_types]\n"
    "names = [\"mitral\"]\n"
    "proportion = [1]\n"
    "\n"
    "[feedforward.topology]\n"
    "num_neurons = 10\n"
    "conn_inputs = [[0.5, 0.25]]\n"
    "\n"
    "[feedforward.weights]\n"
    "w_mu = [[0.5, 0.2]]\n"
    "w_sigma = [[0.1, 0.15]]\n"
    "\n"
    "[feedforward.activity.mitral]\n"
    "firing_rate = 6.0\n"
    "\n"
    "[feedforward.synapses.mitral]\n"
    "names = [\"AMPA\", \"NMDA\"]\n"
    "tau_rise = [0.1, 10.0]\n"
    "tau_decay = [5.0, 70.0]\n"
    "E_syn = [0.0, 0.0]\n"
    "g_bar = [0.42, 0.046]\n"
    "\n"
    "[recurrent.cell_types]\n"
    "names = [\"excitatory\", \"inhibitory\"]\n"
    "proportion = [0.8, 0.2]\n"
    "\n"
    "[recurrent.topology]\n"
    "num_neurons = 20\n"
    "num_assemblies = 2\n"
    "conn_within = [[0.2, 0.21], [0.4, 0.22]]\n"
    "conn_between = [[0.05, 0.06], [0.07, 0.08]]\n"
    "\n"
    "[recurrent.weights]\n"
    "w_mu = [[0.4, 0.41], [0.42, 0.43]]\n"
    "w_sigma = [[0.1, 0.11], [0.12, 0.13]]\n"
    "\n"
    "[recurrent.physiology.excitatory]\n"
    "tau_mem = 85.0\n"
    "theta = -38.0\n"
    "U_reset = -60.0\n"
    "E_L = -60.0\n"
    "g_L = 1.35\n"
    "tau_ref = 8.0\n"
    "\n"
    "[recurrent.synapses.excitatory]\n"
    "names = [\"AMPA\", \"NMDA\"]\n"
    "tau_rise = [0.1, 10.0]\n"
    "tau_decay = [5.0, 70.0]\n"
    "E_syn = [0.0, 0.0]\n"
    "g_bar = [0.41, 0.045]\n"
    "\n"
    "[recurrent.physiology.inhibitory]\n"
    "tau_mem = 50.0\n"
    "theta = -45.0\n"
    "U_reset = -61.0\n"
    "E_L = -62.0\n"
    "g_L = 0.9\n"
    "tau_ref = 7.0\n"
    "\n"
    "[recurrent.synapses.inhibitory]\n"
    "names = [\"GABA_A\"]\n"
    "tau_rise = [1.0]\n"
    "tau_decay = [6.0]\n"
    "E_syn = [-70.0]\n"
    "g_bar = [0.8]\n";

/* The synapses and physiology of the seed's two-type network, in its spelling (the stage-3 and stage-4
 * files below end with them). */
#define SEED_TYPES_TOML \
    "[feedforward.synapses.mitral]\n" \
    "names = [ \"AMPA\", \"NMDA\",]\n" \
    "tau_rise = [ 0.1, 10.0,]\n" \
    "tau_decay = [ 5.0, 70.0,]\n" \
    "E_syn = [ 0.0, 0.0,]\n" \
    "g_bar = [ 4.177, 0.448,]\n" \
    "\n" \
    "[recurrent.cell_types]\n" \
    "names = [ \"excitatory\", \"inhibitory\",]\n" \
    "\n" \
    "[recurrent.physiology.excitatory]\n" \
    "tau_mem = 85.0\n" \
    "theta = -38.0\n" \
    "U_reset = -60.0\n" \
    "E_L = -60.0\n" \
    "g_L = 1.35\n" \
    "tau_ref = 8.0\n" \
    "\n" \
    "[recurrent.synapses.excitatory]\n" \
    "names = [ \"AMPA\", \"NMDA\",]\n" \
    "tau_rise = [ 0.1, 10.0,]\n" \
    "tau_decay = [ 5.0, 70.0,]\n" \
    "E_syn = [ 0.0, 0.0,]\n" \
    "g_bar = [ 4.177, 0.448,]\n" \
    "\n" \
    "[recurrent.physiology.inhibitory]\n" \
    "tau_mem = 50.0\n" \
    "theta = -45.0\n" \
    "U_reset = -60.0\n" \
    "E_L = -60.0\n" \
    "g_L = 0.9\n" \
    "tau_ref = 8.0\n" \
    "\n" \
    "[recurrent.synapses.inhibitory]\n" \
    "names = [ \"GABA_A\",]\n" \
    "tau_rise = [ 1.0,]\n" \
    "tau_decay = [ 6.0,]\n" \
    "E_syn = [ -70.0,]\n" \
    "g_bar = [ 8.139,]\n"

/* A small valid stage-3 file. */
static const char *BASE_TEACHER =
    "[simulation]\n"
    "seed = 43\n"
    "dt = 0.5\n"
    "duration = 2000.0\n"
    "chunk_size = 100\n"
    "batch_size = 4\n"
    "plot_size = 10\n"
    "\n"
    "[feedforward.cell_types]\n"
    "names = [ \"mitral\",]\n"
    "\n"
    "[odours]\n"
    "tau = 700000.0\n"
    "temperature = 0.2\n"
    "sigma = 5.0\n"
    "\n"
    "[odours.mitral]\n"
    "baseline_rate = 6.0\n"
    "modulation_rate = 30.0\n"
    "modulation_fraction = 0.1\n"
    "\n"
    SEED_TYPES_TOML;

/* A small valid stage-4 file in the seed's spelling, with a [training] table to add the reference's
 * keys to. */
static const char *BASE_TRAIN =
    "[simulation]\n"
    "seed = 44\n"
    "chunk_size = 50\n"
    "epochs = 120\n"
    "accumulation_interval = 4\n"
    "\n"
    "[training]\n"
    "weight_perturbation_variance = 0.2\n"
    "optimisable = \"scaling_factors_recurrent\"\n"
    "\n"
    "[targets]\n"
    "alpha = 0.05\n"
    "\n"
    "[hyperparameters]\n"
    "learning_rate = 0.01\n"
    "van_rossum_tau = 150.0\n"
    "loss_weight.van_rossum = 2.0\n"
    "loss_weight.firing_rate = 0.5\n"
    "\n"
    "[feedforward.cell_types]\n"
    "names = [ \"mitral\",]\n"
    "\n"
    SEED_TYPES_TOML;

/* base with the first occurrence of old replaced by new (malloc'd). */
static char *mutate(const char *base, const char *old, const char *new_text) {
    const char *at = strstr(base, old);
    if (!at) fail_msg("test bug: '%s' not in the base text", old);
    size_t pre = (size_t)(at - base), lo = strlen(old), ln = strlen(new_text), lb = strlen(base);
    char *out = malloc(lb - lo + ln + 1);
    assert_non_null(out);
    memcpy(out, base, pre);
    memcpy(out + pre, new_text, ln);
    memcpy(out + pre + ln, at + lo, lb - pre - lo + 1);
    return out;
}

static int line_of(const char *text, const char *needle) {
    const char *at = strstr(text, needle);
    if (!at) fail_msg("test bug: anchor '%s' not in the mutated text", needle);
    int line = 1;
    for (const char *c = text; c < at; c++) line += *c == '\n';
    return line;
}

static snn_params P; /* large: keep it off the stack */

/* ---------------------------------------------------------------------------------------------- */

static void check_reference_physiology(const snn_params *p) {
    assert_int_equal(p->rec.n_types, 2);
    assert_string_equal(p->rec.type_names[0], "excitatory");
    assert_string_equal(p->rec.type_names[1], "inhibitory");
    assert_true(p->rec.has_physiology);
    assert_true(p->rec.physiology[0].tau_mem == 85.0);
    assert_true(p->rec.physiology[0].theta == -38.0);
    assert_true(p->rec.physiology[0].g_L == 1.35);
    assert_true(p->rec.physiology[1].tau_mem == 50.0);
    assert_true(p->rec.physiology[1].theta == -45.0);
    assert_true(p->rec.physiology[1].g_L == 0.9);
    assert_true(p->rec.physiology[1].tau_ref == 8.0);
    /* numbering: file order of the synapse tables, then names order; owner = presynaptic type */
    assert_int_equal(p->rec.n_synapses, 3);
    assert_string_equal(p->rec.synapses[0].name, "AMPA");
    assert_string_equal(p->rec.synapses[1].name, "NMDA");
    assert_string_equal(p->rec.synapses[2].name, "GABA_A");
    assert_int_equal(p->rec.synapses[0].owner, 0);
    assert_int_equal(p->rec.synapses[1].owner, 0);
    assert_int_equal(p->rec.synapses[2].owner, 1);
    assert_true(p->rec.synapses[1].tau_rise == 10.0);
    assert_true(p->rec.synapses[1].tau_decay == 70.0);
    assert_true(p->rec.synapses[2].E_syn == -70.0);
    assert_int_equal(p->ff.n_types, 1);
    assert_string_equal(p->ff.type_names[0], "mitral");
    assert_int_equal(p->ff.n_synapses, 2);
    assert_int_equal(p->ff.synapses[1].owner, 0);
}

static void test_reference_connectome_file(void **state) {
    (void)state;
    snn_error err = {0};
    const char *path = tu_src("tests/fixtures/reference-params/conductance-based-Dp.toml");
    if (snn_params_load(path, SNN_STAGE_CONNECTOME, &P, &err)) fail_msg("%s", err.msg);
    assert_string_equal(P.path, path);
    assert_true(P.sim.dt == 1.0);
    assert_true(P.sim.duration == 10000.0);
    assert_int_equal(P.sim.seed, 43);
    assert_int_equal(P.sim.chunk_size, 10000);
    assert_int_equal(snn_params_num_chunks(&P.sim), 1);
    assert_int_equal(P.rec.num_neurons, 5000);
    assert_int_equal(P.rec.num_assemblies, 20);
    assert_true(P.rec.conn_within[1][0] == 0.4);
    assert_true(P.rec.conn_within[0][1] == 0.2);
    assert_true(P.rec.conn_between[1][1] == 0.05);
    assert_true(P.rec.w_mu[1][0] == 0.4);
    assert_true(P.rec.w_sigma[0][1] == 0.1);
    assert_true(P.rec.proportion[0] == 0.8);
    assert_int_equal(P.ff.num_neurons, 1500);
    assert_true(P.ff.conn_inputs[0][1] == 0.05);
    assert_true(P.ff.w_mu[0][0] == 0.5);
    assert_true(P.ff.w_mu[0][1] == 0.2);
    assert_true(P.ff.has_activity);
    assert_true(P.ff.firing_rate[0] == 6.0);
    assert_true(P.ff.proportion[0] == 1.0);
    check_reference_physiology(&P);
    assert_true(P.rec.synapses[2].g_bar == 0.8139);
    assert_true(P.ff.synapses[0].g_bar == 0.4177);
    assert_false(P.has_odours);
    /* simulate accepts the same file */
    if (snn_params_load(path, SNN_STAGE_SIMULATE, &P, &err)) fail_msg("%s", err.msg);
    assert_true(P.rec.has_topology);
    assert_int_equal(P.sim.batch_size, 1);
    assert_false(P.sim.has_batch_size);
    assert_int_equal(P.tracking.n_trials, 1);
    assert_int_equal(P.tracking.trials[0], 0);
    assert_int_equal(P.tracking.n_neurons, 0);
    /* and the teacher stage rejects it: it has no odours and keys stage 3 does not know */
    assert_int_equal(snn_params_load(path, SNN_STAGE_TEACHER, &P, &err), SNN_EINPUT);
}

static void test_reference_teacher_file(void **state) {
    (void)state;
    snn_error err = {0};
    const char *path = tu_src("tests/fixtures/reference-params/generate-teacher-activity.toml");
    if (snn_params_load(path, SNN_STAGE_TEACHER, &P, &err)) fail_msg("%s", err.msg);
    assert_int_equal(P.sim.seed, 43);
    assert_true(P.sim.dt == 1.0);
    assert_int_equal(P.sim.chunk_size, 100);
    assert_int_equal(P.sim.batch_size, 50);
    assert_int_equal(P.sim.plot_size, 200);
    assert_int_equal(snn_params_num_chunks(&P.sim), 100);
    assert_true(P.has_odours);
    assert_true(P.ou_tau == 700000.0);
    assert_true(P.ou_temperature == 0.2);
    assert_true(P.ou_sigma == 5.0);
    assert_true(P.odours[0].baseline_rate == 6.0);
    assert_true(P.odours[0].modulation_rate == 30.0);
    assert_true(P.odours[0].modulation_fraction == 0.1);
    check_reference_physiology(&P);
    assert_true(P.rec.synapses[2].g_bar == 8.139);
    assert_true(P.rec.synapses[0].g_bar == 4.177);
    assert_false(P.rec.has_proportion);
    assert_false(P.rec.has_topology);
    if (snn_params_load(path, SNN_STAGE_SIMULATE, &P, &err)) fail_msg("%s", err.msg);
    assert_true(P.has_odours);
    assert_false(P.rec.has_topology);
    assert_int_equal(P.sim.batch_size, 50);
    assert_int_equal(snn_params_load(path, SNN_STAGE_CONNECTOME, &P, &err), SNN_EINPUT);
}

/* The stage-2 reference file is for a later loader; here it must parse as TOML with the layout the
 * reference uses (dotted keys). The stage-4 file's raw layout is checked too, since the loader test
 * below relies on it (no dt, a scaling_factors table of matrices). */
static void test_reference_later_stage_files_parse(void **state) {
    (void)state;
    snn_error err = {0};
    toml_value *hp = toml_parse_file(tu_src("tests/fixtures/reference-params/homeostatic-plasticity.toml"), &err);
    if (!hp) fail_msg("%s", err.msg);
    toml_value *lw = toml_get(toml_get(hp, "hyperparameters"), "loss_weight");
    assert_non_null(lw);
    assert_int_equal(lw->nkeys, 5);
    assert_true(toml_get(lw, "cv")->f == 0.5);
    assert_true(toml_get(toml_get(toml_get(hp, "targets"), "firing_rate"), "inhibitory")->f == 2.0);
    assert_int_equal(toml_get(toml_get(hp, "training"), "mixed_precision")->b, 0);
    toml_free(hp);
    toml_value *ts = toml_parse_file(tu_src("tests/fixtures/reference-params/train-student.toml"), &err);
    if (!ts) fail_msg("%s", err.msg);
    assert_true(toml_get(toml_get(toml_get(ts, "hyperparameters"), "loss_weight"), "van_rossum")->f == 100.0);
    toml_value *sf = toml_get(toml_get(ts, "scaling_factors"), "recurrent");
    assert_int_equal(sf->n, 2);
    assert_int_equal(sf->items[1]->n, 2);
    assert_null(toml_get(toml_get(ts, "simulation"), "dt"));
    toml_free(ts);
}

/* A student must have the teacher's neurons and synapses, or it cannot recover the teacher's weights. */
static void check_same_neurons(const snn_params *a, const snn_params *b) {
    const snn_layer_params *la[2] = {&a->rec, &a->ff}, *lb[2] = {&b->rec, &b->ff};
    for (int l = 0; l < 2; l++) {
        assert_int_equal(la[l]->n_types, lb[l]->n_types);
        for (int i = 0; i < la[l]->n_types; i++) {
            assert_string_equal(la[l]->type_names[i], lb[l]->type_names[i]);
            const snn_physiology *x = &la[l]->physiology[i], *y = &lb[l]->physiology[i];
            assert_true(x->tau_mem == y->tau_mem && x->theta == y->theta && x->U_reset == y->U_reset &&
                        x->E_L == y->E_L && x->g_L == y->g_L && x->tau_ref == y->tau_ref);
        }
        assert_int_equal(la[l]->n_synapses, lb[l]->n_synapses);
        for (int i = 0; i < la[l]->n_synapses; i++) {
            const snn_synapse_param *x = &la[l]->synapses[i], *y = &lb[l]->synapses[i];
            assert_string_equal(x->name, y->name);
            assert_true(x->owner == y->owner && x->tau_rise == y->tau_rise && x->tau_decay == y->tau_decay &&
                        x->E_syn == y->E_syn && x->g_bar == y->g_bar);
        }
    }
}

/* train-student.toml as the reference wrote it: the [training] spelling, epochs counting passes. */
static void test_reference_train_file(void **state) {
    (void)state;
    snn_error err = {0};
    const char *path = tu_src("tests/fixtures/reference-params/train-student.toml");
    if (snn_params_load(path, SNN_STAGE_TRAIN, &P, &err)) fail_msg("%s", err.msg);
    assert_int_equal(P.stage, SNN_STAGE_TRAIN);
    assert_int_equal(P.sim.seed, 44);
    assert_int_equal(P.sim.chunk_size, 200);
    assert_false(P.sim.has_dt);
    assert_false(P.sim.has_duration);
    const snn_train_params *t = &P.train;
    assert_true(t->has_passes);
    assert_int_equal(t->passes, 20);
    assert_false(t->has_iterations);
    assert_int_equal(t->accumulation_interval, 5);
    assert_int_equal(t->log_interval, 10);
    assert_int_equal(t->plot_interval, 5); /* absent: the accumulation interval */
    assert_int_equal(t->checkpoint_interval, 500);
    assert_int_equal(t->plot_size, 50);
    assert_true(t->mixed_precision_given);
    assert_true(t->weight_perturbation_variance == 0.1);
    assert_true(t->has_grad_norm_clip);
    assert_true(t->grad_norm_clip == 1.0);
    assert_int_equal(t->optimisable, SNN_OPT_SCALING_FACTORS);
    assert_true(t->surrgrad_scale == 500.0);
    assert_true(t->learning_rate == 1e-3);
    assert_true(t->van_rossum_tau == 10.0);
    assert_false(t->has_van_rossum_rise_decay);
    assert_true(t->loss_weight[SNN_LOSS_VAN_ROSSUM] == 100.0);
    for (int i = 0; i < SNN_N_LOSSES; i++)
        if (i != SNN_LOSS_VAN_ROSSUM) assert_true(t->loss_weight[i] == 0.0);
    /* no [targets]: the teacher's rates and CVs, default penalties */
    assert_false(t->has_target_rates);
    assert_false(t->has_target_cvs);
    assert_true(t->alpha[0] == 0.01 && t->alpha[1] == 0.01);
    assert_true(t->threshold_ratio[0] == 0.8 && t->threshold_ratio[1] == 0.8);
    assert_true(t->target_weight_ratio == 2.0);
    for (int i = 0; i < 2; i++) {
        assert_true(t->sf_ff_init[0][i] == 1.0);
        for (int j = 0; j < 2; j++) assert_true(t->sf_init[i][j] == 1.0);
    }
    assert_false(P.has_wandb);
    check_reference_physiology(&P);
    assert_true(P.rec.synapses[2].g_bar == 8.139);
    assert_true(P.ff.synapses[1].g_bar == 0.448);
    /* the other stages do not take a stage-4 file */
    assert_int_equal(snn_params_load(path, SNN_STAGE_TEACHER, &P, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "unknown key 'training'"));
    assert_int_equal(snn_params_load(path, SNN_STAGE_SIMULATE, &P, &err), SNN_EINPUT);
}

static void test_shipped_files(void **state) {
    (void)state;
    snn_error err = {0};
    if (snn_params_load(tu_src("parameters/connectome.toml"), SNN_STAGE_CONNECTOME, &P, &err)) fail_msg("%s", err.msg);
    assert_int_equal(P.rec.num_neurons, 5000);
    assert_int_equal(P.rec.num_assemblies, 20);
    assert_int_equal(P.ff.num_neurons, 1500);
    assert_true(P.rec.conn_within[1][0] == 0.4);
    assert_true(P.rec.conn_between[0][0] == 0.05);
    assert_true(P.ff.w_mu[0][0] == 0.5);
    check_reference_physiology(&P);
    /* stage 1's synapses drive only its check run: the shipped files use the later stages' (the
     * reference's stage-1 file has 10x smaller g_bar, which leaves the check run silent) */
    static snn_params stage1;
    stage1 = P;

    if (snn_params_load(tu_src("parameters/generate-teacher-activity.toml"), SNN_STAGE_TEACHER, &P, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(P.sim.batch_size, 50);
    assert_true(P.ou_tau == 700000.0);
    assert_true(P.odours[0].modulation_rate == 30.0);
    check_reference_physiology(&P);
    assert_true(P.rec.synapses[2].g_bar == 8.139);
    for (int k = 0; k < P.rec.n_synapses; k++) assert_true(stage1.rec.synapses[k].g_bar == P.rec.synapses[k].g_bar);
    for (int k = 0; k < P.ff.n_synapses; k++) assert_true(stage1.ff.synapses[k].g_bar == P.ff.synapses[k].g_bar);

    if (snn_params_load(tu_src("parameters/demo-connectome.toml"), SNN_STAGE_CONNECTOME, &P, &err))
        fail_msg("%s", err.msg);
    assert_true(P.rec.num_neurons >= 200 && P.rec.num_neurons <= 400);
    assert_true(P.rec.num_assemblies == 4);
    assert_int_equal(P.rec.num_neurons % P.rec.num_assemblies, 0);
    assert_true(P.ff.num_neurons >= 80 && P.ff.num_neurons <= 150);
    assert_true(P.rec.proportion[0] == 0.8);
    double demo_g = P.rec.synapses[0].g_bar;

    if (snn_params_load(tu_src("parameters/demo-teacher.toml"), SNN_STAGE_TEACHER, &P, &err)) fail_msg("%s", err.msg);
    assert_true(P.sim.duration == 4000.0);
    assert_int_equal(P.sim.chunk_size, 100);
    assert_int_equal(P.sim.batch_size, 4);
    assert_int_equal(P.sim.plot_size, 40);
    assert_true(P.rec.synapses[0].g_bar == demo_g); /* the check run uses the teacher's synapses */
    /* every shipped file also works for `snnfit simulate` */
    const char *files[] = {"parameters/connectome.toml", "parameters/generate-teacher-activity.toml",
                           "parameters/demo-connectome.toml", "parameters/demo-teacher.toml"};
    for (int i = 0; i < 4; i++)
        if (snn_params_load(tu_src(files[i]), SNN_STAGE_SIMULATE, &P, &err)) fail_msg("%s", err.msg);

    /* stage 4 */
    static snn_params teacher;
    if (snn_params_load(tu_src("parameters/generate-teacher-activity.toml"), SNN_STAGE_TEACHER, &teacher, &err))
        fail_msg("%s", err.msg);
    if (snn_params_load(tu_src("parameters/fitting-activity.toml"), SNN_STAGE_TRAIN, &P, &err)) fail_msg("%s", err.msg);
    const snn_train_params *t = &P.train;
    assert_true(t->has_iterations);
    assert_false(t->has_passes);
    assert_int_equal(t->iterations, 1000);
    assert_int_equal(t->accumulation_interval, 5);
    assert_int_equal(t->checkpoint_interval, 50);
    assert_int_equal(t->log_interval, 5);
    assert_false(P.sim.has_dt);
    assert_false(t->has_target_rates); /* rate matching: the teacher's rates */
    assert_false(t->has_target_cvs);
    assert_true(t->learning_rate == 1e-2);
    assert_true(t->surrgrad_scale == 500.0);
    /* SPEC 7.3: a short kernel drives the student silent */
    assert_true(t->van_rossum_tau >= 200.0);
    assert_true(t->loss_weight[SNN_LOSS_VAN_ROSSUM] > 0);
    assert_true(t->loss_weight[SNN_LOSS_FIRING_RATE] > 0);
    assert_true(t->weight_perturbation_variance == 0.1);
    assert_false(P.wandb.enabled);
    assert_true(P.has_wandb);
    check_same_neurons(&P, &teacher);

    if (snn_params_load(tu_src("parameters/demo-teacher.toml"), SNN_STAGE_TEACHER, &teacher, &err))
        fail_msg("%s", err.msg);
    if (snn_params_load(tu_src("parameters/demo-train-closed-loop.toml"), SNN_STAGE_TRAIN, &P, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(P.sim.chunk_size, 100);
    assert_int_equal(t->method, SNN_METHOD_CLOSED_LOOP);
    assert_int_equal(t->optimiser, SNN_OPTIMISER_ADAM);
    assert_true(t->has_iterations);
    assert_true(t->iterations >= 50 && t->iterations <= 1000); /* a demo: a minute or two on two cores */
    assert_int_equal(t->accumulation_interval, 5);
    assert_int_equal(t->checkpoint_interval, 50);
    assert_true(t->weight_perturbation_variance == 0.1);
    assert_true(t->van_rossum_tau >= 200.0);
    assert_false(t->has_target_rates);
    /* the teacher data holds whole training chunks, and the statistics window fits in one pass */
    int64_t steps = (int64_t)(teacher.sim.duration / teacher.sim.dt);
    assert_int_equal(steps % P.sim.chunk_size, 0);
    assert_true(t->plot_size <= steps / P.sim.chunk_size);
    check_same_neurons(&P, &teacher);

    /* the demo fits with the method that recovers the factors */
    if (snn_params_load(tu_src("parameters/demo-train.toml"), SNN_STAGE_TRAIN, &P, &err)) fail_msg("%s", err.msg);
    assert_int_equal(t->method, SNN_METHOD_TEACHER_FORCED);
    assert_int_equal(t->optimiser, SNN_OPTIMISER_LBFGS);
    assert_true(t->loss_weight[SNN_LOSS_SPIKE_TIME] > 0);
    assert_true(t->spike_time_delta == 0.2);
    assert_true(t->weight_perturbation_variance == 0.1);
    assert_true(t->iterations >= 20 && t->iterations <= 200);
    assert_true(t->plot_size <= steps / P.sim.chunk_size);
    check_same_neurons(&P, &teacher);
}

/* Things the loader must accept: ints for floats, integral floats for ints, optional parts absent,
 * synapse tables out of type order, types owning no synapses, OU keys at the top level. */
static void test_accepted_variants(void **state) {
    (void)state;
    snn_error err = {0};
    char *t = mutate(BASE_CONN, "dt = 1.0", "dt = 1");
    char *u = mutate(t, "num_neurons = 20", "num_neurons = 20.0");
    free(t);
    if (snn_params_load_string(u, "ok.toml", SNN_STAGE_CONNECTOME, &P, &err)) fail_msg("%s", err.msg);
    free(u);
    assert_true(P.sim.dt == 1.0);
    assert_int_equal(P.rec.num_neurons, 20);
    assert_true(P.rec.conn_between[1][0] == 0.07);
    assert_true(P.rec.w_mu[0][1] == 0.41);
    assert_true(P.ff.w_sigma[0][1] == 0.15);
    assert_true(P.rec.physiology[1].U_reset == -61.0);
    assert_true(P.rec.physiology[1].E_L == -62.0);
    assert_true(P.rec.physiology[1].tau_ref == 7.0);

    /* no assemblies: conn_between may go */
    t = mutate(BASE_CONN, "num_assemblies = 2\n", "");
    u = mutate(t, "conn_between = [[0.05, 0.06], [0.07, 0.08]]\n", "");
    free(t);
    if (snn_params_load_string(u, "ok.toml", SNN_STAGE_CONNECTOME, &P, &err)) fail_msg("%s", err.msg);
    free(u);
    assert_int_equal(P.rec.num_assemblies, 0);
    assert_false(P.rec.has_conn_between);
    assert_true(P.rec.has_conn_within);

    /* inhibitory synapses first in the file: GABA_A becomes synapse 0, owned by type 1 */
    const char *inh = "[recurrent.synapses.inhibitory]\nnames = [\"GABA_A\"]\ntau_rise = [1.0]\ntau_decay = [6.0]\n"
                      "E_syn = [-70.0]\ng_bar = [0.8]\n";
    t = mutate(BASE_CONN, inh, "");
    u = mutate(t, "[recurrent.physiology.excitatory]", "[recurrent.synapses.inhibitory]\nnames = [\"GABA_A\"]\n"
               "tau_rise = [1.0]\ntau_decay = [6.0]\nE_syn = [-70.0]\ng_bar = [0.8]\n"
               "[recurrent.physiology.excitatory]");
    free(t);
    if (snn_params_load_string(u, "ok.toml", SNN_STAGE_CONNECTOME, &P, &err)) fail_msg("%s", err.msg);
    free(u);
    assert_string_equal(P.rec.synapses[0].name, "GABA_A");
    assert_int_equal(P.rec.synapses[0].owner, 1);
    assert_string_equal(P.rec.synapses[2].name, "NMDA");
    assert_int_equal(P.rec.synapses[2].owner, 0);

    /* a type that owns no synapses */
    t = mutate(BASE_CONN, inh, "");
    if (snn_params_load_string(t, "ok.toml", SNN_STAGE_CONNECTOME, &P, &err)) fail_msg("%s", err.msg);
    free(t);
    assert_int_equal(P.rec.n_synapses, 2);

    /* OU keys at the top level */
    t = mutate(BASE_TEACHER, "tau = 700000.0\ntemperature = 0.2\nsigma = 5.0\n", "");
    u = mutate(t, "[simulation]", "tau = 1000.0\ntemperature = 0.5\nsigma = 2.0\n[simulation]");
    free(t);
    if (snn_params_load_string(u, "ok.toml", SNN_STAGE_TEACHER, &P, &err)) fail_msg("%s", err.msg);
    free(u);
    assert_true(P.ou_tau == 1000.0);
    assert_true(P.ou_temperature == 0.5);
    assert_true(P.ou_sigma == 2.0);
    assert_true(P.sim.dt == 0.5);
    assert_int_equal(snn_params_num_chunks(&P.sim), 40);

    /* simulate: tracking, and a teacher file without odours */
    u = mutate(BASE_CONN, "chunk_size = 100\n", "chunk_size = 100\nbatch_size = 4\n");
    t = malloc(strlen(u) + 64);
    sprintf(t, "%s[tracking]\ntrials = [0, 3]\nneurons = [0, 19, 5]\n", u);
    free(u);
    if (snn_params_load_string(t, "ok.toml", SNN_STAGE_SIMULATE, &P, &err)) fail_msg("%s", err.msg);
    free(t);
    assert_true(P.has_tracking);
    assert_int_equal(P.sim.batch_size, 4);
    assert_int_equal(P.tracking.n_trials, 2);
    assert_int_equal(P.tracking.trials[1], 3);
    assert_int_equal(P.tracking.n_neurons, 3);
    assert_int_equal(P.tracking.neurons[1], 19);
    assert_false(P.tracking.all_neurons);
    u = mutate(BASE_CONN, "chunk_size = 100\n", "chunk_size = 100\n[tracking]\nneurons = \"all\"\n");
    if (snn_params_load_string(u, "ok.toml", SNN_STAGE_SIMULATE, &P, &err)) fail_msg("%s", err.msg);
    free(u);
    assert_true(P.tracking.all_neurons);
    assert_int_equal(P.tracking.n_neurons, 0);

    t = mutate(BASE_TEACHER, "[odours]\ntau = 700000.0\ntemperature = 0.2\nsigma = 5.0\n\n[odours.mitral]\n"
                             "baseline_rate = 6.0\nmodulation_rate = 30.0\nmodulation_fraction = 0.1\n",
               "");
    if (snn_params_load_string(t, "ok.toml", SNN_STAGE_SIMULATE, &P, &err)) fail_msg("%s", err.msg);
    assert_false(P.has_odours);
    assert_int_equal(snn_params_load_string(t, "ok.toml", SNN_STAGE_TEACHER, &P, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "missing required table [odours]"));
    free(t);

    assert_int_equal(snn_params_type_index(&P.rec, "inhibitory"), 1);
    assert_int_equal(snn_params_type_index(&P.rec, "mitral"), -1);
    assert_string_equal(snn_stage_name(SNN_STAGE_TEACHER), "teacher");
}

/* Loads base with the edits (old, new) applied in turn; fails the test if it is rejected. */
static void load_train_edited(const char *base, int n, const char *const *edits) {
    char *text = mutate(base, "", "");
    for (int i = 0; i < n; i++) {
        char *next = mutate(text, edits[2 * i], edits[2 * i + 1]);
        free(text);
        text = next;
    }
    snn_error err = {0};
    if (snn_params_load_string(text, "ok.toml", SNN_STAGE_TRAIN, &P, &err)) fail_msg("%s\n%s", err.msg, text);
    free(text);
}

/* Stage 4: the seed's spelling with its defaults, the reference's spelling, mixes of the two, and
 * every optional section. */
static void test_train_variants(void **state) {
    (void)state;
    snn_error err = {0};
    const snn_train_params *t = &P.train;
    if (snn_params_load_string(BASE_TRAIN, "ok.toml", SNN_STAGE_TRAIN, &P, &err)) fail_msg("%s", err.msg);
    assert_true(t->has_iterations);
    assert_int_equal(t->iterations, 120);
    assert_false(t->has_passes);
    assert_int_equal(t->accumulation_interval, 4);
    assert_int_equal(t->log_interval, 4);  /* the seed: every accumulation_interval */
    assert_int_equal(t->plot_interval, 4);
    assert_int_equal(t->checkpoint_interval, 50);
    assert_int_equal(t->plot_size, 1);
    assert_true(t->weight_perturbation_variance == 0.2);
    assert_int_equal(t->optimisable, SNN_OPT_SCALING_FACTORS_RECURRENT);
    assert_false(t->has_grad_norm_clip);
    assert_false(t->mixed_precision_given);
    assert_true(t->surrgrad_scale == 500.0);
    assert_true(t->van_rossum_tau == 150.0);
    assert_true(t->loss_weight[SNN_LOSS_VAN_ROSSUM] == 2.0);
    assert_true(t->loss_weight[SNN_LOSS_FIRING_RATE] == 0.5);
    assert_true(t->loss_weight[SNN_LOSS_CV] == 0.0);
    assert_true(t->alpha[0] == 0.05 && t->alpha[1] == 0.05);
    assert_true(t->threshold_ratio[1] == 0.8);
    assert_false(P.has_wandb);
    assert_string_equal(snn_stage_name(SNN_STAGE_TRAIN), "train");

    /* no [training] at all: the seed's file; defaults for what only [training] holds */
    {
        const char *e[] = {"[training]\nweight_perturbation_variance = 0.2\noptimisable = \"scaling_factors_recurrent\"\n", ""};
        load_train_edited(BASE_TRAIN, 1, e);
        assert_true(t->weight_perturbation_variance == 0.0);
        assert_int_equal(t->optimisable, SNN_OPT_SCALING_FACTORS);
    }
    /* the fitting method's defaults: closed loop with Adam, the spike-time settings at theirs */
    assert_int_equal(t->method, SNN_METHOD_CLOSED_LOOP);
    assert_int_equal(t->optimiser, SNN_OPTIMISER_ADAM);
    assert_true(t->spike_time_delta == 0.2 && t->spike_time_loss == 0 && t->burn_in == 0);
    assert_false(t->has_fit_steps);
    assert_int_equal(t->lbfgs_history, 10);
    assert_int_equal(t->eval_chunks, -1);
    /* teacher forcing: L-BFGS by default, no learning rate needed, spike_time (and weight_ratio) only */
    {
        const char *e[] = {"[training]\n", "[training]\nmethod = \"teacher_forced\"\nfit_steps = 400\nburn_in = 25.5\n"
                                           "lbfgs_history = 7\ngradient_tolerance = 1e-6\nchange_tolerance = 0.0\n",
                           "learning_rate = 0.01\nvan_rossum_tau = 150.0\nloss_weight.van_rossum = 2.0\nloss_weight.firing_rate = 0.5\n",
                           "spike_time_delta = 0.5\nspike_time_loss = \"squared_hinge\"\nloss_weight.spike_time = 2.0\n"
                           "loss_weight.weight_ratio = 0.1\n"};
        load_train_edited(BASE_TRAIN, 2, e);
        assert_int_equal(t->method, SNN_METHOD_TEACHER_FORCED);
        assert_int_equal(t->optimiser, SNN_OPTIMISER_LBFGS);
        assert_true(t->has_fit_steps && t->fit_steps == 400);
        assert_true(t->burn_in == 25.5 && t->lbfgs_history == 7);
        assert_true(t->gradient_tolerance == 1e-6 && t->change_tolerance == 0.0);
        assert_true(t->spike_time_delta == 0.5 && t->spike_time_loss == 1);
        assert_true(t->loss_weight[SNN_LOSS_SPIKE_TIME] == 2.0 && t->loss_weight[SNN_LOSS_WEIGHT_RATIO] == 0.1);
        assert_true(t->loss_weight[SNN_LOSS_VAN_ROSSUM] == 0.0);
    }
    /* teacher forcing with Adam (which needs its learning rate) and fixed evaluation chunks */
    {
        const char *e[] = {"[training]\n", "[training]\nmethod = \"teacher_forced\"\noptimiser = \"adam\"\neval_chunks = 3\n",
                           "van_rossum_tau = 150.0\nloss_weight.van_rossum = 2.0\nloss_weight.firing_rate = 0.5\n",
                           "loss_weight.spike_time = 1.0\n"};
        load_train_edited(BASE_TRAIN, 2, e);
        assert_int_equal(t->optimiser, SNN_OPTIMISER_ADAM);
        assert_int_equal(t->eval_chunks, 3);
        assert_true(t->learning_rate == 0.01);
    }
    /* the closed loop's opt-in surrogate cutoff (default 0: the exact reverse pass) */
    assert_true(t->surrogate_cutoff == 0);
    {
        const char *e[] = {"learning_rate = 0.01\n", "learning_rate = 0.01\nsurrogate_cutoff = 1e-4\n"};
        load_train_edited(BASE_TRAIN, 1, e);
        assert_true(t->surrogate_cutoff == 1e-4);
    }
    /* Adam without a learning rate, and teacher forcing without its loss, are refused */
    {
        char *a = mutate(BASE_TRAIN, "[training]\n", "[training]\nmethod = \"teacher_forced\"\noptimiser = \"adam\"\n");
        char *b = mutate(a, "learning_rate = 0.01\nvan_rossum_tau = 150.0\nloss_weight.van_rossum = 2.0\nloss_weight.firing_rate = 0.5\n",
                         "loss_weight.spike_time = 1.0\n");
        assert_int_equal(snn_params_load_string(b, "bad.toml", SNN_STAGE_TRAIN, &P, &err), SNN_EINPUT);
        assert_non_null(strstr(err.msg, "missing required key 'learning_rate'"));
        char *c = mutate(a, "loss_weight.van_rossum = 2.0\nloss_weight.firing_rate = 0.5\n", "loss_weight.weight_ratio = 1.0\n");
        snn_error_clear(&err);
        assert_int_equal(snn_params_load_string(c, "bad.toml", SNN_STAGE_TRAIN, &P, &err), SNN_EINPUT);
        assert_non_null(strstr(err.msg, "method = \"teacher_forced\" needs loss_weight.spike_time > 0"));
        /* the surrogate cutoff approximates the closed loop's reverse pass only: refused with teacher forcing */
        char *d = mutate(b, "loss_weight.spike_time = 1.0\n", "learning_rate = 0.01\nsurrogate_cutoff = 1e-4\nloss_weight.spike_time = 1.0\n");
        snn_error_clear(&err);
        assert_int_equal(snn_params_load_string(d, "bad.toml", SNN_STAGE_TRAIN, &P, &err), SNN_EINPUT);
        assert_non_null(strstr(err.msg, "[hyperparameters] surrogate_cutoff: applies to method = \"closed_loop\" only"));
        free(a);
        free(b);
        free(c);
        free(d);
        snn_error_clear(&err);
    }
    /* the reference's spelling for everything, with dt, which the stage will compare with the data's */
    {
        const char *e[] = {"epochs = 120\naccumulation_interval = 4\n", "dt = 0.5\n",
                           "[training]\n", "[training]\nepochs = 3\nchunks_per_update = 6\nlog_interval = 12\n"
                                           "checkpoint_interval = 30\nplot_interval = 18\nplot_size = 7\n"
                                           "mixed_precision = false\ngrad_norm_clip = 2.5\n"};
        load_train_edited(BASE_TRAIN, 2, e);
        assert_true(P.sim.has_dt);
        assert_true(P.sim.dt == 0.5);
        assert_true(t->has_passes);
        assert_int_equal(t->passes, 3);
        assert_false(t->has_iterations);
        assert_int_equal(t->accumulation_interval, 6);
        assert_int_equal(t->log_interval, 12);
        assert_int_equal(t->plot_interval, 18);
        assert_int_equal(t->checkpoint_interval, 30);
        assert_int_equal(t->plot_size, 7);
        assert_true(t->mixed_precision_given); /* given, even as false */
        assert_true(t->has_grad_norm_clip);
        assert_true(t->grad_norm_clip == 2.5);
    }
    /* the seed's spelling for the intervals in [simulation] */
    {
        const char *e[] = {"accumulation_interval = 4\n", "accumulation_interval = 4\nlog_interval = 8\n"
                                                          "plot_interval = 40\ncheckpoint_interval = 20\nplot_size = 3\n"};
        load_train_edited(BASE_TRAIN, 1, e);
        assert_int_equal(t->log_interval, 8);
        assert_int_equal(t->plot_interval, 40);
        assert_int_equal(t->checkpoint_interval, 20);
        assert_int_equal(t->plot_size, 3);
    }
    /* a mix: iterations from [simulation], the accumulation from [training] */
    {
        const char *e[] = {"accumulation_interval = 4\n", "", "[training]\n", "[training]\nchunks_per_update = 9\n"};
        load_train_edited(BASE_TRAIN, 2, e);
        assert_int_equal(t->iterations, 120);
        assert_int_equal(t->accumulation_interval, 9);
        assert_int_equal(t->log_interval, 9);
    }
    /* every optimisable value */
    static const char *const opts[] = {"scaling_factors", "scaling_factors_recurrent", "scaling_factors_feedforward",
                                       "weights"};
    static const snn_optimisable want[] = {SNN_OPT_SCALING_FACTORS, SNN_OPT_SCALING_FACTORS_RECURRENT,
                                           SNN_OPT_SCALING_FACTORS_FEEDFORWARD, SNN_OPT_WEIGHTS};
    for (int i = 0; i < 4; i++) {
        char line[96];
        snprintf(line, sizeof line, "optimisable = \"%s\"", opts[i]);
        const char *e[] = {"optimisable = \"scaling_factors_recurrent\"", line};
        load_train_edited(BASE_TRAIN, 1, e);
        assert_int_equal(t->optimisable, want[i]);
    }
    /* targets: one number for all types (singular spellings too), or a table per type */
    {
        const char *e[] = {"alpha = 0.05\n", "firing_rates.inhibitory = 7.0\nfiring_rates.excitatory = 1.5\n"
                                             "cvs = 1.25\nalpha = { excitatory = 0.5, inhibitory = 3 }\n"
                                             "threshold_ratio.excitatory = 0.25\nthreshold_ratio.inhibitory = 0.45\n"
                                             "weight_ratio = 3.5\n"};
        load_train_edited(BASE_TRAIN, 1, e);
        assert_true(t->has_target_rates);
        assert_true(t->target_rate[0] == 1.5); /* by name, not by file order */
        assert_true(t->target_rate[1] == 7.0);
        assert_true(t->has_target_cvs);
        assert_true(t->target_cv[0] == 1.25 && t->target_cv[1] == 1.25);
        assert_true(t->alpha[0] == 0.5 && t->alpha[1] == 3.0);
        assert_true(t->threshold_ratio[0] == 0.25 && t->threshold_ratio[1] == 0.45);
        assert_true(t->target_weight_ratio == 3.5);
    }
    {
        const char *e[] = {"alpha = 0.05\n", "firing_rate = 2\ncv.excitatory = 0.5\ncv.inhibitory = 0.75\n"};
        load_train_edited(BASE_TRAIN, 1, e);
        assert_true(t->has_target_rates);
        assert_true(t->target_rate[0] == 2.0 && t->target_rate[1] == 2.0);
        assert_true(t->target_cv[0] == 0.5 && t->target_cv[1] == 0.75);
        assert_true(t->alpha[0] == 0.01); /* absent again: the default */
    }
    /* hyperparameters: the difference-of-exponentials kernel, every loss weight, a surrogate scale */
    {
        const char *e[] = {"van_rossum_tau = 150.0\n", "van_rossum_tau_rise = 5.0\nvan_rossum_tau_decay = 300\n"
                                                       "surrgrad_scale = 200\n",
                           "loss_weight.firing_rate = 0.5\n", "loss_weight.firing_rate = 0.5\n"
                                                              "loss_weight.silent_penalty = 0.25\nloss_weight.cv = 0.125\n"
                                                              "loss_weight.membrane_variance = 10\nloss_weight.weight_ratio = 0.01\n"};
        load_train_edited(BASE_TRAIN, 2, e);
        assert_true(t->has_van_rossum_rise_decay);
        assert_true(t->van_rossum_tau_rise == 5.0);
        assert_true(t->van_rossum_tau_decay == 300.0);
        assert_true(t->surrgrad_scale == 200.0);
        const double w[SNN_N_LOSSES] = {2.0, 0.5, 0.25, 0.125, 10.0, 0.01};
        for (int i = 0; i < SNN_N_LOSSES; i++) assert_true(t->loss_weight[i] == w[i]);
    }
    /* only a gradient-free loss besides one that trains is fine; van Rossum off is fine */
    {
        const char *e[] = {"loss_weight.van_rossum = 2.0\n", "loss_weight.van_rossum = 0\n"};
        load_train_edited(BASE_TRAIN, 1, e);
        assert_true(t->loss_weight[SNN_LOSS_VAN_ROSSUM] == 0.0);
        assert_true(t->van_rossum_tau == 150.0);
    }
    /* initial scaling factors: [pre][post], rows as written */
    {
        const char *e[] = {"[feedforward.cell_types]", "[scaling_factors]\nrecurrent = [[1.5, 2.0], [0.5, 0.25]]\n"
                                                       "feedforward = [[3, 0.75]]\n\n[feedforward.cell_types]"};
        load_train_edited(BASE_TRAIN, 1, e);
        assert_true(t->sf_init[0][1] == 2.0);
        assert_true(t->sf_init[1][0] == 0.5);
        assert_true(t->sf_init[1][1] == 0.25);
        assert_true(t->sf_ff_init[0][0] == 3.0);
        assert_true(t->sf_ff_init[0][1] == 0.75);
    }
    {
        const char *e[] = {"[feedforward.cell_types]", "[scaling_factors]\nfeedforward = [[3, 0.75]]\n\n[feedforward.cell_types]"};
        load_train_edited(BASE_TRAIN, 1, e);
        assert_true(t->sf_init[1][0] == 1.0); /* absent matrix: ones */
        assert_true(t->sf_ff_init[0][0] == 3.0);
    }
    /* wandb settings are stored for the logger */
    {
        const char *e[] = {"[targets]", "[wandb]\nenabled = true\nproject = \"olfaction\"\nentity = \"lab\"\n"
                                        "tags = [\"student\", \"demo\"]\nnotes = \"first try\"\n\n[targets]"};
        load_train_edited(BASE_TRAIN, 1, e);
        assert_true(P.has_wandb);
        assert_true(P.wandb.enabled);
        assert_string_equal(P.wandb.project, "olfaction");
        assert_string_equal(P.wandb.entity, "lab");
        assert_string_equal(P.wandb.notes, "first try");
        assert_int_equal(P.wandb.n_tags, 2);
        assert_string_equal(P.wandb.tags[1], "demo");
    }
}

/* homeostatic-plasticity.toml as the reference wrote it: every value lands where stage 2 reads it. */
static void test_reference_homeostatic_file(void **state) {
    (void)state;
    snn_error err = {0};
    const char *path = tu_src("tests/fixtures/reference-params/homeostatic-plasticity.toml");
    if (snn_params_load(path, SNN_STAGE_HOMEOSTATIC, &P, &err)) fail_msg("%s", err.msg);
    assert_int_equal(P.stage, SNN_STAGE_HOMEOSTATIC);
    assert_string_equal(snn_stage_name(SNN_STAGE_HOMEOSTATIC), "homeostatic");
    assert_int_equal(P.sim.seed, 43);
    assert_true(P.sim.dt == 1.0 && P.sim.has_dt);
    assert_true(P.sim.duration == 200000.0);
    assert_int_equal(P.sim.chunk_size, 100);
    assert_true(P.sim.has_batch_size);
    assert_int_equal(P.sim.batch_size, 100);
    const snn_train_params *t = &P.train;
    assert_true(t->has_iterations);
    assert_int_equal(t->iterations, 2000); /* int(200000 / (100 * 1)) chunks */
    assert_false(t->has_passes);
    assert_int_equal(t->accumulation_interval, 10);
    assert_int_equal(t->log_interval, 5);
    assert_int_equal(t->checkpoint_interval, 100);
    assert_int_equal(t->plot_interval, 10);
    assert_int_equal(t->plot_size, 100);
    assert_true(t->mixed_precision_given);
    assert_true(t->has_grad_norm_clip && t->grad_norm_clip == 1.0);
    assert_int_equal(t->optimisable, SNN_OPT_SCALING_FACTORS);
    assert_true(t->weight_perturbation_variance == 0.0);
    assert_true(t->has_target_rates);
    assert_true(t->target_rate[0] == 0.5 && t->target_rate[1] == 2.0);
    assert_true(t->has_target_cvs); /* absent: 1 for every type, the reference's target */
    assert_true(t->target_cv[0] == 1.0 && t->target_cv[1] == 1.0);
    assert_true(t->alpha[0] == 10.0 && t->alpha[1] == 2.0);
    assert_true(t->threshold_ratio[0] == 0.25 && t->threshold_ratio[1] == 0.45);
    assert_true(t->target_weight_ratio == 2.0);
    assert_true(t->surrgrad_scale == 200.0);
    assert_true(t->learning_rate == 1e-2);
    assert_true(t->loss_weight[SNN_LOSS_VAN_ROSSUM] == 0.0);
    assert_true(t->loss_weight[SNN_LOSS_FIRING_RATE] == 1.0);
    assert_true(t->loss_weight[SNN_LOSS_CV] == 0.5);
    assert_true(t->loss_weight[SNN_LOSS_SILENT_PENALTY] == 0.1);
    assert_true(t->loss_weight[SNN_LOSS_MEMBRANE_VARIANCE] == 10.0);
    assert_true(t->loss_weight[SNN_LOSS_WEIGHT_RATIO] == 0.01);
    assert_true(t->sf_init[1][0] == 1.0 && t->sf_ff_init[0][1] == 1.0);
    /* what the generator needs */
    assert_true(P.rec.has_topology && P.rec.has_weights && P.rec.has_proportion);
    assert_true(P.ff.has_topology && P.ff.has_weights && P.ff.has_proportion && P.ff.has_activity);
    assert_int_equal(P.rec.num_neurons, 5000);
    assert_int_equal(P.rec.num_assemblies, 20);
    assert_int_equal(P.ff.num_neurons, 1500);
    assert_true(P.rec.w_mu[1][1] == 0.19 && P.ff.w_mu[0][1] == 0.02);
    assert_true(P.ff.firing_rate[0] == 6.0);
    check_reference_physiology(&P);
    assert_true(P.rec.synapses[2].g_bar == 8.139);
    assert_true(P.ff.synapses[0].g_bar == 4.177);

    /* the shipped file is the reference's, commented */
    static snn_params shipped;
    if (snn_params_load(tu_src("parameters/homeostatic-plasticity.toml"), SNN_STAGE_HOMEOSTATIC, &shipped, &err))
        fail_msg("%s", err.msg);
    assert_memory_equal(&shipped.sim, &P.sim, sizeof P.sim);
    assert_memory_equal(&shipped.train, &P.train, sizeof P.train);
    /* (layers field by field: synapse names carry stack bytes after their terminator) */
    check_same_neurons(&shipped, &P);
    for (int l = 0; l < 2; l++) {
        const snn_layer_params *a = l ? &shipped.ff : &shipped.rec, *b = l ? &P.ff : &P.rec;
        assert_memory_equal(a->proportion, b->proportion, sizeof a->proportion);
        assert_true(a->num_neurons == b->num_neurons && a->num_assemblies == b->num_assemblies);
        assert_memory_equal(a->conn_within, b->conn_within, sizeof a->conn_within);
        assert_memory_equal(a->conn_between, b->conn_between, sizeof a->conn_between);
        assert_memory_equal(a->conn_inputs, b->conn_inputs, sizeof a->conn_inputs);
        assert_memory_equal(a->w_mu, b->w_mu, sizeof a->w_mu);
        assert_memory_equal(a->w_sigma, b->w_sigma, sizeof a->w_sigma);
        assert_memory_equal(a->firing_rate, b->firing_rate, sizeof a->firing_rate);
    }

    /* resume tells the two training stages apart by the file alone */
    snn_stage which = SNN_STAGE_CONNECTOME;
    assert_int_equal(snn_params_training_stage(path, &which, &err), SNN_OK);
    assert_int_equal(which, SNN_STAGE_HOMEOSTATIC);
    const char *student = tu_src("tests/fixtures/reference-params/train-student.toml");
    assert_int_equal(snn_params_training_stage(student, &which, &err), SNN_OK);
    assert_int_equal(which, SNN_STAGE_TRAIN);
    assert_int_equal(snn_params_training_stage(tu_src("parameters/fitting-activity.toml"), &which, &err), SNN_OK);
    assert_int_equal(which, SNN_STAGE_TRAIN);
    /* and each refuses the other's file */
    assert_int_equal(snn_params_load(path, SNN_STAGE_TRAIN, &P, &err), SNN_EINPUT);
    assert_int_equal(snn_params_load(student, SNN_STAGE_HOMEOSTATIC, &P, &err), SNN_EINPUT);
}

/* The demo: the demo network with the teacher's synapses, short, with targets in a plausible range. */
static void test_demo_homeostatic_file(void **state) {
    (void)state;
    snn_error err = {0};
    static snn_params conn, teacher;
    if (snn_params_load(tu_src("parameters/demo-connectome.toml"), SNN_STAGE_CONNECTOME, &conn, &err))
        fail_msg("%s", err.msg);
    if (snn_params_load(tu_src("parameters/demo-teacher.toml"), SNN_STAGE_TEACHER, &teacher, &err))
        fail_msg("%s", err.msg);
    if (snn_params_load(tu_src("parameters/demo-homeostatic.toml"), SNN_STAGE_HOMEOSTATIC, &P, &err))
        fail_msg("%s", err.msg);
    const snn_train_params *t = &P.train;
    assert_true(t->iterations >= 50 && t->iterations <= 400); /* about a minute on two cores at most */
    assert_true(P.sim.batch_size >= 1 && P.sim.batch_size <= 32);
    assert_true(t->target_rate[0] >= 0.5 && t->target_rate[0] <= 5.0);
    assert_true(t->target_rate[1] >= 2.0 && t->target_rate[1] <= 20.0);
    /* the demo network's topology and weights */
    assert_memory_equal(&P.rec.conn_within, &conn.rec.conn_within, sizeof conn.rec.conn_within);
    assert_memory_equal(&P.rec.conn_between, &conn.rec.conn_between, sizeof conn.rec.conn_between);
    assert_memory_equal(&P.rec.w_mu, &conn.rec.w_mu, sizeof conn.rec.w_mu);
    assert_memory_equal(&P.ff.conn_inputs, &conn.ff.conn_inputs, sizeof conn.ff.conn_inputs);
    assert_memory_equal(&P.ff.w_mu, &conn.ff.w_mu, sizeof conn.ff.w_mu);
    assert_int_equal(P.rec.num_neurons, conn.rec.num_neurons);
    assert_int_equal(P.rec.num_assemblies, conn.rec.num_assemblies);
    assert_int_equal(P.ff.num_neurons, conn.ff.num_neurons);
    assert_true(P.sim.seed == conn.sim.seed);
    /* the teacher's neurons and synapses, so final_state serves as stage 3's network */
    check_same_neurons(&P, &teacher);
}

/* Stage-2 rules: each refused with one line naming the file, line and key. */
static void test_homeostatic_errors(void **state) {
    (void)state;
    char *base = NULL;
    size_t len = 0;
    snn_error err = {0};
    if (snn_read_file(tu_src("tests/fixtures/reference-params/homeostatic-plasticity.toml"), &base, &len, &err))
        fail_msg("%s", err.msg);
    static const struct {
        const char *old, *new_text, *anchor, *want;
    } cases[] = {
        {"duration = 200000.0", "duration = 50.0", "duration = 50.0",
         "[simulation] duration: 50 ms is shorter than one chunk (chunk_size x dt = 100 ms)"},
        {"duration = 200000.0                    # ms\n", "", "[simulation]",
         "[simulation] is missing required key 'duration'"},
        {"batch_size = 100\n", "", "[training]", "[training] is missing required key 'batch_size'"},
        {"batch_size = 100", "batch_size = 0", "batch_size", "[training] batch_size: must be >= 1"},
        {"seed = 43", "seed = 43\nbatch_size = 4", "batch_size = 4", "[simulation] batch_size: belongs in [training]"},
        {"chunks_per_update = 10", "epochs = 3", "epochs", "[training] epochs: not a stage-2 key"},
        {"chunks_per_update = 10", "weight_perturbation_variance = 0.1", "weight_perturbation",
         "[training] weight_perturbation_variance: a stage-4 key"},
        {"optimisable = \"scaling_factors\"", "optimisable = \"all\"", "optimisable",
         "[training] optimisable: expected one of"},
        {"firing_rate.excitatory = 0.5           # Hz\nfiring_rate.inhibitory = 2.0           # Hz\n", "",
         "[targets]\n", "[targets] is missing required key 'firing_rate'"},
        {"firing_rate.inhibitory = 2.0", "firing_rate.inhibitroy = 2.0", "firing_rate.inhibitroy",
         "[targets.firing_rate] unknown key 'inhibitroy'"},
        {"weight_ratio = 2.0", "weight_ratio = 2.0\ncv = -1", "cv = -1", "[targets] cv: must be >= 0"},
        {"surrgrad_scale = 200.0", "van_rossum_tau = 20.0", "van_rossum_tau",
         "[hyperparameters] van_rossum_tau: a stage-4 key: stage 2 has no teacher spikes"},
        {"loss_weight.cv = 0.5", "loss_weight.van_rossum = 0.5", "loss_weight.van_rossum",
         "[hyperparameters.loss_weight] van_rossum: a stage-4 key"},
        {"loss_weight.cv = 0.5", "loss_weight.spike_time = 0.5", "loss_weight.spike_time",
         "[hyperparameters.loss_weight] spike_time: a stage-4 key"},
        {"surrgrad_scale = 200.0", "spike_time_delta = 0.2", "spike_time_delta",
         "[hyperparameters] spike_time_delta: a stage-4 key"},
        {"[feedforward.activity.mitral]\nfiring_rate = 6.0\n", "", "[feedforward.cell_types]",
         "[feedforward] is missing required table [feedforward.activity]"},
        {"[targets]\n", "[odours]\ntau = 1.0\n\n[targets]\n", "[odours]\n", "unknown key 'odours'"},
        /* issue 11: limits */
        {"duration = 200000.0", "duration = 9223372036854775807", "duration = 9",
         "[simulation] duration: 9.22337e+18 is out of range"},
        {"duration = 200000.0", "duration = 2e11", "duration = 2e11", "[simulation] duration: 2e+11 ms at dt = 1 ms"},
        {"batch_size = 100", "batch_size = 1000000000", "batch_size", "[training] batch_size: must be <= 1000000"},
        {"chunks_per_update = 10", "chunks_per_update = 2001", "chunks_per_update",
         "[training] chunks_per_update: 2001 iterations per optimiser step, but the run has only 2000 iterations"},
        {"plot_size = 100", "plot_size = 4611686018427387904", "plot_size", "[training] plot_size: must be <= 100000000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text = mutate(base, cases[i].old, cases[i].new_text);
        snn_error_clear(&err);
        if (snn_params_load_string(text, "bad.toml", SNN_STAGE_HOMEOSTATIC, &P, &err) != SNN_EINPUT)
            fail_msg("case %zu (%s) was accepted", i, cases[i].want);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "bad.toml:%d: ", line_of(text, cases[i].anchor));
        if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || !strstr(err.msg, cases[i].want))
            fail_msg("case %zu: message\n  '%s'\nshould start with '%s' and contain\n  '%s'", i, err.msg, prefix,
                     cases[i].want);
        assert_null(strchr(err.msg, '\n'));
        free(text);
    }
    /* accepted: any checkpoint interval (the reference wanted a divisor of the chunks), no topology
     * (the network then comes from -i), one rate for every type, intervals left out */
    const char *const ok[][2] = {
        {"checkpoint_interval = 100", "checkpoint_interval = 7"},
        {"num_neurons = 5000\nnum_assemblies = 20\n", ""},
        {"firing_rate.excitatory = 0.5           # Hz\nfiring_rate.inhibitory = 2.0           # Hz\n",
         "firing_rates = 3.0\ncvs = 0.8\n"},
        {"chunks_per_update = 10\nlog_interval = 5\ncheckpoint_interval = 100\nmixed_precision = false\n"
         "plot_size = 100\n", ""},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char *text = mutate(base, ok[i][0], ok[i][1]);
        if (i == 1) { /* the whole [recurrent.topology] table */
            char *t2 = mutate(text, "[recurrent.topology]\nconn_within = [\n    [0.2, 0.2],\n    [0.4, 0.2],\n]\n"
                                    "conn_between = [\n    [0.05, 0.05],\n    [0.05, 0.05],\n]\n", "");
            free(text);
            text = t2;
        }
        if (snn_params_load_string(text, "ok.toml", SNN_STAGE_HOMEOSTATIC, &P, &err)) fail_msg("%zu: %s", i, err.msg);
        free(text);
        if (i == 0) assert_int_equal(P.train.checkpoint_interval, 7);
        if (i == 1) assert_false(P.rec.has_topology);
        if (i == 2) assert_true(P.train.target_rate[1] == 3.0 && P.train.target_cv[0] == 0.8);
        if (i == 3) {
            assert_int_equal(P.train.accumulation_interval, 1);
            assert_int_equal(P.train.log_interval, 1);
            assert_int_equal(P.train.checkpoint_interval, 50);
            assert_false(P.train.mixed_precision_given);
        }
    }
    free(base);
}

typedef struct bad {
    snn_stage stage;
    const char *old, *new_text; /* applied to the stage's base text */
    const char *anchor;         /* text whose line the message must give; NULL: no line */
    const char *want;           /* substring the message must contain */
} bad;

#define C SNN_STAGE_CONNECTOME
#define T SNN_STAGE_TEACHER
#define S SNN_STAGE_SIMULATE
#define R SNN_STAGE_TRAIN

static const bad BAD[] = {
    /* unknown keys, with suggestions */
    {C, "[recurrent.cell_types]", "[recurent.cell_types]", "[recurent", "unknown key 'recurent' (did you mean 'recurrent'?)"},
    {C, "chunk_size = 100", "chunk_sise = 100", "chunk_sise", "[simulation] unknown key 'chunk_sise' (did you mean 'chunk_size'?)"},
    {C, "tau_ref = 8.0", "tau_refr = 8.0", "tau_refr", "[recurrent.physiology.excitatory] unknown key 'tau_refr' (did you mean 'tau_ref'?)"},
    {C, "num_assemblies = 2", "num_assemblys = 2", "num_assemblys", "did you mean 'num_assemblies'?"},
    {C, "[recurrent.physiology.inhibitory]", "[recurrent.physiology.inhibitroy]", "[recurrent.physiology.inhibitroy]", "unknown key 'inhibitroy': it must be a recurrent cell type (did you mean 'inhibitory'?)"},
    {C, "[recurrent.synapses.inhibitory]", "[recurrent.synapses.GABA]", "[recurrent.synapses.GABA]", "[recurrent.synapses] unknown key 'GABA': it must be a recurrent cell type"},
    {C, "[feedforward.synapses.mitral]", "[feedforward.synapses.mitrl]", "mitrl", "did you mean 'mitral'?"},
    {C, "[simulation]", "[odours]\ntau = 1.0\n[simulation]", "[odours]", "unknown key 'odours'"},
    {T, "[recurrent.cell_types]", "[recurrent.topology]\nnum_neurons = 5\n[recurrent.cell_types]", "[recurrent.topology]", "[recurrent] unknown key 'topology'"},
    {T, "[odours.mitral]", "[odours.mitrla]", "[odours.mitrla]", "[odours] unknown key 'mitrla'"},
    {C, "seed = 7", "seed = 7\nbatch_size = 3", "batch_size", "[simulation] unknown key 'batch_size'"},
    /* wrong types */
    {C, "dt = 1.0", "dt = \"1.0\"", "dt = ", "[simulation] dt: expected a number, got a string"},
    {C, "num_neurons = 20", "num_neurons = 20.5", "num_neurons = 20.5", "[recurrent.topology] num_neurons: expected an integer, got 20.5"},
    {C, "seed = 7", "seed = 1.5", "seed", "seed: expected an integer"},
    {C, "proportion = [0.8, 0.2]", "proportion = [0.8, \"x\"]", "proportion = [0.8, \"x\"]", "proportion[1]: expected a number, got a string"},
    {C, "names = [\"excitatory\", \"inhibitory\"]", "names = [\"excitatory\", 2]", "names = [\"excitatory\", 2]", "[recurrent.cell_types] names: entry 1: expected a string"},
    {C, "w_mu = [[0.4, 0.41], [0.42, 0.43]]", "w_mu = 0.4", "w_mu = 0.4", "w_mu: expected a 2 x 2 matrix"},
    {C, "firing_rate = 6.0", "firing_rate = inf", "firing_rate", "firing_rate: expected a finite number"},
    {C, "[simulation]\ndt = 1.0\nduration = 1000.0\nseed = 7\nchunk_size = 100\n", "simulation = 3\n", "simulation = 3", "simulation: expected a table, got an integer"},
    /* missing keys and tables */
    {C, "num_neurons = 20\n", "", "[recurrent.topology]", "[recurrent.topology] is missing required key 'num_neurons'"},
    {C, "g_L = 0.9\n", "", "[recurrent.physiology.inhibitory]", "[recurrent.physiology.inhibitory] is missing required key 'g_L'"},
    {C, "[recurrent.physiology.inhibitory]\ntau_mem = 50.0\ntheta = -45.0\nU_reset = -61.0\nE_L = -62.0\ng_L = 0.9\ntau_ref = 7.0\n", "", "[recurrent.physiology.excitatory]", "[recurrent.physiology] is missing required table [recurrent.physiology.inhibitory]"},
    {C, "[simulation]\ndt = 1.0\nduration = 1000.0\nseed = 7\nchunk_size = 100\n", "", NULL, "missing required table [simulation]"},
    {C, "[feedforward.activity.mitral]\nfiring_rate = 6.0\n", "", "[feedforward.cell_types]", "[feedforward] is missing required table [feedforward.activity]"},
    {C, "proportion = [0.8, 0.2]\n", "", "[recurrent.cell_types]", "[recurrent.cell_types] is missing required key 'proportion'"},
    {C, "conn_between = [[0.05, 0.06], [0.07, 0.08]]\n", "", "[recurrent.topology]", "is missing required key 'conn_between'"},
    {T, "batch_size = 4\n", "", "[simulation]", "[simulation] is missing required key 'batch_size'"},
    {T, "plot_size = 10\n", "", "[simulation]", "[simulation] is missing required key 'plot_size'"},
    {T, "tau = 700000.0\n", "", "[odours]", "[odours] is missing required key 'tau'"},
    {T, "[odours.mitral]\nbaseline_rate = 6.0\nmodulation_rate = 30.0\nmodulation_fraction = 0.1\n", "", "[odours]", "[odours] is missing required table [odours.mitral]"},
    {T, "modulation_rate = 30.0\n", "", "[odours.mitral]", "[odours.mitral] is missing required key 'modulation_rate'"},
    {T, "[simulation]", "sigma = 1.0\n[simulation]", "sigma = 1.0", "sigma: given both at the top level and under [odours] (line 16)"},
    /* shapes and lengths */
    {C, "conn_within = [[0.2, 0.21], [0.4, 0.22]]", "conn_within = [[0.2, 0.21, 0.1], [0.4, 0.22, 0.1]]", "conn_within", "[recurrent.topology] conn_within: expected a 2 x 2 matrix (rows: excitatory, inhibitory; columns: excitatory, inhibitory), got row 0 has 3 entries"},
    {C, "w_mu = [[0.4, 0.41], [0.42, 0.43]]", "w_mu = [[0.4, 0.41]]", "w_mu = [[0.4, 0.41]]", "expected a 2 x 2 matrix (rows: excitatory, inhibitory; columns: excitatory, inhibitory), got 1 rows"},
    {C, "conn_inputs = [[0.5, 0.25]]", "conn_inputs = [[0.5]]", "conn_inputs", "[feedforward.topology] conn_inputs: expected a 1 x 2 matrix (rows: mitral; columns: excitatory, inhibitory)"},
    {C, "w_sigma = [[0.1, 0.15]]", "w_sigma = [[0.1, 0.15], [0.1, 0.1]]", "w_sigma = [[0.1, 0.15]", "[feedforward.weights] w_sigma: expected a 1 x 2 matrix"},
    {C, "g_bar = [0.41, 0.045]", "g_bar = [0.41]", "g_bar = [0.41]", "[recurrent.synapses.excitatory] g_bar: has 1 entries but names has 2"},
    {C, "tau_rise = [1.0]", "tau_rise = [1.0, 2.0]", "tau_rise = [1.0, 2.0]", "[recurrent.synapses.inhibitory] tau_rise: has 2 entries but names has 1"},
    {C, "proportion = [0.8, 0.2]", "proportion = [1.0]", "proportion = [1.0]", "[recurrent.cell_types] proportion: has 1 entries but names has 2"},
    {C, "proportion = [0.8, 0.2]", "proportion = [0.8, 0.3]", "proportion = [0.8, 0.3]", "[recurrent.cell_types] proportion: must sum to 1"},
    {C, "proportion = [1]", "proportion = [0.999]", "proportion = [0.999]", "[feedforward.cell_types] proportion: must sum to 1"},
    /* domains */
    {C, "tau_rise = [1.0]", "tau_rise = [6.0]", "tau_decay = [6.0]", "[recurrent.synapses.inhibitory] tau_decay: entry 0 (GABA_A) equals tau_rise (6 ms); the synapse model divides by zero"},
    {C, "dt = 1.0", "dt = 0.0", "dt = 0.0", "[simulation] dt: must be > 0"},
    {C, "dt = 1.0", "dt = -1.0", "dt = -1.0", "[simulation] dt: must be > 0"},
    {C, "duration = 1000.0", "duration = 0", "duration", "duration: must be > 0"},
    {C, "tau_mem = 85.0", "tau_mem = -5.0", "tau_mem = -5.0", "[recurrent.physiology.excitatory] tau_mem: must be > 0"},
    {C, "g_L = 1.35", "g_L = 0", "g_L = 0", "g_L: must be > 0"},
    {C, "tau_ref = 7.0", "tau_ref = -1.0", "tau_ref = -1.0", "[recurrent.physiology.inhibitory] tau_ref: must be >= 0"},
    {C, "theta = -38.0", "theta = -60.0", "theta = -60.0", "[recurrent.physiology.excitatory] theta: the threshold (-60 mV) must be above U_reset (-60 mV)"},
    {C, "tau_decay = [5.0, 70.0]\nE_syn = [0.0, 0.0]\ng_bar = [0.41", "tau_decay = [5.0, 0.0]\nE_syn = [0.0, 0.0]\ng_bar = [0.41", "tau_decay = [5.0, 0.0]", "[recurrent.synapses.excitatory] tau_decay[1]: must be > 0"},
    {C, "g_bar = [0.8]", "g_bar = [-0.8]", "g_bar = [-0.8]", "[recurrent.synapses.inhibitory] g_bar[0]: must be >= 0"},
    {C, "conn_between = [[0.05, 0.06], [0.07, 0.08]]", "conn_between = [[0.05, 1.5], [0.07, 0.08]]", "conn_between", "conn_between[0][1] (excitatory -> inhibitory): must be a probability in [0, 1]"},
    {C, "conn_inputs = [[0.5, 0.25]]", "conn_inputs = [[-0.5, 0.25]]", "conn_inputs", "conn_inputs[0][0] (mitral -> excitatory): must be a probability"},
    {C, "w_sigma = [[0.1, 0.11], [0.12, 0.13]]", "w_sigma = [[0.1, 0.11], [-0.12, 0.13]]", "w_sigma = [[0.1, 0.11], [-", "[recurrent.weights] w_sigma[1][0] (inhibitory -> excitatory): must be >= 0"},
    {C, "w_mu = [[0.5, 0.2]]", "w_mu = [[0.5, -0.2]]", "w_mu = [[0.5, -0.2]]", "[feedforward.weights] w_mu[0][1]"},
    {C, "num_neurons = 20", "num_neurons = 0", "num_neurons = 0", "[recurrent.topology] num_neurons: must be >= 1"},
    {C, "num_neurons = 10", "num_neurons = -3", "num_neurons = -3", "[feedforward.topology] num_neurons: must be >= 1"},
    {C, "num_assemblies = 2", "num_assemblies = 21", "num_assemblies", "num_assemblies: must be <= 20"},
    {C, "chunk_size = 100", "chunk_size = 0", "chunk_size", "[simulation] chunk_size: must be >= 1"},
    {C, "seed = 7", "seed = -1", "seed", "[simulation] seed: must be >= 0"},
    {C, "firing_rate = 6.0", "firing_rate = -6.0", "firing_rate", "[feedforward.activity.mitral] firing_rate: must be >= 0"},
    {C, "proportion = [0.8, 0.2]", "proportion = [1.2, -0.2]", "proportion = [1.2", "proportion[0]: must be a probability in [0, 1]"},
    {C, "seed = 7", "seed = 7\noptimisable = \"everything\"", "optimisable", "[simulation] optimisable: expected one of"},
    {T, "batch_size = 4", "batch_size = 0", "batch_size", "[simulation] batch_size: must be >= 1"},
    {T, "plot_size = 10", "plot_size = -1", "plot_size", "[simulation] plot_size: must be >= 1"},
    {T, "modulation_fraction = 0.1", "modulation_fraction = 1.5", "modulation_fraction", "[odours.mitral] modulation_fraction: must be a probability in [0, 1]"},
    {T, "baseline_rate = 6.0", "baseline_rate = -6.0", "baseline_rate", "[odours.mitral] baseline_rate: must be >= 0"},
    {T, "modulation_rate = 30.0", "modulation_rate = -1", "modulation_rate", "modulation_rate: must be >= 0"},
    {T, "tau = 700000.0", "tau = 0.0", "tau = 0.0", "[odours] tau: must be > 0"},
    /* names and limits */
    {C, "names = [\"excitatory\", \"inhibitory\"]", "names = [\"excitatory\", \"excitatory\"]", "names = [\"excitatory\", \"excitatory\"]", "[recurrent.cell_types] names: 'excitatory' appears twice"},
    {C, "names = [\"GABA_A\"]", "names = [\"GABA_A\", \"GABA_A\"]", "names = [\"GABA_A\", \"GABA_A\"]", "names: 'GABA_A' appears twice"},
    {C, "names = [\"mitral\"]", "names = []", "names = []", "[feedforward.cell_types] names: at least one cell type is needed"},
    {C, "names = [\"excitatory\", \"inhibitory\"]", "names = [\"t0\",\"t1\",\"t2\",\"t3\",\"t4\",\"t5\",\"t6\",\"t7\",\"t8\",\"t9\",\"t10\",\"t11\",\"t12\",\"t13\",\"t14\",\"t15\",\"t16\"]", "names = [\"t0\"", "[recurrent.cell_types] names: at most 16 entries are supported (got 17)"},
    {C, "names = [\"GABA_A\"]", "names = [\"s0\",\"s1\",\"s2\",\"s3\",\"s4\",\"s5\",\"s6\",\"s7\",\"s8\",\"s9\",\"s10\",\"s11\",\"s12\",\"s13\",\"s14\",\"s15\",\"s16\",\"s17\",\"s18\",\"s19\",\"s20\",\"s21\",\"s22\",\"s23\",\"s24\",\"s25\",\"s26\",\"s27\",\"s28\",\"s29\",\"s30\"]", "names = [\"s0\"", "the recurrent layer would have 33 synapse types; at most 32"},
    /* tracking (simulate) */
    {S, "chunk_size = 100\n", "chunk_size = 100\n[tracking]\ntrials = [-1]\n", "trials", "[tracking] trials[0]: must be >= 0"},
    {S, "chunk_size = 100\n", "chunk_size = 100\n[tracking]\ntrials = [0, 2]\n", "trials", "[tracking] trials: trial 2 does not exist: [simulation] batch_size is 1"},
    {S, "chunk_size = 100\n", "chunk_size = 100\n[tracking]\nneurons = [3, 20]\n", "neurons = [", "[tracking] neurons: neuron 20 does not exist: [recurrent.topology] num_neurons is 20"},
    {S, "chunk_size = 100\n", "chunk_size = 100\n[tracking]\nneurons = [3, 3]\n", "neurons = [", "[tracking] neurons: 3 appears twice"},
    {S, "chunk_size = 100\n", "chunk_size = 100\n[tracking]\nneurons = \"some\"\n", "neurons =", "[tracking] neurons: expected a list of neuron indices or \"all\", got \"some\""},
    {S, "chunk_size = 100\n", "chunk_size = 100\n[tracking]\nneuron = [3]\n", "neuron =", "[tracking] unknown key 'neuron' (did you mean 'neurons'?)"},
    {S, "[simulation]", "[trcking]\n[simulation]", "[trcking]", "unknown key 'trcking' (did you mean 'tracking'?)"},
    {S, "dt = 1.0\n", "", "[simulation]", "[simulation] is missing required key 'dt'"},
    {S, "[recurrent.physiology.inhibitory]", "[recurrent.physiology.inhibitory_x]", "inhibitory_x", "unknown key 'inhibitory_x'"},
    /* stage 4: both spellings of one setting */
    {R, "[training]\n", "[training]\nchunks_per_update = 2\n", "chunks_per_update", "[training] chunks_per_update: the same setting as [simulation] accumulation_interval (line 5): write only one of them"},
    {R, "accumulation_interval = 4\n\n[training]\n", "accumulation_interval = 4\ncheckpoint_interval = 10\n\n[training]\ncheckpoint_interval = 20\n", "checkpoint_interval = 20", "[training] checkpoint_interval: the same setting as [simulation] checkpoint_interval (line 6)"},
    {R, "accumulation_interval = 4\n\n[training]\n", "accumulation_interval = 4\nlog_interval = 10\n\n[training]\nlog_interval = 20\n", "log_interval = 20", "[training] log_interval: the same setting as [simulation] log_interval (line 6)"},
    {R, "accumulation_interval = 4\n\n[training]\n", "accumulation_interval = 4\nplot_interval = 10\n\n[training]\nplot_interval = 20\n", "plot_interval = 20", "[training] plot_interval: the same setting as [simulation] plot_interval (line 6)"},
    {R, "accumulation_interval = 4\n\n[training]\n", "accumulation_interval = 4\nplot_size = 10\n\n[training]\nplot_size = 20\n", "plot_size = 20", "[training] plot_size: the same setting as [simulation] plot_size (line 6)"},
    {R, "[training]\n", "[training]\nepochs = 2\n", "epochs = 2", "[training] epochs: [simulation] epochs (line 4) is given too; give exactly one"},
    {R, "epochs = 120\n", "", "[simulation]", "[simulation] is missing required key 'epochs' (the number of iterations; or give [training] epochs"},
    {R, "alpha = 0.05", "firing_rates = 1.0\nfiring_rate = 2.0", "firing_rate = 2.0", "[targets] firing_rate: the same setting as firing_rates (line 12): write only one of them"},
    {R, "alpha = 0.05", "cv = 1.0\ncvs = 2.0", "cvs = 2.0", "[targets] cvs: the same setting as cv (line 12)"},
    /* stage 4: keys in the wrong place or not of this stage */
    {R, "seed = 44", "seed = 44\nbatch_size = 4", "batch_size", "[simulation] batch_size: not a stage-4 key: the trials (and their number) come from the teacher data"},
    {R, "[training]\n", "[training]\nbatch_size = 4\n", "batch_size", "[training] batch_size: not a stage-4 key"},
    {R, "seed = 44", "seed = 44\nduration = 1000.0", "duration", "[simulation] duration: not a stage-4 key"},
    {R, "[training]\n", "[training]\naccumulation_interval = 4\n", "accumulation_interval = 4\nw", "[training] accumulation_interval: not a key of [training]: write chunks_per_update here"},
    {R, "seed = 44", "seed = 44\nchunks_per_update = 4", "chunks_per_update", "[simulation] chunks_per_update: belongs in [training]; here it is called accumulation_interval"},
    {R, "seed = 44", "seed = 44\noptimisable = \"weights\"", "optimisable", "[simulation] optimisable: belongs in [training]"},
    {R, "[training]\n", "[training]\nchunk_size = 4\n", "chunk_size = 4", "[training] chunk_size: belongs in [simulation]"},
    {R, "accumulation_interval = 4", "accumulation_intervall = 4", "accumulation_intervall", "[simulation] unknown key 'accumulation_intervall' (did you mean 'accumulation_interval'?)"},
    {R, "optimisable = \"scaling_factors_recurrent\"", "optimizable = \"weights\"", "optimizable", "[training] unknown key 'optimizable' (did you mean 'optimisable'?)"},
    {R, "[targets]", "[odours]\ntau = 1.0\n\n[targets]", "[odours]", "unknown key 'odours'"},
    {R, "[recurrent.cell_types]", "[recurrent.topology]\nnum_neurons = 5\n[recurrent.cell_types]", "[recurrent.topology]", "[recurrent] unknown key 'topology'"},
    {R, "[recurrent.physiology.inhibitory]\ntau_mem = 50.0\ntheta = -45.0\nU_reset = -60.0\nE_L = -60.0\ng_L = 0.9\ntau_ref = 8.0\n", "", "[recurrent.physiology.excitatory]", "[recurrent.physiology] is missing required table [recurrent.physiology.inhibitory]"},
    /* stage 4: [simulation] and [training] values */
    {R, "seed = 44\n", "", "[simulation]", "[simulation] is missing required key 'seed'"},
    {R, "seed = 44", "seed = -1", "seed", "[simulation] seed: must be >= 0"},
    {R, "chunk_size = 50\n", "", "[simulation]", "[simulation] is missing required key 'chunk_size'"},
    {R, "chunk_size = 50", "chunk_size = 0", "chunk_size", "[simulation] chunk_size: must be >= 1"},
    {R, "seed = 44", "seed = 44\ndt = 0", "dt = 0", "[simulation] dt: must be > 0"},
    {R, "epochs = 120", "epochs = 0", "epochs", "[simulation] epochs: must be >= 1"},
    {R, "epochs = 120", "epochs = 12.5", "epochs", "[simulation] epochs: expected an integer, got 12.5"},
    {R, "epochs = 120\naccumulation_interval = 4\n\n[training]\n", "accumulation_interval = 4\n\n[training]\nepochs = 0\n", "epochs = 0", "[training] epochs: must be >= 1"},
    {R, "accumulation_interval = 4", "accumulation_interval = 0", "accumulation_interval", "[simulation] accumulation_interval: must be >= 1"},
    {R, "accumulation_interval = 4\n\n[training]\n", "\n[training]\nchunks_per_update = 0\n", "chunks_per_update", "[training] chunks_per_update: must be >= 1"},
    {R, "[training]\n", "[training]\ncheckpoint_interval = 0\n", "checkpoint_interval", "[training] checkpoint_interval: must be >= 1"},
    {R, "[training]\n", "[training]\nplot_size = 0\n", "plot_size", "[training] plot_size: must be >= 1"},
    {R, "[training]\n", "[training]\nlog_interval = -5\n", "log_interval", "[training] log_interval: must be >= 1"},
    {R, "weight_perturbation_variance = 0.2", "weight_perturbation_variance = -0.2", "weight_perturbation_variance", "[training] weight_perturbation_variance: must be >= 0"},
    {R, "[training]\n", "[training]\ngrad_norm_clip = 0.0\n", "grad_norm_clip", "[training] grad_norm_clip: must be > 0"},
    {R, "optimisable = \"scaling_factors_recurrent\"", "optimisable = \"everything\"", "optimisable", "[training] optimisable: expected one of \"scaling_factors\", \"scaling_factors_recurrent\", \"scaling_factors_feedforward\", \"weights\", got \"everything\""},
    {R, "[training]\n", "[training]\nmixed_precision = \"yes\"\n", "mixed_precision", "[training] mixed_precision: expected true or false, got a string"},
    /* stage 4: the fitting method */
    {R, "[training]\n", "[training]\nmethod = \"forced\"\n", "method", "[training] method: expected \"closed_loop\" or \"teacher_forced\", got \"forced\""},
    {R, "[training]\n", "[training]\noptimiser = \"sgd\"\n", "optimiser", "[training] optimiser: expected \"adam\" or \"lbfgs\", got \"sgd\""},
    {R, "[training]\n", "[training]\noptimiser = \"lbfgs\"\n", "optimiser", "[training] optimiser: \"lbfgs\" needs method = \"teacher_forced\""},
    {R, "[training]\n", "[training]\nmethod = \"teacher_forced\"\n", "loss_weight.van_rossum", "[hyperparameters.loss_weight] van_rossum: method = \"teacher_forced\" fits the spike-time loss"},
    {R, "loss_weight.firing_rate = 0.5", "loss_weight.firing_rate = 0.5\nloss_weight.spike_time = 1.0", "loss_weight.spike_time", "[hyperparameters.loss_weight] spike_time: the spike-time loss needs [training] method = \"teacher_forced\""},
    {R, "[training]\n", "[training]\nfit_steps = 0\n", "fit_steps", "[training] fit_steps: must be >= 1"},
    {R, "[training]\n", "[training]\nburn_in = -1.0\n", "burn_in", "[training] burn_in: must be >= 0"},
    {R, "[training]\n", "[training]\nlbfgs_history = 0\n", "lbfgs_history", "[training] lbfgs_history: must be >= 1"},
    {R, "[training]\n", "[training]\ngradient_tolerance = -1e-3\n", "gradient_tolerance", "[training] gradient_tolerance: must be >= 0"},
    {R, "[training]\n", "[training]\neval_chunks = 0\n", "eval_chunks", "[training] eval_chunks: must be >= 1"},
    {R, "learning_rate = 0.01", "learning_rate = 0.01\nspike_time_delta = 0", "spike_time_delta", "[hyperparameters] spike_time_delta: must be > 0"},
    {R, "learning_rate = 0.01", "learning_rate = 0.01\nspike_time_loss = \"hinge\"", "spike_time_loss", "[hyperparameters] spike_time_loss: expected \"cross_entropy\" or \"squared_hinge\", got \"hinge\""},
    /* stage 4: [hyperparameters] */
    {R, "[hyperparameters]\nlearning_rate = 0.01\nvan_rossum_tau = 150.0\nloss_weight.van_rossum = 2.0\nloss_weight.firing_rate = 0.5\n", "", NULL, "missing required table [hyperparameters]"},
    {R, "learning_rate = 0.01\n", "", "[hyperparameters]", "[hyperparameters] is missing required key 'learning_rate'"},
    {R, "learning_rate = 0.01", "learning_rate = 0", "learning_rate", "[hyperparameters] learning_rate: must be > 0"},
    {R, "learning_rate = 0.01", "learning_rte = 0.01", "learning_rte", "[hyperparameters] unknown key 'learning_rte' (did you mean 'learning_rate'?)"},
    {R, "learning_rate = 0.01", "learning_rate = 0.01\nsurrgrad_scale = 0", "surrgrad_scale", "[hyperparameters] surrgrad_scale: must be > 0"},
    {R, "learning_rate = 0.01", "learning_rate = 0.01\nsurrogate_cutoff = 1.0", "surrogate_cutoff", "[hyperparameters] surrogate_cutoff: must be below 1"},
    {R, "van_rossum_tau = 150.0", "van_rossum_tau = -1", "van_rossum_tau", "[hyperparameters] van_rossum_tau: must be > 0"},
    {R, "van_rossum_tau = 150.0", "van_rossum_tau = 150.0\nvan_rossum_tau_rise = 1.0\nvan_rossum_tau_decay = 20.0", "van_rossum_tau = 150.0", "[hyperparameters] van_rossum_tau: give either van_rossum_tau (an exponential kernel) or van_rossum_tau_rise and van_rossum_tau_decay"},
    {R, "van_rossum_tau = 150.0", "van_rossum_tau_rise = 1.0", "van_rossum_tau_rise", "[hyperparameters] van_rossum_tau_rise: van_rossum_tau_rise and van_rossum_tau_decay go together (the difference-of-exponentials kernel needs both); van_rossum_tau_decay is missing"},
    {R, "van_rossum_tau = 150.0", "van_rossum_tau_decay = 100.0", "van_rossum_tau_decay", "[hyperparameters] van_rossum_tau_decay: van_rossum_tau_rise and van_rossum_tau_decay go together (the difference-of-exponentials kernel needs both); van_rossum_tau_rise is missing"},
    {R, "van_rossum_tau = 150.0", "van_rossum_tau_rise = 30.0\nvan_rossum_tau_decay = 20.0", "van_rossum_tau_decay", "[hyperparameters] van_rossum_tau_decay: must be greater than van_rossum_tau_rise (30 ms), got 20 ms"},
    {R, "van_rossum_tau = 150.0", "van_rossum_tau_rise = 20.0\nvan_rossum_tau_decay = 20", "van_rossum_tau_decay", "van_rossum_tau_decay: must be greater than van_rossum_tau_rise (20 ms)"},
    {R, "van_rossum_tau = 150.0", "van_rossum_tau_rise = 0\nvan_rossum_tau_decay = 20.0", "van_rossum_tau_rise", "[hyperparameters] van_rossum_tau_rise: must be > 0"},
    {R, "loss_weight.van_rossum = 2.0\nloss_weight.firing_rate = 0.5", "loss_weight.van_rossum = 0\nloss_weight.firing_rate = 0.0", "loss_weight.van_rossum", "[hyperparameters] loss_weight: every loss weight is 0: nothing to train"},
    {R, "loss_weight.van_rossum = 2.0\nloss_weight.firing_rate = 0.5\n", "", "[hyperparameters]", "[hyperparameters] loss_weight: every loss weight is 0: nothing to train"},
    {R, "loss_weight.van_rossum = 2.0\nloss_weight.firing_rate = 0.5", "loss_weight.cv = 1.0", "loss_weight.cv", "[hyperparameters] loss_weight: only the cv loss has a weight, and it has no gradient (it is logged only): nothing to train"},
    {R, "loss_weight.firing_rate = 0.5", "loss_weight.firing_rate = -0.5", "loss_weight.firing_rate", "[hyperparameters.loss_weight] firing_rate: must be >= 0"},
    {R, "loss_weight.firing_rate = 0.5", "loss_weight.firing_rates = 0.5", "loss_weight.firing_rates", "[hyperparameters.loss_weight] unknown key 'firing_rates' (did you mean 'firing_rate'?)"},
    {R, "loss_weight.van_rossum = 2.0\nloss_weight.firing_rate = 0.5", "loss_weight = 1.0", "loss_weight", "[hyperparameters] loss_weight: expected a table, got a float"},
    /* stage 4: [targets] */
    {R, "alpha = 0.05", "firing_rates.excitatroy = 1.0\nfiring_rates.inhibitory = 2.0", "firing_rates.excitatroy", "[targets.firing_rates] unknown key 'excitatroy': it must be a recurrent cell type (did you mean 'excitatory'?)"},
    {R, "alpha = 0.05", "alpha.excitatory = 1.0", "alpha.excitatory", "[targets.alpha] is missing required key 'inhibitory'"},
    {R, "alpha = 0.05", "alpha = [1.0, 2.0]", "alpha", "[targets] alpha: expected a number (for every cell type) or a table keyed by cell type, got an array"},
    {R, "alpha = 0.05", "alpha = -0.05", "alpha", "[targets] alpha: must be >= 0"},
    {R, "alpha = 0.05", "threshold_ratio = { excitatory = 0.5, inhibitory = -1 }", "threshold_ratio", "[targets.threshold_ratio] inhibitory: must be >= 0"},
    {R, "alpha = 0.05", "cvs.excitatory = \"high\"\ncvs.inhibitory = 1", "cvs.excitatory", "[targets.cvs] excitatory: expected a number, got a string"},
    {R, "alpha = 0.05", "weight_ratio = 0", "weight_ratio", "[targets] weight_ratio: must be > 0"},
    {R, "alpha = 0.05", "firing_rats = 1", "firing_rats", "[targets] unknown key 'firing_rats' (did you mean 'firing_rates'?)"},
    /* stage 4: [scaling_factors] and [wandb] */
    {R, "[feedforward.cell_types]", "[scaling_factors]\nrecurrent = [[1.0, 1.0]]\n\n[feedforward.cell_types]", "recurrent = [[", "[scaling_factors] recurrent: expected a 2 x 2 matrix (rows: excitatory, inhibitory; columns: excitatory, inhibitory), got 1 rows"},
    {R, "[feedforward.cell_types]", "[scaling_factors]\nfeedforward = [[1.0, 0.0]]\n\n[feedforward.cell_types]", "feedforward = [[", "[scaling_factors] feedforward[0][1] (mitral -> inhibitory): must be > 0"},
    {R, "[feedforward.cell_types]", "[scaling_factors]\nrecurrent = [[1.0, 1.0], [-1.0, 1.0]]\n\n[feedforward.cell_types]", "recurrent = [[", "[scaling_factors] recurrent[1][0] (inhibitory -> excitatory): must be > 0"},
    {R, "[feedforward.cell_types]", "[scaling_factors]\nfeedforward = [[1.0, nan]]\n\n[feedforward.cell_types]", "feedforward = [[", "[scaling_factors] feedforward[0][1] (mitral -> inhibitory): expected a finite number"},
    {R, "[feedforward.cell_types]", "[scaling_factors]\nrecurent = [[1.0]]\n\n[feedforward.cell_types]", "recurent", "[scaling_factors] unknown key 'recurent' (did you mean 'recurrent'?)"},
    {R, "[targets]", "[wandb]\nprojet = \"x\"\n\n[targets]", "projet", "[wandb] unknown key 'projet' (did you mean 'project'?)"},
    {R, "[targets]", "[wandb]\nenabled = \"yes\"\n\n[targets]", "enabled", "[wandb] enabled: expected true or false"},
    {R, "[targets]", "[wandb]\ntags = [\"a\", \"a\"]\n\n[targets]", "tags", "[wandb] tags: 'a' appears twice"},
    /* issue 11: limits far beyond any useful run, so that a typo is refused with its key named */
    {C, "duration = 1000.0", "duration = 1e308", "duration", "[simulation] duration: 1e+308 is out of range (numbers are at most 1e+12 in size)"},
    {C, "dt = 1.0", "dt = 1e-300", "duration", "[simulation] duration: 1000 ms at dt = 1e-300 ms is 1e+303 time steps, more than 100000000"},
    {T, "duration = 2000.0", "duration = 1e9", "duration", "[simulation] duration: 1e+09 ms at dt = 0.5 ms is 2e+09 time steps, more than 100000000"},
    {C, "dt = 1.0", "dt = 1e9", "duration", "[simulation] duration: 1000 ms is shorter than one chunk (chunk_size 100 x dt 1e+09 ms"},
    {C, "chunk_size = 100", "chunk_size = 5000", "duration", "[simulation] duration: 1000 ms is shorter than one chunk (chunk_size 5000"},
    {T, "duration = 2000.0", "duration = 20.0", "duration", "[simulation] duration: 20 ms is shorter than one chunk"},
    {C, "chunk_size = 100", "chunk_size = 100000001", "chunk_size", "[simulation] chunk_size: must be <= 100000000"},
    {T, "batch_size = 4", "batch_size = 1000001", "batch_size", "[simulation] batch_size: must be <= 1000000"},
    {T, "batch_size = 4", "batch_size = 4611686018427387904", "batch_size", "[simulation] batch_size: must be <= 1000000"},
    {T, "plot_size = 10", "plot_size = 0", "plot_size", "[simulation] plot_size: must be >= 1"},
    {T, "plot_size = 10", "plot_size = 2000000", "plot_size", "[simulation] plot_size: 2000000 chunks of 100 steps are more than 100000000 time steps"},
    {T, "baseline_rate = 6.0", "baseline_rate = 1e308", "baseline_rate", "[odours.mitral] baseline_rate: 1e+308 is out of range"},
    {T, "baseline_rate = 6.0", "baseline_rate = 2e5", "baseline_rate", "[odours.mitral] baseline_rate: must be at most 100000 Hz"},
    {C, "firing_rate = 6.0", "firing_rate = 1e6", "firing_rate", "[feedforward.activity.mitral] firing_rate: must be at most 100000 Hz"},
    {C, "w_mu = [[0.5, 0.2]]", "w_mu = [[0.5, 2e6]]", "w_mu = [[0.5, 2e6]]", "[feedforward.weights] w_mu[0][1] (mitral -> inhibitory): must be at most 1e+06"},
    {C, "w_mu = [[0.5, 0.2]]", "w_mu = [[1e300, 0.2]]", "w_mu = [[1e300, 0.2]]", "[feedforward.weights] w_mu[0][0] (mitral -> excitatory): 1e+300 is out of range"},
    {R, "[feedforward.cell_types]", "[scaling_factors]\nfeedforward = [[1.0, 1e7]]\n\n[feedforward.cell_types]", "feedforward = [[", "[scaling_factors] feedforward[0][1] (mitral -> inhibitory): must be at most 1e+06"},
    {R, "epochs = 120", "epochs = 9223372036854775807", "epochs", "[simulation] epochs: must be <= 1000000000"},
    {R, "accumulation_interval = 4", "accumulation_interval = 121", "accumulation_interval", "[simulation] accumulation_interval: 121 iterations per optimiser step, but the run has only 120 iterations"},
    {R, "accumulation_interval = 4", "accumulation_interval = 4\nplot_size = 4611686018427387904", "plot_size", "[simulation] plot_size: must be <= 100000000"},
    {R, "accumulation_interval = 4", "accumulation_interval = 4\nplot_size = 3000000", "plot_size", "[simulation] plot_size: 3000000 chunks of 50 steps are more than 100000000 time steps"},
    {R, "alpha = 0.05", "firing_rates = 1e6", "firing_rates", "[targets] firing_rates: must be at most 100000 Hz"},
};

#undef C
#undef T
#undef S
#undef R

static void test_each_rule_has_a_message(void **state) {
    (void)state;
    int checked = 0;
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        const bad *b = &BAD[i];
        const char *base = b->stage == SNN_STAGE_TEACHER ? BASE_TEACHER
                           : b->stage == SNN_STAGE_TRAIN ? BASE_TRAIN
                                                         : BASE_CONN;
        char *text = mutate(base, b->old, b->new_text);
        snn_error err = {0};
        int rc = snn_params_load_string(text, "bad.toml", b->stage, &P, &err);
        if (rc != SNN_EINPUT) fail_msg("case %zu (%s) was accepted", i, b->want);
        char prefix[64];
        if (b->anchor)
            snprintf(prefix, sizeof prefix, "bad.toml:%d: ", line_of(text, b->anchor));
        else
            snprintf(prefix, sizeof prefix, "bad.toml: ");
        if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || !strstr(err.msg, b->want))
            fail_msg("case %zu: message\n  '%s'\nshould start with '%s' and contain\n  '%s'", i, err.msg, prefix,
                     b->want);
        assert_null(strchr(err.msg, '\n')); /* one line */
        free(text);
        checked++;
    }
    assert_true(checked >= 140);
}

/* The base texts themselves are valid (so each failure above is due to its one change). */
static void test_bases_are_valid(void **state) {
    (void)state;
    snn_error err = {0};
    if (snn_params_load_string(BASE_CONN, "base", SNN_STAGE_CONNECTOME, &P, &err)) fail_msg("%s", err.msg);
    assert_int_equal(P.rec.n_synapses, 3);
    assert_true(P.ff.synapses[1].g_bar == 0.046);
    if (snn_params_load_string(BASE_CONN, "base", SNN_STAGE_SIMULATE, &P, &err)) fail_msg("%s", err.msg);
    if (snn_params_load_string(BASE_TEACHER, "base", SNN_STAGE_TEACHER, &P, &err)) fail_msg("%s", err.msg);
    if (snn_params_load_string(BASE_TEACHER, "base", SNN_STAGE_SIMULATE, &P, &err)) fail_msg("%s", err.msg);
    if (snn_params_load_string(BASE_TRAIN, "base", SNN_STAGE_TRAIN, &P, &err)) fail_msg("%s", err.msg);
}

/* Messages about a real file name its path; TOML syntax errors come through with their line. */
static void test_file_errors(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/my-params.toml", dir);
    char *text = mutate(BASE_CONN, "dt = 1.0", "dt = 0");
    assert_int_equal(tu_write(path, text), 0);
    free(text);
    snn_error err = {0};
    assert_int_equal(snn_params_load(path, SNN_STAGE_CONNECTOME, &P, &err), SNN_EINPUT);
    char want[1200];
    snprintf(want, sizeof want, "%s:2: [simulation] dt: must be > 0 (got 0)", path);
    assert_string_equal(err.msg, want);

    text = mutate(BASE_CONN, "seed = 7", "seed = 7\nseed = 8");
    assert_int_equal(tu_write(path, text), 0);
    free(text);
    snn_error_clear(&err);
    assert_int_equal(snn_params_load(path, SNN_STAGE_CONNECTOME, &P, &err), SNN_EINPUT);
    snprintf(want, sizeof want, "%s:5: duplicate key 'seed'", path);
    assert_non_null(strstr(err.msg, want));

    snn_error_clear(&err);
    snprintf(path, sizeof path, "%s/absent.toml", dir);
    assert_int_equal(snn_params_load(path, SNN_STAGE_TEACHER, &P, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "absent.toml"));
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_connectome_file),
        cmocka_unit_test(test_reference_teacher_file),
        cmocka_unit_test(test_reference_later_stage_files_parse),
        cmocka_unit_test(test_shipped_files),
        cmocka_unit_test(test_accepted_variants),
        cmocka_unit_test(test_reference_train_file),
        cmocka_unit_test(test_train_variants),
        cmocka_unit_test(test_reference_homeostatic_file),
        cmocka_unit_test(test_demo_homeostatic_file),
        cmocka_unit_test(test_homeostatic_errors),
        cmocka_unit_test(test_bases_are_valid),
        cmocka_unit_test(test_each_rule_has_a_message),
        cmocka_unit_test(test_file_errors),
    };
    return cmocka_run_group_tests_name("params", tests, NULL, NULL);
}
