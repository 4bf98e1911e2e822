#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/params.h"
#include "io/toml.h"
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
    "[feedforward.synapses.mitral]\n"
    "names = [ \"AMPA\", \"NMDA\",]\n"
    "tau_rise = [ 0.1, 10.0,]\n"
    "tau_decay = [ 5.0, 70.0,]\n"
    "E_syn = [ 0.0, 0.0,]\n"
    "g_bar = [ 4.177, 0.448,]\n"
    "\n"
    "[recurrent.cell_types]\n"
    "names = [ \"excitatory\", \"inhibitory\",]\n"
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
    "names = [ \"AMPA\", \"NMDA\",]\n"
    "tau_rise = [ 0.1, 10.0,]\n"
    "tau_decay = [ 5.0, 70.0,]\n"
    "E_syn = [ 0.0, 0.0,]\n"
    "g_bar = [ 4.177, 0.448,]\n"
    "\n"
    "[recurrent.physiology.inhibitory]\n"
    "tau_mem = 50.0\n"
    "theta = -45.0\n"
    "U_reset = -60.0\n"
    "E_L = -60.0\n"
    "g_L = 0.9\n"
    "tau_ref = 8.0\n"
    "\n"
    "[recurrent.synapses.inhibitory]\n"
    "names = [ \"GABA_A\",]\n"
    "tau_rise = [ 1.0,]\n"
    "tau_decay = [ 6.0,]\n"
    "E_syn = [ -70.0,]\n"
    "g_bar = [ 8.139,]\n";

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

/* The stage-2 and stage-4 reference files are for later loaders; here they must parse as TOML with
 * the layout the reference uses (dotted keys, a scaling_factors table of matrices). */
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
    assert_true(P.rec.synapses[2].g_bar == 0.8139);

    if (snn_params_load(tu_src("parameters/generate-teacher-activity.toml"), SNN_STAGE_TEACHER, &P, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(P.sim.batch_size, 50);
    assert_true(P.ou_tau == 700000.0);
    assert_true(P.odours[0].modulation_rate == 30.0);
    check_reference_physiology(&P);
    assert_true(P.rec.synapses[2].g_bar == 8.139);

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
    assert_true(fabs(P.rec.synapses[0].g_bar - 10 * demo_g) < 1e-12);
    /* every shipped file also works for `snnfit simulate` */
    const char *files[] = {"parameters/connectome.toml", "parameters/generate-teacher-activity.toml",
                           "parameters/demo-connectome.toml", "parameters/demo-teacher.toml"};
    for (int i = 0; i < 4; i++)
        if (snn_params_load(tu_src(files[i]), SNN_STAGE_SIMULATE, &P, &err)) fail_msg("%s", err.msg);
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

typedef struct bad {
    snn_stage stage;
    const char *old, *new_text; /* applied to the stage's base text */
    const char *anchor;         /* text whose line the message must give; NULL: no line */
    const char *want;           /* substring the message must contain */
} bad;

#define C SNN_STAGE_CONNECTOME
#define T SNN_STAGE_TEACHER
#define S SNN_STAGE_SIMULATE

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
    {T, "plot_size = 10", "plot_size = -1", "plot_size", "[simulation] plot_size: must be >= 0"},
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
    {S, "chunk_size = 100\n", "chunk_size = 100\n[tracking]\nneuron = [3]\n", "neuron =", "[tracking] unknown key 'neuron' (did you mean 'neurons'?)"},
    {S, "[simulation]", "[trcking]\n[simulation]", "[trcking]", "unknown key 'trcking' (did you mean 'tracking'?)"},
    {S, "dt = 1.0\n", "", "[simulation]", "[simulation] is missing required key 'dt'"},
    {S, "[recurrent.physiology.inhibitory]", "[recurrent.physiology.inhibitory_x]", "inhibitory_x", "unknown key 'inhibitory_x'"},
};

#undef C
#undef T
#undef S

static void test_each_rule_has_a_message(void **state) {
    (void)state;
    int checked = 0;
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        const bad *b = &BAD[i];
        const char *base = b->stage == SNN_STAGE_TEACHER ? BASE_TEACHER : BASE_CONN;
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
    assert_true(checked >= 70);
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
        cmocka_unit_test(test_bases_are_valid),
        cmocka_unit_test(test_each_rule_has_a_message),
        cmocka_unit_test(test_file_errors),
    };
    return cmocka_run_group_tests_name("params", tests, NULL, NULL);
}
