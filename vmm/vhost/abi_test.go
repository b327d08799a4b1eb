package vhost

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"dirtygate/vmm/ioctl"
)

// headerProgram prints each request number and structure size as the C
// headers define them, so the Go encoding is checked against the compiler's
// own view rather than against numbers copied by hand.
const headerProgram = `#include <stdio.h>
#include <stddef.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#define P(x) printf(#x " %lu\n", (unsigned long)(x))
int main(void) {
	P(VHOST_GET_FEATURES); P(VHOST_SET_FEATURES); P(VHOST_SET_OWNER); P(VHOST_RESET_OWNER);
	P(VHOST_SET_MEM_TABLE); P(VHOST_SET_LOG_BASE); P(VHOST_SET_LOG_FD);
	P(VHOST_SET_VRING_NUM); P(VHOST_SET_VRING_ADDR); P(VHOST_SET_VRING_BASE); P(VHOST_GET_VRING_BASE);
	P(VHOST_SET_VRING_KICK); P(VHOST_SET_VRING_CALL); P(VHOST_SET_VRING_ERR); P(VHOST_NET_SET_BACKEND);
	P(VHOST_SET_BACKEND_FEATURES); P(VHOST_GET_BACKEND_FEATURES);
	P(sizeof(struct vhost_msg_v2)); P(offsetof(struct vhost_msg_v2, iotlb));
	P(offsetof(struct vhost_iotlb_msg, perm)); P(offsetof(struct vhost_iotlb_msg, type));
	P(VHOST_BACKEND_F_IOTLB_MSG_V2); P(VHOST_IOTLB_MSG_V2); P(VHOST_IOTLB_UPDATE); P(VHOST_ACCESS_RW);
	P(VIRTIO_F_ACCESS_PLATFORM);
	P(sizeof(struct vhost_memory)); P(sizeof(struct vhost_memory_region));
	P(sizeof(struct vhost_vring_addr)); P(sizeof(struct vhost_vring_state)); P(sizeof(struct vhost_vring_file));
	P(VHOST_F_LOG_ALL); P(VHOST_NET_F_VIRTIO_NET_HDR); P(VHOST_VRING_F_LOG); P(VHOST_PAGE_SIZE);
	return 0;
}
`

func cValues(t *testing.T, cc string) map[string]uint64 {
	t.Helper()
	if _, err := exec.LookPath(cc); err != nil {
		t.Fatalf("%s not found: the ABI check needs it (apt-get install gcc linux-libc-dev)", cc)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "abi.c")
	bin := filepath.Join(dir, "abi")
	if err := os.WriteFile(src, []byte(headerProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("compiling the header probe: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("running the header probe: %v", err)
	}
	vals := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		v, err := strconv.ParseUint(f[len(f)-1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		vals[strings.Join(f[:len(f)-1], " ")] = v
	}
	return vals
}

func TestRequestsMatchHostHeaders(t *testing.T) {
	c := cValues(t, "gcc")
	r := RequestsFor(ioctl.ForGOARCH(runtime.GOARCH))
	for name, got := range map[string]uint32{
		"VHOST_GET_FEATURES": r.GetFeatures, "VHOST_SET_FEATURES": r.SetFeatures,
		"VHOST_SET_OWNER": r.SetOwner, "VHOST_RESET_OWNER": r.ResetOwner,
		"VHOST_SET_MEM_TABLE": r.SetMemTable, "VHOST_SET_LOG_BASE": r.SetLogBase,
		"VHOST_SET_LOG_FD": r.SetLogFD, "VHOST_SET_VRING_NUM": r.SetVringNum,
		"VHOST_SET_VRING_ADDR": r.SetVringAddr, "VHOST_SET_VRING_BASE": r.SetVringBase,
		"VHOST_GET_VRING_BASE": r.GetVringBase, "VHOST_SET_VRING_KICK": r.SetVringKick,
		"VHOST_SET_VRING_CALL": r.SetVringCall, "VHOST_SET_VRING_ERR": r.SetVringErr,
		"VHOST_NET_SET_BACKEND":      r.NetSetBackend,
		"VHOST_SET_BACKEND_FEATURES": r.SetBackendFeatures, "VHOST_GET_BACKEND_FEATURES": r.GetBackendFeatures,
	} {
		want, ok := c[name]
		if !ok {
			t.Fatalf("%s not printed by the probe", name)
		}
		if uint64(got) != want {
			t.Errorf("%s = %#x, C headers say %#x", name, got, want)
		}
	}
	for name, want := range map[string]uint64{
		"sizeof(struct vhost_memory)":            sizeMemoryHdr,
		"sizeof(struct vhost_memory_region)":     sizeMemRegion,
		"sizeof(struct vhost_vring_addr)":        sizeVringAddr,
		"sizeof(struct vhost_vring_state)":       sizeVringState,
		"sizeof(struct vhost_vring_file)":        sizeVringFile,
		"VHOST_F_LOG_ALL":                        FeatureLogAll,
		"VHOST_NET_F_VIRTIO_NET_HDR":             FeatureNetVirtioHdr,
		"VHOST_VRING_F_LOG":                      VringFLog,
		"VHOST_PAGE_SIZE":                        PageSize,
		"sizeof(struct vhost_msg_v2)":            sizeMsgV2,
		"offsetof(struct vhost_msg_v2, iotlb)":   8,
		"offsetof(struct vhost_iotlb_msg, perm)": 24,
		"offsetof(struct vhost_iotlb_msg, type)": 25,
		"VHOST_BACKEND_F_IOTLB_MSG_V2":           BackendIOTLBMsgV2,
		"VHOST_IOTLB_MSG_V2":                     IOTLBMsgV2,
		"VHOST_IOTLB_UPDATE":                     IOTLBUpdate,
		"VHOST_ACCESS_RW":                        AccessRW,
		"VIRTIO_F_ACCESS_PLATFORM":               FeatureAccessPlatform,
	} {
		if c[name] != want {
			t.Errorf("%s = %d, C headers say %d", name, want, c[name])
		}
	}
}

// Known values from the kernel's own headers on other architectures, as
// printed by each arch's cross gcc from its kernel headers: _IO(0xAF, 1) differs.
func TestEncodingsKnownValues(t *testing.T) {
	for _, tc := range []struct {
		enc  ioctl.Encoding
		req  uint32
		want uint32
	}{
		{ioctl.Generic, RequestsFor(ioctl.Generic).SetOwner, 0xAF01},
		{ioctl.ThreeBit, RequestsFor(ioctl.ThreeBit).SetOwner, 0x2000AF01},
		// _IOW(0xAF, 4, __u64): generic 0x4008af04; 3-bit 0x8008af04; parisc swaps to 0x8008af04.
		{ioctl.Generic, RequestsFor(ioctl.Generic).SetLogBase, 0x4008AF04},
		{ioctl.ThreeBit, RequestsFor(ioctl.ThreeBit).SetLogBase, 0x8008AF04},
		{ioctl.Parisc, RequestsFor(ioctl.Parisc).SetLogBase, 0x8008AF04},
		{ioctl.Parisc, RequestsFor(ioctl.Parisc).GetFeatures, 0x4008AF00},
	} {
		if tc.req != tc.want {
			t.Errorf("%s: got %#x, want %#x", tc.enc.Name, tc.req, tc.want)
		}
	}
}

func TestLayouts(t *testing.T) {
	b := MemoryTable(binary.BigEndian, []Region{{1, 2, 3}})
	if len(b) != 40 || b[3] != 1 || b[15] != 1 || b[23] != 2 || b[31] != 3 {
		t.Fatalf("memory table layout: % x", b)
	}
	a := VringAddr{Index: 1, Flags: 1, Desc: 2, Used: 3, Avail: 4, LogGuestAddr: 5}.Encode(binary.LittleEndian)
	if a[0] != 1 || a[4] != 1 || a[8] != 2 || a[16] != 3 || a[24] != 4 || a[32] != 5 {
		t.Fatalf("vring addr layout: % x", a)
	}
}
