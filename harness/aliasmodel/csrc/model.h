/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dirtygate's model of a virtually indexed, physically tagged data cache
 * (PA-RISC's), independent of QEMU so it can be tested on recorded traces
 * (replay.c) and driven by the TCG plugin (plugin.c).
 *
 * A cached copy of a physical line is identified by its colour: the line's
 * virtual address modulo the alias boundary. Two virtual addresses of one
 * physical line with the same colour are equivalent aliases and share a
 * copy; different colours are non-equivalent aliases and hold separate
 * copies the hardware does not keep coherent.
 *
 * Worst case that is still sound: a copy stays cached until a flush or
 * purge of its (colour, physical line) or of the whole cache; nothing is
 * ever evicted. Writes allocate and are written back only by a flush.
 * Staleness is tracked per 4-byte word: every write through a colour gives
 * the words it wrote a new version; a read of a word whose copy (or, on a
 * miss, whose memory) holds an older version than the newest write is a
 * stale alias read. One model for all vCPUs: PA-RISC keeps equivalent
 * aliases coherent between processors and broadcasts fdc/pdc, so per-CPU
 * copies add no staleness the architecture allows.
 */
#ifndef DG_ALIAS_MODEL_H
#define DG_ALIAS_MODEL_H
#include <stdint.h>

struct am_config {
	uint32_t line;  /* line size in bytes, a power of two, 4..128 */
	uint32_t alias; /* alias boundary in bytes (colours = alias / page) */
};

/* Who wrote a word last. */
struct am_who {
	uint64_t pc, va;
	uint32_t vcpu;
};

/* A stale alias read. */
struct am_stale {
	struct am_who reader;
	uint64_t pa;
	uint32_t size;
	int miss;           /* 0: hit a stale cached copy; 1: a miss filled from memory older than a dirty copy in another colour */
	/* The newest write to the stale word; for a word written before its
	 * line was first seen through a second colour, the last write to the
	 * line (the compact form keeps one writer per line). */
	struct am_who writer;
};

struct am_stats {
	uint64_t reads, writes, stale_reads, flushes, purges, flush_alls;
	uint64_t promoted;          /* lines ever accessed through two colours */
	uint64_t stale_writebacks;  /* flushes writing back words older than memory's */
	uint64_t dirty_purged;      /* purges that discarded the newest data */
};

typedef void (*am_report_fn)(void *ctx, const struct am_stale *s);

struct am_model;

struct am_model *am_new(const struct am_config *cfg);
void am_free(struct am_model *m);

/*
 * One access through virtual address va (only its offset modulo the alias
 * boundary matters) to physical address pa. A stale read calls report and
 * returns 1.
 */
int am_access(struct am_model *m, const struct am_who *who, uint64_t pa,
	      uint32_t size, int store, am_report_fn report, void *ctx);

/*
 * Flush (write back and invalidate) or purge (invalidate, dirty data lost)
 * the copies in va's colour of the physical lines of [pa, pa + len).
 */
void am_flush(struct am_model *m, uint64_t va, uint64_t pa, uint64_t len, int purge);
/* Flush every copy (fdce over the whole cache). */
void am_flush_all(struct am_model *m);

const struct am_stats *am_stats(const struct am_model *m);

#endif
