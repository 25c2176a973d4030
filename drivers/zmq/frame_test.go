package zmq

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// readWire splits encoded messages back into frames.
func readWire(t testing.TB, wire []byte, max int) [][][]byte {
	t.Helper()
	fr := newFrameReader(bufio.NewReader(bytes.NewReader(wire)), max)
	var msgs [][][]byte
	for {
		frames, cmd, err := fr.next()
		if err == io.EOF {
			return msgs
		}
		if err != nil {
			t.Fatalf("reading message %d: %v", len(msgs), err)
		}
		if cmd {
			t.Fatalf("message %d is a command", len(msgs))
		}
		cp := make([][]byte, len(frames))
		for i, f := range frames {
			cp[i] = append([]byte(nil), f...)
		}
		msgs = append(msgs, cp)
	}
}

func TestFrameRoundTrip(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 300) // a LONG ZMTP frame
	var wire []byte
	wire = appendRequest(wire, kindCall, "m1", "application/json", 1500*time.Millisecond, "topic", "srv", []byte(`{"a":1}`))
	wire = appendRequest(wire, kindCast, "", "", 0, strings.Repeat("t", 300), "", long)
	wire = appendRequest(wire, kindFanout, "", "application/msgpack", 0, "topic", "", nil)
	wire = appendReply(wire, "m1", "application/json", long, false)
	wire = appendReject(wire, "m1", rejectClosing)
	wire = appendControl(wire, kindPing)
	wire = appendControl(wire, kindPong)
	wire = appendControl(wire, kindBye)
	msgs := readWire(t, wire, 1<<20)
	if len(msgs) != 8 {
		t.Fatalf("%d messages, want 8", len(msgs))
	}
	var fs []frame
	for i, m := range msgs {
		f, err := decodeFrames(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		fs = append(fs, f)
	}
	call := fs[0]
	if call.kind != kindCall || string(call.msgID) != "m1" || string(call.contentType) != "application/json" ||
		call.expiration != 1500*time.Millisecond || string(call.topic) != "topic" || string(call.server) != "srv" || string(call.body) != `{"a":1}` {
		t.Fatalf("call = %+v", call)
	}
	cast := fs[1]
	if cast.kind != kindCast || len(cast.msgID) != 0 || cast.expiration != 0 || len(cast.topic) != 300 || !bytes.Equal(cast.body, long) {
		t.Fatalf("cast = %+v", cast)
	}
	if f := fs[2]; f.kind != kindFanout || len(f.body) != 0 || string(f.contentType) != "application/msgpack" {
		t.Fatalf("fanout = %+v", f)
	}
	if f := fs[3]; f.kind != kindReply || string(f.msgID) != "m1" || !bytes.Equal(f.body, long) {
		t.Fatalf("reply = %+v", f)
	}
	if f := fs[4]; f.kind != kindReject || string(f.msgID) != "m1" || f.reason != rejectClosing {
		t.Fatalf("reject = %+v", f)
	}
	for i, k := range []kind{kindPing, kindPong, kindBye} {
		if fs[5+i].kind != k {
			t.Fatalf("message %d: kind %v, want %v", 5+i, fs[5+i].kind, k)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	hdr := func(k kind) []byte { return []byte{wireVersion, byte(k)} }
	exp := make([]byte, 8)
	req := func(k kind, id string) [][]byte {
		return [][]byte{hdr(k), []byte(id), nil, exp, []byte("t"), nil, []byte("body")}
	}
	cases := map[string][][]byte{
		"no frames":          nil,
		"short header":       {{wireVersion}},
		"bad version":        {{9, byte(kindPing)}},
		"unknown kind":       {{wireVersion, 99}},
		"ping with payload":  {hdr(kindPing), {1}},
		"call without id":    req(kindCall, ""),
		"cast with id":       req(kindCast, "x"),
		"short request":      req(kindCall, "x")[:6],
		"bad expiration":     {hdr(kindCall), []byte("x"), nil, {1, 2}, []byte("t"), nil, nil},
		"huge expiration":    {hdr(kindCall), []byte("x"), nil, bytes.Repeat([]byte{0xff}, 8), []byte("t"), nil, nil},
		"empty topic":        {hdr(kindCast), nil, nil, exp, nil, nil, nil},
		"long topic":         {hdr(kindCast), nil, nil, exp, bytes.Repeat([]byte("t"), maxNameLen+1), nil, nil},
		"long id":            req(kindCall, strings.Repeat("i", maxIDLen+1)),
		"reply without id":   {hdr(kindReply), nil, nil, nil},
		"reject bad reason":  {hdr(kindReject), []byte("x"), {1, 2}},
		"reply extra frames": {hdr(kindReply), []byte("x"), nil, nil, nil},
	}
	for name, frames := range cases {
		if _, err := decodeFrames(frames); !errors.Is(err, errBadFrame) {
			t.Errorf("%s: err = %v, want errBadFrame", name, err)
		}
	}
}

func TestFrameReaderLimits(t *testing.T) {
	read := func(wire []byte, max int) error {
		_, _, err := newFrameReader(bufio.NewReader(bytes.NewReader(wire)), max).next()
		return err
	}
	big := appendReply(nil, "m", "", make([]byte, 2000), false)
	if err := read(big, 1000); !errors.Is(err, errTooLarge) {
		t.Fatalf("message over the limit: %v", err)
	}
	if err := read(big, 4000); err != nil {
		t.Fatalf("message under the limit: %v", err)
	}
	// A LONG frame announcing 2^63 bytes fails before allocating.
	huge := append([]byte{flagLong}, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	if err := read(huge, 1<<20); !errors.Is(err, errTooLarge) {
		t.Fatalf("huge frame: %v", err)
	}
	if err := read([]byte{0x80, 0}, 100); !errors.Is(err, errBadFrame) {
		t.Fatalf("reserved flag bits: %v", err)
	}
	var many []byte
	for range maxFrames + 1 {
		many = appendZMTPFrame(many, []byte("x"), true)
	}
	many = appendZMTPFrame(many, nil, false)
	if err := read(many, 1<<20); !errors.Is(err, errBadFrame) {
		t.Fatalf("too many frames: %v", err)
	}
	if err := read(big[:len(big)-1], 1<<20); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated message: %v", err)
	}
	cmd := []byte{flagCommand | flagMore, 1, 'x'}
	if err := read(cmd, 100); !errors.Is(err, errBadFrame) {
		t.Fatalf("multipart command: %v", err)
	}
}

func TestParseMetadata(t *testing.T) {
	md := map[string]string{}
	raw := []byte{11}
	raw = append(raw, "socket-type"...)
	raw = append(raw, 0, 0, 0, 6)
	raw = append(raw, "DEALER"...)
	if err := parseMetadata(raw, md); err != nil || md["Socket-Type"] != "DEALER" {
		t.Fatalf("metadata = %v, %v", md, err)
	}
	for _, bad := range [][]byte{{0}, {5, 'a'}, {1, 'a', 0, 0, 0, 9, 'v'}} {
		if err := parseMetadata(bad, map[string]string{}); !errors.Is(err, errBadFrame) {
			t.Errorf("parseMetadata(%v) = %v", bad, err)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the ZMTP frame reader and the
// message decoder: they must fail cleanly, never panic or over-allocate,
// and what decodes must encode back to the same frames.
func FuzzDecode(f *testing.F) {
	f.Add(appendRequest(nil, kindCall, "0123456789abcdef", "application/json", time.Second, "topic", "server", []byte(`{"oslo.version":"2.0"}`)))
	f.Add(appendRequest(nil, kindCast, "", "", 0, "t", "", nil))
	f.Add(appendRequest(nil, kindFanout, "", "application/msgpack", 0, "t", "", []byte{0x80}))
	f.Add(appendReply(nil, "m", "application/json", bytes.Repeat([]byte("r"), 300), false))
	f.Add(appendReply(nil, "m", "application/json", nil, true))
	f.Add(appendReject(nil, "m", rejectWrongTarget))
	f.Add(appendControl(nil, kindPing))
	f.Add(appendControl(nil, kindBye))
	f.Add([]byte{flagCommand, 5, 4, 'P', 'I', 'N', 'G'})
	f.Add([]byte{flagLong, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, wire []byte) {
		fr := newFrameReader(bufio.NewReader(bytes.NewReader(wire)), 1<<16)
		for range 4 {
			frames, cmd, err := fr.next()
			if err != nil {
				return
			}
			if cmd {
				splitCommand(frames[0])
				continue
			}
			m, err := decodeFrames(frames)
			if err != nil {
				if !errors.Is(err, errBadFrame) {
					t.Fatalf("decode error not errBadFrame: %v", err)
				}
				continue
			}
			var again []byte
			switch m.kind {
			case kindCall, kindCast, kindFanout:
				again = appendRequest(nil, m.kind, string(m.msgID), string(m.contentType), m.expiration, string(m.topic), string(m.server), m.body)
			case kindReply, kindBeat:
				again = appendReply(nil, string(m.msgID), string(m.contentType), m.body, m.kind == kindBeat)
			case kindReject:
				again = appendReject(nil, string(m.msgID), m.reason)
			default:
				again = appendControl(nil, m.kind)
			}
			got := readWire(t, again, 1<<17)
			if len(got) != 1 || len(got[0]) != len(frames) {
				t.Fatalf("re-encoded %v as %d messages", m.kind, len(got))
			}
			for i := range frames {
				if !bytes.Equal(got[0][i], frames[i]) {
					t.Fatalf("%v frame %d: %q, re-encoded %q", m.kind, i, frames[i], got[0][i])
				}
			}
		}
	})
}
