/* SPDX-License-Identifier: Apache-2.0 */
/*
 * socket.c - socketTextStream / socketServerStream receivers on io_uring (contract in
 * socket.h, receiver protocol in core/receiver.h).
 *
 * The io thread runs one loop: submit and wait for completions, turn each completion
 * into state changes or queued events, then service(): look at stop_req / flush_seq /
 * rate_limit, frame queued data into the current chunk, push chunks, re-arm what ended.
 *
 *   requests in flight (user_data = kind | slot << 8 | gen << 32)
 *     UD_WAKE     read of the eventfd that stop(), room() and a deal write (one shot, re-armed)
 *     UD_TIMER    IORING_OP_TIMEOUT of `period`                  (one shot, re-armed)
 *     UD_ACCEPT   multishot accept on the listening socket       (server)
 *     UD_CONNECT  connect of the client socket                   (client)
 *     UD_RECV     multishot recv per connection, provided buffers of group 0
 *
 *   recv completion --> event queue (FIFO) --> pump(): framer --> chunk --> ring
 *                       DATA(conn, bid, off, len)    stops while `stalled` (chunk
 *                       END(conn, 0 | -errno)        cannot be pushed) or out of tokens
 *
 * A DATA event owns its provided buffer until framing starts. A small receive (below
 * VIEW_MIN) is framed by copying and its buffer goes back to the kernel once framed
 * completely. A larger one is framed in place: each provided buffer is a 256 KiB block
 * laid out as an sl_buf (header, then the kernel's bytes), so the event takes the block
 * out of the buffer ring (the kernel gets a fresh block under the same buffer id, from
 * sl_mem's cache of recycled blocks), the chunk column lists the block among its
 * buffers and its records are views into it; only records that span two receives (the framer's
 * partial record) are copied. The block is freed with the last column that lists it. A chunk is
 * pushed at SL_CHUNK_BYTES of referenced record bytes or at CHUNK_BLKS_MAX blocks, so the memory a
 * chunk pins stays near what its copied bytes used to take. Holding buffers is the backpressure:
 * with every buffer held the kernel ends the multishot recvs with -ENOBUFS and the sockets' receive
 * windows close (nothing is framed, so nothing is replenished, while stalled). Connections whose
 * recv ended that way (or ended for another reason that is not the end of the stream) are re-armed
 * by service() once framing may go on (need_rearm).
 *
 * Invariants (io thread):
 *   - a connection's events are queued in the order of its CQEs, and its END event (the
 *     final CQE of its recv, for EOF or an error) is its last: it is freed only when that
 *     event is framed, so no event ever points to a freed connection;
 *   - c->armed <=> a multishot recv of c is in flight; c->ended <=> its END is queued;
 *   - inflight == the number of requests whose final CQE (no IORING_CQE_F_MORE) has not
 *     been seen; teardown waits for it to reach 0 before buffers are freed;
 *   - stalled => the chunk could not be pushed (or allocated): nothing is framed until
 *     service() pushes it;
 *   - chunk == NULL or it holds chunk_recs records of chunk_cost bytes (records + 16 per
 *     view); a chunk is pushed as soon as chunk_cost >= SL_CHUNK_BYTES or it lists
 *     CHUNK_BLKS_MAX receive blocks;
 *   - tokens >= 0; a framing call never gets a limit above floor(tokens).
 *   - qcap >= NBUFS + nconns >= qlen (queue_reserve): queueing never allocates;
 *   - a DATA event has e->sb (its block, out of the buffer ring, one reference held by
 *     the event) or holds its buffer id, never both; chunk_sb is a block the chunk
 *     lists (or NULL), chunk_blk the number of blocks it lists.
 * Driver thread: the constructors, start, stop, free and the setters; it shares only
 * the sl_receiver atomics, the ring and the eventfd with the io thread. Other io threads of
 * the same server: the dealer writes this one's hfd (under hmu), hpending and eventfd; all
 * share the first one's token bucket (tokpool, under its mutex).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setname_np */
#endif
#include "socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../kernels/kernels.h"
#include "framer.h"
#include "uring.h"

/* A provided buffer's block is an sl_buf: header, then the bytes the kernel writes. */
_Static_assert(offsetof(sl_buf, data) == sizeof(sl_buf), "sl_buf data follows the header");

#define NBUFS      32                   /* provided buffers per receiver */
#define RXBLK_SIZE ((size_t)256 << 10)  /* sl_buf header + data of a provided buffer */
#define VIEW_MIN   ((uint32_t)16 << 10) /* smaller receives are framed by copying */
/* a chunk is pushed once it holds this many receive blocks (bounds the memory it pins) */
#define CHUNK_BLKS_MAX  (SL_CHUNK_BYTES / RXBLK_SIZE + 1)
#define SQ_ENTRIES      256
#define CQ_ENTRIES      4096
#define PERIOD_MAX_NS   10000000LL   /* wake at least every 10 ms */
#define PERIOD_MIN_NS   250000LL     /* ... and not more often than every 0.25 ms */
#define STOP_WAIT_NS    5000000000LL /* how long stop waits for room in the ring */
#define CANCEL_WAIT_NS  2000000000LL /* how long stop waits for cancelled requests */
#define ACCEPT_RETRY_NS 100000000LL  /* pause after a failed accept */
#define CHUNK_ROWS      4096         /* first capacity of a chunk column */
/* the most rows a full chunk needs (each costs at least a view) */
#define CHUNK_ROWS_MAX (SL_CHUNK_BYTES / sizeof(sl_str))

enum { UD_WAKE = 1, UD_TIMER, UD_ACCEPT, UD_RECV, UD_CONNECT, UD_CANCEL };
enum { EV_DATA, EV_END };

typedef struct conn {
	int fd;
	uint32_t slot;
	bool armed; /* a multishot recv is in flight */
	bool ended; /* its END event is queued */
	sl_framer fr;
	char peer[80]; /* for log messages */
} conn;

typedef struct ev {
	conn *c;
	sl_buf *sb;        /* DATA framed in place: its block, one reference held (else NULL) */
	uint32_t len, off; /* DATA: bytes in the buffer, bytes already framed */
	int res;           /* END: 0 (EOF) or -errno */
	uint16_t bid;
	uint8_t kind;
	bool copy; /* DATA: framed by copying (bid is still held) */
} ev;

/* The rate limit's token bucket of one stream: every io thread of a socketServerStream
 * draws from its first io thread's. A thread takes all the tokens at its wakeup, frames,
 * and puts back what it did not use (refill, give_back), so the stream as a whole keeps to
 * its rate whichever threads have data. Touched only while the rate is limited. */
typedef struct tokpool {
	pthread_mutex_t mu;
	int64_t rate; /* the limit the bucket was last refilled for (0: none) */
	double tokens;
	int64_t refill_ns;
} tokpool;

typedef struct sock_rx {
	sl_receiver base; /* first: r <-> s casts */
	bool server;
	char name[320]; /* "socketTextStream(host:port)", for messages */
	/* client */
	char *host;
	int port;
	int64_t delay_ms;
	/* server */
	int lfd; /* the listening socket (the first io thread only; else -1) */
	int bound_port;
	/* server with several io threads: the first accepts and deals connections round
	 * robin to io[0..nio) (itself included); io is the first's, NULL on the others */
	struct sock_rx **io;
	unsigned nio, next_io;
	/* connections dealt to this io thread, not yet taken: hfd[0..nh), under hmu;
	 * hpending is 1 from a deal until this io thread takes them */
	pthread_mutex_t hmu;
	int *hfd;
	size_t nh, caph;
	atomic_int hpending;
	tokpool own;   /* this stream's token bucket (the first io thread's is used) */
	tokpool *pool; /* &own, or the first io thread's */
	/* set before start (sl_socket_set_max_inflight) */
	size_t max_inflight;
	pthread_t thr;
	bool started, stopped;
	int efd;
	sl_uring u;

	/* ---- io thread only (after start) ---- */
	struct slot {
		conn *c;      /* or NULL */
		uint32_t gen; /* bumped at each reuse: tags user_data */
	} * tab;
	uint32_t ntab;
	size_t nconns; /* open connections */
	ev *q;         /* FIFO ring: q[(qhead + i) % qcap], i < qlen */
	size_t qhead, qlen, qcap;
	unsigned inflight;
	bool stopping, need_rearm, wake_armed, timer_armed, accept_armed;
	uint64_t wake_val;
	struct __kernel_timespec period;
	sl_col *chunk;
	size_t chunk_cost;
	size_t chunk_rows; /* capacity of the next chunk: rows of the last full one, rounded up */
	uint64_t chunk_recs;
	sl_buf *chunk_sb;   /* the receive block last attached to chunk, or NULL */
	unsigned chunk_blk; /* receive blocks attached to chunk */
	bool stalled;
	uint64_t seen_flush;
	int64_t rate;  /* the limit in force (0 = none) */
	double tokens; /* taken from *pool for this wakeup */
	int64_t accept_retry_at;
	/* client */
	conn *cconn; /* the connection, or NULL */
	int cfd;     /* socket being connected, or -1 */
	bool connecting;
	int64_t reconnect_at; /* monotonic ns; connect when reached (0: at once) */
	struct addrinfo *ai_list, *ai_next;
	struct sockaddr_storage caddr;
	socklen_t caddrlen;
	char caddr_txt[80];
} sock_rx;

static const sl_receiver_ops client_ops, server_ops;

static sock_rx *of(sl_receiver *r)
{
	return r && (r->ops == &client_ops || r->ops == &server_ops) ? (sock_rx *)r : NULL;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void pause_1ms(void)
{
	struct timespec ts = {0, 1000000};
	nanosleep(&ts, NULL);
}

static uint64_t ud(int kind, const conn *c, const sock_rx *s)
{
	if (!c)
		return (uint64_t)kind;
	return (uint64_t)kind | (uint64_t)c->slot << 8 | (uint64_t)s->tab[c->slot].gen << 32;
}

/* "a.b.c.d:port" or "[v6]:port" of a socket address. */
static void addr_text(const struct sockaddr *sa, char *out, size_t n)
{
	char h[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &a->sin_addr, h, sizeof(h));
		port = ntohs(a->sin_port);
		snprintf(out, n, "%s:%d", h, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof(h));
		port = ntohs(a->sin6_port);
		snprintf(out, n, "[%s]:%d", h, port);
	} else {
		snprintf(out, n, "(address family %d)", sa->sa_family);
	}
}

static void set_errno(sock_rx *s, int e)
{
	/* relaxed: a statistic for logs and metrics */
	atomic_store_explicit(&s->base.last_errno, e, memory_order_relaxed);
}

/* ------------------------------------------------------------ connections */

/*
 * Make the event queue hold at least n events. The queue never holds more than
 * NBUFS + (open connections) events: a DATA event holds a distinct provided buffer,
 * and a connection has at most one END event. conn_new reserves for that bound, so
 * queueing a completion never allocates and never fails. false on ENOMEM.
 */
static bool queue_reserve(sock_rx *s, size_t n)
{
	if (n <= s->qcap)
		return true;
	size_t cap = s->qcap ? s->qcap : 2 * NBUFS;
	while (cap < n)
		cap *= 2;
	ev *q = sl_alloc(s->base.env->mem, -1, cap * sizeof(*q));
	if (!q)
		return false;
	for (size_t i = 0; i < s->qlen; i++)
		q[i] = s->q[(s->qhead + i) % s->qcap];
	if (s->q)
		sl_dealloc(s->base.env->mem, s->q, s->qcap * sizeof(*q));
	s->q = q;
	s->qcap = cap;
	s->qhead = 0;
	return true;
}

static conn *conn_new(sock_rx *s, int fd)
{
	if (!queue_reserve(s, NBUFS + s->nconns + 1))
		return NULL;
	uint32_t slot = 0;
	while (slot < s->ntab && s->tab[slot].c)
		slot++;
	if (slot == s->ntab) {
		uint32_t n = s->ntab ? s->ntab * 2 : 16;
		struct slot *t =
		    sl_realloc(s->base.env->mem, -1, s->tab, s->ntab * sizeof(*t), n * sizeof(*t));
		if (!t)
			return NULL;
		memset(t + s->ntab, 0, (n - s->ntab) * sizeof(*t));
		s->tab = t;
		s->ntab = n;
	}
	conn *c = sl_calloc(s->base.env->mem, -1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	c->slot = slot;
	sl_framer_init(&c->fr, s->base.env->mem, s->base.max_record);
	/* the context's kernel ISA (SLUICE_ISA / cfg.isa) picks the framing loop too */
	sl_framer_set_isa(&c->fr, s->base.env->kern ? s->base.env->kern->isa : NULL);
	s->tab[slot].gen++;
	s->tab[slot].c = c;
	s->nconns++;
	return c;
}

static void conn_free(sock_rx *s, conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	sl_framer_fini(&c->fr);
	s->tab[c->slot].c = NULL;
	s->nconns--;
	if (s->cconn == c)
		s->cconn = NULL;
	sl_dealloc(s->base.env->mem, c, sizeof(*c));
}

/* ------------------------------------------------------------ requests */

/* A submission entry; on failure the receiver stops (the ring is unusable). */
static struct io_uring_sqe *get_sqe(sock_rx *s)
{
	int rc = 0;
	struct io_uring_sqe *sqe = sl_uring_sqe(&s->u, &rc);
	if (!sqe) {
		sl_log(s->base.env, SL_LOG_ERROR, "%s: io_uring submit failed: %s; stopping",
		       s->name, strerror(-rc));
		set_errno(s, -rc);
		s->stopping = true;
	}
	return sqe;
}

static void arm_recv(sock_rx *s, conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(s);
	if (!sqe)
		return;
	sl_uring_prep_recv_multishot(sqe, c->fd);
	io_uring_sqe_set_data64(sqe, ud(UD_RECV, c, s));
	c->armed = true;
	s->inflight++;
}

static void arm_wake(sock_rx *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, s->efd, &s->wake_val, sizeof(s->wake_val), 0);
	io_uring_sqe_set_data64(sqe, UD_WAKE);
	s->wake_armed = true;
	s->inflight++;
}

static void arm_timer(sock_rx *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);
	if (!sqe)
		return;
	io_uring_prep_timeout(sqe, &s->period, 0, 0);
	io_uring_sqe_set_data64(sqe, UD_TIMER);
	s->timer_armed = true;
	s->inflight++;
}

static void arm_accept(sock_rx *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);
	if (!sqe)
		return;
	io_uring_prep_multishot_accept(sqe, s->lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UD_ACCEPT);
	s->accept_armed = true;
	s->inflight++;
}

/* May the io thread read more now (no full chunk waiting, tokens left)? */
static bool may_read(const sock_rx *s)
{
	return !s->stalled && !(s->rate > 0 && s->tokens < 1.0);
}

/* ------------------------------------------------------------ client connects */

static void schedule_restart(sock_rx *s, const char *why)
{
	if (s->ai_list)
		freeaddrinfo(s->ai_list);
	s->ai_list = s->ai_next = NULL;
	/* relaxed: a statistic */
	atomic_fetch_add_explicit(&s->base.restarts, 1, memory_order_relaxed);
	s->reconnect_at = now_ns() + s->delay_ms * 1000000LL;
	sl_log(s->base.env, SL_LOG_INFO, "%s: %s; restarting in %lld ms", s->name, why,
	       (long long)s->delay_ms);
}

/* Connect to the next address of the last resolution, resolving again when none is
 * left; schedules a restart when no address can even be tried. */
static void start_connect(sock_rx *s)
{
	bool resolved = false;
	s->reconnect_at = 0;
	while (!s->connecting && !s->stopping) {
		if (!s->ai_next) {
			if (resolved) {
				schedule_restart(s, "no usable address");
				return;
			}
			resolved = true;
			if (s->ai_list)
				freeaddrinfo(s->ai_list);
			s->ai_list = NULL;
			struct addrinfo hints;
			memset(&hints, 0, sizeof(hints));
			hints.ai_family = AF_UNSPEC;
			hints.ai_socktype = SOCK_STREAM;
			hints.ai_flags = AI_NUMERICSERV;
			char port[16];
			snprintf(port, sizeof(port), "%d", s->port);
			int e = getaddrinfo(s->host, port, &hints, &s->ai_list);
			if (e) {
				s->ai_list = NULL;
				set_errno(s, e == EAI_SYSTEM ? errno : EHOSTUNREACH);
				sl_log(s->base.env, SL_LOG_WARN, "%s: cannot resolve '%s': %s",
				       s->name, s->host, gai_strerror(e));
				schedule_restart(s, "resolution failed");
				return;
			}
			s->ai_next = s->ai_list;
			continue;
		}
		struct addrinfo *ai = s->ai_next;
		s->ai_next = ai->ai_next;
		if ((size_t)ai->ai_addrlen > sizeof(s->caddr))
			continue;
		addr_text(ai->ai_addr, s->caddr_txt, sizeof(s->caddr_txt));
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			set_errno(s, errno);
			sl_log(s->base.env, SL_LOG_WARN, "%s: socket for %s: %s", s->name,
			       s->caddr_txt, strerror(errno));
			continue;
		}
		memcpy(&s->caddr, ai->ai_addr, ai->ai_addrlen);
		s->caddrlen = (socklen_t)ai->ai_addrlen;
		struct io_uring_sqe *sqe = get_sqe(s);
		if (!sqe) {
			close(fd);
			return;
		}
		io_uring_prep_connect(sqe, fd, (struct sockaddr *)&s->caddr, s->caddrlen);
		io_uring_sqe_set_data64(sqe, UD_CONNECT);
		s->inflight++;
		s->cfd = fd;
		s->connecting = true;
	}
}

static void on_connect(sock_rx *s, int res)
{
	s->connecting = false;
	int fd = s->cfd;
	s->cfd = -1;
	if (s->stopping) {
		close(fd);
		return;
	}
	if (res < 0) {
		close(fd);
		set_errno(s, -res);
		/* WARN once every address failed; DEBUG while others remain to be tried */
		sl_log(s->base.env, s->ai_next ? SL_LOG_DEBUG : SL_LOG_WARN,
		       "%s: error connecting to %s: %s", s->name, s->caddr_txt, strerror(-res));
		if (s->ai_next)
			start_connect(s);
		else
			schedule_restart(s, "connect failed");
		return;
	}
	conn *c = conn_new(s, fd);
	if (!c) {
		close(fd);
		set_errno(s, ENOMEM);
		sl_log(s->base.env, SL_LOG_ERROR, "%s: out of memory for a connection", s->name);
		schedule_restart(s, "out of memory");
		return;
	}
	snprintf(c->peer, sizeof(c->peer), "%s", s->caddr_txt);
	s->cconn = c;
	if (s->ai_list)
		freeaddrinfo(s->ai_list);
	s->ai_list = s->ai_next = NULL;
	/* relaxed: a statistic */
	atomic_fetch_add_explicit(&s->base.connections, 1, memory_order_relaxed);
	sl_log(s->base.env, SL_LOG_INFO, "%s: connected to %s", s->name, c->peer);
	if (may_read(s))
		arm_recv(s, c);
	else
		s->need_rearm = true;
}

/* ------------------------------------------------------------ server accepts */

/* Start reading connection fd on this io thread (closed instead once stopping, unless
 * `stopping_too`: a connection dealt to it before it stopped, see finish). */
static void adopt(sock_rx *s, int fd, bool stopping_too)
{
	if (s->stopping && !stopping_too) {
		close(fd);
		return;
	}
	conn *c = conn_new(s, fd);
	if (!c) {
		close(fd);
		set_errno(s, ENOMEM);
		sl_log(s->base.env, SL_LOG_ERROR, "%s: out of memory for a connection; closed it",
		       s->name);
		return;
	}
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0)
		addr_text((struct sockaddr *)&sa, c->peer, sizeof(c->peer));
	else
		snprintf(c->peer, sizeof(c->peer), "fd %d", fd);
	/* relaxed: a statistic */
	atomic_fetch_add_explicit(&s->base.connections, 1, memory_order_relaxed);
	sl_log(s->base.env, SL_LOG_DEBUG, "%s: accepted %s", s->name, c->peer);
	if (may_read(s) || s->stopping)
		arm_recv(s, c);
	else
		s->need_rearm = true;
}

/*
 * Hand accepted connection fd to io thread t (not the caller's): into t's list under its
 * mutex, then t's eventfd (open from t's constructor to its free) wakes it and its
 * service() adopts the fd, or its stop does (finish). Only the accepting io thread deals.
 */
static void deal(sock_rx *s, sock_rx *t, int fd)
{
	pthread_mutex_lock(&t->hmu);
	if (t->nh == t->caph) {
		size_t n = t->caph ? t->caph * 2 : 16;
		int *p = realloc(t->hfd, n * sizeof(*p));
		if (!p) {
			pthread_mutex_unlock(&t->hmu);
			adopt(s, fd, false); /* read it here rather than lose it */
			return;
		}
		t->hfd = p;
		t->caph = n;
	}
	t->hfd[t->nh++] = fd;
	pthread_mutex_unlock(&t->hmu);
	/* release: pairs with the acquire exchange in take_dealt; the fd is in the list */
	atomic_store_explicit(&t->hpending, 1, memory_order_release);
	uint64_t one = 1;
	while (write(t->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void on_accept(sock_rx *s, int fd)
{
	sock_rx *t = s->nio > 1 ? s->io[s->next_io++ % s->nio] : s;
	/* acquire: pairs with t's release store of done; an io thread that ended on its own
	 * (an io_uring failure) would never take the connection, so read it here */
	if (t == s || s->stopping || atomic_load_explicit(&t->base.done, memory_order_acquire))
		adopt(s, fd, false);
	else
		deal(s, t, fd);
}

/* Adopt the connections the accepting io thread dealt to this one (all of them when
 * `stopping_too`, whatever hpending says: see finish). */
static void take_dealt(sock_rx *s, bool stopping_too)
{
	/* acq_rel: pairs with deal's release store (the list holds the fds it announced) */
	if (!atomic_exchange_explicit(&s->hpending, 0, memory_order_acq_rel) && !stopping_too)
		return;
	for (;;) {
		int fd[16];
		size_t n = 0;
		pthread_mutex_lock(&s->hmu);
		while (n < 16 && s->nh)
			fd[n++] = s->hfd[--s->nh];
		pthread_mutex_unlock(&s->hmu);
		if (!n)
			return;
		for (size_t i = 0; i < n; i++)
			adopt(s, fd[i], stopping_too);
	}
}

/* ------------------------------------------------------------ events and framing */

/* Queue an event; conn_new reserved room for it (see queue_reserve). */
static void enqueue(sock_rx *s, ev e)
{
	s->q[(s->qhead + s->qlen) % s->qcap] = e;
	s->qlen++;
}

static void dequeue(sock_rx *s)
{
	s->qhead = (s->qhead + 1) % s->qcap;
	s->qlen--;
}

/* Push the chunk if it holds records. false: no room (the caller keeps it). */
static bool push_chunk(sock_rx *s)
{
	if (!s->chunk || !s->chunk_recs)
		return true;
	/* full: the block builder's next pop wakes us through ops->room (the eventfd) */
	if (sl_spsc_size(&s->base.ring) >= s->max_inflight &&
	    !sl_receiver_want_room(&s->base, s->max_inflight))
		return false;
	/* Size the next chunk for as many rows as a full one had, with room for the receive
	 * that overshoots SL_CHUNK_BYTES and for the 64 views the framer reserves per block:
	 * a power of two, so that sl_mem recycles the array and a steady stream grows none.
	 * A chunk pushed at a block tick is partial: it only shrinks the next one (by half)
	 * when it used far less, so a receiver that slowed down stops taking big arrays. */
	size_t len = s->chunk->len, rows = CHUNK_ROWS, need = len + len / 2 + 64;
	while (rows < need && rows < CHUNK_ROWS_MAX)
		rows *= 2;
	bool full = s->chunk_cost >= SL_CHUNK_BYTES || s->chunk_blk >= CHUNK_BLKS_MAX;
	if (!sl_receiver_push(&s->base, s->chunk))
		return false;
	if (full)
		s->chunk_rows = rows;
	else if (rows < s->chunk_rows / 8)
		s->chunk_rows /= 2;
	s->chunk = NULL;
	s->chunk_cost = 0;
	s->chunk_recs = 0;
	s->chunk_sb = NULL;
	s->chunk_blk = 0;
	return true;
}

/*
 * Take DATA event e's block out of the provided buffer ring: the kernel gets a fresh
 * block under e's buffer id at once, and the old block becomes an sl_buf (data = the
 * received bytes) that e holds one reference to. Columns that frame views into it take
 * references of their own; the last one frees it (a 256 KiB block: sl_mem recycles it).
 * false when there is no memory for the fresh block: e is then framed by copying.
 */
static bool detach_block(sock_rx *s, ev *e)
{
	char *fresh = sl_alloc(s->base.env->mem, -1, RXBLK_SIZE);
	if (!fresh)
		return false;
	sl_buf *b = (sl_buf *)sl_uring_swap(&s->u, e->bid, fresh);
	atomic_init(&b->ref, 1);
	b->mem = s->base.env->mem;
	b->cap = RXBLK_SIZE - sizeof(sl_buf);
	b->len = b->cap; /* full: sl_col_str_space never appends to it */
	e->sb = b;
	return true;
}

/* Drop a reference to a detached block (as buf_unref in core/col.c). */
static void block_unref(sl_buf *b)
{
	/* acq_rel: the last owner must see every write made through other references */
	if (atomic_fetch_sub_explicit(&b->ref, 1, memory_order_acq_rel) == 1)
		sl_dealloc(b->mem, b, sizeof(sl_buf) + b->cap);
}

/*
 * Make column c hold a reference to b (what sl_col_share_bufs does through add_buf in
 * core/col.c). b goes just before c's last buffer, so the last one stays the buffer
 * sl_col_str_space appends copies to. Returns b's index in c->bufs, or -1 on ENOMEM.
 */
static int col_attach(sl_col *c, sl_buf *b)
{
	if (c->nbufs == c->capbufs) {
		int n = c->capbufs ? c->capbufs * 2 : 4;
		sl_buf **p = sl_realloc(c->mem, -1, c->bufs, (size_t)c->capbufs * sizeof(*p),
					(size_t)n * sizeof(*p));
		if (!p)
			return -1;
		c->bufs = p;
		c->capbufs = n;
	}
	int i = c->nbufs++;
	if (i > 0) {
		c->bufs[i] = c->bufs[i - 1];
		i--;
	}
	c->bufs[i] = b;
	/* relaxed: the caller holds a reference already (as in sl_col_share_bufs) */
	atomic_fetch_add_explicit(&b->ref, 1, memory_order_relaxed);
	return i;
}

/* Undo col_attach(c, b) = i when no view went into b (the caller still holds b). */
static void col_detach(sl_col *c, int i)
{
	sl_buf *b = c->bufs[i];
	c->bufs[i] = c->bufs[c->nbufs - 1];
	c->nbufs--;
	/* relaxed: the caller's reference keeps b alive; nothing was published */
	atomic_fetch_sub_explicit(&b->ref, 1, memory_order_relaxed);
}

/* Frame DATA event e into the chunk (limit records at most); returns the bytes used. */
static size_t frame_data(sock_rx *s, ev *e, uint64_t limit, sl_framer_stats *st)
{
	if (!e->sb && !e->copy)
		e->copy = e->len < VIEW_MIN || !detach_block(s, e);
	size_t n = e->len - e->off;
	if (e->copy)
		return sl_framer_feed(&e->c->fr, sl_uring_data(&s->u, e->bid) + e->off, n, s->chunk,
				      limit, st);
	const char *p = e->sb->data + e->off;
	if (s->chunk_sb == e->sb)
		return sl_framer_feed_view(&e->c->fr, p, n, s->chunk, limit, st);
	int at = col_attach(s->chunk, e->sb);
	if (at < 0)
		return sl_framer_feed(&e->c->fr, p, n, s->chunk, limit, st);
	uint64_t views = st->views;
	size_t used = sl_framer_feed_view(&e->c->fr, p, n, s->chunk, limit, st);
	if (st->views == views) {
		col_detach(s->chunk, at);
	} else {
		s->chunk_sb = e->sb;
		s->chunk_blk++;
	}
	return used;
}

static void account(sock_rx *s, const sl_framer_stats *st, size_t used)
{
	/* relaxed on all: statistics */
	if (st->records)
		atomic_fetch_add_explicit(&s->base.records, st->records, memory_order_relaxed);
	if (used)
		atomic_fetch_add_explicit(&s->base.bytes, used, memory_order_relaxed);
	if (st->skipped)
		atomic_fetch_add_explicit(&s->base.skipped, st->skipped, memory_order_relaxed);
	if (st->nomem)
		sl_log(s->base.env, SL_LOG_ERROR,
		       "%s: out of memory: %llu records dropped (counted as skipped)", s->name,
		       (unsigned long long)st->nomem);
	s->chunk_cost += st->bytes + st->records * sizeof(sl_str);
	s->chunk_recs += st->records;
	if (s->rate > 0) {
		s->tokens -= (double)st->records;
		if (s->tokens < 0)
			s->tokens = 0;
	}
}

/* The end of a connection's stream (its END event): log, close, maybe reconnect. */
static void conn_end(sock_rx *s, conn *c, int res)
{
	if (res == 0) {
		sl_log(s->base.env, s->server ? SL_LOG_DEBUG : SL_LOG_INFO,
		       "%s: %s: Socket data stream had no more data", s->name, c->peer);
	} else {
		set_errno(s, -res);
		sl_log(s->base.env, SL_LOG_WARN, "%s: error receiving from %s: %s", s->name,
		       c->peer, strerror(-res));
	}
	bool client = !s->server;
	conn_free(s, c);
	if (client && !s->stopping)
		schedule_restart(s, res ? "receive failed" : "stream ended");
}

/* Frame queued events in order until none is left, the chunk cannot be pushed, or the
 * tokens run out (unless `unlimited`). */
static void pump(sock_rx *s, bool unlimited)
{
	while (s->qlen && !s->stalled) {
		ev *e = &s->q[s->qhead];
		if (!s->chunk) {
			s->chunk = sl_col_new_on(s->base.env->mem, s->base.node, &sl_type_str,
						 s->chunk_rows);
			if (!s->chunk) {
				s->stalled = true; /* retried at the next wakeup */
				break;
			}
		}
		sl_framer_stats st = {0};
		if (e->kind == EV_DATA) {
			uint64_t limit = UINT64_MAX;
			if (!unlimited && s->rate > 0) {
				if (s->tokens < 1.0)
					break;
				limit = (uint64_t)s->tokens;
			}
			size_t used = frame_data(s, e, limit, &st);
			account(s, &st, used);
			e->off += (uint32_t)used;
			if (e->off == e->len) {
				if (e->sb)
					block_unref(e->sb);
				else
					sl_uring_put(&s->u, e->bid);
				dequeue(s);
			}
		} else {
			conn *c = e->c;
			int res = e->res;
			dequeue(s);
			sl_framer_eof(&c->fr, s->chunk, &st);
			account(s, &st, 0);
			conn_end(s, c, res);
		}
		if ((s->chunk_cost >= SL_CHUNK_BYTES || s->chunk_blk >= CHUNK_BLKS_MAX) &&
		    !push_chunk(s))
			s->stalled = true;
	}
}

/* ------------------------------------------------------------ completions */

static void on_recv(sock_rx *s, conn *c, int res, unsigned flags)
{
	if (flags & IORING_CQE_F_BUFFER) {
		unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
		sl_uring_buf(&s->u, bid);
		if (res > 0)
			enqueue(s, (ev){.c = c,
					.len = (uint32_t)res,
					.bid = (uint16_t)bid,
					.kind = EV_DATA});
		else
			sl_uring_put(&s->u, bid); /* a buffer without data: cannot happen */
	}
	if (flags & IORING_CQE_F_MORE)
		return;
	/* the request is over */
	s->inflight--;
	c->armed = false;
	if (res > 0 || res == -ENOBUFS || res == -ECANCELED) {
		/* not the end of the stream: out of buffers (backpressure), a multishot recv
		 * the kernel ended for its own reasons, or our cancel at stop */
		if (!s->stopping)
			s->need_rearm = true;
		return;
	}
	enqueue(s, (ev){.c = c, .res = res, .kind = EV_END});
	c->ended = true;
}

static void on_cqe(sock_rx *s, const struct io_uring_cqe *cqe)
{
	uint64_t d = io_uring_cqe_get_data64(cqe);
	int kind = (int)(d & 0xff), res = cqe->res;
	bool final = !(cqe->flags & IORING_CQE_F_MORE);
	switch (kind) {
	case UD_WAKE:
		s->inflight--;
		s->wake_armed = false;
		break;
	case UD_TIMER:
		s->inflight--;
		s->timer_armed = false;
		break;
	case UD_CANCEL: break;
	case UD_CONNECT:
		s->inflight--;
		on_connect(s, res);
		break;
	case UD_ACCEPT:
		if (final) {
			s->inflight--;
			s->accept_armed = false;
		}
		if (res >= 0) {
			on_accept(s, res);
		} else if (res != -ECANCELED) {
			set_errno(s, -res);
			sl_log(s->base.env, SL_LOG_WARN, "%s: accept failed: %s", s->name,
			       strerror(-res));
			s->accept_retry_at = now_ns() + ACCEPT_RETRY_NS;
		}
		break;
	case UD_RECV: {
		uint32_t slot = (uint32_t)(d >> 8) & 0xffffff, gen = (uint32_t)(d >> 32);
		conn *c = slot < s->ntab ? s->tab[slot].c : NULL;
		if (!c || s->tab[slot].gen != gen) {
			/* cannot happen (a connection outlives its requests); keep the buffer */
			if (cqe->flags & IORING_CQE_F_BUFFER) {
				sl_uring_buf(&s->u, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
				sl_uring_put(&s->u, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
			}
			break;
		}
		on_recv(s, c, res, cqe->flags);
		break;
	}
	default: break;
	}
}

/* Handle every CQE available now; returns how many. */
static unsigned reap(sock_rx *s)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	io_uring_for_each_cqe(&s->u.ring, head, cqe)
	{
		on_cqe(s, cqe);
		n++;
	}
	io_uring_cq_advance(&s->u.ring, n);
	return n;
}

/* ------------------------------------------------------------ control */

/* Refill the stream's bucket for the time since its last refill and take all its tokens
 * for this wakeup (give_back returns the rest). A new limit starts a full bucket when there
 * was none, else keeps what is left up to the new burst. */
static void refill(sock_rx *s, int64_t now)
{
	/* relaxed: a setting; any recent value will do */
	int64_t rate = atomic_load_explicit(&s->base.rate_limit, memory_order_relaxed);
	tokpool *p = s->pool;
	if (rate <= 0) {
		if (s->rate) { /* the limit was lifted: the next one starts full */
			pthread_mutex_lock(&p->mu);
			p->rate = 0;
			pthread_mutex_unlock(&p->mu);
		}
		s->rate = 0;
		return;
	}
	double burst = rate / 10 > 1 ? (double)(rate / 10) : 1.0;
	pthread_mutex_lock(&p->mu);
	if (rate != p->rate) {
		p->tokens = p->rate == 0 ? burst : (p->tokens < burst ? p->tokens : burst);
		p->rate = rate;
	} else {
		p->tokens += (double)rate * (double)(now - p->refill_ns) / 1e9;
		if (p->tokens > burst)
			p->tokens = burst;
	}
	p->refill_ns = now;
	s->tokens = p->tokens;
	p->tokens = 0;
	pthread_mutex_unlock(&p->mu);
	s->rate = rate;
}

/* Put the tokens this wakeup did not use back into the stream's bucket. */
static void give_back(sock_rx *s)
{
	if (s->rate <= 0 || s->tokens <= 0)
		return;
	pthread_mutex_lock(&s->pool->mu);
	s->pool->tokens += s->tokens;
	pthread_mutex_unlock(&s->pool->mu);
	s->tokens = 0;
}

static void rearm_all(sock_rx *s)
{
	s->need_rearm = false;
	for (uint32_t i = 0; i < s->ntab && !s->stopping; i++) {
		conn *c = s->tab[i].c;
		if (c && !c->armed && !c->ended)
			arm_recv(s, c);
	}
}

/* After every batch of completions: control, framing, re-arming. */
static void service(sock_rx *s)
{
	/* acquire: pairs with the release store in stop() / the source's stop */
	if (atomic_load_explicit(&s->base.stop_req, memory_order_acquire)) {
		s->stopping = true;
		return;
	}
	int64_t now = now_ns();
	take_dealt(s, false);
	/* acquire: pairs with the block tick's release increment after it sealed a block */
	uint64_t f = atomic_load_explicit(&s->base.flush_seq, memory_order_acquire);
	if (f != s->seen_flush) {
		s->seen_flush = f;
		if (!s->stalled && !push_chunk(s))
			s->stalled = true;
	}
	if (s->stalled && push_chunk(s))
		s->stalled = false;
	refill(s, now);
	pump(s, false);
	if (s->need_rearm && may_read(s))
		rearm_all(s);
	give_back(s);
	if (s->stopping)
		return;
	if (s->server && s->lfd >= 0 && !s->accept_armed && now >= s->accept_retry_at)
		arm_accept(s);
	if (!s->server && !s->cconn && !s->connecting && now >= s->reconnect_at)
		start_connect(s);
	if (!s->timer_armed)
		arm_timer(s);
	if (!s->wake_armed)
		arm_wake(s);
}

/* The stop procedure (design in socket.h). */
static void finish(sock_rx *s)
{
	sl_env *env = s->base.env;
	/* 0. connections dealt to this io thread before it stopped (the source stops the dealing
	 * io thread first, so none come later): read like the others until the cancel lands */
	take_dealt(s, true);
	/* 1. cancel every request and collect their final CQEs (data still arriving before
	 * the cancel lands is queued like any other) */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->u.ring);
	if (!sqe) {
		io_uring_submit(&s->u.ring);
		sqe = io_uring_get_sqe(&s->u.ring);
	}
	if (sqe) {
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
		io_uring_sqe_set_data64(sqe, UD_CANCEL);
	}
	io_uring_submit(&s->u.ring);
	int64_t deadline = now_ns() + CANCEL_WAIT_NS;
	while (s->inflight && now_ns() < deadline) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = {0, 10000000};
		io_uring_wait_cqe_timeout(&s->u.ring, &cqe, &ts);
		reap(s);
	}
	if (s->inflight)
		sl_log(env, SL_LOG_ERROR,
		       "%s: %u io_uring requests did not end after cancel; leaking their buffers",
		       s->name, s->inflight);

	/* 2. frame what was received, waiting for room in the ring if need be */
	/* acquire: pairs with the release store of stop_req */
	bool wait = atomic_load_explicit(&s->base.stop_req, memory_order_acquire) != 2;
	deadline = now_ns() + (wait ? STOP_WAIT_NS : 0);
	for (;;) {
		if (s->stalled && push_chunk(s))
			s->stalled = false;
		pump(s, true);
		if (!s->stalled && !s->qlen)
			break;
		if (now_ns() >= deadline)
			break;
		pause_1ms();
	}
	if (s->qlen) {
		size_t lost = 0;
		for (size_t i = 0; i < s->qlen; i++) {
			ev *e = &s->q[(s->qhead + i) % s->qcap];
			if (e->kind == EV_DATA)
				lost += e->len - e->off;
		}
		sl_log(env, SL_LOG_ERROR,
		       "%s: stopped with the ring full: %zu received bytes were not framed",
		       s->name, lost);
	}

	/* 3. open connections: a partial line is not a record (the peer did not end it) */
	for (uint32_t i = 0; i < s->ntab; i++) {
		conn *c = s->tab[i].c;
		if (!c)
			continue;
		size_t n = sl_framer_reset(&c->fr);
		if (n)
			sl_log(env, SL_LOG_INFO,
			       "%s: stopped: dropped the unterminated last %zu bytes from %s",
			       s->name, n, c->peer);
	}

	/* 4. the partial chunk */
	while (!push_chunk(s)) {
		if (now_ns() >= deadline) {
			sl_log(env, SL_LOG_ERROR,
			       "%s: stopped with the ring full: %llu records dropped (counted as "
			       "skipped)",
			       s->name, (unsigned long long)s->chunk_recs);
			/* relaxed: a statistic */
			atomic_fetch_add_explicit(&s->base.skipped, s->chunk_recs,
						  memory_order_relaxed);
			break;
		}
		pause_1ms();
	}
	/* release: every chunk pushed before is visible to whoever sees done */
	atomic_store_explicit(&s->base.done, 1, memory_order_release);

	/* 5. teardown of the io thread's state (the listening socket stays with s); blocks
	 * of events left over that were taken out of the buffer ring are ours to drop */
	for (; s->qlen; dequeue(s))
		if (s->q[s->qhead].kind == EV_DATA && s->q[s->qhead].sb)
			block_unref(s->q[s->qhead].sb);
	sl_col_unref(s->chunk);
	s->chunk = NULL;
	s->chunk_sb = NULL;
	s->chunk_blk = 0;
	for (uint32_t i = 0; i < s->ntab; i++)
		if (s->tab[i].c)
			conn_free(s, s->tab[i].c);
	if (s->cfd >= 0)
		close(s->cfd);
	s->cfd = -1;
	if (s->ai_list)
		freeaddrinfo(s->ai_list);
	s->ai_list = s->ai_next = NULL;
	sl_uring_fini(&s->u, s->inflight > 0);
}

static void *io_main(void *arg)
{
	sock_rx *s = arg;
	arm_wake(s);
	arm_timer(s);
	if (s->server && s->lfd >= 0)
		arm_accept(s);
	else if (!s->server)
		start_connect(s);
	while (!s->stopping) {
		int e = io_uring_submit_and_wait(&s->u.ring, 1);
		if (e < 0 && e != -EINTR && e != -EAGAIN && e != -EBUSY && e != -ETIME) {
			sl_log(s->base.env, SL_LOG_ERROR, "%s: io_uring_enter failed: %s; stopping",
			       s->name, strerror(-e));
			set_errno(s, -e);
			break;
		}
		reap(s);
		service(s);
	}
	finish(s);
	return NULL;
}

/* ------------------------------------------------------------ ops */

static int rx_start(sl_receiver *r, sluice_error *err)
{
	sock_rx *s = (sock_rx *)r;
	if (s->started || s->stopped)
		return sl_error_set(err, -EINVAL, "%s: already started", s->name);
	int e = sl_uring_init_hdr(&s->u, r->env->mem, SQ_ENTRIES, CQ_ENTRIES, NBUFS, RXBLK_SIZE,
				  sizeof(sl_buf), s->name, err);
	if (e < 0)
		return e;
	int64_t p = r->env->block_ms > 0 ? r->env->block_ms * 1000000LL / 4 : PERIOD_MAX_NS;
	p = p > PERIOD_MAX_NS ? PERIOD_MAX_NS : p < PERIOD_MIN_NS ? PERIOD_MIN_NS : p;
	s->period.tv_sec = p / 1000000000LL;
	s->period.tv_nsec = p % 1000000000LL;
	/* acquire: the count at start; only ticks after it ask for the partial chunk */
	s->seen_flush = atomic_load_explicit(&r->flush_seq, memory_order_acquire);
	e = pthread_create(&s->thr, NULL, io_main, s);
	if (e) {
		sl_uring_fini(&s->u, false);
		return sl_error_set(err, -e, "%s: cannot start the io thread: %s", s->name,
				    strerror(e));
	}
	pthread_setname_np(s->thr, s->server ? "sl-srv-recv" : "sl-sock-recv");
	s->started = true;
	return 0;
}

static void rx_stop(sl_receiver *r)
{
	sock_rx *s = (sock_rx *)r;
	if (s->stopped)
		return;
	s->stopped = true;
	if (s->started) {
		int zero = 0;
		/* release: pairs with the io thread's acquire load; keeps a 2 (no waiting) */
		atomic_compare_exchange_strong_explicit(&r->stop_req, &zero, 1,
							memory_order_release, memory_order_relaxed);
		uint64_t one = 1;
		while (write(s->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
		pthread_join(s->thr, NULL);
	} else {
		/* release: never started, nothing will ever be pushed */
		atomic_store_explicit(&r->done, 1, memory_order_release);
	}
	if (s->lfd >= 0)
		close(s->lfd);
	s->lfd = -1;
}

/* ops->room: the block builder made room in the ring; wake the io thread waiting for it. */
static void rx_room(sl_receiver *r)
{
	sock_rx *s = (sock_rx *)r;
	uint64_t one = 1;
	/* efd lives from the constructor to free */
	while (write(s->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void rx_free(sl_receiver *r)
{
	if (!r)
		return;
	sock_rx *s = (sock_rx *)r;
	if (s->started && !s->stopped) {
		int zero = 0;
		/* release: as in rx_stop; 2 = nobody pops, do not wait for room */
		atomic_compare_exchange_strong_explicit(&r->stop_req, &zero, 2,
							memory_order_release, memory_order_relaxed);
	}
	rx_stop(r);
	sl_receiver_fini(r);
	sl_mem *m = r->env->mem;
	/* connections dealt to this io thread after it stopped */
	for (size_t i = 0; i < s->nh; i++)
		close(s->hfd[i]);
	free(s->hfd);
	close(s->efd);
	pthread_mutex_destroy(&s->hmu);
	pthread_mutex_destroy(&s->own.mu);
	if (s->io)
		sl_dealloc(m, s->io, s->nio * sizeof(*s->io));
	if (s->host)
		sl_dealloc(m, s->host, strlen(s->host) + 1);
	if (s->tab)
		sl_dealloc(m, s->tab, s->ntab * sizeof(*s->tab));
	if (s->q)
		sl_dealloc(m, s->q, s->qcap * sizeof(*s->q));
	sl_dealloc(m, s, sizeof(*s));
}

static const sl_receiver_ops client_ops = {
    .name = "socketTextStream",
    .start = rx_start,
    .stop = rx_stop,
    .free = rx_free,
    .room = rx_room,
};

static const sl_receiver_ops server_ops = {
    .name = "socketServerStream",
    .start = rx_start,
    .stop = rx_stop,
    .free = rx_free,
    .room = rx_room,
};

/* ------------------------------------------------------------ constructors */

static sock_rx *rx_new(sl_env *env, size_t max_record, sluice_error *err)
{
	sock_rx *s = sl_calloc(env->mem, -1, sizeof(*s));
	if (!s) {
		sl_error_set(err, -ENOMEM, "out of memory for a socket receiver");
		return NULL;
	}
	s->base.max_record = max_record;
	if (sl_receiver_init(&s->base, env)) {
		sl_dealloc(env->mem, s, sizeof(*s));
		sl_error_set(err, -ENOMEM, "out of memory for a socket receiver");
		return NULL;
	}
	s->lfd = s->cfd = -1;
	/* from here to free (not start to stop): another io thread may deal to this one
	 * before it starts or after it stopped, and always writes a valid eventfd */
	s->efd = eventfd(0, EFD_CLOEXEC);
	if (s->efd < 0) {
		int e = errno;
		sl_receiver_fini(&s->base);
		sl_dealloc(env->mem, s, sizeof(*s));
		sl_error_set(err, -e, "socket receiver: eventfd: %s", strerror(e));
		return NULL;
	}
	pthread_mutex_init(&s->hmu, NULL);
	pthread_mutex_init(&s->own.mu, NULL);
	s->pool = &s->own;
	atomic_init(&s->hpending, 0);
	size_t cap = s->base.ring.mask + 1;
	s->max_inflight = SL_RECEIVER_INFLIGHT < cap ? SL_RECEIVER_INFLIGHT : cap;
	s->chunk_rows = CHUNK_ROWS;
	return s;
}

/* sl_socket_text_stream_new: see the contract in socket.h */
sl_receiver *sl_socket_text_stream_new(sl_env *env, const char *host, int port,
				       int64_t restart_delay_ms, size_t max_record,
				       sluice_error *err)
{
	if (!host || !host[0]) {
		sl_error_set(err, -EINVAL, "socketTextStream: empty host name");
		return NULL;
	}
	if (port < 1 || port > 65535) {
		sl_error_set(err, -EINVAL, "socketTextStream(%s): port %d is not in 1..65535", host,
			     port);
		return NULL;
	}
	if (restart_delay_ms < 0) {
		sl_error_set(err, -EINVAL,
			     "socketTextStream(%s:%d): negative restart delay %lld ms", host, port,
			     (long long)restart_delay_ms);
		return NULL;
	}
	sock_rx *s = rx_new(env, max_record, err);
	if (!s)
		return NULL;
	s->base.ops = &client_ops;
	s->host = sl_strndup(env->mem, host, strlen(host));
	if (!s->host) {
		rx_free(&s->base);
		sl_error_set(err, -ENOMEM, "socketTextStream: out of memory");
		return NULL;
	}
	s->port = port;
	s->delay_ms = restart_delay_ms;
	snprintf(s->name, sizeof(s->name),
		 strchr(host, ':') ? "socketTextStream([%s]:%d)" : "socketTextStream(%s:%d)", host,
		 port);
	return &s->base;
}

/* Parse the decimal port of a bind address; -1 if malformed. */
static int parse_port(const char *p)
{
	if (!*p)
		return -1;
	long v = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
		if (v > 65535)
			return -1;
	}
	return (int)v;
}

/* socket + SO_REUSEADDR + bind + listen; the fd or -errno. */
static int listen_on(const struct sockaddr *sa, socklen_t len, bool dual)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1, zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (dual)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, sa, len) || listen(fd, SOMAXCONN)) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* sl_socket_server_stream_new: see the contract in socket.h */
sl_receiver *sl_socket_server_stream_new(sl_env *env, const char *bind_addr, size_t max_record,
					 sluice_error *err)
{
	static const char forms[] =
	    "expected \":port\", \"*:port\", \"host:port\", \"a.b.c.d:port\" "
	    "or \"[v6addr]:port\" with port in 0..65535";
	const char *a = bind_addr ? bind_addr : "";
	const char *colon = strrchr(a, ':');
	int port = colon ? parse_port(colon + 1) : -1;
	size_t hl = colon ? (size_t)(colon - a) : 0;
	if (port < 0 || hl >= 256) {
		sl_error_set(err, -EINVAL, "socketServerStream: bad bind address '%s': %s", a,
			     forms);
		return NULL;
	}
	char host[256];
	memcpy(host, a, hl);
	host[hl] = '\0';
	int fd = -EINVAL;
	if (!hl || !strcmp(host, "*")) {
		struct sockaddr_in6 six = {.sin6_family = AF_INET6,
					   .sin6_port = htons(port),
					   .sin6_addr = IN6ADDR_ANY_INIT};
		fd = listen_on((struct sockaddr *)&six, sizeof(six), true);
		if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL) {
			struct sockaddr_in four = {.sin_family = AF_INET,
						   .sin_port = htons(port),
						   .sin_addr.s_addr = htonl(INADDR_ANY)};
			fd = listen_on((struct sockaddr *)&four, sizeof(four), false);
		}
	} else {
		if (host[0] == '[') {
			if (hl < 3 || host[hl - 1] != ']') {
				sl_error_set(err, -EINVAL,
					     "socketServerStream: bad bind address '%s': %s", a,
					     forms);
				return NULL;
			}
			memmove(host, host + 1, hl - 2);
			host[hl - 2] = '\0';
		} else if (strchr(host, ':')) {
			sl_error_set(err, -EINVAL,
				     "socketServerStream: bad bind address '%s': an IPv6 address "
				     "needs brackets; %s",
				     a, forms);
			return NULL;
		}
		struct addrinfo hints, *list = NULL;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		char ps[16];
		snprintf(ps, sizeof(ps), "%d", port);
		int g = getaddrinfo(host, ps, &hints, &list);
		if (g) {
			sl_error_set(err, -EINVAL,
				     "socketServerStream: cannot resolve bind address '%s': %s", a,
				     gai_strerror(g));
			return NULL;
		}
		for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
			fd = listen_on(ai->ai_addr, ai->ai_addrlen, false);
			if (fd >= 0)
				break;
		}
		freeaddrinfo(list);
	}
	if (fd < 0) {
		sl_error_set(err, fd, "socketServerStream: cannot listen on %s: %s", a,
			     strerror(-fd));
		return NULL;
	}
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	char where[96] = "?";
	int bound = port;
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0) {
		addr_text((struct sockaddr *)&sa, where, sizeof(where));
		bound = sa.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&sa)->sin_port)
						: ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
	}
	sock_rx *s = rx_new(env, max_record, err);
	if (!s) {
		close(fd);
		return NULL;
	}
	s->base.ops = &server_ops;
	s->server = true;
	s->lfd = fd;
	s->bound_port = bound;
	snprintf(s->name, sizeof(s->name), "socketServerStream(%s)", where);
	return &s->base;
}

/* sl_socket_server_port: see the contract in socket.h */
int sl_socket_server_port(sl_receiver *r)
{
	sock_rx *s = of(r);
	return s && s->server ? s->bound_port : -EINVAL;
}

/* sl_socket_server_io_threads: see the contract in socket.h */
int sl_socket_server_io_threads(sl_receiver *r, int n, sl_receiver **out, sluice_error *err)
{
	sock_rx *s = of(r);
	if (!s || !s->server || s->lfd < 0)
		return sl_error_set(err, -EINVAL, "not a listening socketServerStream receiver");
	if (n < 1 || n > SL_SOCKET_IO_THREADS_MAX)
		return sl_error_set(err, -EINVAL,
				    "socketServerStream: ioThreads must be in 1..%d (got %d)",
				    SL_SOCKET_IO_THREADS_MAX, n);
	if (s->io)
		return sl_error_set(err, -EINVAL, "%s: already spread over io threads", s->name);
	if (s->started || s->stopped)
		return sl_error_set(err, -EBUSY, "%s: already started", s->name);
	out[0] = r;
	if (n == 1)
		return 0;
	sl_mem *m = r->env->mem;
	s->io = sl_calloc(m, -1, (size_t)n * sizeof(*s->io));
	if (!s->io)
		return sl_error_set(err, -ENOMEM, "out of memory for a socket receiver");
	s->io[0] = s;
	for (int i = 1; i < n; i++) {
		sock_rx *t = rx_new(r->env, r->max_record, err);
		if (!t) { /* err says why: ENOMEM, or the eventfd */
			for (int k = 1; k < i; k++)
				rx_free(&s->io[k]->base);
			sl_dealloc(m, s->io, (size_t)n * sizeof(*s->io));
			s->io = NULL;
			return err && err->code ? err->code : -ENOMEM;
		}
		t->base.ops = &server_ops;
		t->server = true;
		t->pool = &s->own;
		t->bound_port = s->bound_port;
		t->max_inflight = s->max_inflight;
		t->base.wake_at = s->base.wake_at;
		snprintf(t->name, sizeof(t->name), "%.280s io thread %d", s->name, i + 1);
		s->io[i] = t;
		out[i] = &t->base;
	}
	s->nio = (unsigned)n;
	return 0;
}

/* sl_socket_set_max_inflight: see the contract in socket.h */
int sl_socket_set_max_inflight(sl_receiver *r, size_t chunks)
{
	sock_rx *s = of(r);
	if (!s || !chunks)
		return -EINVAL;
	if (s->started || s->stopped)
		return -EBUSY;
	for (unsigned i = 0; i < (s->nio ? s->nio : 1); i++) {
		sock_rx *t = s->nio ? s->io[i] : s;
		size_t cap = t->base.ring.mask + 1;
		t->max_inflight = chunks < cap ? chunks : cap;
		t->base.wake_at = t->max_inflight / 2 ? t->max_inflight / 2 : 1;
	}
	return 0;
}
