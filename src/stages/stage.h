/* What every command shares: its options, the output-folder rules, and loading a network.
 *
 * Output folders: a command refuses an output folder that exists and is not empty (exit 2) unless
 * --overwrite is given, in which case the old folder is removed first; all of this happens after the
 * inputs were validated, so bad input never touches an existing folder. Every run copies its
 * parameter file into the output folder as parameters.toml. */
#ifndef SNNFIT_STAGES_STAGE_H
#define SNNFIT_STAGES_STAGE_H

#include "core/error.h"
#include "config/params.h"
#include "model/lif.h"
#include "model/memory.h"
#include "model/network.h"
#include "model/structure.h"

typedef struct snn_stage_opts {
    const char *params_path;
    const char *input;     /* -i: a folder (holding network_structure.npz, ...) or a file; may be NULL */
    const char *output;    /* -o */
    const char *inputs_file; /* simulate --inputs: an npz with input_spikes or a teacher zarr store */
    int quiet;
    int overwrite;
    const char *resume_from;   /* train --resume-from FILE */
    int64_t stop_after;        /* train/resume --stop-after K: stop (with a checkpoint) after K iterations */
    int no_wandb;
    int jobs;              /* sweep --jobs N: points run at once (0: 1) */
    /* set by `snnfit run`, which prepares OUT (inputs/, metadata.json) before the stage runs: the
     * stage uses the folder as it is, never refusing or removing it */
    int keep_existing;
    int argc;              /* the command line, recorded by `snnfit run` in metadata.json */
    char **argv;
    /* a command's own options (import, convert), in command-line order: the CLI's option table
     * parses and documents them; the stage reads them here by name ("--edges", "--dense", ...).
     * value is NULL for a flag. */
    int n_named;
    struct {
        const char *name;
        const char *value;
    } named[32];
} snn_stage_opts;

/* Refuses a non-empty existing output folder unless overwrite, touching nothing: a check a command
 * makes before long work (stage 1 generates the connectome after it). */
int snn_stage_check_output(const snn_stage_opts *o, snn_error *err);

/* Refuses a non-empty existing output folder unless overwrite (then removes it); creates it.
 * With keep_existing it only creates the folder if missing. */
int snn_stage_prepare_output(const snn_stage_opts *o, snn_error *err);

/* Copies the parameter file to <output>/parameters.toml. */
int snn_stage_copy_params(const snn_stage_opts *o, snn_error *err);

/* Resolves -i to the path of a network structure file: the path itself if it is a file, else
 * <dir>/network_structure.npz. */
int snn_stage_structure_path(const char *input, char *out, size_t n, snn_error *err);

/* Loads a structure and builds the network for the layers of p (types checked against p). */
int snn_stage_load_network(const snn_params *p, const char *structure_path, snn_structure *s,
                           snn_network *net, snn_error *err);

/* The sizes of net for the memory figures (model/memory.h). */
snn_mem_sizes snn_stage_mem_sizes(const snn_network *net);
/* Prints the memory figures of a run: the network (bytes per synapse), the state per neuron and
 * trial (and with training the reverse pass's and the tape's), and the estimate of the whole run. */
void snn_stage_print_memory(const snn_network *net, int training, uint64_t estimate);

/* Prints which refractory model is in force (SPEC section 4). */
void snn_stage_print_refractory(const snn_params *p);

int snn_stage_connectome(const snn_stage_opts *o, snn_error *err);
int snn_stage_teacher(const snn_stage_opts *o, snn_error *err);
int snn_stage_simulate(const snn_stage_opts *o, snn_error *err);
int snn_stage_train(const snn_stage_opts *o, snn_error *err);
/* resume: o->output is the run's folder; its parameters.toml and checkpoint are used (a stage-2
 * folder is handed to snn_stage_homeostatic_resume) */
int snn_stage_resume(const snn_stage_opts *o, snn_error *err);
/* stage 2: o->input is optional (without it the connectome is generated) */
int snn_stage_homeostatic(const snn_stage_opts *o, snn_error *err);
/* resume of a stage-2 folder o->output (its parameters.toml, inputs/network_structure.npz and
 * checkpoints/checkpoint_latest.npz) */
int snn_stage_homeostatic_resume(const snn_stage_opts *o, snn_error *err);
/* analysis (SPEC section 8; stages/analysis.c). compare: o->input = EXP (a finished stage-4 run),
 * o->output = OUT (prepared like any output folder), o->params_path = TEACHER.toml. odourants:
 * o->input = EXP (a stage-3 run); writes into EXP/figures/. */
int snn_stage_compare(const snn_stage_opts *o, snn_error *err);
int snn_stage_odourants(const snn_stage_opts *o, snn_error *err);

/* snnfit import (stages/import.c, docs/import.md): o->output and the named options (--edges, --neurons,
 * --mapping, the column names, --duplicates, ...). snnfit convert (stages/convert.c): o->input IN.npz,
 * o->output OUT.npz and one named flag of --dense, --sparse, --auto. */
int snn_stage_import(const snn_stage_opts *o, snn_error *err);
int snn_stage_convert(const snn_stage_opts *o, snn_error *err);

/* snnfit run EXPERIMENT.toml (stages/run.c, SPEC section 10): o->input = the experiment file,
 * o->overwrite replaces its output folder; the exit status is the stage's. */
int snn_stage_run(const snn_stage_opts *o, snn_error *err);

/* snnfit sweep SWEEP.toml -o OUT [--jobs N] (stages/sweep.c): o->params_path = the sweep file,
 * o->output = OUT. Every point a tracked run (`snnfit run`) in OUT/points/<name>/; OUT/summary.csv. */
int snn_stage_sweep(const snn_stage_opts *o, snn_error *err);

#endif
