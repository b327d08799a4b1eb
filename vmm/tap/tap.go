// Package tap creates a tap device for vhost-net's backend and sends frames
// out of it with an AF_PACKET socket: what leaves the tap interface arrives
// on the tap fd, where vhost reads it and writes it into RX buffers.
//
// Runs on both sides, through machine: in the agent, and on the host driving the executor.
package tap

import (
	"fmt"

	"dirtygate/vmm/machine"
)

// Constants of linux/if_tun.h, linux/if.h and linux/sockios.h: the same
// on every architecture (the _IOW numbers are encoded per arch below).
const (
	iffUp       = 0x1
	iffTap      = 0x2
	iffNoPI     = 0x1000
	iffVnetHdr  = 0x4000
	siocGIFFlag = 0x8913
	siocSIFFlag = 0x8914
	siocSIFMTU  = 0x8922
	ifNameSize  = 16
)

// Tap is a tap device opened with IFF_VNET_HDR: the tap supplies the
// virtio-net header, so VHOST_NET_F_VIRTIO_NET_HDR must not be acked.
type Tap struct {
	Name    string
	m       machine.Machine
	fd      int
	pkt     int
	ifindex int
}

// ifreq is struct ifreq: the name, then a union at offset 16 whose size
// follows the word size (struct ifmap holds two unsigned longs).
type ifreq struct {
	b   []byte
	abi machine.ABI
}

func newIfreq(abi machine.ABI, name string) ifreq {
	size := 32
	if abi.WordBits == 64 {
		size = 40
	}
	r := ifreq{b: make([]byte, size), abi: abi}
	copy(r.b[:ifNameSize-1], name)
	return r
}

func (r ifreq) u16() uint16     { return r.abi.ByteOrder.Uint16(r.b[ifNameSize:]) }
func (r ifreq) setU16(v uint16) { r.abi.ByteOrder.PutUint16(r.b[ifNameSize:], v) }
func (r ifreq) setU32(v uint32) { r.abi.ByteOrder.PutUint32(r.b[ifNameSize:], v) }

// Open creates tap name, interface index ifindex (TUNSETIFINDEX: chosen
// by the caller, so nothing waits to ask for it), with a vnet header of
// hdrLen bytes (10, or 12 with MRG_RXBUF or VERSION_1; a mismatch
// silently drops every frame), sets its MTU and brings it up. An index
// already taken fails TUNSETIFF (EBUSY).
func Open(m machine.Machine, name string, ifindex, hdrLen, mtu int) (*Tap, error) {
	if len(name) >= ifNameSize {
		return nil, fmt.Errorf("tap name %q is longer than %d bytes", name, ifNameSize-1)
	}
	fd, err := machine.Later(m, "open /dev/net/tun").Open("/dev/net/tun")
	if err != nil {
		return nil, err
	}
	t := &Tap{Name: name, m: m, fd: fd, pkt: -1, ifindex: ifindex}
	abi := m.ABI()
	const tunMagic = 'T'
	idx := make([]byte, 4)
	abi.ByteOrder.PutUint32(idx, uint32(ifindex))
	if err := machine.Later(m, "TUNSETIFINDEX").Ioctl(fd, abi.Ioctl.IOW(tunMagic, 218, 4), idx); err != nil { // TUNSETIFINDEX
		t.Close()
		return nil, fmt.Errorf("TUNSETIFINDEX %d: %w", ifindex, err)
	}
	ifr := newIfreq(abi, name)
	ifr.setU16(iffTap | iffNoPI | iffVnetHdr)
	// The calls that answer only success travel with the next that waits
	// where the machine defers them (machine.Later): TUNSETIFF's name
	// written back is the one asked for.
	if err := machine.Later(m, "TUNSETIFF "+name).Ioctl(fd, abi.Ioctl.IOW(tunMagic, 202, 4), ifr.b); err != nil { // TUNSETIFF
		t.Close()
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	h := make([]byte, 4)
	abi.ByteOrder.PutUint32(h, uint32(hdrLen))
	if err := machine.Later(m, "TUNSETVNETHDRSZ").Ioctl(fd, abi.Ioctl.IOW(tunMagic, 216, 4), h); err != nil { // TUNSETVNETHDRSZ
		t.Close()
		return nil, fmt.Errorf("TUNSETVNETHDRSZ %d: %w", hdrLen, err)
	}
	if err := t.link(mtu); err != nil {
		t.Close()
		return nil, err
	}
	if t.pkt, err = machine.Later(m, "AF_PACKET socket").Socket(machine.PacketRaw); err != nil {
		t.Close()
		return nil, fmt.Errorf("AF_PACKET socket: %w", err)
	}
	if err := machine.Later(m, "bind AF_PACKET").BindPacket(t.pkt, t.ifindex); err != nil {
		t.Close()
		return nil, fmt.Errorf("bind AF_PACKET to %s: %w", name, err)
	}
	return t, nil
}

// link sets the MTU and IFF_UP through an inet socket.
// The kernel has no IPv6, so no autoconfiguration frame takes RX buffers.
func (t *Tap) link(mtu int) error {
	m, abi := t.m, t.m.ABI()
	s, err := machine.Later(m, "inet socket").Socket(machine.InetDgram)
	if err != nil {
		return fmt.Errorf("inet socket: %w", err)
	}
	defer machine.Later(m, "close inet socket").Close(s)
	if mtu > 0 {
		ifr := newIfreq(abi, t.Name)
		ifr.setU32(uint32(mtu))
		if err := machine.Later(m, "SIOCSIFMTU").Ioctl(s, siocSIFMTU, ifr.b); err != nil {
			return fmt.Errorf("set MTU %d on %s: %w", mtu, t.Name, err)
		}
	}
	ifr := newIfreq(abi, t.Name)
	if err := m.Ioctl(s, siocGIFFlag, ifr.b); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS %s: %w", t.Name, err)
	}
	ifr.setU16(ifr.u16() | iffUp)
	if err := machine.Later(m, "SIOCSIFFLAGS").Ioctl(s, siocSIFFlag, ifr.b); err != nil {
		return fmt.Errorf("bring %s up: %w", t.Name, err)
	}
	return nil
}

// Fd is the tap fd to hand to VHOST_NET_SET_BACKEND.
func (t *Tap) Fd() int { return t.fd }

// Send transmits one Ethernet frame out of the tap interface.
func (t *Tap) Send(frame []byte) error {
	n, err := t.m.Write(t.pkt, frame)
	if err != nil {
		return fmt.Errorf("send %d-byte frame on %s: %w", len(frame), t.Name, err)
	}
	if n != len(frame) {
		return fmt.Errorf("short send on %s: %d of %d bytes", t.Name, n, len(frame))
	}
	return nil
}

// Close releases the socket and the tap; the device goes away with the fd.
// Fds are the descriptors Close closes, in its order: the AF_PACKET
// socket (when open), then the tap.
func (t *Tap) Fds() []int {
	if t.pkt >= 0 {
		return []int{t.pkt, t.fd}
	}
	return []int{t.fd}
}

// Close closes the socket and the tap, which unregisters the interface.
func (t *Tap) Close() error {
	var err error
	for _, fd := range t.Fds() {
		err = t.m.Close(fd)
	}
	return err
}

// Frame builds an Ethernet frame of n bytes (n >= 14) with a recognizable
// payload: seq in the first payload bytes, then a pattern, the same in
// every frame, that repeats every 16 bytes. What vhost copies is
// arbitrary to the log, and over the executor's console a frame is all
// request characters: a short period packs one frame to a few dozen
// bytes, and a pattern the frames share packs a batch of them to little
// more than their sequence numbers (hppa's whole set: 151 KB -> 122 KB
// of requests; harness/executor's packed requests).
func Frame(n int, seq uint32) []byte {
	f := make([]byte, n)
	copy(f[0:6], []byte{0x02, 0xdd, 0x67, 0x00, 0x00, 0x01}) // dst: locally administered
	copy(f[6:12], []byte{0x02, 0xdd, 0x67, 0x00, 0x00, 0x02})
	f[12], f[13] = 0x88, 0xb5 // local experimental ethertype
	for i := 14; i < n; i++ {
		f[i] = byte(i % 16)
	}
	if n >= 18 {
		f[14], f[15], f[16], f[17] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	}
	return f
}
