/* libFuzzer target: the TOML reader and every command's parameter schema (make fuzz). Any input must
 * be parsed or refused with SNN_EINPUT and a message; nothing may crash, leak or hit undefined
 * behaviour. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/params.h"
#include "config/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    snn_error err = {0};
    toml_value *root = toml_parse_string(text, "fuzz.toml", &err);
    if (!root && (err.code != SNN_EINPUT || !err.msg[0])) abort();
    toml_free(root);
    if (root) {
        /* a document that parses goes through every schema */
        static snn_params p;
        const snn_stage stages[] = {SNN_STAGE_CONNECTOME, SNN_STAGE_TEACHER, SNN_STAGE_SIMULATE, SNN_STAGE_TRAIN,
                                    SNN_STAGE_HOMEOSTATIC};
        for (size_t i = 0; i < sizeof stages / sizeof *stages; i++) {
            snn_error e = {0};
            int rc = snn_params_load_string(text, "fuzz.toml", stages[i], &p, &e);
            if (rc != SNN_OK && (rc != SNN_EINPUT || !e.msg[0])) abort();
        }
    }
    free(text);
    return 0;
}
