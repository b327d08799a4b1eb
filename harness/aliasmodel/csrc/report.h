/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The lines the plugin and the replayer print; harness/aliasmodel parses
 * them (events.go). One format, so a recorded trace and a live run are
 * judged by the same code.
 */
#ifndef DG_ALIAS_REPORT_H
#define DG_ALIAS_REPORT_H
#include <inttypes.h>
#include <stdio.h>

#include "model.h"

/* stale vcpu=V pc=X va=X pa=X size=N miss=0|1 wvcpu=V wpc=X wva=X */
static inline void dg_report_stale(void *ctx, const struct am_stale *s)
{
	FILE *f = ctx;
	fprintf(f, "stale vcpu=%u pc=0x%" PRIx64 " va=0x%" PRIx64 " pa=0x%" PRIx64
		   " size=%u miss=%d wvcpu=%u wpc=0x%" PRIx64 " wva=0x%" PRIx64 "\n",
		s->reader.vcpu, s->reader.pc, s->reader.va, s->pa, s->size, s->miss,
		s->writer.vcpu, s->writer.pc, s->writer.va);
	fflush(f);
}

static inline void dg_report_stats(FILE *f, const struct am_stats *st)
{
	fprintf(f, "stats reads=%" PRIu64 " writes=%" PRIu64 " stale=%" PRIu64
		   " flushes=%" PRIu64 " purges=%" PRIu64 " flush_alls=%" PRIu64
		   " promoted=%" PRIu64 " stale_writebacks=%" PRIu64 " dirty_purged=%" PRIu64 "\n",
		st->reads, st->writes, st->stale_reads, st->flushes, st->purges,
		st->flush_alls, st->promoted, st->stale_writebacks, st->dirty_purged);
	fflush(f);
}

#endif
