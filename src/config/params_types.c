#include "config/params_types.h"

#include <string.h>

const char *snn_stage_name(snn_stage s) {
    switch (s) {
    case SNN_STAGE_CONNECTOME: return "connectome";
    case SNN_STAGE_TEACHER: return "teacher";
    case SNN_STAGE_SIMULATE: return "simulate";
    case SNN_STAGE_TRAIN: return "train";
    case SNN_STAGE_HOMEOSTATIC: return "homeostatic";
    }
    return "?";
}

int snn_params_type_index(const snn_layer_params *layer, const char *name) {
    for (int i = 0; i < layer->n_types; i++)
        if (strcmp(layer->type_names[i], name) == 0) return i;
    return -1;
}

int64_t snn_params_num_chunks(const snn_sim_params *sim) {
    if (!sim->has_duration || !(sim->dt > 0) || sim->chunk_size < 1) return 0;
    double c = sim->duration / ((double)sim->chunk_size * sim->dt);
    /* the loaders refuse runs this long; the conversion must not overflow on the way there */
    if (!(c >= 0)) return 0;
    if (c > 4e18) return (int64_t)4e18;
    return (int64_t)c;
}
