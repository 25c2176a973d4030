package dispatcher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/oslo-go/messaging/serializer"
)

// prefixCodec is a non-JSON codec: JSON behind a "T" byte.
type prefixCodec struct{}

func (prefixCodec) Name() string { return "application/x-test" }
func (prefixCodec) Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append([]byte("T"), b...), err
}
func (prefixCodec) Unmarshal(data []byte, v any) error {
	if !bytes.HasPrefix(data, []byte("T")) {
		return errors.New("not a T value")
	}
	return json.Unmarshal(data[1:], v)
}

func TestOtherCodec(t *testing.T) {
	echo := Funcs{"echo": func(_ context.Context, args serializer.Raw) (any, error) {
		if _, ok := args.Codec.(prefixCodec); !ok {
			return nil, errors.New("codec lost")
		}
		return string(args.Data), nil
	}}
	tr := func(s string) serializer.Raw { return serializer.Raw{Data: []byte(s), Codec: prefixCodec{}} }
	for _, ser := range []serializer.Serializer{nil, &upper{}} {
		d, err := New([]any{&argsEP{}, echo}, WithSerializer(ser))
		if err != nil {
			t.Fatal(err)
		}
		up := func(s string) string {
			if ser != nil {
				return s + " (upper-cased)"
			}
			return s
		}
		tests := []struct {
			method string
			args   serializer.Raw
			want   string
		}{
			{"echo", tr(""), "T{}"},
			{"echo", tr("Tnull"), "T{}"}, // the codec's own null
			{"echo", tr(`T{"a":"b"}`), up(`T{"a":"b"}`)},
			{"optional", tr(`T{"msg":"hi"}`), up("{hi false}")},
			{"get_filesystem_stats", tr(`T{"limit":1}`), "builtins.TypeError: get_filesystem_stats() missing required argument: 'fs_path'"},
			{"get_filesystem_stats", tr(`{"fs_path":"/"}`), "builtins.TypeError: get_filesystem_stats() invalid arguments: not a T value"},
		}
		for _, tt := range tests {
			res, err := d.Dispatch(context.Background(), &Request{Method: tt.method, Args: tt.args})
			got := outcome(res, err)
			if ser != nil && err == nil {
				switch got {
				case `T{"a":"B"}`:
					got = `T{"a":"b"} (upper-cased)`
				case "{HI false}":
					got = "{hi false} (upper-cased)"
				}
			}
			if got != tt.want {
				t.Errorf("serializer %T: %s %q: got %s, want %s", ser, tt.method, tt.args.Data, got, tt.want)
			}
		}
	}
}
