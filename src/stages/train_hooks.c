#include "stages/train_hooks.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/params_read.h"
#include "config/toml.h"
#include "core/fsutil.h"
#include "io/metrics.h"
#include "core/sha256.h"
#include "stages/trained_state.h"

static int on_row(void *ctx, int64_t epoch, int n, const char *const *names, const double *values,
                  const uint8_t *present, snn_error *err) {
    snn_train_hooks *h = ctx;
    if (!h->tb) return SNN_OK;
    /* the scalars the metrics file has: a statistic that does not exist in the window is left out */
    uint8_t *has = malloc((size_t)(n > 0 ? n : 1));
    if (!has) return snn_fail(err, SNN_ERUN, "out of memory for a TensorBoard row");
    for (int i = 0; i < n; i++)
        has[i] = (present ? present[i] : 1) && !(isnan(values[i]) && snn_metrics_is_statistic(names[i]));
    int rc = snn_tb_scalars(h->tb, epoch, n, names, values, has, err);
    free(has);
    return rc;
}

static int on_plot(void *ctx, snn_trainer *tr, int64_t epoch, snn_error *err) {
    snn_train_hooks *h = ctx;
    int rc = snn_epoch_figures(h->out, epoch, h->p, h->s, tr->net, h->inputs, h->steps, h->assembly_ids, err);
    if (!rc && h->tb) {
        char name[64], dir[SNN_PATH_MAX];
        snprintf(name, sizeof name, "figures/epoch_%04lld", (long long)epoch);
        rc = snn_path_join(dir, sizeof dir, h->out, name, err);
        if (!rc) rc = snn_tb_image_dir(h->tb, epoch, dir, "figures", err);
    }
    return rc;
}

static int on_checkpoint(void *ctx, snn_trainer *tr, int64_t epoch, snn_error *err) {
    (void)tr;
    (void)epoch;
    (void)err;
    snn_train_hooks *h = ctx;
    if (h->wb_open) snn_wandb_sync(&h->wb);
    return SNN_OK;
}

/* The W&B settings of a run: the parameter file's [wandb], unless the run was made by `snnfit run` and
 * its experiment file (kept as OUT/experiment.toml) has a [wandb] table with `enabled`: then that table,
 * as the reference's runner hands its experiment's [wandb] to the stage. Read on every start and
 * resume, so a resumed run uploads as the run it continues. */
static int run_wandb(const char *out, const snn_params *p, snn_wandb_params *wp, snn_error *err) {
    *wp = p->wandb;
    char path[SNN_PATH_MAX];
    int rc = snn_path_join(path, sizeof path, out, "experiment.toml", err);
    if (rc || !snn_path_exists(path)) return rc;
    toml_value *root = toml_parse_file(path, err);
    if (!root) return SNN_EINPUT;
    snn_pr r = {.file = path, .err = err};
    const toml_value *t = NULL;
    int enabled = 0, has = 0;
    rc = snn_pr_table(&r, root, "", "wandb", 0, &t);
    if (!rc && t) rc = snn_pr_bool(&r, t, "wandb", "enabled", 0, &enabled, &has);
    if (!rc && t && has) {
        snn_wandb_params e = {.enabled = enabled};
        rc = snn_pr_str(&r, t, "wandb", "project", 0, e.project, sizeof e.project, NULL);
        if (!rc) rc = snn_pr_str(&r, t, "wandb", "entity", 0, e.entity, sizeof e.entity, NULL);
        if (!rc) rc = snn_pr_str(&r, t, "wandb", "notes", 0, e.notes, sizeof e.notes, NULL);
        if (!rc)
            rc = snn_pr_str_list(&r, t, "wandb", "tags", 0, &e.tags[0][0], SNN_NAME_MAX, SNN_MAX_WANDB_TAGS,
                                 &e.n_tags, NULL);
        if (!rc) *wp = e;
    }
    toml_free(root);
    return rc;
}

int snn_train_hooks_open(snn_train_hooks *h, snn_trainer *tr, const char *out, const snn_params *p,
                         const snn_structure *s, const int32_t *assembly_ids, uint8_t *inputs, int64_t steps,
                         int no_wandb, int resumed, snn_error *err) {
    memset(h, 0, sizeof *h);
    h->out = out;
    h->p = p;
    h->s = s;
    h->assembly_ids = assembly_ids;
    h->inputs = inputs;
    h->steps = steps;
    char dir[SNN_PATH_MAX], path[SNN_PATH_MAX];
    int rc = snn_path_join(dir, sizeof dir, out, "tensorboard", err);
    if (!rc) h->tb = snn_tb_open(dir, err);
    if (!h->tb) return err && err->code ? err->code : SNN_ERUN;
    if (resumed) {
        rc = snn_tb_session_start(h->tb, tr->iteration + 1, err);
    } else {
        rc = snn_path_join(path, sizeof path, out, "parameters.toml", err);
        if (!rc) rc = snn_tb_text_file(h->tb, 0, "parameters", path, err);
        if (!rc) rc = snn_path_join(dir, sizeof dir, out, "initial_state/figures", err);
        if (!rc && snn_is_dir(dir)) rc = snn_tb_image_dir(h->tb, 0, dir, "initial_state", err);
    }
    if (rc) return rc;
    char id[SNN_WANDB_ID_MAX];
    if (resumed && snn_wandb_id_valid(tr->run_id)) snprintf(id, sizeof id, "%s", tr->run_id);
    else if ((rc = snn_wandb_make_run_id(out, p->sim.seed, id, err))) return rc;
    snn_wandb_params wp;
    rc = run_wandb(out, p, &wp, err);
    if (!rc) rc = snn_wandb_open(&h->wb, &wp, no_wandb, out, id, resumed, err);
    if (rc) return rc;
    /* the checkpoints keep the id only while the run uploads */
    if (h->wb.active) snprintf(tr->run_id, sizeof tr->run_id, "%s", id);
    else tr->run_id[0] = '\0';
    h->wb_open = 1;
    tr->hooks.ctx = h;
    tr->hooks.on_row = on_row;
    tr->hooks.on_plot = on_plot;
    tr->hooks.on_checkpoint = on_checkpoint;
    return SNN_OK;
}

void snn_train_hooks_close(snn_train_hooks *h, int64_t step, int final_state_written) {
    if (h->tb && final_state_written) {
        char dir[SNN_PATH_MAX];
        if (!snn_path_join(dir, sizeof dir, h->out, "final_state/figures", NULL) && snn_is_dir(dir))
            snn_tb_image_dir(h->tb, step, dir, "final_state", NULL);
    }
    if (h->tb) snn_tb_close(h->tb);
    h->tb = NULL;
    if (h->wb_open) {
        snn_wandb_sync(&h->wb);
        snn_wandb_finish(&h->wb, SNN_WANDB_FINISH_WAIT_S);
    }
    h->wb_open = 0;
    free(h->inputs);
    h->inputs = NULL;
}

static void on_signal(int sig) {
    (void)sig;
    snn_trainer_request_stop();
}

int snn_stage_run_trainer(snn_trainer *tr, snn_chunk_reader read_chunk, void *ctx, int64_t stop_after,
                          const char *unit, const char *out, int *save_final, snn_error *err) {
    *save_final = 0;
    const int finished = snn_trainer_finished(tr);
    int stopped = 0;
    if (!finished) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        int rc = snn_trainer_run(tr, read_chunk, ctx, stop_after, &stopped, err);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        if (rc) return rc;
    }
    if (stopped) {
        printf("\nStopped at %s %lld of %lld; continue with: snnfit resume %s\n", unit, (long long)tr->iteration,
               (long long)tr->iterations, out);
        return 0;
    }
    char path[SNN_PATH_MAX];
    snn_path_join(path, sizeof path, out, "final_state/network_structure.npz", NULL);
    /* finished only once final_state/ is whole and marked so: a kill during the final state (or a disk
     * that filled up) leaves the mark unset, and the final state is written again */
    if (finished && tr->final_state_written && snn_path_exists(path)) {
        printf("The run in %s is already finished (%s %lld of %lld); nothing to do.\n", out, unit,
               (long long)tr->iteration, (long long)tr->iterations);
        return 0;
    }
    printf("\n============================================================\nTraining complete!\n"
           "Best loss achieved: %.6f\n============================================================\n",
           tr->best_loss);
    printf("\n============================================================\nSAVING FINAL STATE AND RUNNING INFERENCE\n"
           "============================================================\n");
    *save_final = 1;
    return 0;
}

int snn_stage_run_record(snn_run_record *r, uint64_t seed, const char *params_path, const char *data_id,
                         snn_error *err) {
    memset(r, 0, sizeof *r);
    r->seed = seed;
    int rc = snn_sha256_file(params_path, r->parameters_sha256, err);
    if (rc) return rc;
    snn_sha256_hex(data_id, strlen(data_id), r->data_sha256);
    return SNN_OK;
}

int snn_stage_check_record(const snn_trainer *tr, const char *ckpt, const char *params_path, const char *data_what,
                           const char *data_path, snn_error *err) {
    const snn_run_record *want = &tr->loaded, *have = &tr->record;
    if (strcmp(want->parameters_sha256, have->parameters_sha256) != 0)
        return snn_fail(err, SNN_EINPUT,
                        "%s: the parameter file is not the one the run started with (SHA-256 %.12s..., the checkpoint "
                        "%s records %.12s...); restore it, or start a new run",
                        params_path, have->parameters_sha256, ckpt, want->parameters_sha256);
    if (want->seed != have->seed)
        return snn_fail(err, SNN_EINPUT, "%s: seed %llu, but the checkpoint %s was written with seed %llu", params_path,
                        (unsigned long long)have->seed, ckpt, (unsigned long long)want->seed);
    if (strcmp(want->data_sha256, have->data_sha256) != 0)
        return snn_fail(err, SNN_EINPUT,
                        "%s: the %s changed since the run started (identity %.12s..., the checkpoint %s records "
                        "%.12s...); resume with the data the run started with, or start a new run",
                        data_path, data_what, have->data_sha256, ckpt, want->data_sha256);
    return SNN_OK;
}

static int save_latest(snn_trainer *tr, snn_error *err) {
    char dir[SNN_PATH_MAX], path[SNN_PATH_MAX];
    int rc = snn_path_join(dir, sizeof dir, tr->out_dir, "checkpoints", err);
    if (!rc) rc = snn_mkdirs(dir, err);
    if (!rc) rc = snn_path_join(path, sizeof path, dir, "checkpoint_latest.npz", err);
    if (!rc) rc = snn_trainer_save(tr, path, err);
    return rc;
}

int snn_stage_first_checkpoint(snn_trainer *tr, snn_error *err) { return save_latest(tr, err); }

int snn_stage_mark_finished(snn_trainer *tr, snn_error *err) {
    tr->final_state_written = 1;
    return save_latest(tr, err);
}
