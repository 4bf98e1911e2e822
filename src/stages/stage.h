/* What every command shares: its options, the output-folder rules, and loading a network.
 *
 * Output folders: a command refuses an output folder that is, contains or lies inside one of its
 * inputs (exit 2, checked first, symbolic links resolved), and one that exists and is not empty unless
 * --overwrite is given, in which case the old folder is removed first; all of this happens after the
 * inputs were validated and the run's memory estimated, so bad input never touches an existing folder.
 * A folder being written is locked (flock) for the writer's lifetime: a second writer is refused.
 * Every run copies its parameter file into the output folder as parameters.toml. */
#ifndef SNNFIT_STAGES_STAGE_H
#define SNNFIT_STAGES_STAGE_H

#include "core/error.h"
#include "config/params.h"
#include "model/lif.h"
#include "model/memory.h"
#include "model/network.h"
#include "model/structure.h"
#include "stages/memory.h"

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
    uint64_t max_memory;       /* --max-memory BYTES; 0: the memory available (MemAvailable) */
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

/* Refuses, touching nothing, an output folder that is, contains or lies inside an input
 * (snn_stage_check_io) and a non-empty existing one unless overwrite: a check a command makes before
 * long work (stage 1 generates the connectome after it). */
int snn_stage_check_output(const snn_stage_opts *o, snn_error *err);

/* Refuses a non-empty existing output folder unless overwrite (then removes it, unless another process
 * holds its lock); creates it and locks it. With keep_existing it only creates the folder if missing.
 * Repeats snn_stage_check_output first. */
int snn_stage_prepare_output(const snn_stage_opts *o, snn_error *err);

/* An input of a command, for the output checks: what it is ("the input -i") and its path. */
typedef struct snn_stage_input {
    const char *what;
    const char *path;
} snn_stage_input;

/* SNN_EINPUT when the output folder is, contains or lies inside one of the inputs (paths resolved with
 * realpath, a missing output by its deepest existing folder): "[<where>: ]output folder X contains the
 * parameter file (X/p.toml); choose another output folder". Inputs that do not exist are skipped. */
int snn_stage_check_inputs(const char *where, const char *output, const snn_stage_input *in, int n,
                           snn_error *err);
/* The same for the command line's inputs (parameter file, -i, --inputs); nothing with keep_existing. */
int snn_stage_check_io(const snn_stage_opts *o, snn_error *err);
/* path made absolute with symbolic links resolved as far as it exists ("." and ".." removed). */
int snn_stage_resolve_path(const char *path, char *out, size_t n);
/* p against base (an absolute folder) unless p is absolute, then lexically normalised: no ".", "..",
 * repeated or trailing '/'; symbolic links kept as written. -1 when it does not fit in n. */
int snn_stage_lexical_path(const char *base, const char *p, char *out, size_t n);

/* Takes the exclusive lock of a folder for the rest of the process (or until another folder is locked):
 * SNN_EINPUT "the folder is locked: another snnfit process is writing in it" when someone else holds
 * it. Locking the folder already held is a no-op. */
int snn_stage_lock(const char *dir, snn_error *err);
void snn_stage_unlock(void);

/* Removes, anywhere under dir, the temporaries of processes that are gone (".<name>.tmp.<pid>",
 * "<name>.old.<pid>" with no such process, or this process's own, which has written nothing yet).
 * Call with the folder locked. Returns how many were removed. */
int snn_stage_clean_stale(const char *dir);

/* Before a resume writes anything into its run folder out: the folder's lock, then the stale
 * temporaries cleaned. */
int snn_stage_begin_resume(const char *out, snn_error *err);

/* 1 when o->output holds a training run killed before its first checkpoint: no
 * checkpoints/checkpoint_latest.npz, and parameters.toml equal to o->params_path (or, killed while
 * copying it, nothing but temporaries of dead processes). `train` and `homeostatic` start it again. */
int snn_stage_unstarted_run(const snn_stage_opts *o);

/* The estimate against --max-memory (default: the memory available now); where names the run
 * (its parameter file) in the message. */
int snn_stage_check_memory(const snn_stage_opts *o, const snn_mem_estimate *e, const char *where, snn_error *err);

/* The memory of loading the structure at structure_path (its sizes read from the array headers)
 * against --max-memory, before it is loaded. */
int snn_stage_check_structure_memory(const snn_stage_opts *o, const char *structure_path, snn_error *err);

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
