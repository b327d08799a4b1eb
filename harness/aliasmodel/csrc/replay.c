/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Replays a recorded access trace through dirtygate's cache model
 * (model.c), so the model is tested without QEMU: harness/aliasmodel's Go
 * tests build this with the host's gcc and check the stale reads it prints.
 *
 * Input, one per line (numbers in C syntax; # starts a comment):
 *   cfg LINE ALIAS            line size and alias boundary (before any access)
 *   r VCPU PC VA PA SIZE      a load
 *   w VCPU PC VA PA SIZE      a store
 *   f VA PA LEN               flush the copies in VA's colour of [PA, PA+LEN)
 *   p VA PA LEN               purge them
 *   F                         flush the whole cache
 * Output: the plugin's own "stale" lines (plugin.c prints the same format),
 * then one "stats" line.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "report.h"

int main(void)
{
	struct am_config cfg = {32, 0x400000};
	struct am_model *m = NULL;
	char buf[512];
	unsigned long lineno = 0;
	while (fgets(buf, sizeof(buf), stdin)) {
		lineno++;
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = 0;
		char op[8];
		unsigned long long a[5] = {0};
		int n = sscanf(buf, "%7s %lli %lli %lli %lli %lli", op, &a[0], &a[1], &a[2], &a[3], &a[4]);
		if (n <= 0)
			continue;
		if (!strcmp(op, "cfg")) {
			if (m || n != 3) {
				fprintf(stderr, "line %lu: cfg LINE ALIAS, before any access\n", lineno);
				return 2;
			}
			cfg.line = a[0];
			cfg.alias = a[1];
			continue;
		}
		if (!m && !(m = am_new(&cfg))) {
			fprintf(stderr, "bad cfg line=%u alias=%u\n", cfg.line, cfg.alias);
			return 2;
		}
		if ((!strcmp(op, "r") || !strcmp(op, "w")) && n == 6) {
			struct am_who who = {a[1], a[2], (uint32_t)a[0]};
			am_access(m, &who, a[3], a[4], op[0] == 'w', dg_report_stale, stdout);
		} else if ((!strcmp(op, "f") || !strcmp(op, "p")) && n == 4) {
			am_flush(m, a[0], a[1], a[2], op[0] == 'p');
		} else if (!strcmp(op, "F") && n == 1) {
			am_flush_all(m);
		} else {
			fprintf(stderr, "line %lu: cannot parse: %s", lineno, buf);
			return 2;
		}
	}
	if (!m && !(m = am_new(&cfg)))
		return 2;
	dg_report_stats(stdout, am_stats(m));
	am_free(m);
	return 0;
}
