//go:build linux

// Package tap creates a tap device for vhost-net's backend and sends frames
// out of it with an AF_PACKET socket: what leaves the tap interface arrives
// on the tap fd, where vhost reads it and writes it into RX buffers.
package tap

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Tap is a tap device opened with IFF_VNET_HDR: the tap supplies the
// virtio-net header, so VHOST_NET_F_VIRTIO_NET_HDR must not be acked.
type Tap struct {
	Name    string
	fd      int
	pkt     int
	ifindex int
}

// Open creates tap name with a vnet header of hdrLen bytes (10, or 12 with
// MRG_RXBUF or VERSION_1; a mismatch silently drops every frame), sets its
// MTU and brings it up.
func Open(name string, hdrLen, mtu int) (*Tap, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	t := &Tap{Name: name, fd: fd, pkt: -1}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		t.Close()
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		t.Close()
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	h := int32(hdrLen)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETVNETHDRSZ, uintptr(unsafe.Pointer(&h))); e != 0 {
		t.Close()
		return nil, fmt.Errorf("TUNSETVNETHDRSZ %d: %w", hdrLen, e)
	}
	// With no IPv6 in the kernel there is no autoconfiguration traffic;
	// where there is, turn it off so stray frames do not take RX buffers.
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0)
	if err := t.link(mtu); err != nil {
		t.Close()
		return nil, err
	}
	if t.pkt, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0); err != nil {
		t.Close()
		return nil, fmt.Errorf("AF_PACKET socket: %w", err)
	}
	if err := unix.Bind(t.pkt, &unix.SockaddrLinklayer{Ifindex: t.ifindex}); err != nil {
		t.Close()
		return nil, fmt.Errorf("bind AF_PACKET to %s: %w", name, err)
	}
	return t, nil
}

// link sets the MTU and IFF_UP through an inet socket, and finds the ifindex.
func (t *Tap) link(mtu int) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("inet socket: %w", err)
	}
	defer unix.Close(s)
	ifr, _ := unix.NewIfreq(t.Name)
	if err := unix.IoctlIfreq(s, unix.SIOCGIFINDEX, ifr); err != nil {
		return fmt.Errorf("SIOCGIFINDEX %s: %w", t.Name, err)
	}
	t.ifindex = int(ifr.Uint32())
	if mtu > 0 {
		ifr, _ = unix.NewIfreq(t.Name)
		ifr.SetUint32(uint32(mtu))
		if err := unix.IoctlIfreq(s, unix.SIOCSIFMTU, ifr); err != nil {
			return fmt.Errorf("set MTU %d on %s: %w", mtu, t.Name, err)
		}
	}
	ifr, _ = unix.NewIfreq(t.Name)
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS %s: %w", t.Name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring %s up: %w", t.Name, err)
	}
	return nil
}

// Fd is the tap fd to hand to VHOST_NET_SET_BACKEND.
func (t *Tap) Fd() int { return t.fd }

// Send transmits one Ethernet frame out of the tap interface.
func (t *Tap) Send(frame []byte) error {
	n, err := unix.Write(t.pkt, frame)
	if err != nil {
		return fmt.Errorf("send %d-byte frame on %s: %w", len(frame), t.Name, err)
	}
	if n != len(frame) {
		return fmt.Errorf("short send on %s: %d of %d bytes", t.Name, n, len(frame))
	}
	return nil
}

// Close releases the socket and the tap; the device goes away with the fd.
func (t *Tap) Close() error {
	if t.pkt >= 0 {
		unix.Close(t.pkt)
	}
	return unix.Close(t.fd)
}

// Frame builds an Ethernet frame of n bytes (n >= 14) with a recognizable
// payload: seq in the first payload bytes, then a pattern.
func Frame(n int, seq uint32) []byte {
	f := make([]byte, n)
	copy(f[0:6], []byte{0x02, 0xdd, 0x67, 0x00, 0x00, 0x01}) // dst: locally administered
	copy(f[6:12], []byte{0x02, 0xdd, 0x67, 0x00, 0x00, 0x02})
	f[12], f[13] = 0x88, 0xb5 // local experimental ethertype
	for i := 14; i < n; i++ {
		f[i] = byte(i) ^ byte(seq)
	}
	if n >= 18 {
		f[14], f[15], f[16], f[17] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	}
	return f
}
