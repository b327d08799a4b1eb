/*
 * dirtygate executor: /init for guests Go cannot run in (hppa, sparc32,
 * m68k, alpha), and a remote hand on real hardware. It executes requests
 * from dirtygate on the host and does nothing else: no scenario logic
 * lives here (the host side is harness/executor).
 *
 * Wire: one frame per line, hex- or base64-encoded so a tty and
 * interleaved kernel messages cannot corrupt it silently. Host to us:
 * '>' HEX '\n', or from protocol 5 '#' BASE64 '\n' (no padding). Us to
 * host: "%&" BASE64 '$' (protocol 8; "%%" HEX '$' before). Inside, big-endian:
 *   request:  'Q' seq:u32 op:u8 nargs:u8 args:u64*nargs dlen:u32 data crc32:u32
 *   packed:   'Z' rawlen:u32 block crc32:u32 (block: a request, LZ4-packed)
 *             'Y' histend:u32 rawlen:u32 block crc32:u32 (the same, its
 *             matches reaching back into the requests before: history)
 *   response: 'R' seq:u32 ret:i64 dlen:u32 data crc32:u32
 *   packed:   'L' seq:u32 ret:i64 rawlen:u32 plen:u32 block crc32:u32
 * ret is the syscall's return, -errno in the target's own numbering. A
 * request whose seq repeats the last one gets the cached response again
 * (the host resends when a response was torn); one that fails its CRC is
 * dropped (the host resends on timeout).
 *
 * Freestanding: raw system calls, no libc (Debian's 32-bit sparc libc is
 * v8plus, alpha's static glibc dies in __libc_early_init). Build:
 *   CC -static -nostdlib -ffreestanding -fno-pic -Os executor.c -lgcc
 */
#include <asm/unistd.h>
#include <linux/mman.h>
#include <asm/fcntl.h>
#include <asm/termbits.h>
#include <asm/ioctls.h>
#include <linux/poll.h>
#include <linux/reboot.h>
#include <asm/signal.h>
#include <asm/errno.h>
#include <asm/socket.h>

typedef unsigned long ulong;
typedef unsigned int u32;
typedef unsigned char u8;
typedef unsigned long long u64;

/* ---- system calls, per architecture ---- */

#if defined(__hppa__)
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r20 __asm__("r20") = n;
	register long r26 __asm__("r26") = a;
	register long r25 __asm__("r25") = b;
	register long r24 __asm__("r24") = c;
	register long r23 __asm__("r23") = d;
	register long r22 __asm__("r22") = e;
	register long r21 __asm__("r21") = f;
	register long r28 __asm__("r28");
	__asm__ __volatile__("ble 0x100(%%sr2, %%r0)\n\tnop"
		: "=r"(r28), "+r"(r20), "+r"(r26), "+r"(r25), "+r"(r24), "+r"(r23), "+r"(r22), "+r"(r21)
		: : "r1", "r2", "r29", "r31", "memory");
	return r28;
}
__asm__(".text\n.globl _start\n_start:\n"
	"\tldo 128(%sp), %sp\n"
	"\tldil L%$global$, %dp\n"
	"\tldo R%$global$(%dp), %dp\n"
	"\tbl executor_main, %r2\n"
	"\tnop\n");
#elif defined(__m68k__)
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long d0 __asm__("d0") = n;
	register long d1 __asm__("d1") = a;
	register long d2 __asm__("d2") = b;
	register long d3 __asm__("d3") = c;
	register long d4 __asm__("d4") = d;
	register long d5 __asm__("d5") = e;
	register long a0 __asm__("a0") = f;
	__asm__ __volatile__("trap #0" : "+r"(d0)
		: "r"(d1), "r"(d2), "r"(d3), "r"(d4), "r"(d5), "r"(a0) : "memory");
	return d0;
}
__asm__(".text\n.globl _start\n_start:\n"
	"\tsub.l %fp, %fp\n"
	"\tjsr executor_main\n");
#elif defined(__alpha__)
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long v0 __asm__("$0") = n;
	register long a0 __asm__("$16") = a;
	register long a1 __asm__("$17") = b;
	register long a2 __asm__("$18") = c;
	register long a3 __asm__("$19") = d;
	register long a4 __asm__("$20") = e;
	register long a5 __asm__("$21") = f;
	__asm__ __volatile__("callsys"
		: "+r"(v0), "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3), "+r"(a4), "+r"(a5)
		: : "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$22", "$23", "$24",
		    "$25", "$27", "$28", "memory");
	return a3 ? -v0 : v0; /* a3 flags an error; v0 is then a positive errno */
}
__asm__(".text\n.globl _start\n.ent _start\n_start:\n"
	"\tbr $29, 1f\n"
	"1:\tldgp $29, 0($29)\n"
	"\tjsr $26, executor_main\n"
	".end _start\n");
#elif defined(__sparc__) && !defined(__arch64__)
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long g1 __asm__("g1") = n;
	register long o0 __asm__("o0") = a;
	register long o1 __asm__("o1") = b;
	register long o2 __asm__("o2") = c;
	register long o3 __asm__("o3") = d;
	register long o4 __asm__("o4") = e;
	register long o5 __asm__("o5") = f;
	/* The carry flag marks an error; o0 is then a positive errno. */
	__asm__ __volatile__("t 0x10\n\tbcc 1f\n\tnop\n\tsub %%g0, %%o0, %%o0\n1:"
		: "+r"(o0), "+r"(o1), "+r"(o2), "+r"(o3), "+r"(o4), "+r"(o5)
		: "r"(g1) : "g2", "g3", "g4", "g5", "cc", "memory");
	return o0;
}
__asm__(".text\n.globl _start\n_start:\n"
	"\tmov %g0, %fp\n"
	"\tsub %sp, 24, %sp\n"
	"\tcall executor_main\n"
	"\tnop\n");
#elif defined(__x86_64__)
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ __volatile__("syscall" : "=a"(ret)
		: "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
		: "rcx", "r11", "memory");
	return ret;
}
#ifndef EXECUTOR_HOSTED_TEST /* harness/executor's unpacker test links libc */
__asm__(".text\n.globl _start\n_start:\n"
	"\txor %rbp, %rbp\n"
	"\tand $-16, %rsp\n"
	"\tcall executor_main\n"
	"\thlt\n");
#endif
#else
#error "dirtygate executor: no system call glue for this architecture"
#endif

#define sys(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)

/* fork_: clone(SIGCHLD) with the stack shared copy-on-write, as fork. */
#if defined(__sparc__) && !defined(__arch64__)
static long fork_(void)
{
	/* SPARC returns the parent's pid in o0 to both; o1 is 1 in the child. */
	register long g1 __asm__("g1") = __NR_clone;
	register long o0 __asm__("o0") = SIGCHLD;
	register long o1 __asm__("o1") = 0;
	register long o2 __asm__("o2") = 0;
	register long o3 __asm__("o3") = 0;
	register long o4 __asm__("o4") = 0;
	__asm__ __volatile__("t 0x10\n\tbcc 1f\n\tnop\n\tsub %%g0, %%o0, %%o0\n\tmov 0, %%o1\n1:"
		: "+r"(o0), "+r"(o1), "+r"(o2), "+r"(o3), "+r"(o4)
		: "r"(g1) : "g2", "g3", "g4", "g5", "o5", "cc", "memory");
	return o1 ? 0 : o0;
}
#else
static long fork_(void) { return sys6(__NR_clone, SIGCHLD, 0, 0, 0, 0, 0); }
#endif

#ifndef EXECUTOR_HOSTED_TEST
/* gcc may emit calls to these even when freestanding. */
void *memcpy(void *d, const void *s, ulong n)
{
	u8 *dd = d;
	const u8 *ss = s;
	while (n--)
		*dd++ = *ss++;
	return d;
}
void *memset(void *d, int c, ulong n)
{
	u8 *dd = d;
	while (n--)
		*dd++ = c;
	return d;
}
#endif

#ifndef O_CLOEXEC
#define O_CLOEXEC 02000000
#endif
#define AT_FDCWD_ (-100)
#define AF_UNIX_ 1
#define SOCK_SEQPACKET_ 5 /* messages, and an end to read when the peer is gone */
#define MSG_NOSIGNAL_ 0x4000
#define AF_INET_ 2
#define AF_PACKET_ 17
#define SOCK_RAW_ 3
#ifdef __mips__
#define SOCK_DGRAM_ 1
#else
#define SOCK_DGRAM_ 2
#endif

/* ---- memory order ---- */
static void fence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

/* ---- console I/O ---- */

static void out(const void *b, long n)
{
	const char *p = b;
	while (n > 0) {
		long k = sys(__NR_write, 1, p, n);
		if (k <= 0)
			return;
		p += k;
		n -= k;
	}
}

static void say(const char *s)
{
	long n = 0;
	while (s[n])
		n++;
	out(s, n);
}

static void raw_tty(int fd)
{
	struct termios t;
	if (sys(__NR_ioctl, fd, TCGETS, &t) < 0)
		return; /* not a tty: a pipe or a socket is raw already */
	t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_oflag &= ~OPOST;
	t.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	sys(__NR_ioctl, fd, TCSETS, &t);
}

/* ---- CRC-32 (IEEE), a byte at a time: bitwise, every request's 16 KB
 * took hppa's guest ~1 s of the whole set; the table is built on first use ---- */
static u32 crctab[256];

static u32 crc32(const u8 *p, ulong n)
{
	if (!crctab[1])
		for (u32 i = 0; i < 256; i++) {
			u32 c = i;
			for (int k = 0; k < 8; k++)
				c = (c >> 1) ^ (0xedb88320 & -(c & 1));
			crctab[i] = c;
		}
	u32 c = 0xffffffff;
	while (n--)
		c = crctab[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

/* ---- frames ---- */
#define MAXDATA 32768 /* protocol 11; 16384 before */
#define MAXARGS 6
static u8 wire[MAXDATA + 128]; /* a line's bytes */
static u8 resp[MAXDATA + 64];
static char line[2 * (MAXDATA + 128) + 8];
static char outline[2 * (MAXDATA + 64) + 16]; /* a response line (base64 fits in what hex took) */
static long resp_len;
static u32 last_seq;

static u32 get32(const u8 *p) { return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3]; }
static u64 get64(const u8 *p) { return (u64)get32(p) << 32 | get32(p + 4); }
static void put32(u8 *p, u32 v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static void put64(u8 *p, u64 v) { put32(p, v >> 32); put32(p + 4, v); }

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* unbase64 decodes RFC 4648 base64 without padding (protocol 5's '#'
 * lines): three bytes in four characters where hex needs six, and each
 * character the host sends costs a TCG guest its share of a receive
 * interrupt (m68k ~50 us). */
static long unbase64(const char *l, long n, u8 *out, long cap)
{
	u32 acc = 0;
	int bits = 0;
	long k = 0;
	if (n % 4 == 1)
		return -1;
	for (long i = 0; i < n; i++) {
		char c = l[i];
		int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
			: c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : -1;
		if (v < 0)
			return -1;
		acc = acc << 6 | (u32)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (k >= cap)
				return -1;
			out[k++] = (u8)(acc >> bits);
		}
	}
	return k;
}

/* send_response writes the response frame in base64 (protocol 8):
 * "%&" BASE64 '$', four characters for three bytes where hex took six,
 * and every character costs the guest an emulated UART write. */
static void send_response(void)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	long n = 0, i = 0;
	u32 acc = 0;
	int bits = 0;
	outline[n++] = '\r';
	outline[n++] = '\n';
	outline[n++] = '%';
	outline[n++] = '&';
	for (; i < resp_len; i++) {
		acc = acc << 8 | resp[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			outline[n++] = b64[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		outline[n++] = b64[(acc << (6 - bits)) & 63];
	outline[n++] = '$';
	outline[n++] = '\r';
	outline[n++] = '\n';
	out(outline, n);
}

/* lz4_pack packs n bytes at s as one LZ4 block (lz4's
 * doc/lz4_Block_format.md) into d, at most cap bytes: the packed length,
 * or -1 when it does not fit. Greedy, one hash table of earlier
 * positions: what the guest sends back is mostly zeros, the log's
 * canaries (one byte repeated over a page) and ring entries that repeat
 * with small changes, which it packs to a few percent. The last match
 * ends 5 bytes before the end and starts 12 before it, as the format
 * requires. */
#define HBITS 12
/* entry: the call's generation << 16 | position + 1 (MAXDATA < 65535), so
 * a call starts with an empty table without clearing 16 KB */
static u32 htab[1 << HBITS], hgen;

static u32 load32(const u8 *p) { return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24; }

/* put_len appends the bytes that continue a length of 15 or more. */
static long put_len(u8 *d, long o, long cap, long len)
{
	for (len -= 15; len >= 255; len -= 255) {
		if (o >= cap)
			return -1;
		d[o++] = 255;
	}
	if (o >= cap)
		return -1;
	d[o++] = (u8)len;
	return o;
}

/* put_seq appends a sequence: lit literals at s, then a match of mlen
 * bytes (0: the last sequence, literals only) off bytes back. */
static long put_seq(u8 *d, long o, long cap, const u8 *s, long lit, long off, long mlen)
{
	long ml = mlen ? mlen - 4 : 0;
	if (o >= cap)
		return -1;
	d[o++] = (u8)((lit < 15 ? lit : 15) << 4 | (ml < 15 ? ml : 15));
	if (lit >= 15 && (o = put_len(d, o, cap, lit)) < 0)
		return -1;
	if (lit > cap - o)
		return -1;
	memcpy(d + o, s, lit);
	o += lit;
	if (!mlen)
		return o;
	if (cap - o < 2)
		return -1;
	d[o++] = (u8)off;
	d[o++] = (u8)(off >> 8);
	if (ml >= 15 && (o = put_len(d, o, cap, ml)) < 0)
		return -1;
	return o;
}

static long lz4_pack(const u8 *s, long n, u8 *d, long cap)
{
	long i = 0, anchor = 0, o = 0;
	if (n > 65534)
		return -1;
	if (++hgen == 0x10000) {
		memset(htab, 0, sizeof htab);
		hgen = 1;
	}
	while (i + 12 < n) {
		u32 v = load32(s + i), h = (v * 2654435761u) >> (32 - HBITS), e = htab[h];
		long ref = e >> 16 == hgen ? (long)(e & 0xffff) - 1 : -1;
		htab[h] = hgen << 16 | ((u32)i + 1);
		if (ref < 0 || i - ref > 65535 || load32(s + ref) != v) {
			i++;
			continue;
		}
		long len = 4;
		while (i + len < n - 5 && s[ref + len] == s[i + len])
			len++;
		if ((o = put_seq(d, o, cap, s + anchor, i - anchor, i - ref, len)) < 0)
			return -1;
		i += len;
		anchor = i;
	}
	return put_seq(d, o, cap, s + anchor, n - anchor, 0, 0);
}

static u8 zdata[MAXDATA + 64];

/* respond builds and sends the response to seq; data is already in place
 * at resp+17. Data that lz4_pack shortens by 8 bytes or more goes packed
 * (protocol 8): 'L' seq ret rawlen:u32 plen:u32 block crc32. */
static void respond(u32 seq, long ret, u32 dlen)
{
	long z = dlen >= 64 ? lz4_pack(resp + 17, dlen, zdata, dlen - 8) : -1;
	resp[0] = 'R';
	put32(resp + 1, seq);
	put64(resp + 5, (u64)(long long)ret);
	put32(resp + 13, dlen);
	if (z >= 0) {
		resp[0] = 'L';
		put32(resp + 17, z);
		memcpy(resp + 21, zdata, z);
		put32(resp + 21 + z, crc32(resp, 21 + z));
		resp_len = 21 + z + 4;
	} else {
		put32(resp + 17 + dlen, crc32(resp, 17 + dlen));
		resp_len = 17 + dlen + 4;
	}
	last_seq = seq;
	send_response();
}

enum {
	OP_HELLO = 1, OP_OPEN, OP_CLOSE, OP_IOCTL, OP_MMAP, OP_MPROTECT, OP_MUNMAP,
	OP_READMEM, OP_WRITEMEM, OP_EVENTFD, OP_READ, OP_WRITE, OP_SOCKET,
	OP_BINDPACKET, OP_POLL, OP_REBOOT, OP_SWAPWORDS, OP_ORWORD, OP_FORK,
	OP_CHILDVIEW, OP_BATCH, OP_VHOSTWORKERS, OP_SETAFFINITY, OP_RELEASE,
	OP_SETTLE,
};

/* The one forked child (OP_FORK, OP_CHILDVIEW). */
static long child_pid, child_release = -1, child_view = -1, child_n;

/* child_main is the forked child: it touches [p, p+n) if asked, says it
 * is ready, waits for the parent's byte on release, writes its own view
 * of the memory to view and exits. */
static void child_main(volatile u8 *p, ulong n, int touch, long release, long view)
{
	u8 one = 1;
	if (touch)
		for (ulong off = 0; off < n; off += 4096)
			p[off] = p[off]; /* a write: the copy becomes the child's */
	sys(__NR_write, view, &one, 1);
	sys(__NR_read, release, &one, 1);
	for (ulong off = 0; off < n;) {
		long k = sys(__NR_write, view, (const u8 *)p + off, n - off);
		if (k <= 0)
			break;
		off += k;
	}
	for (;;)
		sys(__NR_exit_group, 0, 0, 0);
}

struct new_utsname_ {
	char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65];
};

static long cstr(u8 *dst, const char *s)
{
	long n = 0;
	while (s[n] && n < 64) {
		dst[n] = s[n];
		n++;
	}
	dst[n] = 0;
	return n + 1;
}

/* ---- vhost's worker threads (OP_VHOSTWORKERS) ---- */

/* number parses a decimal /proc entry name; -1 if it is not one. */
static long number(const char *s)
{
	long v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/* each_entry calls f(tid, comm, ours) for each numbered entry of dir ("/proc"
 * or "/proc/self/task"), comm without its newline. */
static void each_entry(const char *dir, int ours, void (*f)(long tid, const char *comm, int ours))
{
	static u64 ents[512]; /* 8-aligned: linux_dirent64 */
	static char path[64], comm[32];
	long fd = sys6(__NR_openat, AT_FDCWD_, (long)dir, O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return;
	for (long n; (n = sys(__NR_getdents64, fd, ents, sizeof ents)) > 0;) {
		for (long off = 0; off < n;) {
			const u8 *e = (const u8 *)ents + off;
			const char *name = (const char *)e + 19; /* d_ino, d_off, d_reclen, d_type */
			unsigned short reclen = *(const unsigned short *)(e + 16);
			if (!reclen)
				break;
			off += reclen;
			long tid = number(name), k = 0, cf;
			if (tid < 0)
				continue;
			for (const char *c = dir; *c; c++)
				path[k++] = *c;
			path[k++] = '/';
			for (const char *c = name; *c && k < 50; c++)
				path[k++] = *c;
			for (const char *c = "/comm"; *c; c++)
				path[k++] = *c;
			path[k] = 0;
			if ((cf = sys6(__NR_openat, AT_FDCWD_, (long)path, O_CLOEXEC, 0, 0, 0)) < 0)
				continue;
			k = sys(__NR_read, cf, comm, sizeof comm - 1);
			sys(__NR_close, cf, 0, 0);
			if (k <= 0)
				continue;
			comm[comm[k - 1] == '\n' ? k - 1 : k] = 0;
			f(tid, comm, ours);
		}
	}
	sys(__NR_close, fd, 0, 0);
}

/* The threads of this process (at most 64), and the workers found. */
static long own[64], nown;
static u8 *wout;
static u32 wlen, wcap;

static void note_own(long tid, const char *comm, int ours)
{
	(void)comm;
	if (ours && nown < 64)
		own[nown++] = tid;
}

/* note_worker keeps tid when it is one of our devices' vhost workers:
 * before 6.4 a kernel thread "vhost-<tid>" named after our thread that
 * set the owner; since, a thread of our own named the same way. */
static void note_worker(long tid, const char *comm, int ours)
{
	const char *p = "vhost-";
	for (; *p; p++, comm++)
		if (*comm != *p)
			return;
	long owner = number(comm);
	int mine = ours;
	for (long i = 0; i < nown && !mine; i++)
		mine = own[i] == owner;
	if (mine && wlen + 4 <= wcap) {
		put32(wout + wlen, tid);
		wlen += 4;
	}
}

/* ---- teardown in the background (protocol 12: OP_RELEASE, OP_SETTLE) ----
 * The last close of a rig's devices is most of a scenario's teardown
 * (a tap's unregistering, vhost's RCU waits: ~60 ms a scenario on hppa),
 * and nothing needs to wait for it. A helper process, forked at
 * OP_HELLO, is handed the fds over a unix socket (SCM_RIGHTS) and
 * closes them on the guest's other CPU while the next scenario runs, as
 * the Go agent's machine.Releaser does in a goroutine. The executor closes
 * its own copies at once (cheap: the message holds the files), so their
 * numbers are free for the calls after; the mappings the devices were
 * given are unmapped only once the helper says it closed them, so a new
 * mapping never takes an address a device being closed still holds. */
#define RELEASE_FDS 64
#define RELEASE_MAPS 64

static long helper = -1; /* our end of the socket; -1 none yet, -2 none to be had (all in place) */
static u32 released, acked; /* messages sent, the last the helper answered */
static u32 fds_sent, fds_closed; /* what the helper was handed and says it closed */
static long release_err; /* the first failure found after the call that caused it returned */
static struct { u64 addr, len; u32 after; } unmaps[RELEASE_MAPS];
static int nunmaps;

struct iovec_ { void *base; ulong len; };
struct msghdr_ {
	void *name;
	int namelen;
	struct iovec_ *iov;
	ulong iovlen;
	void *control;
	ulong controllen;
	unsigned flags;
};
/* struct cmsghdr: len (size_t), level, type; the fds follow, long-aligned */
#define CMSG_HEAD ((sizeof(ulong) + 2 * sizeof(int) + sizeof(ulong) - 1) & ~(sizeof(ulong) - 1))

static long poll_in(long fd, long ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
#ifdef __NR_poll
	return sys(__NR_poll, &p, 1, ms);
#else
	struct { long s, ns; } ts = { ms / 1000, (ms % 1000) * 1000000 };
	return sys6(__NR_ppoll, (long)&p, 1, (long)&ts, 0, 0, 0);
#endif
}

/* helper_main takes each message's fds, waits for the executor's word
 * that it closed its copies (so that the helper's closes are the last,
 * which run the devices' release), closes them and answers with the
 * message's number and how many it closed; it ends when the executor's
 * end is closed. */
static void helper_main(long s)
{
	static ulong ctl[(CMSG_HEAD + RELEASE_FDS * sizeof(int)) / sizeof(ulong) + 1];
	for (;;) {
		u32 ticket;
		struct iovec_ iov = { &ticket, sizeof ticket };
		struct msghdr_ m = { .iov = &iov, .iovlen = 1, .control = ctl, .controllen = sizeof ctl };
		long k = sys(__NR_recvmsg, s, &m, 0);
		if (k == -EINTR)
			continue;
		if (k != sizeof ticket)
			break;
		u32 go, closed = 0;
		while ((k = sys(__NR_read, s, &go, sizeof go)) == -EINTR)
			;
		if (k != sizeof go)
			break; /* the executor is gone: exiting closes what was sent */
		const u8 *c = (const u8 *)ctl, *end = c + m.controllen;
		while (end - c >= (long)CMSG_HEAD) {
			ulong len = *(const ulong *)c;
			const int *h = (const int *)(c + sizeof(ulong));
			if (len < CMSG_HEAD || len > (ulong)(end - c))
				break;
			if (h[0] == SOL_SOCKET && h[1] == 1 /* SCM_RIGHTS */)
				for (ulong i = 0; i < (len - CMSG_HEAD) / sizeof(int); i++)
					closed += sys(__NR_close, ((const int *)(c + CMSG_HEAD))[i], 0, 0) == 0;
			c += (len + sizeof(ulong) - 1) & ~(sizeof(ulong) - 1);
		}
		u32 ack[2] = { ticket, closed };
		sys(__NR_write, s, ack, sizeof ack);
	}
	for (;;)
		sys(__NR_exit, 0, 0, 0);
}

/* start_helper forks the helper at OP_HELLO, before any scenario: it
 * shares no guest memory copy-on-write with the executor, and holds no fd
 * but the console and its socket (it closes the rest: a device it kept
 * open by inheritance would never be released). */
static void start_helper(void)
{
	int sv[2];
	helper = -2;
	if (sys6(__NR_socketpair, AF_UNIX_, SOCK_SEQPACKET_ | O_CLOEXEC, 0, (long)sv, 0, 0) < 0)
		return;
	long pid = fork_();
	if (pid == 0) {
		long s = sv[1];
		if (s != 3 && sys(__NR_dup3, s, 3, 0) == 3)
			s = 3;
		if (sys(__NR_close_range, s + 1, ~0U, 0) < 0)
			for (long fd = s + 1; fd < 1024; fd++)
				sys(__NR_close, fd, 0, 0);
		for (long fd = 3; fd < s; fd++)
			sys(__NR_close, fd, 0, 0);
		helper_main(s);
	}
	sys(__NR_close, sv[1], 0, 0);
	if (pid < 0) {
		sys(__NR_close, sv[0], 0, 0);
		return;
	}
	helper = sv[0];
}

/* send_fds hands n fds to the helper as message number ticket. */
static long send_fds(const int *fds, u32 n, u32 ticket)
{
	static ulong ctl[(CMSG_HEAD + RELEASE_FDS * sizeof(int)) / sizeof(ulong) + 1];
	struct iovec_ iov = { &ticket, sizeof ticket };
	ulong len = CMSG_HEAD + n * sizeof(int);
	struct msghdr_ m = { .iov = &iov, .iovlen = 1, .control = ctl,
		.controllen = (len + sizeof(ulong) - 1) & ~(sizeof(ulong) - 1) };
	int *h = (int *)((u8 *)ctl + sizeof(ulong));
	memset(ctl, 0, sizeof ctl);
	ctl[0] = len;
	h[0] = SOL_SOCKET;
	h[1] = 1; /* SCM_RIGHTS */
	memcpy((u8 *)ctl + CMSG_HEAD, fds, n * sizeof(int));
	long k;
	while ((k = sys(__NR_sendmsg, helper, &m, MSG_NOSIGNAL_)) == -EINTR)
		;
	return k;
}

/* take_acks reads the helper's answers (all of them when wait), then
 * unmaps what waited for them. A helper gone (EOF) took its fds with it;
 * one that closed fewer than it was handed (a message it misread) would
 * keep devices alive: the release's failure (EPROTO), never unseen. */
static void take_acks(int wait)
{
	while (helper >= 0 && acked != released) {
		u32 ack[2];
		long k;
		if (!wait && poll_in(helper, 0) <= 0)
			break;
		if ((k = sys(__NR_read, helper, ack, sizeof ack)) == sizeof ack) {
			acked = ack[0];
			fds_closed += ack[1];
		} else if (k != -EINTR && k != -EAGAIN) {
			sys(__NR_close, helper, 0, 0);
			helper = -2;
			acked = released;
			fds_closed = fds_sent;
		}
	}
	if (acked == released && fds_closed != fds_sent) {
		if (!release_err)
			release_err = -EPROTO;
		fds_closed = fds_sent;
	}
	int keep = 0;
	for (int i = 0; i < nunmaps; i++) {
		if ((int)(acked - unmaps[i].after) >= 0) {
			long r = sys(__NR_munmap, (ulong)unmaps[i].addr, unmaps[i].len, 0);
			if (r < 0 && !release_err)
				release_err = r;
		} else
			unmaps[keep++] = unmaps[i];
	}
	nunmaps = keep;
}

/* settle returns once every fd handed to the helper is closed and what
 * waited for it unmapped (OP_SETTLE; and before OP_FORK and
 * OP_VHOSTWORKERS, as the Go agent settles before Fork and VhostWorkers):
 * the first failure not yet returned, or 0. */
static long settle(void)
{
	take_acks(1);
	long r = release_err;
	release_err = 0;
	return r;
}

/* release runs OP_RELEASE: data is nfd:u32 fd:u32... nmap:u32
 * (addr:u64 len:u64)...; the fds are closed (in the background where the
 * helper can), then the mappings unmapped. Returns 0, or the first
 * failure of what ran here (a failure of what runs later comes back from
 * the next OP_RELEASE or OP_SETTLE). */
static long release(const u8 *data, u32 dlen)
{
	static int fds[RELEASE_FDS];
	u32 nfd, nmap;
	if (dlen < 4 || (nfd = get32(data)) > RELEASE_FDS || dlen < 8 + 4 * nfd)
		return -EINVAL;
	nmap = get32(data + 4 + 4 * nfd);
	if (nmap > RELEASE_MAPS || dlen != 8 + 4 * nfd + 16 * nmap)
		return -EINVAL;
	for (u32 i = 0; i < nfd; i++)
		fds[i] = (int)get32(data + 4 + 4 * i);
	take_acks(0);
	long ret = release_err;
	release_err = 0;
	if (nfd && helper >= 0 && send_fds(fds, nfd, released + 1) >= 0) {
		released++;
		fds_sent += nfd;
		for (u32 i = 0; i < nfd; i++)
			sys(__NR_close, fds[i], 0, 0); /* valid: sendmsg took them */
		u32 go = released;
		while (sys6(__NR_sendto, helper, (long)&go, sizeof go, MSG_NOSIGNAL_, 0, 0) == -EINTR)
			;
	} else
		for (u32 i = 0; i < nfd; i++) {
			long r = sys(__NR_close, fds[i], 0, 0);
			if (r < 0 && !ret)
				ret = r;
		}
	const u8 *m = data + 8 + 4 * nfd;
	for (u32 i = 0; i < nmap; i++, m += 16) {
		if (acked != released && nunmaps == RELEASE_MAPS)
			take_acks(1);
		if (acked == released) {
			long r = sys(__NR_munmap, (ulong)get64(m), get64(m + 8), 0);
			if (r < 0 && !ret)
				ret = r;
			continue;
		}
		unmaps[nunmaps].addr = get64(m);
		unmaps[nunmaps].len = get64(m + 8);
		unmaps[nunmaps++].after = released;
	}
	return ret;
}

/* run_op runs one call: its output goes to d (at most cap bytes), its
 * length to *olen. A batch's calls run here one after another. */
/* read_bytes copies n bytes at addr; 4 aligned bytes with one load (a
 * ring's index). */
static void read_bytes(u8 *d, u64 addr, u64 n)
{
	const volatile u8 *p = (const volatile u8 *)(ulong)addr;
	if (n == 4 && ((ulong)p & 3) == 0) {
		u32 w = *(const volatile u32 *)p;
		memcpy(d, &w, 4);
		return;
	}
	for (u64 i = 0; i < n; i++)
		d[i] = p[i];
}

static long run_op(int op, const u64 *a, const u8 *data, u32 dlen, u8 *d, u32 cap, u32 *olen_)
{
	long ret = 0;
	u32 olen = 0;
	switch (op) {
	case OP_HELLO: {
		static struct new_utsname_ u;
		union { u32 i; u8 b[4]; } e = { .i = 1 };
		d[0] = 12; /* protocol version: 2 has OP_BATCH, 3 packed requests, 4 packed responses, 5 base64 requests, 6 fenced calls, 7 placed fds, 8 LZ4-packed base64 responses, 9 two-range reads, 10 requests packed against the ones before, 11 32 KB frames, 12 teardown in the background */
		d[1] = sizeof(long);
		d[2] = e.b[0] == 0; /* big-endian */
		olen = 3;
		if (sys(__NR_uname, &u, 0, 0) == 0) {
			olen += cstr(d + olen, u.machine);
			olen += cstr(d + olen, u.release);
		}
		if (helper == -1)
			start_helper();
		break;
	}
	case OP_OPEN: {
		/* copied: in a batch the byte after the path is the next call's */
		static char path[256];
		if (dlen >= sizeof path) {
			ret = -1;
			break;
		}
		memcpy(path, data, dlen);
		path[dlen] = 0;
		ret = sys6(__NR_openat, AT_FDCWD_, (long)path, O_RDWR | O_CLOEXEC, 0, 0, 0);
		if (ret == -13) /* EACCES everywhere: a read-only sysfs attribute */
			ret = sys6(__NR_openat, AT_FDCWD_, (long)path, 0 /* O_RDONLY */ | O_CLOEXEC, 0, 0, 0);
		break;
	}
	case OP_CLOSE:
		ret = sys(__NR_close, a[0], 0, 0);
		break;
	case OP_IOCTL:
		/* the argument is copied out first: the kernel writes the copy */
		if (dlen > cap) {
			ret = -1;
			break;
		}
		memcpy(d, data, dlen);
		ret = sys(__NR_ioctl, a[0], (ulong)a[1], dlen ? (long)d : 0);
		olen = dlen;
		break;
	case OP_MMAP: {
		/* a[1] = 1: lazy, pages appear on first touch (as a VMM's log) */
		long flags = MAP_PRIVATE | MAP_ANONYMOUS | (a[1] ? MAP_NORESERVE : MAP_POPULATE);
#ifdef __NR_mmap2
		ret = sys6(__NR_mmap2, 0, a[0], PROT_READ | PROT_WRITE, flags, -1, 0);
#else
		ret = sys6(__NR_mmap, 0, a[0], PROT_READ | PROT_WRITE, flags, -1, 0);
#endif
		break;
	}
	case OP_MPROTECT:
		ret = sys(__NR_mprotect, (ulong)a[0], a[1], a[2]);
		break;
	case OP_MUNMAP:
		ret = sys(__NR_munmap, (ulong)a[0], a[1], 0);
		break;
	case OP_READMEM:
		/* a[2], a[3] (protocol 9): then, after a full barrier, a[3]
		 * bytes at a[2]: a ring's index, then the entries it published */
		if (a[1] > cap || a[3] > cap - a[1]) {
			ret = -1;
			break;
		}
		fence();
		read_bytes(d, a[0], a[1]);
		if (a[3]) {
			fence();
			read_bytes(d + a[1], a[2], a[3]);
		}
		olen = a[1] + a[3];
		break;
	case OP_WRITEMEM: {
		volatile u8 *p = (volatile u8 *)(ulong)a[0];
		if (dlen == 4 && ((ulong)p & 3) == 0) {
			u32 w;
			memcpy(&w, data, 4);
			fence();
			*(volatile u32 *)p = w; /* one store: publishes a ring index */
		} else {
			for (u32 i = 0; i < dlen; i++)
				p[i] = data[i];
		}
		fence();
		break;
	}
	case OP_EVENTFD:
		ret = sys(__NR_eventfd2, 0, O_CLOEXEC | O_NONBLOCK, 0);
		break;
	case OP_READ:
		if (a[1] > cap) {
			ret = -1;
			break;
		}
		ret = sys(__NR_read, a[0], d, a[1]);
		olen = ret > 0 ? ret : 0;
		break;
	case OP_WRITE:
		ret = sys(__NR_write, a[0], data, dlen);
		break;
	case OP_SOCKET:
		if (a[0] == 1)
			ret = sys(__NR_socket, AF_PACKET_, SOCK_RAW_ | O_CLOEXEC, 0);
		else
			ret = sys(__NR_socket, AF_INET_, SOCK_DGRAM_ | O_CLOEXEC, 0);
		break;
	case OP_BINDPACKET: {
		/* struct sockaddr_ll: family, protocol, ifindex, hatype, pkttype, halen, addr[8] */
		struct { unsigned short family, protocol; int ifindex; unsigned short hatype;
			 unsigned char pkttype, halen, addr[8]; } sa;
		memset(&sa, 0, sizeof sa);
		sa.family = AF_PACKET_;
		sa.ifindex = a[1];
		ret = sys(__NR_bind, a[0], &sa, sizeof sa);
		break;
	}
	case OP_POLL:
		ret = poll_in(a[0], a[1]);
		break;
	case OP_SWAPWORDS: {
		/* Harvest a[1] unsigned longs at a[0] the way a VMM does: each
		 * word atomically exchanged with 0, in order; the old values
		 * come back as the target stores them. */
		volatile ulong *w = (volatile ulong *)(ulong)a[0];
		if (a[1] * sizeof(ulong) > cap) {
			ret = -1;
			break;
		}
		for (u32 i = 0; i < a[1]; i++) {
			ulong old = __atomic_exchange_n(&w[i], 0, __ATOMIC_SEQ_CST);
			memcpy(d + i * sizeof(ulong), &old, sizeof(ulong));
		}
		olen = a[1] * sizeof(ulong);
		break;
	}
	case OP_ORWORD: {
		/* Set bits of one unsigned long atomically, as a VMM marks pages
		 * it dirtied itself. SPARC v8 has no atomic OR for user space
		 * (only SWAP and LDSTUB): refused rather than done racily. */
#if defined(__sparc__) && !defined(__arch64__)
		ret = -2;
#else
		ulong mask;
		memcpy(&mask, data, sizeof mask);
		if (dlen != sizeof mask) {
			ret = -1;
			break;
		}
		__atomic_fetch_or((volatile ulong *)(ulong)a[0], mask, __ATOMIC_SEQ_CST);
#endif
		break;
	}
	case OP_FORK: {
		/* a[0] addr, a[1] n, a[2] touch: fork and keep the child
		 * waiting (machine.Machine's Fork). */
		int rel[2], view[2];
		u8 ready;
		take_acks(1); /* settled first, as the Go agent's Fork: nothing of an earlier rig left */
		if (child_pid || a[1] > MAXDATA) {
			ret = -1;
			break;
		}
		if ((ret = sys(__NR_pipe2, rel, O_CLOEXEC, 0)) < 0)
			break;
		if ((ret = sys(__NR_pipe2, view, O_CLOEXEC, 0)) < 0) {
			sys(__NR_close, rel[0], 0, 0);
			sys(__NR_close, rel[1], 0, 0);
			break;
		}
		ret = fork_();
		if (ret == 0)
			child_main((volatile u8 *)(ulong)a[0], a[1], a[2], rel[0], view[1]);
		sys(__NR_close, rel[0], 0, 0);
		sys(__NR_close, view[1], 0, 0);
		if (ret < 0) {
			sys(__NR_close, rel[1], 0, 0);
			sys(__NR_close, view[0], 0, 0);
			break;
		}
		child_pid = ret;
		child_release = rel[1];
		child_view = view[0];
		child_n = a[1];
		if (sys(__NR_read, child_view, &ready, 1) != 1) {
			int status;
			sys6(__NR_wait4, child_pid, (long)&status, 0, 0, 0, 0);
			sys(__NR_close, child_release, 0, 0);
			sys(__NR_close, child_view, 0, 0);
			child_pid = 0;
			ret = -1;
		}
		break;
	}
	case OP_CHILDVIEW: {
		long got = 0, k = 1;
		u8 one = 1;
		int status;
		if (!child_pid || child_n > cap) {
			ret = -1;
			break;
		}
		sys(__NR_write, child_release, &one, 1);
		while (got < child_n && (k = sys(__NR_read, child_view, d + got, child_n - got)) > 0)
			got += k;
		sys6(__NR_wait4, child_pid, (long)&status, 0, 0, 0, 0);
		sys(__NR_close, child_release, 0, 0);
		sys(__NR_close, child_view, 0, 0);
		child_pid = 0;
		ret = got;
		olen = got;
		break;
	}
	case OP_VHOSTWORKERS:
		/* The TIDs (u32 each) of the threads vhost runs for our devices:
		 * none of a device still being closed. */
		take_acks(1);
		nown = 0;
		each_entry("/proc/self/task", 1, note_own);
		wout = d, wlen = 0, wcap = cap;
		each_entry("/proc", 0, note_worker);
		each_entry("/proc/self/task", 1, note_worker);
		olen = wlen;
		break;
	case OP_SETAFFINITY: {
		/* a[0] tid, a[1] the one CPU it may run on */
		ulong mask[4] = {0};
		if (a[1] >= 8 * sizeof mask) {
			ret = -22; /* EINVAL, as the kernel says for no usable CPU */
			break;
		}
		mask[a[1] / (8 * sizeof(ulong))] = 1UL << (a[1] % (8 * sizeof(ulong)));
		ret = sys(__NR_sched_setaffinity, a[0], sizeof mask, (long)mask);
		break;
	}
	case OP_RELEASE:
		ret = release(data, dlen);
		break;
	case OP_SETTLE:
		ret = settle();
		break;
	default:
		ret = -1;
	}
	*olen_ = olen;
	return ret;
}

/* place_fd moves fd, just returned by a placed call (protocol 7), to the
 * number the host chose for it: the host queues the calls that use it
 * before the answer comes back. A number already open is never taken
 * over (EBUSY); either way the kernel's own number is closed. */
static long place_fd(long fd, u64 want)
{
	long r;
	if (want > 0x7fffffff)
		r = -EINVAL;
	else if ((long)want == fd)
		return fd;
	else if (sys(__NR_fcntl, (long)want, F_GETFD, 0) >= 0)
		r = -EBUSY;
	else if ((r = sys(__NR_dup3, fd, (long)want, O_CLOEXEC)) >= 0)
		r = (long)want;
	sys(__NR_close, fd, 0, 0);
	return r;
}

/* run_batch runs the calls packed in data one after another, as if each
 * had come alone, and packs their results in d: how the host's concurrent
 * callers (vhost workers to wake together, a harvest beside the traffic)
 * reach the guest in one round trip. A call is op(1) nargs(1) args(8 each)
 * dlen(4) data; a result is ret(8) olen(4) output. An op with its top bit
 * set is fenced (protocol 6): if it fails (-4095..-1) the batch ends
 * there, since the host queued what follows it believing it would
 * succeed (a device's set-up, ioctl after ioctl). An op with bit 0x40
 * set is placed (protocol 7): it returns an fd, moved to the number its
 * last argument holds (place_fd). Returns how many ran. */
static long run_batch(const u8 *data, u32 dlen, u8 *d, u32 *olen)
{
	u32 in = 0, out = 0;
	long k = 0;
	while (in < dlen) {
		u64 a[MAXARGS] = {0};
		u32 n, got = 0;
		if (dlen - in < 6)
			break;
		int op = data[in] & 0x3f, fence = data[in] & 0x80, place = data[in] & 0x40, nargs = data[in + 1];
		if (nargs > MAXARGS || dlen - in < 6 + 8 * (u32)nargs || (place && nargs == 0))
			break;
		for (int i = 0; i < nargs; i++)
			a[i] = get64(data + in + 2 + 8 * i);
		n = get32(data + in + 2 + 8 * nargs);
		in += 6 + 8 * nargs;
		if (n > dlen - in || MAXDATA - out < 12)
			break;
		if (op == OP_BATCH || op == OP_REBOOT || op == OP_HELLO)
			break; /* not batched by the host: a malformed batch */
		long ret = run_op(op, a, data + in, n, d + out + 12, MAXDATA - out - 12, &got);
		if (place && ret >= 0)
			ret = place_fd(ret, a[nargs - 1]);
		put64(d + out, (u64)(long long)ret);
		put32(d + out + 8, got);
		out += 12 + got;
		in += n;
		k++;
		if (fence && ret < 0 && ret >= -4095)
			break;
	}
	*olen = out;
	return k;
}

static void execute(u32 seq, int op, const u64 *a, const u8 *data, u32 dlen)
{
	u32 olen = 0;
	long ret;
	switch (op) {
	case OP_REBOOT:
		/* Ends the VM as its /init; on real hardware, reached over ssh,
		 * only the executor exits. */
		respond(seq, 0, 0);
		if (sys(__NR_getpid, 0, 0, 0) != 1)
			sys(__NR_exit, 0, 0, 0);
		sys(__NR_sync, 0, 0, 0);
		sys6(__NR_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_RESTART, 0, 0, 0);
		for (;;)
			;
	case OP_BATCH:
		ret = run_batch(data, dlen, resp + 17, &olen);
		break;
	default:
		ret = run_op(op, a, data, dlen, resp + 17, MAXDATA, &olen);
	}
	respond(seq, ret, olen);
}

/* lz4_block unpacks an LZ4 block (lz4's doc/lz4_Block_format.md) of n
 * bytes at s into d, at most cap bytes: the unpacked length, or -1 when
 * the block is malformed. A match may reach back prefix bytes before d
 * (protocol 10: the requests before). Every length and offset is checked:
 * the CRC already vouched for the bytes, this guards against a host bug. */
static long lz4_block(const u8 *s, long n, u8 *d, long cap, long prefix)
{
	const u8 *end = s + n;
	long o = 0;
	while (s < end) {
		u8 tok = *s++, b;
		long lit = tok >> 4, len = (tok & 15) + 4;
		if (lit == 15)
			do {
				if (s >= end)
					return -1;
				lit += b = *s++;
			} while (b == 255);
		if (lit > end - s || lit > cap - o)
			return -1;
		memcpy(d + o, s, lit);
		s += lit;
		o += lit;
		if (s == end)
			break; /* the last sequence is literals only */
		if (end - s < 2)
			return -1;
		long off = s[0] | (long)s[1] << 8;
		s += 2;
		if (off == 0 || off > o + prefix)
			return -1;
		if (len == 19)
			do {
				if (s >= end)
					return -1;
				len += b = *s++;
			} while (b == 255);
		if (len > cap - o)
			return -1;
		for (; len > 0; len--, o++)
			d[o] = d[o - off]; /* byte by byte: a match may overlap itself */
	}
	return o;
}

/* request parses a 'Q' frame of n bytes and executes it: 1 when it ran,
 * 0 when it was a resend answered from the cache, -1 when it was dropped. */
static int request(const u8 *f, long n)
{
	if (n < 1 + 4 + 1 + 1 + 4 + 4 || f[0] != 'Q')
		return -1;
	if (get32(f + n - 4) != crc32(f, n - 4))
		return -1; /* torn: the host resends */
	u32 seq = get32(f + 1);
	int op = f[5], nargs = f[6];
	if (nargs > MAXARGS || 7 + 8 * nargs + 4 + 4 > n)
		return -1;
	u64 a[MAXARGS] = {0};
	for (int i = 0; i < nargs; i++)
		a[i] = get64(f + 7 + 8 * i);
	u32 dlen = get32(f + 7 + 8 * nargs);
	if (7 + 8 * nargs + 4 + dlen + 4 != (ulong)n || dlen > MAXDATA)
		return -1;
	if (seq == last_seq && resp_len) {
		send_response(); /* a resend: the response was lost or torn */
		return 0;
	}
	execute(seq, op, a, f + 7 + 8 * nargs + 4, dlen);
	return 1;
}

/* The request stream (protocol 10): every request frame run, in order,
 * each once, of which the last HISTORY bytes are what a 'Y' frame's
 * matches may reach back into; the host keeps the same. stream[0] is the
 * stream's byte sbase; the bytes up to slen are the stream's. */
#define HISTORY 65536 /* LZ4's farthest match: 65535 */
#define SKEEP (HISTORY + MAXDATA + 128) /* a resend of the last needs what came before it */
static u8 stream[4 * SKEEP] __attribute__((aligned(8)));
static u32 sbase;
static long slen;

/* keep appends a frame that ran to the stream (packed frames are
 * unpacked in place: no copy), and slides the stream down when the next
 * could not fit after it (every ~300 KB), a word at a time. */
static void keep(const u8 *f, long n)
{
	if (f != stream + slen)
		memcpy(stream + slen, f, n);
	slen += n;
	if (slen > (long)sizeof stream - (MAXDATA + 256)) {
		long shift = (slen - SKEEP) & ~(long)(sizeof(ulong) - 1);
		ulong *w = (ulong *)(void *)stream;
		for (long i = 0; i < (slen - shift + (long)sizeof(ulong) - 1) / (long)sizeof(ulong); i++)
			w[i] = w[i + shift / (long)sizeof(ulong)];
		sbase += (u32)shift;
		slen -= shift;
	}
}

/* history decodes a 'Y' frame's block (protocol 10: 'Y' histend:u32
 * rawlen:u32 block crc32:u32): a 'Q' frame packed against the stream
 * before histend, where it is unpacked, in place, so that it is there for
 * the frames after it; a resend of the last frame unpacks over itself. */
static void history(const u8 *w, long n)
{
	u32 rel = get32(w + 1) - sbase;
	if (n < 13 || (long)rel > slen)
		return; /* bytes this stream no longer (or never) held: the host resends, in vain */
	long raw = lz4_block(w + 9, n - 13, stream + rel, sizeof stream - rel, rel < HISTORY ? rel : HISTORY);
	if (raw < 0 || (u32)raw != get32(w + 5)) {
		if ((long)rel < slen)
			slen = rel; /* the unpacking wrote over frames it held */
		return;
	}
	int r = request(stream + rel, raw);
	if (r < 0) {
		if ((long)rel < slen)
			slen = rel;
		return;
	}
	slen = rel;
	keep(stream + rel, raw);
}

/* handle decodes one line (without '>' and '\n') and executes it: a 'Q'
 * frame as it is, a packed 'Z' frame (protocol 3: 'Z' rawlen:u32
 * LZ4-block crc32:u32, the block holding a whole 'Q' frame) once its CRC
 * holds and it unpacks to rawlen bytes, a 'Y' frame (protocol 10) the
 * same way against the stream of frames before it (history). */
static void handle(const char *l, long n, int b64)
{
	if (b64) {
		if ((n = unbase64(l, n, wire, sizeof wire)) < 0)
			return;
	} else {
		if (n % 2 || n / 2 > (long)sizeof wire)
			return;
		for (long i = 0; i < n / 2; i++) {
			int h = unhex(l[2 * i]), lo = unhex(l[2 * i + 1]);
			if (h < 0 || lo < 0)
				return;
			wire[i] = h << 4 | lo;
		}
		n /= 2;
	}
	if (n < 1 + 4 + 4 || (wire[0] != 'Z' && wire[0] != 'Y')) {
		if (request(wire, n) == 1)
			keep(wire, n);
		return;
	}
	if (get32(wire + n - 4) != crc32(wire, n - 4))
		return; /* torn: the host resends */
	if (wire[0] == 'Y') {
		history(wire, n);
		return;
	}
	long raw = lz4_block(wire + 5, n - 9, stream + slen, sizeof stream - slen, 0);
	if (raw < 0 || (u32)raw != get32(wire + 1))
		return;
	if (request(stream + slen, raw) == 1)
		keep(stream + slen, raw);
}

static void mounts(void)
{
	static const char *dirs[][3] = {
		{"devtmpfs", "/dev", "devtmpfs"},
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		/* the injection switch of --inject (kernels/patches/inject-log-op.patch) */
		{"debugfs", "/sys/kernel/debug", "debugfs"},
	};
	for (unsigned i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		sys(__NR_mkdirat, AT_FDCWD_, dirs[i][1], 0755);
		sys6(__NR_mount, (long)dirs[i][0], (long)dirs[i][1], (long)dirs[i][2], 0, 0, 0);
	}
}

/* fifo_trigger asks the console's UART to interrupt at 14 received bytes
 * instead of 8 (the 8250 driver's rx_trig_bytes): requests arrive in
 * fewer interrupts, each a costly exit under TCG. Best effort: a UART
 * without the knob, or no sysfs, leaves things as they are. */
static void fifo_trigger(void)
{
	static char name[64], path[96];
	long fd = sys6(__NR_openat, AT_FDCWD_, (long)"/sys/class/tty/console/active", O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return;
	long n = sys(__NR_read, fd, name, sizeof name - 1);
	sys(__NR_close, fd, 0, 0);
	if (n <= 0)
		return;
	long start = 0, k = 0;
	for (long i = 0; i < n; i++) /* the last console listed is /dev/console */
		if (name[i] == ' ' && i + 1 < n && name[i + 1] != '\n')
			start = i + 1;
	for (const char *c = "/sys/class/tty/"; *c; c++)
		path[k++] = *c;
	for (long i = start; i < n && name[i] != '\n' && name[i] != ' ' && k < 70; i++)
		path[k++] = name[i];
	for (const char *c = "/rx_trig_bytes"; *c; c++)
		path[k++] = *c;
	path[k] = 0;
	if ((fd = sys6(__NR_openat, AT_FDCWD_, (long)path, 1 /* O_WRONLY */ | O_CLOEXEC, 0, 0, 0)) < 0)
		return;
	sys(__NR_write, fd, "14", 2);
	sys(__NR_close, fd, 0, 0);
}

void executor_main(void)
{
	static char buf[512];
	long n = 0;
	int in_frame = 0;
	if (sys(__NR_getpid, 0, 0, 0) == 1)
		mounts();
	fifo_trigger();
	raw_tty(0);
	say("\r\ndirtygate-executor 1: ready\r\n");
	respond(0, 0, 0); /* seq 0: ready */
	for (;;) {
		long k = sys(__NR_read, 0, buf, sizeof buf);
		if (k <= 0) {
			if (k == 0)
				break;
			continue;
		}
		for (long i = 0; i < k; i++) {
			char c = buf[i];
			if (c == '>' || c == '#') { /* a hex line, a base64 line */
				in_frame = c == '>' ? 1 : 2;
				n = 0;
			} else if (c == '\n' || c == '\r') {
				if (in_frame)
					handle(line, n, in_frame == 2);
				in_frame = 0;
			} else if (in_frame) {
				if (n < (long)sizeof line)
					line[n++] = c;
				else
					in_frame = 0;
			}
		}
	}
	sys(__NR_exit, 0, 0, 0);
	for (;;)
		;
}
