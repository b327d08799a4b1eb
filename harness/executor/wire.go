// Package executor drives the C executor (executor.c) that runs as /init in
// guests Go cannot target, and on real hardware reached over a serial line
// or ssh. Client implements machine.Machine by sending one request per call
// and waiting for its response; the scenarios run unchanged on the host.
//
// The wire is one frame per line, hex or base64 inside, so a tty cannot
// alter it and kernel messages interleaved on the same console cannot pass
// for one: host to executor '>' HEX '\n' (or, from protocol 5, '#' BASE64
// '\n'), executor to host "%&" BASE64 '$' (from protocol 8; "%%" HEX '$'
// before, still read for executors built earlier). Frames carry
// a sequence number and a CRC-32. A torn response (bad hex, bad CRC, wrong
// length) is reported and the request is resent with the same sequence
// number, which the executor answers from its cache without running the
// call again; a duplicated response is dropped; a lost one times out and is
// resent, and after a few tries the call fails: nothing damaged is ever
// read as a result.
//
// Runs on the host.
package executor

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/pierrec/lz4/v4"
)

// Ops, in executor.c's order.
const (
	OpHello = iota + 1
	OpOpen
	OpClose
	OpIoctl
	OpMmap
	OpMprotect
	OpMunmap
	OpReadMem
	OpWriteMem
	OpEventfd
	OpRead
	OpWrite
	OpSocket
	OpBindPacket
	OpPoll
	OpReboot
	OpSwapWords
	OpOrWord
	OpFork
	OpChildView
	OpBatch
	OpVhostWorkers
	OpSetAffinity
	OpRelease
	OpSettle
)

// MaxData is the largest data part of a frame either way (protocol 11;
// maxDataBefore before it): what the host accepts. What it sends a given
// executor is Client.dataMax.
const MaxData, maxDataBefore = 32768, 16384

var be = binary.BigEndian

// Request is one call.
type Request struct {
	Seq  uint32
	Op   byte
	Args []uint64
	Data []byte
}

// Encode renders the request as a plain line for the executor.
func (q Request) Encode() []byte { return requestLine(q.frame(), false) }

// packedLine renders frame b as a packed line (protocol 3) when packing
// makes it shorter, else as a plain one. The console carries the host's
// bytes into a TCG guest at tens of microseconds each (measured on hppa:
// a 900-byte frame's write() took 44 ms, an ioctl 6 ms), and the VMM's
// frames and ring images repeat themselves.
//
// A packed frame is 'Z' rawlen:u32 block crc32:u32: block is the whole
// 'Q' frame, its own CRC included, in LZ4's block format; the outer CRC
// covers what travelled, so a torn frame is dropped before it is unpacked,
// and the unpacked frame is checked again as any other.
func packedLine(b []byte, z *lz4.CompressorHC, b64 bool) []byte {
	if len(b) < packMin {
		return requestLine(b, b64)
	}
	out := make([]byte, 5, 5+lz4.CompressBlockBound(len(b))+4)
	out[0] = 'Z'
	be.PutUint32(out[1:], uint32(len(b)))
	n, err := z.CompressBlock(b, out[5:cap(out)])
	if err != nil || n == 0 || 5+n+4 >= len(b) {
		return requestLine(b, b64) // incompressible
	}
	out = out[:5+n]
	out = be.AppendUint32(out, crc32.ChecksumIEEE(out))
	return requestLine(out, b64)
}

// packMin is the shortest frame worth packing.
const packMin = 64

// frame is the request's 'Q' frame with its CRC.
func (q Request) frame() []byte {
	b := []byte{'Q', 0, 0, 0, 0, q.Op, byte(len(q.Args))}
	be.PutUint32(b[1:], q.Seq)
	for _, a := range q.Args {
		b = be.AppendUint64(b, a)
	}
	b = be.AppendUint32(b, uint32(len(q.Data)))
	b = append(b, q.Data...)
	return be.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// requestLine is frame b as the line the executor reads: hex, or with
// b64 (protocol 5) base64 without padding. Every character the host sends
// costs a TCG guest its share of a receive interrupt (m68k ~50 us; on
// hppa the fixed cost of a round trip dominates), and base64 sends 4
// characters for 3 bytes where hex sends 6. Its alphabet has no '>', '#', '%' or '$', and nothing a raw
// tty changes.
func requestLine(b []byte, b64 bool) []byte {
	if b64 {
		line := make([]byte, 0, 2+base64.RawStdEncoding.EncodedLen(len(b)))
		line = append(line, '#')
		line = base64.RawStdEncoding.AppendEncode(line, b)
		return append(line, '\n')
	}
	line := make([]byte, 0, 2+2*len(b))
	line = append(line, '>')
	line = hex.AppendEncode(line, b)
	return append(line, '\n')
}

// A batch (protocol 2) is one request whose data packs several calls; the
// executor runs them in order, each as if it had come alone, and packs
// their results. Calls from the host's concurrent callers travel together:
// one round trip instead of several, and calls such as three devices'
// kicks reach the guest microseconds apart, as from a VMM's threads.

// Call is one call inside a batch. A fenced call that fails (-4095..-1)
// ends the batch: the executor runs none of the calls after it (protocol
// 6; the op byte's top bit).
type Call struct {
	Op    byte
	Args  []uint64
	Data  []byte
	Fence bool
	// Place: the call returns an fd, which the executor moves to the
	// number in its last argument (protocol 7), only inside a batch.
	Place bool
}

// batchHead is a packed call's fixed part: op, nargs, dlen; a packed
// result's: ret, olen.
const batchHead, resultHead = 6, 12

// size is the call's packed length.
func (k Call) size() int { return batchHead + 8*len(k.Args) + len(k.Data) }

// EncodeBatch packs calls as the data of an OpBatch request.
func EncodeBatch(calls []Call) []byte {
	var b []byte
	for _, k := range calls {
		op := k.Op
		if k.Fence {
			op |= fenceBit
		}
		if k.Place {
			op |= placeBit
		}
		b = append(b, op, byte(len(k.Args)))
		for _, a := range k.Args {
			b = be.AppendUint64(b, a)
		}
		b = be.AppendUint32(b, uint32(len(k.Data)))
		b = append(b, k.Data...)
	}
	return b
}

// fenceBit marks a fenced call's op in a batch, placeBit a placed one's.
const fenceBit, placeBit = 0x80, 0x40

// DecodeBatch unpacks an OpBatch response into one response per call the
// executor ran: all of them, or fewer where a fenced call failed (the
// caller checks that it did).
func DecodeBatch(r Response, calls int) ([]Response, error) {
	if r.Ret < 1 || r.Ret > int64(calls) {
		return nil, fmt.Errorf("batch of %d calls: the executor ran %d", calls, r.Ret)
	}
	ran := int(r.Ret)
	out := make([]Response, 0, ran)
	b := r.Data
	for i := 0; i < ran; i++ {
		if len(b) < resultHead {
			return nil, fmt.Errorf("batch: result %d of %d cut short", i+1, ran)
		}
		n := int(be.Uint32(b[8:]))
		if len(b) < resultHead+n {
			return nil, fmt.Errorf("batch: result %d says %d bytes, %d left", i+1, n, len(b)-resultHead)
		}
		out = append(out, Response{Seq: r.Seq, Ret: int64(be.Uint64(b)), Data: b[resultHead : resultHead+n]})
		b = b[resultHead+n:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("batch: %d bytes after the last result", len(b))
	}
	return out, nil
}

// Response is the executor's answer to the request with the same Seq; Seq
// 0 is the executor's unsolicited "ready".
type Response struct {
	Seq  uint32
	Ret  int64
	Data []byte
	// Packed: it came packed, as an 'L' frame (protocol 8: an LZ4 block)
	// or a 'P' frame (protocols 4 to 7: zero runs).
	Packed bool
	// Wire is the characters its frame took on the console (Scanner).
	Wire int
}

// Encode renders the response as an executor of protocols 1 to 7 did, in
// hex (for tests and fakes).
func (r Response) Encode() []byte {
	out := append([]byte("\r\n%%"), hex.EncodeToString(r.frame())...)
	return append(out, "$\r\n"...)
}

// Encode64 renders the response as the executor does from protocol 8, in
// base64 (unpacked; for tests and fakes).
func (r Response) Encode64() []byte {
	out := append([]byte("\r\n%&"), base64.RawStdEncoding.EncodeToString(r.frame())...)
	return append(out, "$\r\n"...)
}

// frame is the response's 'R' frame.
func (r Response) frame() []byte {
	b := []byte{'R'}
	b = be.AppendUint32(b, r.Seq)
	b = be.AppendUint64(b, uint64(r.Ret))
	b = be.AppendUint32(b, uint32(len(r.Data)))
	b = append(b, r.Data...)
	return be.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// ErrTorn is a frame that arrived damaged.
var ErrTorn = errors.New("torn frame")

// DecodeResponse decodes the hex between "%%" and '$' (protocols 1 to 7).
func DecodeResponse(h []byte) (Response, error) {
	if len(h)%2 != 0 {
		return Response{}, fmt.Errorf("%w: odd hex length %d", ErrTorn, len(h))
	}
	b := make([]byte, len(h)/2)
	if _, err := hex.Decode(b, h); err != nil {
		return Response{}, fmt.Errorf("%w: %v", ErrTorn, err)
	}
	return decodeFrame(b)
}

// DecodeResponse64 decodes the base64 between "%&" and '$' (protocol 8).
func DecodeResponse64(t []byte) (Response, error) {
	// Go's decoder skips CR and LF, and Strict alone would still let a
	// frame with them inside pass for the one without: a frame has one
	// spelling (the fuzzer found this one).
	if i := bytes.IndexAny(t, "\r\n"); i >= 0 {
		return Response{}, fmt.Errorf("%w: a line break %d characters into a base64 frame", ErrTorn, i)
	}
	b := make([]byte, base64.RawStdEncoding.DecodedLen(len(t)))
	// Strict: a last character with stray low bits is not a second
	// spelling of the same frame.
	n, err := base64.RawStdEncoding.Strict().Decode(b, t)
	if err != nil {
		return Response{}, fmt.Errorf("%w: %v", ErrTorn, err)
	}
	return decodeFrame(b[:n])
}

// decodeFrame checks a response frame and unpacks its data.
func decodeFrame(b []byte) (Response, error) {
	head := 1 + 4 + 8 + 4
	packed := len(b) > 0 && (b[0] == 'P' || b[0] == 'L')
	if packed {
		head += 4 // rawlen, then the packed length
	}
	if len(b) < head+4 || b[0] != 'R' && !packed {
		return Response{}, fmt.Errorf("%w: %d bytes, not a response", ErrTorn, len(b))
	}
	n := be.Uint32(b[head-4:])
	if uint64(n) != uint64(len(b)-head-4) {
		return Response{}, fmt.Errorf("%w: data length %d in a %d-byte frame", ErrTorn, n, len(b))
	}
	if got, want := crc32.ChecksumIEEE(b[:len(b)-4]), be.Uint32(b[len(b)-4:]); got != want {
		return Response{}, fmt.Errorf("%w: CRC %08x, frame says %08x", ErrTorn, got, want)
	}
	r := Response{Seq: be.Uint32(b[1:]), Ret: int64(be.Uint64(b[5:])), Data: b[head : head+int(n)]}
	if packed {
		raw := int(be.Uint32(b[13:]))
		unpack := unpackZeroRuns
		if b[0] == 'L' {
			unpack = unpackLZ4
		}
		data, err := unpack(r.Data, raw)
		if err != nil {
			return Response{}, fmt.Errorf("%w: packed data: %v", ErrTorn, err)
		}
		r.Data, r.Packed = data, true
	}
	return r, nil
}

// unpackZeroRuns undoes the executor's zero_runs (protocol 4): tokens of
// lit:u16 zeros:u16 and lit bytes, unpacking to exactly raw bytes, at most
// MaxData plus a batch's heads.
func unpackZeroRuns(p []byte, raw int) ([]byte, error) {
	if raw > 2*MaxData {
		return nil, fmt.Errorf("%d bytes unpacked is more than any response", raw)
	}
	out := make([]byte, 0, raw)
	for len(p) > 0 {
		if len(p) < 4 {
			return nil, fmt.Errorf("a token cut short")
		}
		lit, z := int(be.Uint16(p)), int(be.Uint16(p[2:]))
		p = p[4:]
		if lit > len(p) || len(out)+lit+z > raw {
			return nil, fmt.Errorf("a token past the end (%d literal, %d zeros)", lit, z)
		}
		out = append(out, p[:lit]...)
		out = append(out, make([]byte, z)...)
		p = p[lit:]
	}
	if len(out) != raw {
		return nil, fmt.Errorf("%d bytes unpacked, the frame says %d", len(out), raw)
	}
	return out, nil
}

// unpackLZ4 unpacks an 'L' frame's block (protocol 8) to exactly raw
// bytes, at most MaxData plus a batch's heads.
func unpackLZ4(p []byte, raw int) ([]byte, error) {
	if raw > 2*MaxData {
		return nil, fmt.Errorf("%d bytes unpacked is more than any response", raw)
	}
	out := make([]byte, raw)
	n, err := lz4.UncompressBlock(p, out)
	if err != nil {
		return nil, err
	}
	if n != raw {
		return nil, fmt.Errorf("%d bytes unpacked, the frame says %d", n, raw)
	}
	return out, nil
}

// Scanner finds response frames in a console stream that also carries
// kernel messages. Write it the stream; it calls emit for each frame or
// torn frame it completes.
type Scanner struct {
	emit  func(Response, error)
	state int // 0 text, 1 saw '%', 2 in frame
	b64   bool
	buf   []byte
}

// NewScanner returns a Scanner calling emit.
func NewScanner(emit func(Response, error)) *Scanner { return &Scanner{emit: emit} }

// Write consumes console bytes; it never fails.
func (s *Scanner) Write(p []byte) (int, error) {
	for _, c := range p {
		switch s.state {
		case 0:
			if c == '%' {
				s.state = 1
			}
		case 1:
			switch c {
			case '%', '&':
				s.state, s.b64, s.buf = 2, c == '&', s.buf[:0]
			default:
				s.state = 0
			}
		case 2:
			switch {
			case c == '$':
				s.state = 0
				decode := DecodeResponse
				if s.b64 {
					decode = DecodeResponse64
				}
				r, err := decode(s.buf)
				r.Wire = len(s.buf) + 3 // "%&" and '$'
				s.emit(r, err)
			case c == '%':
				// A new frame starts inside this one: it was cut short.
				s.emit(Response{}, fmt.Errorf("%w: cut short after %d hex digits", ErrTorn, len(s.buf)))
				s.state = 1
			case len(s.buf) > 2*(MaxData+64):
				s.emit(Response{}, fmt.Errorf("%w: no end after %d hex digits", ErrTorn, len(s.buf)))
				s.state = 0
			default:
				s.buf = append(s.buf, c)
			}
		}
	}
	return len(p), nil
}
