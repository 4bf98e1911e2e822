/* TensorBoard event files (SPEC section 9): `events.out.tfevents.<wall time>.<host>` in a folder,
 * TFRecord-framed `Event` protobufs (tensorflow/core/util/event.proto, summary.proto, tensor.proto;
 * field numbers as published) with masked CRC32C (Castagnoli), written by hand: no protobuf library.
 *
 * Every record is written and flushed when its call returns, so TensorBoard (or `wandb sync
 * --sync-tensorboard`) can read a file while training runs, and a crash loses at most the event
 * being written. The file is append-only and never truncated: a resumed run opens a new file in the
 * same folder and TensorBoard merges them (steps written twice show the later value).
 *
 * The event file is the one output exempt from the determinism rules (SPEC 11): its name and every
 * event's wall_time come from the clock, because TensorBoard orders files and plots relative time
 * by them.
 *
 * What is written:
 *   first record     Event{wall_time, step 0, file_version "brain.Event:2"}
 *   snn_tb_session_start  Event{step, session_log{status START}}
 *   snn_tb_scalars   one Event{step, Summary{Value{tag, simple_value}...}} per call (all the
 *                    scalars of a metrics row; the value is rounded to float32, as TensorBoard stores it)
 *   snn_tb_image_png Value{tag, image = Summary.Image{height, width, colorspace, encoded PNG bytes}}
 *   snn_tb_text      Value{tag, metadata{plugin_data{plugin_name "text"}, data_class TENSOR},
 *                    tensor = TensorProto{dtype DT_STRING, shape [] (scalar), string_val [text]}}:
 *                    what tf.summary.text writes, shown by TensorBoard's Text tab (as Markdown).
 *
 * A handle may be used from several threads (figures are drawn in OpenMP tasks); calls serialise on
 * a mutex. */
#ifndef SNNFIT_IO_EVENTS_H
#define SNNFIT_IO_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct snn_tb snn_tb;

/* Creates dir (and parents) if needed, creates a new event file in it (never an existing one: if the
 * name is taken, ".1", ".2", ... is appended) and writes the file_version event. NULL on error. */
snn_tb *snn_tb_open(const char *dir, snn_error *err);

/* Path of the event file (valid until snn_tb_close). */
const char *snn_tb_path(const snn_tb *tb);

/* A resumed run calls this right after snn_tb_open with step = the first epoch it will write (the
 * checkpoint's epoch + 1): Event{step, session_log{status START}}, TensorBoard's restart marker, on
 * which its event reader drops the events at steps >= step that earlier files hold (rows an
 * interrupted run wrote after its last checkpoint), as it does for TensorFlow restarts. */
int snn_tb_session_start(snn_tb *tb, int64_t step, snn_error *err);

/* One event at `step` holding the n scalars tags[i] = (float)values[i], skipping i with
 * present[i] == 0 (present may be NULL: all present). NaN and infinities are written as they are.
 * Nothing is written when no value is present. */
int snn_tb_scalars(snn_tb *tb, int64_t step, int n, const char *const *tags, const double *values,
                   const uint8_t *present, snn_error *err);

/* One event with the PNG file as an image summary; width, height and colour space come from the
 * PNG's IHDR. A file that is not a PNG is SNN_EINPUT naming it. */
int snn_tb_image_png(snn_tb *tb, int64_t step, const char *tag, const char *png_path, snn_error *err);

/* Every *.png directly in dir (sorted by name) as images at `step`, tag "<tag_prefix>/<file stem>"
 * (tag_prefix may be NULL or "": tag = stem), one event per image. For figures/epoch_XXXX/: the
 * same figure gets the same tag at every epoch, so TensorBoard shows it with a step slider. */
int snn_tb_image_dir(snn_tb *tb, int64_t step, const char *dir, const char *tag_prefix, snn_error *err);

/* One event with `text` (UTF-8, NUL-terminated) as a text summary, verbatim (TensorBoard renders it
 * as Markdown). */
int snn_tb_text(snn_tb *tb, int64_t step, const char *tag, const char *text, snn_error *err);

/* The file at `path` as a text summary, inside a fenced code block (``` ... ```, the fence made
 * longer than any backtick run in the file) so that TensorBoard shows a parameter file verbatim
 * instead of rendering its `#` comments as Markdown headings. */
int snn_tb_text_file(snn_tb *tb, int64_t step, const char *tag, const char *path, snn_error *err);

/* Closes the file and frees the handle (NULL is allowed). */
void snn_tb_close(snn_tb *tb);

/* CRC32C (Castagnoli) of n bytes, and TFRecord's masked form ((c >> 15 | c << 17) + 0xa282ead8):
 * exposed for the unit test's known answers. */
uint32_t snn_crc32c(const void *data, size_t n);
uint32_t snn_crc32c_masked(uint32_t crc);

#endif
