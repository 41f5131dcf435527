/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uring.h - the io_uring part shared by the receivers: one ring per io thread with a
 * ring of provided receive buffers, checked for every kernel feature the receivers
 * rely on before any thread starts.
 *
 *   sl_uring_init        io_uring_queue_init_params (+ CQSIZE, COOP_TASKRUN when the
 *                        kernel has it), opcode probe, feature flags, provided buffer
 *                        ring (mapped here: page-aligned sl_alloc_aligned memory
 *                        registered with io_uring_register_buf_ring, since liburing
 *                        2.3 has no io_uring_setup_buf_ring), and a live multishot
 *                        recv test over a socketpair (the kernel has no probe bit for
 *                        IORING_RECV_MULTISHOT)
 *   sl_uring_sqe         a submission entry, submitting first when the SQ is full
 *   sl_uring_buf/_put    the bytes of a provided buffer named by a CQE, and giving it
 *                        back to the kernel
 *   sl_uring_swap        giving the kernel a fresh block under a held buffer id and
 *                        taking the old block (the caller keeps its bytes)
 *
 * Buffers: buffer id bid is a block of block_size bytes (one sl_alloc each, so blocks
 * of a recycled size come from sl_mem's cache) of which the kernel gets the bytes from
 * offset hdr on: the caller may keep a header of its own in front of the data (e.g. an
 * sl_buf, to hand the block to columns). The block under an id changes with
 * sl_uring_swap; the ring owns and frees the current block of every id.
 *
 * Buffer accounting: the kernel owns a buffer from sl_uring_init / sl_uring_put /
 * sl_uring_swap until a CQE names it; from then on the caller owns it (it may hold it
 * as long as it likes: that is how receivers apply backpressure) until sl_uring_put or
 * sl_uring_swap. `held` counts buffers the caller owns.
 *
 * Thread safety: none. The ring may be created on one thread and then used by exactly
 * one other thread (no IORING_SETUP_SINGLE_ISSUER).
 */
#ifndef SL_URING_H
#define SL_URING_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>

#include "../core/env.h"

#define SL_URING_BGID 0 /* the provided buffer group of a sl_uring */

typedef struct sl_uring {
	struct io_uring ring;
	bool ring_ok; /* ring is initialised */
	sl_mem *mem;
	struct io_uring_buf_ring *br; /* nbufs entries, page-aligned, registered */
	size_t br_bytes;
	char **blk;        /* [nbufs]: the current block of each buffer id */
	size_t block_size; /* bytes of each block (sl_alloc'ed, freed with this size) */
	size_t hdr;        /* the kernel's bytes start at blk[bid] + hdr */
	size_t buf_size;   /* block_size - hdr: bytes the kernel may write per buffer */
	unsigned nbufs;    /* a power of two, <= 32768 */
	unsigned held;     /* buffers the caller owns (named by a CQE, not put back) */
	bool br_registered;
} sl_uring;

/*
 * sl_uring_init - create the ring (entries SQEs, cq_entries CQEs) and its provided
 * buffer ring of nbufs (a power of two, 1..32768) buffers of buf_size bytes each, all
 * given to the kernel (sl_uring_init_hdr with block_size = buf_size, hdr = 0). `who`
 * names the receiver in error messages. Returns 0, or -ENOTSUP with err naming the
 * missing feature (io_uring disabled or absent, an opcode, IORING_FEAT_NODROP /
 * FAST_POLL, provided buffer rings, multishot recv), -ENOMEM, or another -errno from
 * the kernel, with err set. On error nothing is left to free (sl_uring_fini is still
 * harmless). Threads: any; see thread safety above.
 */
int sl_uring_init(sl_uring *u, sl_mem *m, unsigned entries, unsigned cq_entries, unsigned nbufs,
		  size_t buf_size, const char *who, sluice_error *err);

/*
 * sl_uring_init_hdr - sl_uring_init with blocks of block_size bytes whose first hdr
 * bytes (hdr < block_size) are the caller's: the kernel gets block_size - hdr bytes per
 * buffer.
 */
int sl_uring_init_hdr(sl_uring *u, sl_mem *m, unsigned entries, unsigned cq_entries, unsigned nbufs,
		      size_t block_size, size_t hdr, const char *who, sluice_error *err);

/*
 * sl_uring_fini - tear the ring down and free the buffers. The caller must have
 * collected the final CQE of every request that may write into a provided buffer
 * (after io_uring_queue_exit the kernel may still be finishing cancelled requests
 * asynchronously); pass keep_bufs = true when it could not, and the buffer memory is
 * leaked instead of freed. Idempotent.
 */
void sl_uring_fini(sl_uring *u, bool keep_bufs);

/*
 * sl_uring_sqe - a zeroed-by-prep submission entry; when the SQ is full the pending
 * entries are submitted first. NULL only if that submission fails (then the errno is
 * in *rc when rc is not NULL).
 */
struct io_uring_sqe *sl_uring_sqe(sl_uring *u, int *rc);

/* sl_uring_data - the bytes of buffer bid's current block (no accounting). */
static inline char *sl_uring_data(const sl_uring *u, unsigned bid)
{
	return u->blk[bid] + u->hdr;
}

/* sl_uring_buf - the bytes of buffer bid (from a CQE's flags >> IORING_CQE_BUFFER_SHIFT);
 * marks it held by the caller. */
static inline char *sl_uring_buf(sl_uring *u, unsigned bid)
{
	u->held++;
	return sl_uring_data(u, bid);
}

/* sl_uring_put - give buffer bid back to the kernel (visible to it at once). */
void sl_uring_put(sl_uring *u, unsigned bid);

/*
 * sl_uring_swap - give the kernel `fresh` (a block of block_size bytes from sl_alloc of
 * the ring's sl_mem) as buffer bid, which the caller held; returns the old block,
 * which now belongs to the caller (free it with sl_dealloc(mem, blk, block_size)).
 */
char *sl_uring_swap(sl_uring *u, unsigned bid, char *fresh);

/* sl_uring_prep_recv_multishot - sqe becomes a multishot recv on fd into buffers of
 * the provided group. */
static inline void sl_uring_prep_recv_multishot(struct io_uring_sqe *sqe, int fd)
{
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = SL_URING_BGID;
}

#endif
