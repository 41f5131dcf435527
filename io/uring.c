/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uring.c - io_uring setup and provided buffers for the receivers (contract in uring.h).
 *
 * Invariants:
 *   - br_registered implies ring_ok, br and every block allocated, and every buffer not
 *     held by the caller is in the kernel's buffer ring at the address of its current
 *     block (blk[bid] + hdr);
 *   - blk[bid] is owned by the ring (freed by sl_uring_fini); a block swapped out by
 *     sl_uring_swap belongs to the caller;
 *   - the buffer ring's tail is only advanced by this file (sl_uring_put and init),
 *     one entry per buffer given back, with a release store (io_uring_buf_ring_advance)
 *     so the kernel sees the entry before the new tail.
 */
#include "uring.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void drop_bufs(sl_uring *u, bool keep)
{
	if (u->br_registered && u->ring_ok)
		io_uring_unregister_buf_ring(&u->ring, SL_URING_BGID);
	u->br_registered = false;
	if (!keep) {
		if (u->br)
			sl_dealloc(u->mem, u->br, u->br_bytes);
		for (unsigned i = 0; u->blk && i < u->nbufs; i++)
			if (u->blk[i])
				sl_dealloc(u->mem, u->blk[i], u->block_size);
	}
	/* the table itself is ours either way (the kernel knows only the blocks) */
	if (u->blk)
		sl_dealloc(u->mem, u->blk, (size_t)u->nbufs * sizeof(*u->blk));
	u->br = NULL;
	u->blk = NULL;
}

/* sl_uring_fini: see the contract in uring.h */
void sl_uring_fini(sl_uring *u, bool keep_bufs)
{
	if (u->ring_ok) {
		if (u->br_registered)
			io_uring_unregister_buf_ring(&u->ring, SL_URING_BGID);
		u->br_registered = false;
		io_uring_queue_exit(&u->ring);
		u->ring_ok = false;
	}
	drop_bufs(u, keep_bufs);
}

/* sl_uring_sqe: see the contract in uring.h */
struct io_uring_sqe *sl_uring_sqe(sl_uring *u, int *rc)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	while (!sqe) {
		int e = io_uring_submit(&u->ring);
		if (e < 0 && e != -EINTR && e != -EAGAIN && e != -EBUSY) {
			if (rc)
				*rc = e;
			return NULL;
		}
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

/* sl_uring_put: see the contract in uring.h */
void sl_uring_put(sl_uring *u, unsigned bid)
{
	io_uring_buf_ring_add(u->br, sl_uring_data(u, bid), (unsigned)u->buf_size,
			      (unsigned short)bid, io_uring_buf_ring_mask(u->nbufs), 0);
	/* release (inside liburing): the entry is written before the tail that publishes it */
	io_uring_buf_ring_advance(u->br, 1);
	u->held--;
}

/* sl_uring_swap: see the contract in uring.h */
char *sl_uring_swap(sl_uring *u, unsigned bid, char *fresh)
{
	char *old = u->blk[bid];
	u->blk[bid] = fresh;
	sl_uring_put(u, bid);
	return old;
}

static int check_ops(sl_uring *u, const char *who, sluice_error *err)
{
	static const struct {
		int op;
		const char *name;
	} need[] = {
	    {IORING_OP_RECV, "IORING_OP_RECV"},
	    {IORING_OP_ACCEPT, "IORING_OP_ACCEPT"},
	    {IORING_OP_CONNECT, "IORING_OP_CONNECT"},
	    {IORING_OP_TIMEOUT, "IORING_OP_TIMEOUT"},
	    {IORING_OP_READ, "IORING_OP_READ"},
	    {IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"},
	};
	struct io_uring_probe *p = io_uring_get_probe_ring(&u->ring);
	if (!p)
		return sl_error_set(err, -ENOTSUP,
				    "%s: io_uring opcode probe (IORING_REGISTER_PROBE, Linux 5.6) "
				    "is not available",
				    who);
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (!io_uring_opcode_supported(p, need[i].op)) {
			io_uring_free_probe(p);
			return sl_error_set(err, -ENOTSUP,
					    "%s: the kernel's io_uring lacks opcode %s", who,
					    need[i].name);
		}
	}
	io_uring_free_probe(p);
	return 0;
}

/* Wait for one CQE with a deadline of 1 s; 0 with *out, or -errno. */
static int wait_one(sl_uring *u, struct io_uring_cqe **out)
{
	struct __kernel_timespec ts = {.tv_sec = 1, .tv_nsec = 0};
	int e;
	do
		e = io_uring_wait_cqe_timeout(&u->ring, out, &ts);
	while (e == -EINTR);
	return e;
}

/*
 * Multishot recv has no probe bit: arm one on a socketpair, send a byte and check the
 * CQE carries a provided buffer and IORING_CQE_F_MORE; then close the peer and collect
 * the final CQE so nothing is left in flight.
 */
static int check_multishot_recv(sl_uring *u, const char *who, sluice_error *err)
{
	static const char lacks[] = "lacks multishot recv (IORING_RECV_MULTISHOT, Linux 6.0)";
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return sl_error_set(err, -errno, "%s: socketpair for the io_uring check: %s", who,
				    strerror(errno));
	int rc = 0;
	const char *why = NULL;
	bool more = false, ended = false;
	struct io_uring_sqe *sqe = sl_uring_sqe(u, &rc);
	if (!sqe)
		goto out;
	sl_uring_prep_recv_multishot(sqe, sv[0]);
	io_uring_sqe_set_data64(sqe, 1);
	if ((rc = io_uring_submit(&u->ring)) < 0)
		goto out;
	rc = 0;
	if (write(sv[1], "x", 1) != 1) {
		rc = -errno;
		goto out;
	}
	for (int n = 0; n < 4 && !ended; n++) {
		struct io_uring_cqe *cqe;
		if ((rc = wait_one(u, &cqe)) < 0)
			goto out;
		int res = cqe->res;
		unsigned flags = cqe->flags;
		io_uring_cqe_seen(&u->ring, cqe);
		if (flags & IORING_CQE_F_BUFFER) {
			sl_uring_buf(u, flags >> IORING_CQE_BUFFER_SHIFT);
			sl_uring_put(u, flags >> IORING_CQE_BUFFER_SHIFT);
		}
		if (!(flags & IORING_CQE_F_MORE))
			ended = true;
		if (res == -EINVAL) {
			rc = -ENOTSUP;
			why = lacks;
		} else if (res < 0) {
			rc = res;
		} else if (res == 1) {
			if (!(flags & IORING_CQE_F_BUFFER)) {
				rc = -ENOTSUP;
				why = "ignored buffer select on recv (provided buffer rings)";
			} else if (!(flags & IORING_CQE_F_MORE)) {
				rc = -ENOTSUP;
				why = lacks;
			} else {
				more = true;
				/* end the multishot request: EOF gives its final CQE */
				close(sv[1]);
				sv[1] = -1;
			}
		}
		if (rc < 0)
			goto out;
	}
	if (!more) {
		rc = -ENOTSUP;
		why = lacks;
	} else if (!ended) {
		rc = -ETIMEDOUT;
		why = "did not end a multishot recv on EOF";
	}
out:
	if (sv[1] >= 0)
		close(sv[1]);
	close(sv[0]);
	if (rc < 0 && why)
		return sl_error_set(err, rc, "%s: the kernel's io_uring %s", who, why);
	if (rc < 0)
		return sl_error_set(err, rc, "%s: io_uring multishot recv check failed: %s", who,
				    strerror(-rc));
	return 0;
}

/* sl_uring_init: see the contract in uring.h */
int sl_uring_init(sl_uring *u, sl_mem *m, unsigned entries, unsigned cq_entries, unsigned nbufs,
		  size_t buf_size, const char *who, sluice_error *err)
{
	return sl_uring_init_hdr(u, m, entries, cq_entries, nbufs, buf_size, 0, who, err);
}

/* sl_uring_init_hdr: see the contract in uring.h */
int sl_uring_init_hdr(sl_uring *u, sl_mem *m, unsigned entries, unsigned cq_entries, unsigned nbufs,
		      size_t block_size, size_t hdr, const char *who, sluice_error *err)
{
	memset(u, 0, sizeof(*u));
	u->mem = m;
	size_t buf_size = block_size > hdr ? block_size - hdr : 0;
	if (!nbufs || nbufs > 32768 || (nbufs & (nbufs - 1)) || !buf_size || buf_size > UINT32_MAX)
		return sl_error_set(err, -EINVAL, "%s: bad provided buffer ring (%u x %zu bytes)",
				    who, nbufs, buf_size);
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;
	p.cq_entries = cq_entries;
	int e = io_uring_queue_init_params(entries, &u->ring, &p);
	if (e == -EINVAL) {
		/* COOP_TASKRUN is an optimisation (Linux 5.19); try without it */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = cq_entries;
		e = io_uring_queue_init_params(entries, &u->ring, &p);
	}
	if (e < 0) {
		if (e == -ENOSYS || e == -EPERM)
			return sl_error_set(err, -ENOTSUP,
					    "%s: io_uring is not available (io_uring_setup: %s; "
					    "kernel.io_uring_disabled or a seccomp filter?)",
					    who, strerror(-e));
		return sl_error_set(err, e, "%s: io_uring_setup failed: %s", who, strerror(-e));
	}
	u->ring_ok = true;
	if (!(p.features & IORING_FEAT_NODROP)) {
		e = sl_error_set(err, -ENOTSUP,
				 "%s: the kernel's io_uring lacks IORING_FEAT_NODROP (Linux 5.5)",
				 who);
		goto fail;
	}
	if (!(p.features & IORING_FEAT_FAST_POLL)) {
		e = sl_error_set(
		    err, -ENOTSUP,
		    "%s: the kernel's io_uring lacks IORING_FEAT_FAST_POLL (Linux 5.7)", who);
		goto fail;
	}
	if ((e = check_ops(u, who, err)) < 0)
		goto fail;

	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096;
	u->br_bytes = (nbufs * sizeof(struct io_uring_buf) + page - 1) / page * page;
	u->br = sl_alloc_aligned(m, -1, page, u->br_bytes);
	u->nbufs = nbufs;
	u->block_size = block_size;
	u->hdr = hdr;
	u->buf_size = buf_size;
	u->blk = sl_calloc(m, -1, (size_t)nbufs * sizeof(*u->blk));
	bool ok = u->br && u->blk;
	for (unsigned i = 0; ok && i < nbufs; i++)
		ok = (u->blk[i] = sl_alloc(m, -1, block_size)) != NULL;
	if (!ok) {
		e = sl_error_set(err, -ENOMEM,
				 "%s: out of memory for %u receive buffers of %zu bytes", who,
				 nbufs, buf_size);
		goto fail;
	}
	memset(u->br, 0, u->br_bytes);
	io_uring_buf_ring_init(u->br);
	struct io_uring_buf_reg reg;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)(uintptr_t)u->br;
	reg.ring_entries = nbufs;
	reg.bgid = SL_URING_BGID;
	e = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (e < 0) {
		if (e == -EINVAL || e == -EOPNOTSUPP)
			e = sl_error_set(err, -ENOTSUP,
					 "%s: the kernel's io_uring lacks provided buffer rings "
					 "(IORING_REGISTER_PBUF_RING, Linux 5.19): %s",
					 who, strerror(-e));
		else
			e = sl_error_set(err, e, "%s: io_uring_register_buf_ring failed: %s", who,
					 strerror(-e));
		goto fail;
	}
	u->br_registered = true;
	for (unsigned i = 0; i < nbufs; i++)
		io_uring_buf_ring_add(u->br, sl_uring_data(u, i), (unsigned)buf_size,
				      (unsigned short)i, io_uring_buf_ring_mask(nbufs), (int)i);
	/* release (inside liburing): entries before the tail */
	io_uring_buf_ring_advance(u->br, (int)nbufs);
	if ((e = check_multishot_recv(u, who, err)) < 0)
		goto fail;
	return 0;
fail:
	sl_uring_fini(u, false);
	return e;
}
