package executor

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

func collect(stream []byte, chunk int) (got []Response, torn []error) {
	s := NewScanner(func(r Response, err error) {
		if err != nil {
			torn = append(torn, err)
			return
		}
		got = append(got, r)
	})
	for len(stream) > 0 {
		n := min(chunk, len(stream))
		s.Write(stream[:n])
		stream = stream[n:]
	}
	return got, torn
}

// Frames in hex (protocols 1 to 7) and base64 (8) are found between
// kernel messages.
func TestScannerAmidKernelText(t *testing.T) {
	a := Response{Seq: 1, Ret: -22, Data: []byte("abc")}.Encode64()
	b := Response{Seq: 2, Ret: 0xf76fc000, Data: bytes.Repeat([]byte{0xa5}, 300)}.Encode()
	var stream []byte
	stream = append(stream, "[    1.234] random: crng init done 100% ok\r\n"...)
	stream = append(stream, a...)
	stream = append(stream, "tun: Universal TUN/TAP device driver, 1.6\r\n"...)
	stream = append(stream, b...)
	for _, chunk := range []int{1, 7, len(stream)} {
		got, torn := collect(stream, chunk)
		if len(torn) != 0 || len(got) != 2 {
			t.Fatalf("chunk %d: got %d frames, torn %v", chunk, len(got), torn)
		}
		if got[0].Seq != 1 || got[0].Ret != -22 || string(got[0].Data) != "abc" {
			t.Errorf("frame 1 = %+v", got[0])
		}
		if got[1].Ret != 0xf76fc000 || len(got[1].Data) != 300 {
			t.Errorf("frame 2 = seq %d ret %#x len %d", got[1].Seq, got[1].Ret, len(got[1].Data))
		}
	}
}

// A kernel message printed in the middle of a frame tears it: the frame
// must be reported torn, never decoded.
func TestScannerTornByPrintk(t *testing.T) {
	f := Response{Seq: 9, Ret: 0, Data: []byte("0123456789")}.Encode()
	mid := len(f) / 2
	stream := append(append(append([]byte{}, f[:mid]...), "\r\nvhost: log write failed\r\n"...), f[mid:]...)
	got, torn := collect(stream, 3)
	if len(got) != 0 || len(torn) != 1 || !errors.Is(torn[0], ErrTorn) {
		t.Fatalf("got %v, torn %v; want one torn frame", got, torn)
	}
}

func TestScannerCutShort(t *testing.T) {
	f := Response{Seq: 3}.Encode()
	g := Response{Seq: 4}.Encode()
	stream := append(append([]byte{}, f[:len(f)-9]...), g...) // f loses its end
	got, torn := collect(stream, 5)
	if len(got) != 1 || got[0].Seq != 4 || len(torn) != 1 {
		t.Fatalf("got %+v, torn %v", got, torn)
	}
}

// Every single-character change of a frame is caught, in hex and base64.
func TestEveryCorruptionDetected(t *testing.T) {
	r := Response{Seq: 77, Ret: 5, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}}
	for _, enc := range []struct {
		frame []byte
		chars string
	}{
		{r.Encode(), "0123456789abcdefx "},
		{r.Encode64(), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= "},
	} {
		f := enc.frame
		start := bytes.IndexByte(f, '%') + 2
		end := bytes.IndexByte(f, '$')
		for i := start; i < end; i++ {
			for _, c := range []byte(enc.chars) {
				if c == f[i] {
					continue
				}
				g := append([]byte{}, f...)
				g[i] = c
				if got, _ := collect(g, len(g)); len(got) != 0 {
					t.Fatalf("changing byte %d of %q to %q still decoded as %+v", i, f, c, got[0])
				}
			}
		}
	}
}

func TestRequestEncoding(t *testing.T) {
	line := Request{Seq: 0x01020304, Op: OpIoctl, Args: []uint64{3, 0x4008af00}, Data: []byte{9}}.Encode()
	want := ">5101020304040200000000000000030000000040" + "08af000000000109"
	if !bytes.HasPrefix(line, []byte(want)) || line[len(line)-1] != '\n' || len(line) != len(want)+8+1 {
		t.Fatalf("encoded %s", line)
	}
}

// From protocol 5 a request line is '#', the frame in base64 without
// padding, '\n': the same bytes as the hex line.
func TestRequestEncodingBase64(t *testing.T) {
	q := Request{Seq: 0x01020304, Op: OpIoctl, Args: []uint64{3, 0x4008af00}, Data: []byte{9}}
	line := requestLine(q.frame(), true)
	if line[0] != '#' || line[len(line)-1] != '\n' || bytes.ContainsAny(line[1:len(line)-1], "=>#%$\r\n") {
		t.Fatalf("encoded %q", line)
	}
	b, err := base64.RawStdEncoding.DecodeString(string(line[1 : len(line)-1]))
	if err != nil || !bytes.Equal(b, q.frame()) || len(line) >= len(q.Encode())*3/4 {
		t.Fatalf("decoded %x, %v; want %x in at most 3/4 of the hex line", b, err, q.frame())
	}
}

// decodedRight checks what a decoder made of in: torn (ErrTorn, nothing
// else), packed data within bounds, or a frame that re-encodes (enc) to
// the very text it came from, between open and '$'.
func decodedRight(t *testing.T, in []byte, r Response, err error, open string, enc func(Response) []byte) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrTorn) {
			t.Fatalf("error %v is not ErrTorn", err)
		}
		return
	}
	if r.Packed { // a packed frame unpacks within bounds
		if len(r.Data) > 2*MaxData {
			t.Fatalf("unpacked %d bytes", len(r.Data))
		}
		return
	}
	// Whatever decodes is canonical: it re-encodes to the same text.
	if e := enc(r); !bytes.Contains(e, append(append([]byte(open), in...), '$')) {
		t.Fatalf("decoded %+v from %q, which re-encodes as %q", r, in, e)
	}
}

// The fuzz seeds are frames that decode, not torn ones.
func TestFuzzSeedsDecode(t *testing.T) {
	for _, k := range []struct {
		in     string
		decode func([]byte) (Response, error)
		packed bool
	}{
		{"52000000010000000000000000000000008a524476", DecodeResponse, false},
		{"500000000100000000000000000000000a000000060002000868691138ef12", DecodeResponse, true},
		{"UgAAAAEAAAAAAAAAAAAAAACKUkR2", DecodeResponse64, false},
		{"TAAAAAEAAAAAAAAAAAAAAGsAAAAaT2hpAAACAEEAAgAAAgCwAAAAAAAAZW5kISFXBcES", DecodeResponse64, true},
	} {
		if r, err := k.decode([]byte(k.in)); err != nil || r.Seq != 1 || r.Packed != k.packed {
			t.Errorf("seed %s: %+v, %v", k.in, r, err)
		}
	}
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte("52000000010000000000000000000000008a524476"))
	f.Add([]byte(Response{Seq: 2, Ret: -1, Data: []byte("x")}.Encode()))
	f.Add([]byte("500000000100000000000000000000000a000000060002000868691138ef12")) // 'P': "hi" and 8 zeros
	f.Fuzz(func(t *testing.T, h []byte) {
		r, err := DecodeResponse(h)
		decodedRight(t, bytes.ToLower(h), r, err, "%%", Response.Encode)
	})
}

func FuzzDecodeResponse64(f *testing.F) {
	f.Add([]byte("UgAAAAEAAAAAAAAAAAAAAACKUkR2"))
	f.Add([]byte("TAAAAAEAAAAAAAAAAAAAAGsAAAAaT2hpAAACAEEAAgAAAgCwAAAAAAAAZW5kISFXBcES")) // 'L': "hi", 100 zeros, "end!!"
	f.Fuzz(func(t *testing.T, s []byte) {
		r, err := DecodeResponse64(s)
		decodedRight(t, s, r, err, "%&", Response.Encode64)
	})
}

// FuzzStream feeds arbitrary damage around one valid frame: the scanner
// may report it torn or intact, never a different frame.
func FuzzStream(f *testing.F) {
	f.Add([]byte("junk%%"), []byte("$more"), uint16(5), byte(1))
	f.Fuzz(func(t *testing.T, pre, post []byte, pos uint16, flip byte) {
		want := Response{Seq: 42, Ret: -14, Data: []byte("dirty")}
		frame := want.Encode()
		if flip != 0 {
			frame[int(pos)%len(frame)] ^= flip
		}
		stream := append(append(append([]byte{}, pre...), frame...), post...)
		got, _ := collect(stream, 1+int(pos)%13)
		for _, r := range got {
			if r.Seq == want.Seq && (r.Ret != want.Ret || string(r.Data) != string(want.Data)) {
				t.Fatalf("a damaged frame decoded as %+v", r)
			}
		}
	})
}
