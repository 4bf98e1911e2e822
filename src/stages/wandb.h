/* Weights & Biases upload through the `wandb` command-line tool (SPEC section 9).
 *
 * snnfit never talks to the network itself: with `[wandb] enabled = true` (and no --no-wandb) it runs
 *     wandb sync OUT/tensorboard --sync-tensorboard [-p PROJECT] [-e ENTITY] --id RUN_ID [--append]
 * in the background at each checkpoint and at the end of a run, which imports the TensorBoard event
 * files into the W&B run RUN_ID. The first sync of a fresh run creates the W&B run (no --append);
 * every later sync, and every sync of a resumed run, passes --append. The child's stdout and stderr
 * are appended to OUT/wandb/sync.log (after a "$ wandb sync ..." line naming the command); its
 * environment gets WANDB_DIR=OUT/wandb (unless already set: wandb's own files stay out of the user's
 * working folder), WANDB_NOTES and WANDB_TAGS (comma-separated) from [wandb] notes and tags (the sync
 * command has no options for them).
 *
 * Never blocking, never failing the run: a sync is started with posix_spawn (no copy of a large
 * training process's page tables, unlike fork) in its own process group (a Ctrl-C that stops training
 * does not kill an upload in flight); finished children are reaped at the next call; a checkpoint
 * whose predecessor's sync is still running skips its sync (the next one uploads everything anyway).
 * Problems (wandb missing, a failed spawn, a sync that exits non-zero) are one-line notes on stdout,
 * not errors.
 *
 * Without a `wandb` executable on PATH, snn_wandb_open prints one note saying so, with the exact
 * command to run later, and every other call does nothing.
 *
 * Use (the stage):
 *     snn_wandb wb;
 *     char id[SNN_WANDB_ID_MAX];
 *     // fresh run: make an id and store it in the checkpoint; resumed run: the checkpoint's id
 *     snn_wandb_make_run_id(out_dir, p->sim.seed, id, err);
 *     snn_wandb_open(&wb, &p->wandb, opts->no_wandb, out_dir, id, resumed, err);
 *     ... on_checkpoint (after checkpoint_latest.npz and the TensorBoard events are written):
 *         snn_wandb_sync(&wb);
 *     ... at the end of the run (also after a SIGINT/--stop-after stop), event file closed:
 *         snn_wandb_finish(&wb, SNN_WANDB_FINISH_WAIT_S);
 */
#ifndef SNNFIT_STAGES_WANDB_H
#define SNNFIT_STAGES_WANDB_H

#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "config/params.h"

/* Size of a run-id buffer (ids are at most 64 characters: W&B's limit). */
#define SNN_WANDB_ID_MAX 65
/* Recommended bound on the wait for the last sync at the end of a run, in seconds. */
#define SNN_WANDB_FINISH_WAIT_S 120.0

typedef struct snn_wandb {
    int active;                      /* [wandb] enabled and not --no-wandb */
    int available;                   /* active and a `wandb` executable was found on PATH */
    char exe[SNN_PATH_MAX];          /* that executable */
    char out_dir[SNN_PATH_MAX];
    char run_id[SNN_WANDB_ID_MAX];
    char project[128], entity[128];
    char notes[1024];
    char tags[1100];                 /* comma-separated */
    int append;                      /* the next sync passes --append */
    pid_t pid;                       /* sync in flight, 0 if none */
    int failure_noted;               /* a failed intermediate sync was reported (once per run) */
} snn_wandb;

/* A new run id: 8 lowercase hex characters, a counter-based hash (Philox keyed by the seed) of the
 * output folder's absolute path. A pure function of (folder, seed), so it does not depend on the
 * clock (SPEC 11) and two runs in different folders get different ids. out_dir must exist. The
 * caller stores it in the checkpoint and passes it back on resume. */
int snn_wandb_make_run_id(const char *out_dir, uint64_t seed, char id[SNN_WANDB_ID_MAX], snn_error *err);

/* 1 if id is a usable run id (1-64 characters of [A-Za-z0-9_-]): check an id read from a checkpoint. */
int snn_wandb_id_valid(const char *id);

/* Sets up the upload. wp may be NULL (no [wandb] table: off); no_wandb is --no-wandb; run_id is the
 * id from snn_wandb_make_run_id or from the checkpoint; resumed: the run continues from a checkpoint
 * (its syncs then all pass --append). Looks `wandb` up on PATH; if it is missing, prints the note.
 * Fails (SNN_EINPUT) only for an invalid run id or an output path that does not fit. */
int snn_wandb_open(snn_wandb *w, const snn_wandb_params *wp, int no_wandb, const char *out_dir,
                   const char *run_id, int resumed, snn_error *err);

/* At each checkpoint: reaps a finished sync and starts a new one in the background unless one is
 * still running. Returns at once. */
void snn_wandb_sync(snn_wandb *w);

/* At the end of the run: waits (up to wait_s seconds in all) for a sync in flight, starts the last
 * sync and waits for it within the same bound, then prints one line: uploaded, failed (see
 * sync.log), or still running in the background (its pid; it is left to finish on its own). */
void snn_wandb_finish(snn_wandb *w, double wait_s);

#endif
