package zmq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The driver's messages, carried as ZMTP multipart messages (see the
// package doc, "Frames"). Frame 0 is always the 2-byte header: the wire
// version and the kind.

// wireVersion is the version byte of frame 0.
const wireVersion = 1

// kind is the second byte of frame 0.
type kind byte

const (
	kindCall   kind = 1 // request that expects replies
	kindCast   kind = 2 // one-way request to one server
	kindFanout kind = 3 // one-way request, one copy per server of the topic
	kindReply  kind = 4 // the final reply to a call
	kindReject kind = 5 // the server did not take a call
	kindPing   kind = 6 // liveness probe, answered with PONG
	kindPong   kind = 7
	kindBye    kind = 8 // the listener behind this connection is closing
	kindBeat   kind = 9 // a call-monitor heartbeat: a reply that does not end the call
)

func (k kind) String() string {
	switch k {
	case kindCall:
		return "CALL"
	case kindCast:
		return "CAST"
	case kindFanout:
		return "FANOUT"
	case kindReply:
		return "REPLY"
	case kindReject:
		return "REJECT"
	case kindPing:
		return "PING"
	case kindPong:
		return "PONG"
	case kindBye:
		return "BYE"
	case kindBeat:
		return "HEARTBEAT"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// Reasons a server gives in a REJECT.
const (
	rejectClosing     = 1 // the listener is closing; the call was not handled
	rejectWrongTarget = 2 // the listener serves another target (stale address)
	rejectTooLarge    = 3 // the call was handled but its reply is over max_message_size
)

// Limits of the small fields, checked by decodeFrames.
const (
	maxIDLen    = 255  // message id and content type
	maxNameLen  = 1024 // topic and server names
	requestLen  = 7    // frames of CALL, CAST and FANOUT
	replyLen    = 4    // frames of REPLY
	rejectLen   = 3    // frames of REJECT
	controlLen  = 1    // frames of PING, PONG and BYE
	maxFrameLen = 7    // the most frames a valid message has
)

// frameOverhead bounds the bytes a message adds to its variable fields:
// ZMTP frame headers (9 bytes at most each), frame 0 and the expiration.
const frameOverhead = maxFrameLen*9 + 2 + 8

// errBadFrame is wrapped by every decoding error.
var errBadFrame = errors.New("zmq: malformed message")

// frame is one decoded driver message. Byte slices alias the frames given
// to decodeFrames.
type frame struct {
	kind        kind
	msgID       []byte        // CALL, REPLY, REJECT
	contentType []byte        // requests and replies
	expiration  time.Duration // requests; 0: none
	topic       []byte        // requests
	server      []byte        // requests; empty for topic and fanout sends
	body        []byte        // requests and replies
	reason      byte          // REJECT
}

func badFrame(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errBadFrame}, args...)...)
}

// decodeFrames decodes a driver message from its ZMTP frames.
func decodeFrames(frames [][]byte) (frame, error) {
	var f frame
	if len(frames) == 0 {
		return f, badFrame("no frames")
	}
	h := frames[0]
	if len(h) != 2 {
		return f, badFrame("header frame of %d bytes, want 2", len(h))
	}
	if h[0] != wireVersion {
		return f, badFrame("wire version %d, want %d", h[0], wireVersion)
	}
	f.kind = kind(h[1])
	want := 0
	switch f.kind {
	case kindCall, kindCast, kindFanout:
		want = requestLen
	case kindReply, kindBeat:
		want = replyLen
	case kindReject:
		want = rejectLen
	case kindPing, kindPong, kindBye:
		want = controlLen
	default:
		return f, badFrame("unknown kind %d", h[1])
	}
	if len(frames) != want {
		return f, badFrame("%s with %d frames, want %d", f.kind, len(frames), want)
	}
	switch f.kind {
	case kindCall, kindCast, kindFanout:
		f.msgID, f.contentType = frames[1], frames[2]
		exp := frames[3]
		if len(exp) != 8 {
			return f, badFrame("expiration frame of %d bytes, want 8", len(exp))
		}
		e := binary.BigEndian.Uint64(exp)
		if e > uint64(1<<63-1) {
			return f, badFrame("expiration out of range")
		}
		f.expiration = time.Duration(e)
		f.topic, f.server, f.body = frames[4], frames[5], frames[6]
		if (f.kind == kindCall) != (len(f.msgID) > 0) {
			return f, badFrame("%s with message id of %d bytes", f.kind, len(f.msgID))
		}
		if len(f.topic) == 0 || len(f.topic) > maxNameLen || len(f.server) > maxNameLen {
			return f, badFrame("%s with topic of %d bytes and server of %d bytes", f.kind, len(f.topic), len(f.server))
		}
	case kindReply, kindBeat:
		f.msgID, f.contentType, f.body = frames[1], frames[2], frames[3]
		if len(f.msgID) == 0 {
			return f, badFrame("%s without message id", f.kind)
		}
	case kindReject:
		f.msgID = frames[1]
		if len(f.msgID) == 0 || len(frames[2]) != 1 {
			return f, badFrame("REJECT without message id or reason")
		}
		f.reason = frames[2][0]
	}
	if len(f.msgID) > maxIDLen || len(f.contentType) > maxIDLen {
		return f, badFrame("%s with message id of %d bytes and content type of %d bytes", f.kind, len(f.msgID), len(f.contentType))
	}
	return f, nil
}

// appendRequest appends a CALL, CAST or FANOUT message, ZMTP-framed.
func appendRequest(dst []byte, k kind, msgID, contentType string, expiration time.Duration, topic, server string, body []byte) []byte {
	var exp [8]byte
	if expiration > 0 {
		binary.BigEndian.PutUint64(exp[:], uint64(expiration))
	}
	dst = appendZMTPFrame(dst, []byte{wireVersion, byte(k)}, true)
	dst = appendZMTPString(dst, msgID, true)
	dst = appendZMTPString(dst, contentType, true)
	dst = appendZMTPFrame(dst, exp[:], true)
	dst = appendZMTPString(dst, topic, true)
	dst = appendZMTPString(dst, server, true)
	return appendZMTPFrame(dst, body, false)
}

// appendReply appends a REPLY (or, for a heartbeat, HEARTBEAT) message,
// ZMTP-framed.
func appendReply(dst []byte, msgID, contentType string, body []byte, heartbeat bool) []byte {
	k := kindReply
	if heartbeat {
		k = kindBeat
	}
	dst = appendZMTPFrame(dst, []byte{wireVersion, byte(k)}, true)
	dst = appendZMTPString(dst, msgID, true)
	dst = appendZMTPString(dst, contentType, true)
	return appendZMTPFrame(dst, body, false)
}

// appendReject appends a REJECT message, ZMTP-framed.
func appendReject(dst []byte, msgID string, reason byte) []byte {
	dst = appendZMTPFrame(dst, []byte{wireVersion, byte(kindReject)}, true)
	dst = appendZMTPString(dst, msgID, true)
	return appendZMTPFrame(dst, []byte{reason}, false)
}

// appendControl appends a PING, PONG or BYE message, ZMTP-framed.
func appendControl(dst []byte, k kind) []byte {
	return appendZMTPFrame(dst, []byte{wireVersion, byte(k)}, false)
}
