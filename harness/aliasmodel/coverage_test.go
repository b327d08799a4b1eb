package aliasmodel

import "testing"

// From hppa-linux-gnu-objdump -d and nm -S of a 6.1 parisc vmlinux built
// without the marker patch: local labels (fdmanyloop) sit inside
// flush_data_cache_local and must be charged to it.
const objdumpExcerpt = `
10143254 <fdmanyloop>:
10143254:	af ff 7f f5 	addib,> -1,r31,10143254 <fdmanyloop>
10143258:	07 40 52 c0 	fdce r0(sr1,r26)
1014325c:	07 59 52 e0 	fdce,m r25(sr1,r26)
10143648 <flush_kernel_dcache_page_asm>:
10143648:	20 20 a2 08 	ldil L%10481000,r1
10143660:	07 57 12 a0 	fdc,m r23(r26)
1014369c:	8b 59 bf 7d 	cmpb,>> r25,r26,10143660 <flush_kernel_dcache_page_asm+0x18>
101436a0:	07 57 12 a0 	fdc,m r23(r26)
10150000 <__dg_purge_dcache_page_asm>:
10150010:	07 57 13 a0 	pdc,m r23(r26)
10160000 <somewhere_else>:
10160004:	07 57 12 80 	fdc r0(r26)
10160008:	07 57 12 80 	fic r0(sr4,r26)
`

const nmExcerpt = `1014322c 000000a0 T flush_data_cache_local
10143254 t fdmanyloop
10143648 00000068 T flush_kernel_dcache_page_asm
10150000 00000074 T __dg_purge_dcache_page_asm
10160000 00000010 t somewhere_else
`

func TestUncovered(t *testing.T) {
	unc, cov := Uncovered([]byte(objdumpExcerpt), ParseNM([]byte(nmExcerpt)))
	want := map[string]int{"flush_data_cache_local": 2, "flush_kernel_dcache_page_asm": 2, "somewhere_else": 1}
	if len(unc) != len(want) {
		t.Fatalf("uncovered %v, want %v", unc, want)
	}
	for k, v := range want {
		if unc[k] != v {
			t.Errorf("uncovered %v, want %v", unc, want)
		}
	}
	if cov != 1 {
		t.Errorf("covered %d, want 1 (the __dg_ primitive's pdc)", cov)
	}
}
