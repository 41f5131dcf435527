/* SPDX-License-Identifier: Apache-2.0 */
/*
 * receiver.h - receivers: long-running inputs with their own io thread (Spark's
 * Receiver), and how their data becomes blocks and batches.
 *
 *   io thread (io/)                 block builder (core/receiver.c, a thread of the
 *   ───────────────                 context; the driver itself with the manual clock)
 *   recv bytes, frame records  ──>  every block interval: pop every chunk in the ring,
 *   into a chunk (a String           seal them as one block (a String column, zero copy),
 *   column); push full chunks        stamped with the tick time; between ticks, pop when
 *   onto the SPSC ring; push the     the io thread asks (env->wake)
 *   partial chunk when asked         driver: at batch time t, every block sealed in
 *   (flush_seq) or when stopping     (t - B, t] becomes a partition of batch t
 *
 * Ownership: a chunk column belongs to the io thread until it is pushed, then to the
 * block builder, and a sealed block to the driver once it takes it into a batch (the
 * source's mutex orders the two: the builder seals batch t + B's blocks while the driver
 * runs batch t). The ring is the only channel for data; control goes the other way
 * through the atomics below. Memory is bounded: the builder runs at most one batch ahead
 * of the driver, and the io thread stops reading (backpressure to the sender through TCP)
 * while the ring is full or while the rate limit says to wait.
 *
 * io/ implements sl_receiver_ops; core/receiver.c turns any receiver into an sl_source.
 */
#ifndef SL_RECEIVER_H
#define SL_RECEIVER_H

#include <stdatomic.h>
#include <stdint.h>

#include "env.h"
#include "ring.h"
#include "source.h"

#define SL_RECEIVER_RING      64                /* ring capacity, in chunks */
#define SL_RECEIVER_INFLIGHT  16                /* chunks that may wait in the ring (16 MiB) */
#define SL_CHUNK_BYTES        ((size_t)1 << 20) /* a chunk is pushed when its bytes reach this */
#define SL_MAX_RECORD_DEFAULT ((size_t)1 << 20)

typedef struct sl_receiver sl_receiver;

typedef struct sl_receiver_ops {
	const char *name; /* Spark's name: socketTextStream, socketServerStream, ... */
	/* Start the io thread. 0 or -errno with err set (e.g. the kernel lacks an io_uring
	 * feature: the message names it). Called once, from the driver, at context start. */
	int (*start)(sl_receiver *r, sluice_error *err);
	/* Stop receiving: close sockets, push the partial chunk, set `done`, join the io
	 * thread. After it returns nothing more is pushed. Idempotent. */
	void (*stop)(sl_receiver *r);
	void (*free)(sl_receiver *r);
	/* Optional: the block builder popped chunks while want_room was set; wake the io
	 * thread (which waits for room in the ring) at once. Must not block. */
	void (*room)(sl_receiver *r);
} sl_receiver_ops;

struct sl_receiver {
	const sl_receiver_ops *ops;
	sl_env *env;
	sl_spsc ring;      /* io thread -> block builder: sl_col * (String) chunks */
	int node;          /* NUMA node for chunk memory (of the worker that processes it) */
	size_t max_record; /* longer records are skipped and counted (default 1 MiB) */
	size_t wake_at;    /* chunks in the ring at which a push wakes the builder (>= 1) */

	/* block builder / driver -> io thread */
	atomic_int_fast64_t rate_limit; /* records/s, 0 = unlimited; read by the io thread */
	atomic_uint_fast64_t flush_seq; /* bumped each block tick: push the partial chunk */
	atomic_int stop_req;
	/* io thread -> consumer: 1 while the io thread waits for room in the ring (see
	 * sl_receiver_want_room); the consumer clears it and calls ops->room after a pop */
	atomic_int want_room;

	/* io thread -> anyone (metrics, relaxed: statistics) */
	atomic_uint_fast64_t records, bytes, skipped, restarts, connections;
	atomic_int done; /* release by the io thread after its last push */
	/* the first error the io thread hit (connect refused, ...), for logs and stats */
	_Atomic(int) last_errno;
};

/* Initialise the common part (ring, atomics). 0 or -ENOMEM. */
int sl_receiver_init(sl_receiver *r, sl_env *env);
void sl_receiver_fini(sl_receiver *r); /* frees chunks left in the ring */

/* The io thread's side, for io/ implementations. */
/* Hand a chunk (String column, records framed) to the block builder; false if the ring is
 * full (the caller keeps the chunk and stops reading until there is room). */
static inline bool sl_receiver_push(sl_receiver *r, sl_col *chunk)
{
	if (!sl_spsc_push(&r->ring, chunk))
		return false;
	/* wake_at (half of what may wait) reached: have the builder pop now rather than at
	 * the next block tick, so a fast sender is not held back by the tick rate (fires
	 * once per crossing) */
	if (sl_spsc_size(&r->ring) == r->wake_at && r->env->wake)
		r->env->wake(r->env->wake_arg);
	return true;
}

/*
 * The io thread could not push (the ring holds all it may): ask the ring's consumer (the
 * block builder) to call ops->room after its next pop. Returns true when the ring has room
 * after all (it popped in between; push again now). When it returns false, a pop that follows
 * is certain to see the request, so the io thread may sleep until ops->room wakes it.
 */
static inline bool sl_receiver_want_room(sl_receiver *r, size_t max_inflight)
{
	/* acq_rel RMW: the read-modify-writes of want_room (ours, and the consumer's exchange
	 * after its pops) are totally ordered. If the consumer's comes first, ours reads its 0
	 * and synchronizes with it, so the size below sees its pops; if ours comes first,
	 * the consumer's reads our 1 and calls ops->room. Either way no wakeup is lost. */
	atomic_exchange_explicit(&r->want_room, 1, memory_order_acq_rel);
	return sl_spsc_size(&r->ring) < max_inflight;
}

/* Wrap a receiver as a stream source (takes r). Returns NULL with err on ENOMEM. */
sl_source *sl_receiver_source_new(sl_env *env, sl_receiver *r, sluice_error *err);
/*
 * One stream source over n receivers (takes them all, also on failure): every block tick
 * seals the chunks of all of them into one block; rs[0]'s name and maxRate (rate_limit
 * when this is called) are the source's, and the rate in force (maxRate, backpressure) is
 * set on each of them: they must draw from one token bucket, as the io threads of one
 * socketServerStream do. They are started last to first; a stop asks rs[0] first and the
 * others once rs[0] is done (see sl_socket_server_io_threads). NULL with err on ENOMEM.
 */
sl_source *sl_receivers_source_new(sl_env *env, sl_receiver *const *rs, int n, sluice_error *err);

/* The (first) receiver behind a source made by sl_receiver(s)_source_new, or NULL. */
sl_receiver *sl_receiver_of(sl_source *src);
/* How many receivers that source has (0 for other sources), and receiver i of them. */
int sl_receiver_source_count(sl_source *src);
sl_receiver *sl_receiver_source_at(sl_source *src, int i);
/* Blocks that source has sealed so far. */
uint64_t sl_receiver_source_blocks(sl_source *src);

#endif
