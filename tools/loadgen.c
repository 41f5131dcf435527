/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluice-loadgen - send generated lines to HOST:PORT over N TCP connections, at a fixed total
 * rate or as fast as possible, and report exactly what was sent.
 *
 * Formats (one record per line, each line ended by --line-ending):
 *   words  one pseudo-word out of a vocabulary of K (-k)
 *   lines  W (-w) pseudo-words separated by single spaces
 *   csv    key,value,send_time_ns  (key one of K words, value 1..100, ns since the epoch)
 *   json   a Yahoo Streaming Benchmark event; event_time is the send time (ms since the epoch)
 *
 * Contract:
 * - The records and bytes reported, and the per-key counts of --counts, cover exactly the
 *   complete lines that send() accepted. A line cut short by an error is not counted.
 * - Content is a function of --seed, the connection index and the record's position on its
 *   connection; only the embedded times differ between runs.
 * - Connection i (0-based) of N sends records/N records (the first records%N connections one
 *   more) at rate/N records/s, in bursts of what is due every millisecond or more.
 * - When done, each connection shuts down its write side and waits (up to 1 s) for the peer
 *   to close before closing, so a peer that reads to EOF has read everything when we exit.
 *
 * Exit codes: 0 success (also when stopped by SIGINT/SIGTERM), 1 runtime error (cannot
 * resolve or connect, a connection failed, a report file could not be written), 2 usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG      "sluice-loadgen"
#define BUF_CAP   (256u * 1024u) /* bytes built per send in a burst */
#define MAX_CONNS 4096u
#define MAX_KEYS  10000000u /* up to 4 syllables per word */
#define MAX_WORDS 10000u    /* words per line: W * 9 + 2 bytes must fit BUF_CAP */
#define MAX_SYL   4
#define NSYL      70           /* 14 consonants x 5 vowels */
#define JSON_MAX  320          /* longest JSON event, line ending included (261 + slack) */
#define TICK_NS   1000000LL    /* pacing granularity */
#define NAP_NS    50000000LL   /* longest sleep: how soon a stop request is noticed */
#define SNDTIMEO  200000       /* us: how often a blocked send looks at the clock */
#define GRACE_NS  2000000000LL /* a peer that stops reading is given up this long after the end */
#define LINGER_NS 1000000000LL /* wait this long for the peer to close after our FIN */

enum format { F_WORDS, F_LINES, F_CSV, F_JSON };
static const char *const format_names[] = {"words", "lines", "csv", "json"};

/* The parsed command line; read-only once the connections start. */
static struct {
	const char *target;  /* HOST:PORT as given, for messages and the report */
	char host[256];      /* without the brackets of [v6]:port */
	char port[8];        /* numeric */
	unsigned conns;      /* 1..MAX_CONNS */
	double rate;         /* total records/s; 0 = as fast as possible */
	uint64_t records;    /* total records; UINT64_MAX = unlimited */
	int64_t duration_ns; /* 0 = no time limit */
	enum format fmt;
	uint32_t keys;  /* vocabulary size (words, lines, csv) or ad pool size (json) */
	uint32_t words; /* words per line for -f lines */
	uint64_t seed;
	const char *eol_name, *eol; /* line ending */
	size_t eol_len;
	char eol_last; /* last byte of a line: a complete line ends with it, content never has it */
	const char *stats, *counts;
	bool quiet;
} cfg;

/* Pseudo-words: word i is spelled once into a slot of MAX_SYL * 2 bytes. */
static struct {
	char *text;
	uint8_t *len;
	size_t maxlen; /* longest word */
} voc;

static size_t max_line; /* longest line of the chosen format, line ending included */

/* Monotonic time of the first stop request (signal or a failed connection); 0 = none. */
static atomic_llong stop_ns;
static volatile sig_atomic_t got_signal;
static int64_t start_ns, deadline_ns; /* monotonic; deadline 0 = none */

struct conn {
	unsigned idx;
	int fd;
	uint64_t quota; /* records to send; UINT64_MAX = unlimited */
	double rate;    /* records/s; 0 = as fast as possible */
	uint64_t rng;
	uint64_t records, bytes; /* complete lines fully written, and their bytes */
	uint64_t *counts;        /* keys counters (--counts), else NULL */
	char *buf;               /* BUF_CAP bytes, + 2 * MAX_SYL of slack for put_word */
	uint32_t *keys;          /* the key of every word in buf, in order (--counts), else NULL */
	int64_t end_ns;          /* monotonic time of the last completed write */
	int err;                 /* errno of the failure that ended the connection; 0 = none */
	bool stalled;            /* err is ETIMEDOUT because the peer stopped reading */
	pthread_t thread;
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* Record the first stop request; async-signal-safe. */
static void request_stop(void)
{
	long long none = 0;
	atomic_compare_exchange_strong(&stop_ns, &none, (long long)mono_ns());
}

static bool stopping(void)
{
	return atomic_load_explicit(&stop_ns, memory_order_relaxed) != 0;
}

static void on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
	request_stop();
}

/* --- random numbers: splitmix64 ------------------------------------------------------------ */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t next64(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return mix64(*s);
}

/* A uniform number in [0, n), n >= 1 (multiply-shift; the bias is below 2^-32). */
static uint32_t below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(((unsigned __int128)next64(s) * n) >> 64);
}

/* --- vocabulary ---------------------------------------------------------------------------- */

/*
 * Spell word i into out and return its length. Words are pairs of consonant+vowel syllables:
 * the 70^2 two-syllable words come first, then the 70^3 three-syllable ones, and so on. Within
 * a length L the offset j is scrambled to j * 1000003 mod 70^L, a bijection because 1000003 is
 * prime to 70, so every index gets a distinct word and neighbours do not look alike.
 * Requires i < 70^2 + 70^3 + 70^4 (out has room for 2 * MAX_SYL bytes).
 */
static size_t spell_word(uint64_t i, char *out)
{
	static const char cons[] = "bdfgklmnprstvz", vow[] = "aeiou";
	uint64_t size = NSYL * NSYL;
	int len = 2;
	while (i >= size) {
		i -= size;
		size *= NSYL;
		len++;
	}
	uint64_t j = i * 1000003u % size;
	for (int s = len - 1; s >= 0; s--) {
		unsigned d = (unsigned)(j % NSYL);
		j /= NSYL;
		out[2 * s] = cons[d / 5];
		out[2 * s + 1] = vow[d % 5];
	}
	return (size_t)(2 * len);
}

/* Spell the cfg.keys words into voc. Returns 0, or -1 when out of memory. */
static int build_vocab(void)
{
	voc.text = malloc((size_t)cfg.keys * 2 * MAX_SYL);
	voc.len = malloc(cfg.keys);
	if (!voc.text || !voc.len)
		return -1;
	for (uint32_t i = 0; i < cfg.keys; i++) {
		size_t n = spell_word(i, voc.text + (size_t)i * 2 * MAX_SYL);
		voc.len[i] = (uint8_t)n;
		if (n > voc.maxlen)
			voc.maxlen = n;
	}
	return 0;
}

static char *put_word(char *p, uint32_t k)
{
	/* copy the whole slot (a constant size); only len bytes count, the rest is overwritten */
	memcpy(p, voc.text + (size_t)k * 2 * MAX_SYL, 2 * MAX_SYL);
	return p + voc.len[k];
}

/* --- line building ------------------------------------------------------------------------- */

#define PUT_LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)

static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* A version-4 UUID (36 bytes, lower-case hex) from 128 random bits. */
static char *put_uuid(char *p, uint64_t hi, uint64_t lo)
{
	static const char hex[] = "0123456789abcdef";
	char h[32];
	for (int i = 0; i < 16; i++) {
		h[i] = hex[(hi >> (60 - 4 * i)) & 15];
		h[16 + i] = hex[(lo >> (60 - 4 * i)) & 15];
	}
	h[12] = '4';                 /* version */
	h[16] = hex[8 + (lo >> 62)]; /* variant 10xx */
	static const int groups[] = {8, 4, 4, 4, 12};
	const char *s = h;
	for (int g = 0; g < 5; g++) {
		if (g)
			*p++ = '-';
		memcpy(p, s, (size_t)groups[g]);
		p += groups[g];
		s += groups[g];
	}
	return p;
}

/*
 * One Yahoo Streaming Benchmark event. The ad ids come from a pool of cfg.keys UUIDs that
 * depends only on the seed, so all connections share it; user and page ids are fresh.
 */
static char *put_event(struct conn *c, char *p)
{
	static const char *const ad_types[] = {"banner", "modal", "sponsored-search", "mail",
					       "mobile"};
	static const char *const event_types[] = {"view", "click", "purchase"};
	uint64_t a = next64(&c->rng), b = next64(&c->rng);
	p = PUT_LIT(p, "{\"user_id\":\"");
	p = put_uuid(p, a, b);
	a = next64(&c->rng);
	b = next64(&c->rng);
	p = PUT_LIT(p, "\",\"page_id\":\"");
	p = put_uuid(p, a, b);
	uint64_t ad = below(&c->rng, cfg.keys), pool = mix64(cfg.seed ^ 0x5ad5ad5ad5ad5ad5ULL);
	p = PUT_LIT(p, "\",\"ad_id\":\"");
	p = put_uuid(p, mix64(pool + 2 * ad), mix64(pool + 2 * ad + 1));
	p = PUT_LIT(p, "\",\"ad_type\":\"");
	p = put_str(p, ad_types[below(&c->rng, 5)]);
	p = PUT_LIT(p, "\",\"event_type\":\"");
	p = put_str(p, event_types[below(&c->rng, 3)]);
	p = PUT_LIT(p, "\",\"event_time\":\"");
	p = put_u64(p, (uint64_t)clock_ns(CLOCK_REALTIME) / 1000000u);
	return PUT_LIT(p, "\",\"ip_address\":\"1.2.3.4\"}");
}

/*
 * Append one line (at most max_line bytes) at p and return the end. With kp, the key index of
 * every word (words, lines) or record (csv) is appended at *kp.
 */
static char *put_line(struct conn *c, char *p, uint32_t **kp)
{
	uint32_t k;
	switch (cfg.fmt) {
	case F_WORDS:
		k = below(&c->rng, cfg.keys);
		p = put_word(p, k);
		if (kp)
			*(*kp)++ = k;
		break;
	case F_LINES:
		for (uint32_t j = 0; j < cfg.words; j++) {
			k = below(&c->rng, cfg.keys);
			if (j)
				*p++ = ' ';
			p = put_word(p, k);
			if (kp)
				*(*kp)++ = k;
		}
		break;
	case F_CSV:
		k = below(&c->rng, cfg.keys);
		p = put_word(p, k);
		*p++ = ',';
		p = put_u64(p, below(&c->rng, 100) + 1);
		*p++ = ',';
		p = put_u64(p, (uint64_t)clock_ns(CLOCK_REALTIME));
		if (kp)
			*(*kp)++ = k;
		break;
	case F_JSON: p = put_event(c, p); break;
	}
	memcpy(p, cfg.eol, cfg.eol_len);
	return p + cfg.eol_len;
}

/*
 * Build at most max_lines whole lines into c->buf, as many as fit, at least one when
 * max_lines > 0. Returns the byte length; *nlines gets the number of lines.
 */
static size_t fill(struct conn *c, uint64_t max_lines, uint64_t *nlines)
{
	char *p = c->buf, *last = c->buf + BUF_CAP - max_line;
	uint32_t *kp = c->keys;
	uint64_t n = 0;
	while (n < max_lines && p <= last) {
		p = put_line(c, p, c->keys ? &kp : NULL);
		n++;
	}
	*nlines = n;
	return (size_t)(p - c->buf);
}

/* --- sending ------------------------------------------------------------------------------- */

/*
 * Write c->buf[0, len). Returns 0 with *written = len, or an errno with *written = the bytes
 * accepted before the failure. A peer that accepts nothing for SNDTIMEO is waited for, except
 * GRACE_NS after the deadline or a stop request: then ETIMEDOUT.
 */
static int send_buf(struct conn *c, size_t len, size_t *written)
{
	size_t off = 0;
	while (off < len) {
		ssize_t k = send(c->fd, c->buf + off, len - off, MSG_NOSIGNAL);
		if (k >= 0) {
			off += (size_t)k;
			continue;
		}
		int e = errno;
		if (e != EINTR && e != EAGAIN && e != EWOULDBLOCK) {
			*written = off;
			return e;
		}
		int64_t now = mono_ns(), stop = atomic_load(&stop_ns);
		if ((stop && now > stop + GRACE_NS) ||
		    (deadline_ns && now > deadline_ns + GRACE_NS)) {
			c->stalled = true;
			*written = off;
			return ETIMEDOUT;
		}
	}
	*written = off;
	return 0;
}

/*
 * Account a buffer of nlines lines (len bytes) of which the first `written` bytes were sent:
 * only complete lines count, and only their keys.
 */
static void commit(struct conn *c, size_t len, uint64_t nlines, size_t written)
{
	uint64_t lines = nlines;
	size_t bytes = len;
	if (written < len) {
		lines = 0;
		bytes = 0;
		for (size_t i = 0; i < written; i++) {
			if (c->buf[i] == cfg.eol_last) {
				lines++;
				bytes = i + 1;
			}
		}
	}
	c->records += lines;
	c->bytes += bytes;
	if (c->counts) {
		uint64_t nk = lines * (cfg.fmt == F_LINES ? cfg.words : 1);
		for (uint64_t i = 0; i < nk; i++)
			c->counts[c->keys[i]]++;
	}
}

static void sleep_until(int64_t t)
{
	struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* Records due on c at monotonic time now: record i (0-based) is due at start + i / rate. */
static uint64_t due_at(const struct conn *c, int64_t now)
{
	if (c->rate <= 0)
		return c->quota;
	double d = c->rate * (double)(now - start_ns) / 1e9 + 1;
	return d < (double)c->quota ? (uint64_t)d : c->quota;
}

/* Shut down the write side, read and drop until the peer closes (at most LINGER_NS), close. */
static void finish(struct conn *c)
{
	if (!c->err) {
		shutdown(c->fd, SHUT_WR);
		int64_t until = mono_ns() + LINGER_NS;
		char sink[4096];
		for (;;) {
			int64_t left = until - mono_ns();
			if (left <= 0)
				break;
			struct pollfd pf = {.fd = c->fd, .events = POLLIN};
			int r = poll(&pf, 1, (int)(left / 1000000) + 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			ssize_t k = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
			if (k < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (k <= 0)
				break;
		}
	}
	close(c->fd);
	c->fd = -1;
}

/* The thread of one connection: send until the quota, the deadline, a stop or an error. */
static void *run_conn(void *arg)
{
	struct conn *c = arg;
	uint64_t sent = 0; /* lines built and handed to send_buf */
	c->end_ns = start_ns;
	while (sent < c->quota && !stopping()) {
		int64_t now = mono_ns();
		if (deadline_ns && now >= deadline_ns)
			break;
		uint64_t due = due_at(c, now);
		while (sent < due && !c->err) {
			if (stopping() || (deadline_ns && mono_ns() >= deadline_ns))
				goto done;
			uint64_t n;
			size_t len = fill(c, due - sent, &n), written;
			sent += n;
			c->err = send_buf(c, len, &written);
			commit(c, len, n, written);
			if (written)
				c->end_ns = mono_ns();
		}
		if (c->err) {
			request_stop();
			break;
		}
		if (c->rate > 0 && sent < c->quota) {
			/* the next record's due time, but at least one tick on, at most a nap */
			int64_t next = start_ns + (int64_t)((double)sent / c->rate * 1e9);
			if (next < now + TICK_NS)
				next = now + TICK_NS;
			if (next > now + NAP_NS)
				next = now + NAP_NS;
			if (deadline_ns && next > deadline_ns)
				next = deadline_ns;
			sleep_until(next);
		}
	}
done:
	finish(c);
	return NULL;
}

/* --- connecting ---------------------------------------------------------------------------- */

/* Connect to the first address of ai that accepts. Returns the socket, or -1 and *err. */
static int dial(const struct addrinfo *ai, int *err)
{
	*err = EADDRNOTAVAIL;
	for (; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			*err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			int one = 1;
			struct timeval tv = {.tv_sec = 0, .tv_usec = SNDTIMEO};
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			return fd;
		}
		*err = errno;
		close(fd);
	}
	return -1;
}

/* --- command line -------------------------------------------------------------------------- */

/* The option table doubles as the --help text. */
static const struct opt {
	const char *lng;
	int shrt; /* >= 256: long only */
	const char *arg;
	const char *help;
} opts[] = {
    {"connections", 'c', "N", "TCP connections, each sending its share (default 1)"},
    {"rate", 'r', "R", "records/s over all connections (default 0 = as fast as possible)"},
    {"records", 'n', "N", "total records to send (default: no limit, stop after -d)"},
    {"duration", 'd', "SECONDS", "stop after: 2.5, 500ms, 2s, 1min (default 10 without -n or -d)"},
    {"format", 'f', "FORMAT", "words | lines | csv | json (default words)"},
    {"keys", 'k', "K", "distinct words / csv keys / json ad ids (default 1000)"},
    {"words", 'w', "W", "words per line for -f lines (default 8)"},
    {"seed", 256, "S", "seed of the generated content (default 1)"},
    {"line-ending", 257, "lf|crlf|cr", "line terminator (default lf)"},
    {"stats", 258, "FILE", "also write the report as JSON to FILE"},
    {"counts", 259, "FILE", "write key<TAB>count of what was sent (-f words, lines, csv)"},
    {"quiet", 'q', NULL, "do not print the report on standard output"},
    {"help", 'h', NULL, "this help"},
    {NULL, 0, NULL, NULL},
};

static void help(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [options] HOST:PORT\n"
		"\n"
		"Send generated lines to HOST:PORT (IPv6: [ADDR]:PORT) and report what was sent.\n"
		"\n"
		"options:\n");
	for (const struct opt *o = opts; o->lng; o++) {
		char left[64];
		if (o->shrt < 256)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->shrt, o->lng,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->lng, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		fprintf(f, "  %-30s %s\n", left, o->help);
	}
	fprintf(
	    f,
	    "\nformats (one record per line):\n"
	    "  words  a pseudo-word          lines  W pseudo-words separated by spaces\n"
	    "  csv    key,value,send_time_ns (value 1..100, ns since the epoch)\n"
	    "  json   {\"user_id\",\"page_id\",\"ad_id\",\"ad_type\",\"event_type\",\"event_time\","
	    "\"ip_address\"}\n"
	    "         (Yahoo Streaming Benchmark; event_time = send time, ms since the epoch)\n"
	    "\nreport (standard output): a TSV header line and a line of values:\n"
	    "  records bytes connections seconds records_per_s mb_per_s   (MB = 10^6 bytes)\n"
	    "Only complete lines that were fully written count. SIGINT/SIGTERM stop after the\n"
	    "current burst. Exit status: 0 success, 1 connection or I/O error, 2 usage error.\n");
}

static _Noreturn void usage_error(const char *fmt, const char *a)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, a);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	exit(2);
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (*end || errno || x < lo || x > hi)
		return false;
	*v = x;
	return true;
}

/* A plain number is seconds; suffixes ms, s, min. Must be > 0 and at most a year. */
static bool parse_seconds(const char *s, int64_t *ns)
{
	char *end;
	if ((*s < '0' || *s > '9') && *s != '.')
		return false;
	errno = 0;
	double v = strtod(s, &end), mul;
	if (end == s || errno)
		return false;
	if (!*end || !strcmp(end, "s"))
		mul = 1e9;
	else if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "min"))
		mul = 60e9;
	else
		return false;
	double r = v * mul;
	if (!(r >= 1e6 && r <= 3.2e16))
		return false;
	*ns = (int64_t)r;
	return true;
}

/* Split HOST:PORT or [V6ADDR]:PORT into cfg.host and cfg.port (numeric 1..65535). */
static bool parse_target(const char *t)
{
	const char *h, *colon;
	size_t hlen;
	if (t[0] == '[') {
		const char *rb = strchr(t, ']');
		if (!rb || rb[1] != ':')
			return false;
		h = t + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(t, ':');
		if (!colon || memchr(t, ':', (size_t)(colon - t)))
			return false; /* no port, or a bare IPv6 address */
		h = t;
		hlen = (size_t)(colon - t);
	}
	uint64_t port;
	if (!hlen || hlen >= sizeof(cfg.host) || !parse_u64(colon + 1, 1, 65535, &port))
		return false;
	memcpy(cfg.host, h, hlen);
	cfg.host[hlen] = 0;
	snprintf(cfg.port, sizeof(cfg.port), "%u", (unsigned)port);
	return true;
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"connections", required_argument, 0, 'c'},
	    {"rate", required_argument, 0, 'r'},
	    {"records", required_argument, 0, 'n'},
	    {"duration", required_argument, 0, 'd'},
	    {"format", required_argument, 0, 'f'},
	    {"keys", required_argument, 0, 'k'},
	    {"words", required_argument, 0, 'w'},
	    {"seed", required_argument, 0, 256},
	    {"line-ending", required_argument, 0, 257},
	    {"stats", required_argument, 0, 258},
	    {"counts", required_argument, 0, 259},
	    {"quiet", no_argument, 0, 'q'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	cfg.conns = 1;
	cfg.records = UINT64_MAX;
	cfg.fmt = F_WORDS;
	cfg.keys = 1000;
	cfg.words = 8;
	cfg.seed = 1;
	cfg.eol_name = "lf";
	cfg.eol = "\n";
	bool have_n = false;
	uint64_t v;
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:r:n:d:f:k:w:qh", lo, NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (!parse_u64(optarg, 1, MAX_CONNS, &v))
				usage_error("--connections must be 1..4096, got '%s'", optarg);
			cfg.conns = (unsigned)v;
			break;
		case 'r': {
			char *end;
			errno = 0;
			double r = strtod(optarg, &end);
			bool digit = (*optarg >= '0' && *optarg <= '9') || *optarg == '.';
			if (!digit || end == optarg || *end || errno || !(r >= 0 && r <= 1e10))
				usage_error("--rate must be a number of records/s >= 0, got '%s'",
					    optarg);
			cfg.rate = r;
			break;
		}
		case 'n':
			if (!parse_u64(optarg, 0, UINT64_MAX - 1, &v))
				usage_error("--records must be a count >= 0, got '%s'", optarg);
			cfg.records = v;
			have_n = true;
			break;
		case 'd':
			if (!parse_seconds(optarg, &cfg.duration_ns))
				usage_error(
				    "--duration must be seconds > 0 (2.5, 500ms, 2s, 1min), "
				    "got '%s'",
				    optarg);
			break;
		case 'f': {
			int i = 0;
			while (i < 4 && strcmp(optarg, format_names[i]))
				i++;
			if (i == 4)
				usage_error("unknown --format '%s' (words, lines, csv, json)",
					    optarg);
			cfg.fmt = (enum format)i;
			break;
		}
		case 'k':
			if (!parse_u64(optarg, 1, MAX_KEYS, &v))
				usage_error("--keys must be 1..10000000, got '%s'", optarg);
			cfg.keys = (uint32_t)v;
			break;
		case 'w':
			if (!parse_u64(optarg, 1, MAX_WORDS, &v))
				usage_error("--words must be 1..10000, got '%s'", optarg);
			cfg.words = (uint32_t)v;
			break;
		case 256:
			if (!parse_u64(optarg, 0, UINT64_MAX, &cfg.seed))
				usage_error("--seed must be an unsigned integer, got '%s'", optarg);
			break;
		case 257:
			if (!strcmp(optarg, "lf"))
				cfg.eol = "\n";
			else if (!strcmp(optarg, "crlf"))
				cfg.eol = "\r\n";
			else if (!strcmp(optarg, "cr"))
				cfg.eol = "\r";
			else
				usage_error("--line-ending must be lf, crlf or cr, got '%s'",
					    optarg);
			cfg.eol_name = optarg;
			break;
		case 258: cfg.stats = optarg; break;
		case 259: cfg.counts = optarg; break;
		case 'q': cfg.quiet = true; break;
		case 'h': help(stdout); exit(0);
		case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt) {
				char o[3] = {'-', (char)optopt, 0};
				usage_error("unknown option '%s'", o);
			}
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		usage_error("%s", "missing HOST:PORT");
	if (optind + 1 < argc)
		usage_error("unexpected argument '%s'", argv[optind + 1]);
	cfg.target = argv[optind];
	if (!parse_target(cfg.target))
		usage_error("bad target '%s': expected HOST:PORT or [IPV6]:PORT, port 1..65535",
			    cfg.target);
	if (cfg.counts && cfg.fmt == F_JSON)
		usage_error("%s", "--counts needs -f words, lines or csv");
	if (!have_n && !cfg.duration_ns)
		cfg.duration_ns = 10000000000LL;
	cfg.eol_len = strlen(cfg.eol);
	cfg.eol_last = cfg.eol[cfg.eol_len - 1];
}

/* --- report -------------------------------------------------------------------------------- */

struct totals {
	uint64_t records, bytes;
	double seconds, rps, mbps;
	int64_t start_ms, end_ms; /* wall clock, ms since the epoch */
};

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* Returns 0, or an errno when FILE cannot be written. */
static int write_stats(const char *path, const struct totals *t, const struct conn *cs)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return errno;
	fprintf(f, "{\"target\":");
	json_str(f, cfg.target);
	fprintf(f,
		",\"format\":\"%s\",\"connections\":%u,\"rate\":%.17g,\"records\":%" PRIu64
		",\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"records_per_s\":%.3f"
		",\"mb_per_s\":%.6f,\"start_time_ms\":%" PRId64 ",\"end_time_ms\":%" PRId64
		",\"keys\":%" PRIu32 ",\"seed\":%" PRIu64 ",\"line_ending\":\"%s\""
		",\"stopped_by_signal\":%s,\"per_connection\":[",
		format_names[cfg.fmt], cfg.conns, cfg.rate, t->records, t->bytes, t->seconds,
		t->rps, t->mbps, t->start_ms, t->end_ms, cfg.keys, cfg.seed, cfg.eol_name,
		got_signal ? "true" : "false");
	for (unsigned i = 0; i < cfg.conns; i++) {
		fprintf(f,
			"%s{\"records\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"error\":", i ? "," : "",
			cs[i].records, cs[i].bytes);
		if (cs[i].err)
			json_str(f, strerror(cs[i].err));
		else
			fputs("null", f);
		fputc('}', f);
	}
	fprintf(f, "]}\n");
	int e = ferror(f) ? EIO : 0;
	if (fclose(f) && !e)
		e = errno;
	return e;
}

/* Sum the per-connection counts into cs[0].counts and write key<TAB>count for keys sent. */
static int write_counts(const char *path, struct conn *cs)
{
	uint64_t *sum = cs[0].counts;
	for (unsigned i = 1; i < cfg.conns; i++)
		for (uint32_t k = 0; k < cfg.keys; k++)
			sum[k] += cs[i].counts[k];
	FILE *f = fopen(path, "w");
	if (!f)
		return errno;
	for (uint32_t k = 0; k < cfg.keys; k++)
		if (sum[k])
			fprintf(f, "%.*s\t%" PRIu64 "\n", (int)voc.len[k],
				voc.text + (size_t)k * 2 * MAX_SYL, sum[k]);
	int e = ferror(f) ? EIO : 0;
	if (fclose(f) && !e)
		e = errno;
	return e;
}

/* Free the connections' memory (their sockets are closed) and the vocabulary. */
static void free_conns(struct conn *cs)
{
	for (unsigned i = 0; i < cfg.conns; i++) {
		free(cs[i].buf);
		free(cs[i].counts);
		free(cs[i].keys);
	}
	free(cs);
	free(voc.text);
	free(voc.len);
}

/* --- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	parse_args(argc, argv);

	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV},
			*ai;
	int g = getaddrinfo(cfg.host, cfg.port, &hints, &ai);
	if (g) {
		fprintf(stderr, PROG ": cannot resolve %s: %s\n", cfg.target,
			g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
		return 1;
	}

	if (cfg.fmt == F_JSON)
		max_line = JSON_MAX;
	else if (build_vocab())
		goto oom;
	else if (cfg.fmt == F_WORDS)
		max_line = voc.maxlen + 2;
	else if (cfg.fmt == F_LINES)
		max_line = (size_t)cfg.words * (voc.maxlen + 1) + 2;
	else
		max_line = voc.maxlen + 1 + 3 + 1 + 20 + 2;

	struct conn *cs = calloc(cfg.conns, sizeof(*cs));
	if (!cs)
		goto oom;
	for (unsigned i = 0; i < cfg.conns; i++) {
		struct conn *c = &cs[i];
		c->idx = i;
		c->fd = -1;
		c->quota = cfg.records == UINT64_MAX
			       ? UINT64_MAX
			       : cfg.records / cfg.conns + (i < cfg.records % cfg.conns);
		c->rate = cfg.rate / cfg.conns;
		c->rng = mix64(cfg.seed ^ mix64(i + 1));
		c->buf = malloc(BUF_CAP + 2 * MAX_SYL);
		if (cfg.counts) {
			c->counts = calloc(cfg.keys, sizeof(*c->counts));
			c->keys = malloc(BUF_CAP / 4 * sizeof(*c->keys));
		}
		if (!c->buf || (cfg.counts && (!c->counts || !c->keys)))
			goto oom;
	}
	for (unsigned i = 0; i < cfg.conns; i++) {
		int e;
		cs[i].fd = dial(ai, &e);
		if (cs[i].fd < 0) {
			fprintf(stderr, PROG ": cannot connect to %s: %s\n", cfg.target,
				strerror(e));
			for (unsigned j = 0; j < i; j++)
				close(cs[j].fd);
			freeaddrinfo(ai);
			free_conns(cs);
			return 1;
		}
	}
	freeaddrinfo(ai);

	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int64_t start_real = clock_ns(CLOCK_REALTIME);
	start_ns = mono_ns();
	deadline_ns = cfg.duration_ns ? start_ns + cfg.duration_ns : 0;
	int status = 0;
	unsigned started = 0;
	for (; started < cfg.conns; started++) {
		int e = pthread_create(&cs[started].thread, NULL, run_conn, &cs[started]);
		if (e) {
			fprintf(stderr, PROG ": cannot start a thread: %s\n", strerror(e));
			request_stop();
			status = 1;
			break;
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(cs[i].thread, NULL);
	for (unsigned i = started; i < cfg.conns; i++)
		close(cs[i].fd);

	struct totals t = {0};
	int64_t end = start_ns;
	for (unsigned i = 0; i < cfg.conns; i++) {
		const struct conn *c = &cs[i];
		t.records += c->records;
		t.bytes += c->bytes;
		if (c->end_ns > end)
			end = c->end_ns;
		if (c->err) {
			status = 1;
			if (c->stalled)
				fprintf(stderr,
					PROG
					": connection %u to %s: the peer stopped reading; gave "
					"up with %" PRIu64 " records sent\n",
					i, cfg.target, c->records);
			else
				fprintf(stderr, PROG ": connection %u to %s: %s\n", i, cfg.target,
					strerror(c->err));
		}
	}
	t.seconds = (double)(end - start_ns) / 1e9;
	t.rps = t.seconds > 0 ? (double)t.records / t.seconds : 0;
	t.mbps = t.seconds > 0 ? (double)t.bytes / 1e6 / t.seconds : 0;
	t.start_ms = start_real / 1000000;
	t.end_ms = (start_real + (end - start_ns)) / 1000000;

	if (!cfg.quiet) {
		printf("records\tbytes\tconnections\tseconds\trecords_per_s\tmb_per_s\n");
		printf("%" PRIu64 "\t%" PRIu64 "\t%u\t%.6f\t%.1f\t%.3f\n", t.records, t.bytes,
		       cfg.conns, t.seconds, t.rps, t.mbps);
		fflush(stdout);
	}
	int e;
	if (cfg.stats && (e = write_stats(cfg.stats, &t, cs))) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", cfg.stats, strerror(e));
		status = 1;
	}
	if (cfg.counts && (e = write_counts(cfg.counts, cs))) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", cfg.counts, strerror(e));
		status = 1;
	}
	free_conns(cs);
	return status;

oom:
	fprintf(stderr, PROG ": out of memory\n");
	return 1;
}
