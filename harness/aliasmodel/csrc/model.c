/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dirtygate's virtually indexed data cache model: see model.h.
 *
 * Most physical lines are only ever accessed through one colour and can
 * never be stale: they are kept as a compact entry (which colour holds the
 * line, whether it is cached, which words are dirty, the last writer). A
 * line reached through a second colour while the first still caches it is
 * promoted to a full state: per-word versions of the newest write and of
 * memory, and one copy per colour with the versions it holds.
 */
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define MAXW 32 /* words per line: 128-byte lines */

struct copy {
	uint32_t colour;
	uint8_t present, dirty;
	uint64_t ver[MAXW];
};

struct full {
	uint32_t entry; /* index of its entry in the table */
	uint64_t counter;
	uint64_t latest[MAXW], mem[MAXW];
	struct am_who who[MAXW];
	int ncopies, cap;
	struct copy *copies;
};

/* One physical line. key 0 is an empty slot. */
struct entry {
	uint32_t key; /* line index + 1 */
	uint32_t colour;
	uint32_t dirty; /* mask of dirty words (compact form) */
	uint32_t epoch;
	int32_t full; /* index into m->fulls, or -1 */
	uint8_t present;
	uint8_t wvcpu;
	uint32_t wpc, wva; /* last writer (compact form) */
};

struct am_model {
	struct am_config cfg;
	unsigned shift, words;
	uint32_t epoch;
	struct entry *tab;
	size_t cap, n;
	struct full **fulls; /* NULL where freed */
	size_t nfulls, capfulls;
	int32_t *freeidx; /* freed indexes of fulls, to reuse */
	size_t nfree, capfree;
	struct am_stats st;
};

struct am_model *am_new(const struct am_config *cfg)
{
	struct am_model *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (cfg->line < 4 || cfg->line > 4 * MAXW || (cfg->line & (cfg->line - 1)) ||
	    cfg->alias < cfg->line || (cfg->alias & (cfg->alias - 1))) {
		free(m);
		return NULL;
	}
	m->cfg = *cfg;
	while ((1u << m->shift) < cfg->line)
		m->shift++;
	m->words = cfg->line / 4;
	m->cap = 1 << 16;
	m->tab = calloc(m->cap, sizeof(*m->tab));
	if (!m->tab) {
		free(m);
		return NULL;
	}
	return m;
}

void am_free(struct am_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nfulls; i++) {
		if (m->fulls[i]) {
			free(m->fulls[i]->copies);
			free(m->fulls[i]);
		}
	}
	free(m->fulls);
	free(m->freeidx);
	free(m->tab);
	free(m);
}

const struct am_stats *am_stats(const struct am_model *m) { return &m->st; }

static size_t slot(const struct am_model *m, uint32_t key)
{
	uint32_t h = key * 2654435761u;
	return (h ^ (h >> 15)) & (m->cap - 1);
}

static void grow(struct am_model *m)
{
	struct entry *old = m->tab;
	size_t oldcap = m->cap;
	m->cap *= 2;
	m->tab = calloc(m->cap, sizeof(*m->tab));
	if (!m->tab)
		abort();
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].key)
			continue;
		size_t j = slot(m, old[i].key);
		while (m->tab[j].key)
			j = (j + 1) & (m->cap - 1);
		m->tab[j] = old[i];
		if (old[i].full >= 0)
			m->fulls[old[i].full]->entry = j;
	}
	free(old);
}

/* The entry of line index l; created (empty, epoch 0) when create is set. */
static struct entry *lookup(struct am_model *m, uint64_t l, int create)
{
	uint32_t key = (uint32_t)l + 1;
	if (create && 2 * (m->n + 1) > m->cap)
		grow(m);
	size_t j = slot(m, key);
	while (m->tab[j].key) {
		if (m->tab[j].key == key)
			return &m->tab[j];
		j = (j + 1) & (m->cap - 1);
	}
	if (!create)
		return NULL;
	m->n++;
	memset(&m->tab[j], 0, sizeof(m->tab[j]));
	m->tab[j].key = key;
	m->tab[j].full = -1;
	m->tab[j].epoch = m->epoch - 1; /* absent until initialised */
	return &m->tab[j];
}

/* A compact entry left by an older epoch (a whole-cache flush) is absent. */
static int absent(const struct am_model *m, const struct entry *e)
{
	return e->full < 0 && e->epoch != m->epoch;
}

static struct copy *find_copy(struct full *f, uint32_t colour, int create)
{
	for (int i = 0; i < f->ncopies; i++)
		if (f->copies[i].colour == colour)
			return &f->copies[i];
	if (!create)
		return NULL;
	if (f->ncopies == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 2;
		f->copies = realloc(f->copies, f->cap * sizeof(*f->copies));
		if (!f->copies)
			abort();
	}
	struct copy *c = &f->copies[f->ncopies++];
	memset(c, 0, sizeof(*c));
	c->colour = colour;
	return c;
}

/* Promote a compact entry to the full state. */
static struct full *promote(struct am_model *m, struct entry *e)
{
	struct full *f = calloc(1, sizeof(*f));
	if (!f)
		abort();
	f->entry = e - m->tab;
	f->counter = 1;
	struct am_who w = {e->wpc, e->wva, e->wvcpu};
	for (unsigned i = 0; i < m->words; i++) {
		if (e->dirty & (1u << i)) {
			f->latest[i] = 1; /* written, not in memory yet */
			f->who[i] = w;
		}
	}
	struct copy *c = find_copy(f, e->colour, 1);
	c->present = e->present;
	c->dirty = e->dirty != 0;
	memcpy(c->ver, f->latest, sizeof(c->ver));
	int32_t idx;
	if (m->nfree) {
		idx = m->freeidx[--m->nfree];
	} else {
		if (m->nfulls == m->capfulls) {
			m->capfulls = m->capfulls ? 2 * m->capfulls : 64;
			m->fulls = realloc(m->fulls, m->capfulls * sizeof(*m->fulls));
			if (!m->fulls)
				abort();
		}
		idx = m->nfulls++;
	}
	m->fulls[idx] = f;
	e->full = idx;
	m->st.promoted++;
	return f;
}

/* Back to the compact form when no copy is cached and memory is current. */
static void demote(struct am_model *m, struct entry *e)
{
	struct full *f = m->fulls[e->full];
	for (int i = 0; i < f->ncopies; i++)
		if (f->copies[i].present)
			return;
	for (unsigned i = 0; i < m->words; i++)
		if (f->mem[i] != f->latest[i])
			return;
	int32_t idx = e->full;
	free(f->copies);
	free(f);
	m->fulls[idx] = NULL;
	if (m->nfree == m->capfree) {
		m->capfree = m->capfree ? 2 * m->capfree : 64;
		m->freeidx = realloc(m->freeidx, m->capfree * sizeof(*m->freeidx));
		if (!m->freeidx)
			abort();
	}
	m->freeidx[m->nfree++] = idx;
	e->full = -1;
	e->present = 0;
	e->dirty = 0;
	e->epoch = m->epoch;
}

static void flush_copy(struct am_model *m, struct full *f, struct copy *c, int purge)
{
	if (!c->present)
		return;
	if (c->dirty) {
		int stale = 0, lost = 0;
		for (unsigned i = 0; i < m->words; i++) {
			if (purge) {
				if (c->ver[i] == f->latest[i] && f->mem[i] != f->latest[i])
					lost = 1;
				continue;
			}
			if (c->ver[i] < f->mem[i])
				stale = 1;
			f->mem[i] = c->ver[i]; /* the whole line is written back */
		}
		m->st.stale_writebacks += stale;
		m->st.dirty_purged += lost;
	}
	c->present = 0;
	c->dirty = 0;
}

static int access_line(struct am_model *m, const struct am_who *who, uint64_t pa,
		       uint32_t size, int store, am_report_fn report, void *ctx)
{
	uint64_t l = pa >> m->shift;
	unsigned off = pa & (m->cfg.line - 1);
	unsigned w0 = off / 4, w1 = (off + size - 1) / 4;
	uint32_t mask = (w1 >= 31 ? 0xffffffffu : ((1u << (w1 + 1)) - 1)) & ~((1u << w0) - 1);
	uint32_t colour = (uint32_t)(who->va & (m->cfg.alias - 1)) & ~(m->cfg.line - 1);
	struct entry *e = lookup(m, l, 1);

	if (absent(m, e)) {
		e->colour = colour;
		e->present = 1;
		e->dirty = 0;
		e->epoch = m->epoch;
	}
	if (e->full < 0) {
		if (e->colour != colour) {
			if (e->present) {
				promote(m, e);
				goto full;
			}
			/* Not cached anywhere, memory current: the new colour owns it. */
			e->colour = colour;
			e->dirty = 0;
		}
		e->present = 1;
		if (store) {
			e->dirty |= mask;
			e->wpc = (uint32_t)who->pc;
			e->wva = (uint32_t)who->va;
			e->wvcpu = (uint8_t)who->vcpu;
		}
		return 0;
	}
full:;
	struct full *f = m->fulls[e->full];
	struct copy *c = find_copy(f, colour, 1);
	int miss = 0;
	if (!c->present) {
		memcpy(c->ver, f->mem, sizeof(c->ver));
		c->present = 1;
		c->dirty = 0;
		miss = 1;
	}
	if (!store) {
		for (unsigned i = w0; i <= w1 && i < m->words; i++) {
			if (c->ver[i] != f->latest[i]) {
				struct am_stale s = {*who, pa, size, miss, f->who[i]};
				m->st.stale_reads++;
				if (report)
					report(ctx, &s);
				return 1;
			}
		}
		return 0;
	}
	for (unsigned i = w0; i <= w1 && i < m->words; i++) {
		c->ver[i] = f->latest[i] = ++f->counter;
		f->who[i] = *who;
	}
	c->dirty = 1;
	return 0;
}

int am_access(struct am_model *m, const struct am_who *who, uint64_t pa,
	      uint32_t size, int store, am_report_fn report, void *ctx)
{
	if (size == 0)
		return 0;
	if (store)
		m->st.writes++;
	else
		m->st.reads++;
	int stale = 0;
	struct am_who w = *who;
	/* Split an access that crosses lines (hppa's are aligned: never). */
	while (size) {
		uint32_t room = m->cfg.line - (pa & (m->cfg.line - 1));
		uint32_t n = size < room ? size : room;
		stale |= access_line(m, &w, pa, n, store, report, ctx);
		pa += n;
		size -= n;
		w.va += n;
	}
	return stale;
}

void am_flush(struct am_model *m, uint64_t va, uint64_t pa, uint64_t len, int purge)
{
	if (purge)
		m->st.purges++;
	else
		m->st.flushes++;
	if (!len)
		return;
	uint64_t line = m->cfg.line;
	uint64_t first = pa >> m->shift, last = (pa + len - 1) >> m->shift;
	uint64_t lva = va & ~(line - 1);
	for (uint64_t l = first; l <= last; l++, lva += line) {
		struct entry *e = lookup(m, l, 0);
		if (!e || absent(m, e))
			continue;
		uint32_t colour = (uint32_t)(lva & (m->cfg.alias - 1));
		if (e->full < 0) {
			if (e->colour != colour || !e->present)
				continue;
			if (!(purge && e->dirty)) {
				e->present = 0;
				e->dirty = 0;
				continue;
			}
			promote(m, e); /* a purge loses dirty data: memory is now older */
		}
		struct full *f = m->fulls[e->full];
		struct copy *c = find_copy(f, colour, 0);
		if (c)
			flush_copy(m, f, c, purge);
		demote(m, e);
	}
}

void am_flush_all(struct am_model *m)
{
	m->st.flush_alls++;
	m->epoch++;
	for (size_t i = 0; i < m->nfulls; i++) {
		struct full *f = m->fulls[i];
		if (!f)
			continue;
		for (int k = 0; k < f->ncopies; k++)
			flush_copy(m, f, &f->copies[k], 0);
		demote(m, &m->tab[f->entry]);
	}
}
