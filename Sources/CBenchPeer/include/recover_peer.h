/* The named peer of the sender-recovery and block-import benchmarks (`opgd bench`):
 * libsecp256k1's own recover called in a tight C loop, on one thread or on several.
 * Lives in the node binary so that the peer and opg are measured in the same process,
 * alternately, on the same noisy machine. Not used by the node itself. */
#ifndef OPG_RECOVER_PEER_H
#define OPG_RECOVER_PEER_H

typedef struct opg_recover_peer opg_recover_peer;

/* Signs `count` distinct 32-byte messages with one key; NULL when out of memory. */
opg_recover_peer *opg_recover_peer_create(int count);

/* Recovers (and serializes, as sender recovery needs) every public key, split across
 * `threads` threads; returns recoveries per second, or a negative value on failure. */
double opg_recover_peer_rate(opg_recover_peer *peer, int threads);

void opg_recover_peer_destroy(opg_recover_peer *peer);

#endif
