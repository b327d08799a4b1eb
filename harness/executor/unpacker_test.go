package executor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unpackerCases drives executor.c's lz4_block, unbase64, run_batch, lz4_pack and release, compiled for this host
// with AddressSanitizer: every input is a buffer of exactly its size and
// so is the output, so a bounds check that is missing shows as a read or
// write outside them (the sanitizer aborts), or as a wrong return. The
// end-to-end TestMalformedPackedFrames cannot see those: reading past a
// static buffer in the guest neither crashes nor runs anything.
const unpackerCases = `
#define EXECUTOR_HOSTED_TEST
#include "executor.c"
void *malloc(unsigned long);
void free(void *);
unsigned long strlen(const char *);
int memcmp(const void *, const void *, unsigned long);
static int check(int i, const u8 *b, long n, long cap, long want)
{
	u8 *in = malloc(n ? n : 1), *out = malloc(cap ? cap : 1);
	memcpy(in, b, n);
	long got = lz4_block(in, n, out, cap, 0);
	free(in);
	free(out);
	return got == want ? 0 : 10 + i;
}
static int check64(int i, const char *l, long cap, long want)
{
	long n = strlen(l);
	char *in = malloc(n ? n : 1);
	u8 *out = malloc(cap ? cap : 1);
	memcpy(in, l, n);
	long got = unbase64(in, n, out, cap);
	int bad = got != want || (want == 3 && memcmp(out, "dg!", 3));
	free(in);
	free(out);
	return bad ? 30 + i : 0;
}
/* check_pack packs n bytes (a pattern of kind k) into exactly cap bytes:
 * fits says whether it must (-1: either), and what fits must unpack to
 * the input. */
static int check_pack(int i, int k, long n, long cap, int fits)
{
	u8 *in = malloc(n ? n : 1), *out = malloc(cap ? cap : 1), *back = malloc(n ? n : 1);
	u32 x = 2463534242u; /* xorshift32: noise */
	for (long j = 0; j < n; j++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		in[j] = k == 0 ? 0 : k == 1 ? 0x55 : k == 2 ? (u8)(x >> 24) : (u8)(j % 8 == 0 ? j / 8 : 0);
	}
	long got = lz4_pack(in, n, out, cap), bad = fits >= 0 && (got >= 0) != fits;
	if (!bad && got >= 0) /* and, as the format requires, the last 5 bytes are literals */
		bad = lz4_block(out, got, back, n, 0) != n || memcmp(in, back, n) != 0 ||
			(n >= 5 && memcmp(out + got - 5, in + n - 5, 5) != 0);
	free(in);
	free(out);
	free(back);
	return bad ? 70 + i : 0;
}
/* check_prefix unpacks b into a buffer whose first prefix bytes are the
 * stream before it (protocol 10): a match may reach them, not past them. */
static int check_prefix(int i, const u8 *b, long n, long prefix, long want)
{
	u8 *in = malloc(n), *out = malloc(prefix + 64);
	memcpy(in, b, n);
	memset(out, 'p', prefix);
	long got = lz4_block(in, n, out + prefix, 64, prefix);
	int bad = got != want || (want > 0 && out[prefix] != 'p');
	free(in);
	free(out);
	return bad ? 90 + i : 0;
}
static int check_batch(int i, const u8 *b, long n, long want)
{
	u8 *in = malloc(n), *out = malloc(MAXDATA);
	u32 olen = 0;
	memcpy(in, b, n);
	long got = run_batch(in, n, out, &olen);
	free(in);
	free(out);
	return got == want ? 0 : 50 + i;
}
/* check_release parses an OP_RELEASE of exactly n bytes (no helper here:
 * what it names is closed and unmapped in place). */
static int check_release(int i, const u8 *b, long n, long want)
{
	u8 *in = malloc(n ? n : 1);
	memcpy(in, b, n);
	long got = release(in, n);
	free(in);
	return got == want ? 0 : 110 + i;
}
int main(void)
{
	static const u8 placenoarg[] = {OP_EVENTFD | 0x40, 0, 0, 0, 0, 0};
	static const u8 q15[] = {0xf0, 0, 'Q', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
	static const u8 before[] = {0x1f, 'Q', 0x05, 0x00, 0x00};
	static const u8 litpast[] = {0xf0, 200, 'Q'};
	static const u8 litext[] = {0xf0};
	static const u8 offzero[] = {0x10, 'Q', 0x00, 0x00};
	static const u8 offcut[] = {0x10, 'Q', 0x01};
	static const u8 lencut[] = {0x1f, 'Q', 0x01, 0x00};
	static const u8 lenpast[] = {0x1f, 'Q', 0x01, 0x00, 0x00};
	static const u8 overlap[] = {0x1f, 'Q', 0x01, 0x00, 0x02};
	int r = 0;
	r = r ? r : check(0, q15, sizeof q15, 15, 15);       /* honest: 15 literals */
	r = r ? r : check(1, overlap, sizeof overlap, 22, 22); /* honest: 'Q' repeated by an overlapping match */
	r = r ? r : check(2, before, sizeof before, 64, -1);   /* a match before the output's start */
	r = r ? r : check(3, litpast, sizeof litpast, 512, -1); /* literals past the input's end */
	r = r ? r : check(4, litext, sizeof litext, 64, -1);   /* a literal length cut short */
	r = r ? r : check(5, offzero, sizeof offzero, 64, -1); /* offset 0 */
	r = r ? r : check(6, offcut, sizeof offcut, 64, -1);   /* an offset cut short */
	r = r ? r : check(7, lencut, sizeof lencut, 64, -1);   /* a match length cut short */
	r = r ? r : check(8, lenpast, sizeof lenpast, 10, -1); /* a match past the output's end */
	r = r ? r : check(9, q15, sizeof q15, 14, -1);         /* literals past the output's end */
	r = r ? r : check64(0, "ZGch", 3, 3);                    /* honest: "dg!" */
	r = r ? r : check64(1, "ZGch", 2, -1);                   /* past the output's end */
	r = r ? r : check64(2, "ZGc!", 3, -1);                   /* outside the alphabet */
	r = r ? r : check64(3, "ZGchZ", 8, -1);                  /* a length no encoding has */
	r = r ? r : check64(4, "ZGc", 8, 2);                     /* honest: two bytes in three characters */
	r = r ? r : check_batch(0, placenoarg, sizeof placenoarg, 0); /* placed, with no argument to say where */
	static const u8 back3[] = {0x00, 0x03, 0x00, 0x50, 'e', 'n', 'd', '!', '!'}; /* a 4-byte match 3 bytes back, then 5 literals */
	r = r ? r : check_prefix(0, back3, sizeof back3, 3, 9);  /* honest: all of it in the prefix */
	r = r ? r : check_prefix(1, back3, sizeof back3, 2, -1); /* one byte before the prefix */
	r = r ? r : check_pack(0, 0, 4096, 4088, 1);  /* a page of zeros */
	r = r ? r : check_pack(1, 1, 4096, 64, 1);    /* a page of canaries */
	r = r ? r : check_pack(2, 1, 4096, 20, 0);    /* ... into less than it needs */
	r = r ? r : check_pack(3, 3, 4096, 4088, 1);  /* ring-like entries */
	r = r ? r : check_pack(4, 2, 4096, 4088, 0);  /* noise does not fit in less */
	r = r ? r : check_pack(5, 2, 300, 400, 1);    /* noise with room: literals only */
	r = r ? r : check_pack(6, 1, 12, 13, 1);      /* too short for a match */
	r = r ? r : check_pack(7, 0, 0, 0, 0);        /* nothing, in nothing: no room for the token */
	for (long cap = 0; cap <= 700 && !r; cap++)  /* every cap: each write's bound is checked */
		r = check_pack(8, 3, 600, cap, cap >= 600 ? 1 : -1);
	static const u8 rel_none[] = {0, 0, 0, 0, 0, 0, 0, 0};
	static const u8 rel_fdcut[] = {0, 0, 0, 1, 0, 0, 0};
	static const u8 rel_many[] = {0, 0, 0, 65, 0, 0, 0, 0};
	static const u8 rel_mapcut[] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x10, 0};
	static const u8 rel_badfd[] = {0, 0, 0, 1, 0, 0, 0x03, 0xe7, 0, 0, 0, 0}; /* fd 999, not open */
	r = r ? r : check_release(0, rel_none, sizeof rel_none, 0);        /* honest: nothing to do */
	r = r ? r : check_release(1, rel_none, 0, -EINVAL);                /* no count */
	r = r ? r : check_release(2, rel_fdcut, sizeof rel_fdcut, -EINVAL); /* an fd cut short */
	r = r ? r : check_release(3, rel_many, sizeof rel_many, -EINVAL);   /* more fds than a message carries */
	r = r ? r : check_release(4, rel_mapcut, sizeof rel_mapcut, -EINVAL); /* a mapping cut short */
	r = r ? r : check_release(5, rel_badfd, sizeof rel_badfd, -EBADF);  /* closed in place: its failure */
	hgen = 0;
	r = r ? r : check_pack(9, 2, 4096, 8192, 1);  /* generation 1 leaves positions up to 4 KB, */
	hgen = 0xfffe;
	r = r ? r : check_pack(10, 1, 600, 600, 1);   /* (a page of canaries touches one entry) */
	r = r ? r : check_pack(11, 3, 600, 600, 1);   /* then generation 1 again: none of them is used */
	return r;
}
`

func TestUnpackerBounds(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../../guest/executor/csrc/executor.c")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "executor.c"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cases.c"), []byte(unpackerCases), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "cases")
	cmd := exec.Command("gcc", "-g", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
		"-Wno-unused-function", "-o", bin, filepath.Join(dir, "cases.c"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc (AddressSanitizer comes with Debian's gcc): %v\n%s", err, out)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("the unpacker failed a case (exit 10+N: lz4 case N returned the wrong value, 30+N: base64 case N, 50+N: batch case N, 70+N: packing case N, 90+N: prefix case N, 110+N: release case N; else the sanitizer's report): %v\n%s",
			err, strings.TrimSpace(string(out)))
	}
}
