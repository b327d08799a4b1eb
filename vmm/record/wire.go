package record

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// A frame is one console line:
//
//	DGR1 <seq> <frag>/<nfrags> <type> <crc32> <base64 of the JSON body's part>
//
// The CRC (IEEE, 8 hex digits) covers everything between "DGR1 " and the
// CRC field plus the payload, so a frame torn by a kernel message fails it.
// Bodies longer than maxPayload are cut into fragments. A body of more
// than compressAbove bytes is sent deflated: its type carries the suffix
// "+deflate" (covered by the CRC) and the payload is the base64 of the
// deflated JSON: every byte through an emulated UART costs a TCG exit.
// Scenario records carry their log bitmaps as runs (runs.go; as hex they
// were 3.1 MB of x86_64's console output before deflate, ~55 KB after),
// and their findings and page maps deflate to about half. Small records
// (hello, final) stay plain. Every frame is
// written twice, each in one write() starting on a new line, so a copy torn
// by interleaved kernel output is recovered from the other; a record with
// no intact copy is reported, never guessed.
const (
	magic      = "DGR1 "
	maxPayload = 600 // base64 characters per frame: short lines tear less
	copies     = 2

	deflated      = "+deflate"
	compressAbove = 256
	maxInflated   = 64 << 20 // a record's largest body: refuse a frame that claims more
)

// DoneLine starts the console line the agent prints after its last
// record, as it reboots (guest/cmd/agent): from then on the host gives the
// VM a short grace to end, not the whole run's timeout.
const DoneLine = "dirtygate: agent done, exit "

// Writer sends records; it is not safe for concurrent use.
type Writer struct {
	w            io.Writer
	seq          int
	omitEvidence bool
}

// OmitEvidenceEnv, set in a program's environment, asks its agent to send
// scenario records without their evidence (OmitEvidence): the compat
// scenario's 32-bit agent, whose reader keeps the verdicts and findings
// only. Its evidence was most of what it sent, and checking and decoding
// that JSON most of what compat spent outside the 32-bit agent's run
// (x86_64: 200-240 ms -> 20-40 ms; compat 1.2-1.4 s -> 0.85-1.0 s).
const OmitEvidenceEnv = "DIRTYGATE_OMIT_EVIDENCE"

// OmitEvidence makes w send Scenario records without their Evidence.
func (w *Writer) OmitEvidence() { w.omitEvidence = true }

// NewWriter returns a Writer on w (the console).
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Count is how many records were sent.
func (w *Writer) Count() int { return w.seq }

// Send encodes body as the next record of type typ.
func (w *Writer) Send(typ string, body any) error {
	if s, ok := body.(Scenario); ok {
		if w.omitEvidence {
			s.Evidence = nil
		}
		body = s.wire()
	}
	frames, err := Encode(w.seq, typ, body)
	if err != nil {
		return err
	}
	w.seq++
	for _, f := range frames {
		for i := 0; i < copies; i++ {
			if _, err := w.w.Write(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// deflaters keeps flate writers for reuse: a new one allocates ~1.2 MB of
// tables, and most scenario records are deflated (natively 1.5 ms -> 0.1
// ms a record; x86_64's agent, its bitmaps then hex, sent its 31 records
// in ~0.37-0.41 s instead of ~0.43-0.49 s under TCG).
var deflaters = sync.Pool{New: func() any {
	zw, _ := flate.NewWriter(nil, flate.BestSpeed)
	return zw
}}

// Encode returns the frames of one record, each "\n"-prefixed and terminated.
func Encode(seq int, typ string, body any) ([][]byte, error) {
	if typ == "" || strings.ContainsAny(typ, " \r\n") {
		return nil, fmt.Errorf("bad record type %q", typ)
	}
	j, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	if len(j) > compressAbove {
		var z bytes.Buffer
		zw := deflaters.Get().(*flate.Writer)
		zw.Reset(&z)
		zw.Write(j)
		err := zw.Close()
		deflaters.Put(zw)
		if err != nil {
			return nil, err
		}
		j, typ = z.Bytes(), typ+deflated
	}
	payload := base64.StdEncoding.EncodeToString(j)
	n := (len(payload) + maxPayload - 1) / maxPayload
	if n == 0 {
		n = 1
	}
	var out [][]byte
	for i := 0; i < n; i++ {
		part := payload[i*maxPayload : min(len(payload), (i+1)*maxPayload)]
		head := fmt.Sprintf("%d %d/%d %s", seq, i, n, typ)
		sum := crc32.ChecksumIEEE([]byte(head + " " + part))
		out = append(out, []byte(fmt.Sprintf("\n%s%s %08x %s\n", magic, head, sum, part)))
	}
	return out, nil
}

// Record is one reassembled, verified record.
type Record struct {
	Seq  int
	Type string
	Body json.RawMessage
}

// Into decodes the record's body.
func (r Record) Into(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("record %d (%s): %w", r.Seq, r.Type, err)
	}
	return nil
}

// Stream is what Parse found.
type Stream struct {
	Records []Record
	Final   *Final
	// Problems are torn frames that were recovered from their other copy:
	// worth knowing, not fatal.
	Problems []string
}

type frame struct {
	seq, frag, n int
	typ, part    string
}

// parseFrame verifies one candidate line starting at the magic.
func parseFrame(s string) (frame, bool) {
	f := strings.Fields(strings.TrimPrefix(s, magic))
	if len(f) != 5 {
		return frame{}, false
	}
	seq, err1 := strconv.Atoi(f[0])
	fs, ns, ok := strings.Cut(f[1], "/")
	frag, err2 := strconv.Atoi(fs)
	n, err3 := strconv.Atoi(ns)
	sum, err4 := strconv.ParseUint(f[3], 16, 32)
	if !ok || err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(f[3]) != 8 ||
		seq < 0 || n < 1 || frag < 0 || frag >= n || n > 1<<16 {
		return frame{}, false
	}
	head := f[0] + " " + f[1] + " " + f[2]
	if crc32.ChecksumIEEE([]byte(head+" "+f[4])) != uint32(sum) {
		return frame{}, false
	}
	// The CRC covers the canonical text: a line that differs from it
	// (extra spaces, non-canonical numbers) is not ours.
	if strconv.Itoa(seq) != f[0] || fmt.Sprintf("%d/%d", frag, n) != f[1] {
		return frame{}, false
	}
	return frame{seq: seq, frag: frag, n: n, typ: f[2], part: f[4]}, true
}

// Parse extracts the records from a console log. It returns an error when
// the stream cannot be trusted: a lost record or fragment, two intact
// copies that disagree, no final record, a final record whose count does
// not match, or records after it.
func Parse(console []byte) (*Stream, error) {
	st := &Stream{}
	got, torn, err := scanFrames(console)
	if err != nil {
		return st, err
	}
	bySeq := map[int][]frame{}
	maxSeq := -1
	for k, f := range got {
		bySeq[k.seq] = append(bySeq[k.seq], f)
		maxSeq = max(maxSeq, k.seq)
	}
	for seq := 0; seq <= maxSeq; seq++ {
		rec, err := assemble(seq, bySeq[seq], torn[seq])
		if err != nil {
			return st, err
		}
		st.Records = append(st.Records, rec)
	}
	for seq, n := range torn {
		if seq >= 0 && seq <= maxSeq {
			st.Problems = append(st.Problems, fmt.Sprintf("record %d: %d torn cop(ies) on the console, recovered from an intact one", seq, n))
		} else if seq < 0 || seq > maxSeq {
			st.Problems = append(st.Problems, fmt.Sprintf("%d torn frame(s) with no intact copy of their record", n))
		}
	}
	sort.Strings(st.Problems)
	if err := st.final(); err != nil {
		return st, err
	}
	if st.Final == nil {
		if torn[maxSeq+1] > 0 {
			return st, fmt.Errorf("no final record: record %d is torn in every copy", maxSeq+1)
		}
		return st, fmt.Errorf("no final record after %d record(s): the agent did not finish", len(st.Records))
	}
	return st, nil
}

// frameKey names one fragment of one record.
type frameKey struct{ seq, frag int }

// scanFrames finds every intact frame on the console (one of each,
// checking duplicates agree) and counts the torn copies per sequence
// number (-1: unreadable).
func scanFrames(console []byte) (map[frameKey]frame, map[int]int, error) {
	got := map[frameKey]frame{}
	torn := map[int]int{}
	for _, line := range bytes.Split(console, []byte("\n")) {
		s := strings.TrimRight(string(line), "\r")
		i := strings.Index(s, magic)
		if i < 0 {
			continue
		}
		s = s[i:]
		f, ok := parseFrame(s)
		if !ok {
			seq := -1
			if fs := strings.Fields(s); len(fs) > 1 {
				if n, err := strconv.Atoi(fs[1]); err == nil {
					seq = n
				}
			}
			torn[seq]++
			continue
		}
		k := frameKey{f.seq, f.frag}
		if prev, dup := got[k]; dup {
			if prev != f {
				return nil, nil, fmt.Errorf("record %d fragment %d: two intact copies disagree", f.seq, f.frag)
			}
			continue
		}
		got[k] = f
	}
	return got, torn, nil
}

// assemble joins record seq's fragments and decodes its payload.
func assemble(seq int, fs []frame, torn int) (Record, error) {
	if len(fs) == 0 {
		return Record{}, fmt.Errorf("record %d lost: no intact copy (%d torn copies seen)", seq, torn)
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].frag < fs[j].frag })
	n, typ := fs[0].n, fs[0].typ
	var payload strings.Builder
	for i, f := range fs {
		if f.n != n || f.typ != typ {
			return Record{}, fmt.Errorf("record %d: fragments disagree on count or type", seq)
		}
		if f.frag != i {
			return Record{}, fmt.Errorf("record %d (%s): fragment %d of %d lost", seq, typ, i, n)
		}
		payload.WriteString(f.part)
	}
	if len(fs) != n {
		return Record{}, fmt.Errorf("record %d (%s): fragment %d of %d lost", seq, typ, len(fs), n)
	}
	body, err := base64.StdEncoding.DecodeString(payload.String())
	if err == nil && strings.HasSuffix(typ, deflated) {
		typ = strings.TrimSuffix(typ, deflated)
		body, err = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(body)), maxInflated+1))
		if err == nil && len(body) > maxInflated {
			err = fmt.Errorf("more than %d bytes", maxInflated)
		}
	}
	if err != nil || !json.Valid(body) {
		return Record{}, fmt.Errorf("record %d (%s): payload does not decode", seq, typ)
	}
	return Record{Seq: seq, Type: typ, Body: body}, nil
}

// final finds the final record: last, counting the records before it.
func (st *Stream) final() error {
	for i, r := range st.Records {
		if r.Type != TypeFinal {
			continue
		}
		var f Final
		if err := r.Into(&f); err != nil {
			return err
		}
		if i != len(st.Records)-1 {
			return fmt.Errorf("%d record(s) after the final record", len(st.Records)-1-i)
		}
		if f.Records != i {
			return fmt.Errorf("final record counts %d records, %d arrived before it", f.Records, i)
		}
		st.Final = &f
	}
	return nil
}
