/* SPDX-License-Identifier: Apache-2.0 */
/*
 * socket.h - TCP receivers on io_uring: socketTextStream (connect, Spark's) and
 * socketServerStream (listen for many producers). Both frame lines with Java's readLine
 * rules (io/framer.h) into chunks for the block builder (core/receiver.h).
 *
 * Common behaviour
 *   - One io thread per receiver, started by r->ops->start (which first checks every
 *     io_uring feature used and returns -ENOTSUP naming the missing one); a server can
 *     be spread over several receivers, one io thread each (sl_socket_server_io_threads).
 *   - Records longer than max_record bytes (0: SL_MAX_RECORD_DEFAULT) are skipped
 *     whole and counted in r->skipped.
 *   - Counters (relaxed): records and bytes (bytes framed, terminators included),
 *     skipped, connections (successful connects / accepted connections), restarts
 *     (client only), last_errno (the latest connection error, positive errno).
 *   - Chunks: a chunk is pushed when its cost (record bytes + 16 bytes per record)
 *     reaches SL_CHUNK_BYTES, and when flush_seq changed (the partial chunk, if it holds
 *     a record). The io thread looks at flush_seq, stop_req and rate_limit after every
 *     batch of completions and at least every min(10 ms, max(block_ms / 4, 0.25 ms)).
 *   - Backpressure (nothing dropped): when the ring is full, or already holds
 *     max_inflight chunks (sl_socket_set_max_inflight), the chunk is kept and framing
 *     stops; completed receives keep their provided buffers, the kernel runs out of
 *     its 32 buffers (multishot recv ends with -ENOBUFS; it is re-armed once framing
 *     resumes), the socket buffers fill and TCP flow control stalls the senders. The
 *     receiver then holds at most: max_inflight chunks + one chunk + 32 x 256 KiB.
 *     A stalled io thread asks for room (sl_receiver_want_room) and the builder's next
 *     pop wakes it through ops->room (the eventfd), so framing resumes at once.
 *   - Chunk arrays: a chunk is created with room for as many records as the last full
 *     chunk had, plus half (a power of two, so that sl_mem recycles the array), so that
 *     a steady stream grows no array; a partial chunk (pushed at a tick) that used less
 *     than an eighth of that halves it. A full chunk is SL_CHUNK_BYTES of records and
 *     views.
 *   - Rate limit (r->rate_limit records/s, 0 = unlimited, read at every wakeup): a token
 *     bucket of burst max(rate / 10, 1) records, full when the limit is first seen,
 *     refilled continuously, one per stream (the io threads of a spread server share
 *     it); each framed record takes a token and framing stops (the rest of the buffer
 *     is kept, mid-buffer) when none is left, with the same effect on the sender as
 *     backpressure. Skipped records take no token.
 *   - Stop (stop_req set, or ops->stop): every request is cancelled; data already
 *     received is framed (ignoring the rate limit); a connection the peer closed before
 *     that contributes its partial last line; a partial line of a connection that is
 *     still open is dropped (it is not a record until its terminator or the peer's EOF
 *     arrives; the drop is logged at INFO with its size). Then the partial chunk is
 *     pushed, retrying while the ring is full for up to 5 s (the source keeps popping
 *     during a graceful stop; stop_req == 2 means nobody pops and no waiting is done);
 *     records that still do not fit are dropped, added to r->skipped and logged at
 *     ERROR. Then `done` is set and the thread exits; ops->stop joins it.
 *   - With several io threads, a connection dealt to one that stops before taking it is
 *     taken by its stop (before the cancel) and drained like the others, provided the
 *     dealing io thread stopped first (core/receiver.c's source does so); an io thread that
 *     has ended gets no more connections (the dealer reads them itself).
 *   - ops->free stops the receiver (stop_req = 2 if it still runs) and frees it.
 *
 * Threads: constructors, start, stop, free and the setters on the driver thread; the io
 * thread touches only its own state, the ring (producer side) and the atomics of
 * sl_receiver, and with several io threads (sl_socket_server_io_threads) also: the first
 * one's deals (another io thread's list of dealt connections, under its mutex, its
 * hpending flag and its eventfd) and the stream's token bucket (a mutex).
 */
#ifndef SL_SOCKET_H
#define SL_SOCKET_H

#include <stddef.h>
#include <stdint.h>

#include "../core/receiver.h"

/* Spark's spark.streaming.receiverRestartDelay default. */
#define SL_SOCKET_RESTART_DELAY_MS 2000

/*
 * sl_socket_text_stream_new - Spark's socketTextStream(host, port): a TCP client.
 * host is a name or an IPv4/IPv6 literal, resolved with getaddrinfo at every connect
 * (each address tried in order). When the stream ends (EOF: "Socket data stream had no
 * more data") or fails, its partial last line is a record, and after restart_delay_ms
 * (SL_SOCKET_RESTART_DELAY_MS is Spark's; 0 connects again at the io thread's next tick)
 * the receiver connects again, counting r->restarts; a failed connect (refused,
 * unreachable, unknown host) is logged (WARN, with the reason and the address), stored
 * in r->last_errno, counted as a restart and retried after the same delay. Returns the
 * receiver (not started) or NULL with err: -EINVAL for an empty host, a port outside
 * 1..65535 or a negative delay; -ENOMEM.
 */
sl_receiver *sl_socket_text_stream_new(sl_env *env, const char *host, int port,
				       int64_t restart_delay_ms, size_t max_record,
				       sluice_error *err);

/*
 * sl_socket_server_stream_new - a TCP server: listens on bind_addr and reads every
 * accepted connection at once, each with its own framer; a producer that disconnects
 * mid-line contributes its partial last line (readLine at EOF). r->connections counts
 * accepted connections. bind_addr: ":port" or "*:port" (every interface: IPv6 and
 * IPv4 when the host has IPv6, else IPv4), "a.b.c.d:port", "[v6addr]:port",
 * "name:port"; port 0 picks a free port (sl_socket_server_port). The socket is bound
 * and listening when this returns (connections queue in the backlog until start).
 * Returns NULL with err: -EINVAL for a malformed address (the message shows the
 * expected forms), -EADDRINUSE / -EADDRNOTAVAIL / -EACCES / ... naming the address and
 * strerror; -ENOMEM.
 */
sl_receiver *sl_socket_server_stream_new(sl_env *env, const char *bind_addr, size_t max_record,
					 sluice_error *err);

/*
 * sl_socket_server_io_threads - spread a socketServerStream receiver r (not started) over
 * n io threads (1..SL_SOCKET_IO_THREADS_MAX): writes n receivers to out, out[0] = r and
 * out[1..n) new ones, each with its own io_uring, provided buffers, ring and counters. r's
 * io thread alone accepts, and deals accepted connections round robin to the n of them
 * (itself included): connection k is read by out[k % n] from start to end, so a producer's
 * lines stay in order. The caller owns out[1..n) (ops->free each) and must start them
 * before r, stop r before them (what r dealt to one is drained by that one's stop), and
 * stop all of them before freeing any (r deals into the others; they share r's token
 * bucket); core/receiver.c's source over several receivers does so. Setters applied to r later
 * (sl_socket_set_max_inflight) apply to all. Returns 0, or -EINVAL (not a listening
 * socketServerStream, already spread, n out of range), -EBUSY (started), -ENOMEM, with err.
 */
#define SL_SOCKET_IO_THREADS_MAX 64
int sl_socket_server_io_threads(sl_receiver *r, int n, sl_receiver **out, sluice_error *err);

/* sl_socket_server_port - the bound port of a socketServerStream receiver, or -EINVAL
 * for any other receiver. */
int sl_socket_server_port(sl_receiver *r);

/*
 * sl_socket_set_max_inflight - at most `chunks` chunks (>= 1; clamped to the ring's
 * capacity; default SL_RECEIVER_INFLIGHT) may wait in the ring before the receiver
 * applies backpressure. Bounds the memory a receiver holds beyond its sealed blocks, when
 * the pipeline falls behind, to about (chunks + 1) x SL_CHUNK_BYTES + 8 MiB. The block
 * builder is woken when half of them
 * wait. Returns 0, -EINVAL (not a socket receiver, or chunks == 0) or -EBUSY (already
 * started: the io thread reads it).
 */
int sl_socket_set_max_inflight(sl_receiver *r, size_t chunks);

#endif
