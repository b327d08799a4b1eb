/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dirtygate-alias: a QEMU TCG plugin (API version 1, QEMU 7.2) that runs
 * every guest load and store through dirtygate's model of PA-RISC's
 * virtually indexed data cache (model.c) and prints each stale alias read.
 *
 * QEMU's hppa translator treats fdc/pdc/fdce as no-ops and API version 1
 * cannot read registers, so the plugin cannot see what a flush targets.
 * The test-only kernel patch kernels/patches/alias-marker.patch makes every
 * parisc data-cache flush and purge primitive announce itself with byte
 * loads from a marker array, dg_alias_mark[14][256]: the load's offset
 * carries the data. Slot 0 opens a record (its byte is the operation),
 * slots 1-4 the virtual address (most significant byte first), 5-8 the
 * physical address, 9-12 the length, slot 13 commits it. The announcing
 * code runs with interrupts off, so a CPU's records never interleave.
 * The harness passes the array's physical address from System.map.
 *
 * Arguments: out=FILE (required), mark=PA, marklen=N, line=BYTES,
 * alias=BYTES, maxevents=N.
 *
 * Output (FILE): a "dirtygate-alias 1" header, a "stale ..." line per stale
 * read (report.h), and at exit "marks ..." and "stats ..." lines and the
 * virtual pages read ("readpages", hex ranges), so the harness can tell the
 * model saw the VMM read its log.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-plugin.h"
#include "model.h"
#include "report.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MARK_SLOTS 14
#define MAX_VCPUS 64

enum { OP_FLUSH = 1, OP_PURGE = 2, OP_FLUSH_ALL = 3 };

struct pending {
	int open, op;
	uint32_t have; /* bitmask of slots 1..12 received */
	uint32_t va, pa, len;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct am_model *model;
static FILE *out;
static uint64_t mark_pa, mark_len;
static uint64_t max_events = 200000, events, dropped;
static uint64_t marks_applied, marks_torn, io_accesses, no_hwaddr;
static struct pending pend[MAX_VCPUS];
static uint8_t readpages[1 << 17]; /* one bit per 4 KiB page of a 32-bit address */

static void report(void *ctx, const struct am_stale *s)
{
	(void)ctx;
	if (events++ < max_events)
		dg_report_stale(out, s);
	else
		dropped++;
}

static void mark(unsigned vcpu, uint64_t off)
{
	unsigned slot = off / 256, byte = off % 256;
	struct pending *p = &pend[vcpu % MAX_VCPUS];
	if (slot == 0) {
		if (p->open)
			marks_torn++;
		memset(p, 0, sizeof(*p));
		p->open = 1;
		p->op = byte;
		return;
	}
	if (!p->open) {
		marks_torn++;
		return;
	}
	if (slot <= 12) {
		uint32_t *field = slot <= 4 ? &p->va : slot <= 8 ? &p->pa : &p->len;
		unsigned shift = 8 * (3 - (slot - 1) % 4);
		*field = (*field & ~(0xffu << shift)) | ((uint32_t)byte << shift);
		p->have |= 1u << slot;
		return;
	}
	/* slot 13: commit */
	p->open = 0;
	if (p->op == OP_FLUSH_ALL) {
		am_flush_all(model);
		marks_applied++;
		return;
	}
	if (p->have != 0x1ffe || (p->op != OP_FLUSH && p->op != OP_PURGE)) {
		marks_torn++;
		return;
	}
	am_flush(model, p->va, p->pa, p->len, p->op == OP_PURGE);
	marks_applied++;
}

static void vcpu_mem(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
	struct qemu_plugin_hwaddr *hw = qemu_plugin_get_hwaddr(info, vaddr);
	if (!hw) {
		__atomic_fetch_add(&no_hwaddr, 1, __ATOMIC_RELAXED);
		return;
	}
	if (qemu_plugin_hwaddr_is_io(hw)) {
		__atomic_fetch_add(&io_accesses, 1, __ATOMIC_RELAXED);
		return;
	}
	uint64_t pa = qemu_plugin_hwaddr_phys_addr(hw);
	int store = qemu_plugin_mem_is_store(info);
	uint32_t size = 1u << qemu_plugin_mem_size_shift(info);
	pthread_mutex_lock(&lock);
	if (mark_len && pa - mark_pa < mark_len) {
		if (!store)
			mark(vcpu, pa - mark_pa);
		pthread_mutex_unlock(&lock);
		return;
	}
	if (!store) {
		uint32_t page = (uint32_t)vaddr >> 12;
		readpages[page >> 3] |= 1 << (page & 7);
	}
	struct am_who who = {(uint64_t)(uintptr_t)udata, vaddr, vcpu};
	am_access(model, &who, pa, size, store, report, NULL);
	pthread_mutex_unlock(&lock);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	size_t n = qemu_plugin_tb_n_insns(tb);
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		qemu_plugin_register_vcpu_mem_cb(insn, vcpu_mem, QEMU_PLUGIN_CB_NO_REGS,
						 QEMU_PLUGIN_MEM_RW,
						 (void *)(uintptr_t)qemu_plugin_insn_vaddr(insn));
	}
}

static void at_exit(qemu_plugin_id_t id, void *p)
{
	(void)id;
	(void)p;
	pthread_mutex_lock(&lock);
	fprintf(out, "marks applied=%" PRIu64 " torn=%" PRIu64 " events=%" PRIu64
		     " dropped=%" PRIu64 " io=%" PRIu64 " no_hwaddr=%" PRIu64 "\n",
		marks_applied, marks_torn, events, dropped, io_accesses, no_hwaddr);
	dg_report_stats(out, am_stats(model));
	fprintf(out, "readpages");
	for (uint32_t pg = 0; pg < (1u << 20);) {
		if (!(readpages[pg >> 3] & (1 << (pg & 7)))) {
			pg++;
			continue;
		}
		uint32_t end = pg;
		while (end + 1 < (1u << 20) && (readpages[(end + 1) >> 3] & (1 << ((end + 1) & 7))))
			end++;
		fprintf(out, " %x-%x", pg, end);
		pg = end + 1;
	}
	fprintf(out, "\nend\n");
	fclose(out);
	out = NULL;
	pthread_mutex_unlock(&lock);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
					   int argc, char **argv)
{
	struct am_config cfg = {32, 0x400000};
	const char *path = NULL;
	for (int i = 0; i < argc; i++) {
		char *v = strchr(argv[i], '=');
		if (!v) {
			fprintf(stderr, "dirtygate-alias: argument %s is not KEY=VALUE\n", argv[i]);
			return -1;
		}
		*v++ = 0;
		unsigned long long n = strtoull(v, NULL, 0);
		if (!strcmp(argv[i], "out"))
			path = v;
		else if (!strcmp(argv[i], "mark"))
			mark_pa = n;
		else if (!strcmp(argv[i], "marklen"))
			mark_len = n;
		else if (!strcmp(argv[i], "line"))
			cfg.line = n;
		else if (!strcmp(argv[i], "alias"))
			cfg.alias = n;
		else if (!strcmp(argv[i], "maxevents"))
			max_events = n;
		else {
			fprintf(stderr, "dirtygate-alias: unknown argument %s\n", argv[i]);
			return -1;
		}
	}
	if (!path) {
		fprintf(stderr, "dirtygate-alias: out=FILE is required\n");
		return -1;
	}
	if (!info->system_emulation) {
		fprintf(stderr, "dirtygate-alias: system emulation only\n");
		return -1;
	}
	model = am_new(&cfg);
	if (!model) {
		fprintf(stderr, "dirtygate-alias: bad line=%u alias=%u\n", cfg.line, cfg.alias);
		return -1;
	}
	out = fopen(path, "w");
	if (!out) {
		perror(path);
		return -1;
	}
	fprintf(out, "dirtygate-alias 1 target=%s vcpus=%d line=%u alias=0x%x mark=0x%" PRIx64
		     " marklen=%" PRIu64 "\n",
		info->target_name, info->system.max_vcpus, cfg.line, cfg.alias, mark_pa, mark_len);
	fflush(out);
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
