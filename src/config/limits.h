/* Limits on what a parameter file may ask for (docs/decisions.md, "Limits").
 *
 * They are far beyond any useful run and exist so that a typo (an extra zero, 1e308 for 1e3) is
 * refused at once, with the key named, instead of overflowing a size, running for years or failing
 * hours later. Memory is limited separately, per run, by --max-memory (stages/memory.h). */
#ifndef SNNFIT_CONFIG_LIMITS_H
#define SNNFIT_CONFIG_LIMITS_H

/* time steps of one trial in one run (duration / dt; chunk_size; plot_size x chunk_size): 10^8, about
 * 28 hours of simulated time at dt = 1 ms */
#define SNN_MAX_STEPS 100000000LL
/* training iterations (epochs, or passes x chunks of teacher data) and every interval counted in them */
#define SNN_MAX_ITERATIONS 1000000000LL
/* trials simulated together (batch_size) */
#define SNN_MAX_TRIALS 1000000LL
/* magnitude of any number in a parameter file */
#define SNN_MAX_MAGNITUDE 1e12
/* firing rates in Hz (input rates, odour rates, target rates) */
#define SNN_MAX_RATE_HZ 1e5
/* mean weights (w_mu) and scaling factors: with g_bar they must stay far inside float32 */
#define SNN_MAX_WEIGHT 1e6

#endif
