package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestModes(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		servers int
		want    int64 // received
	}{
		{"call", 1, 0}, {"call", 2, 0}, {"cast", 2, 300}, {"fanout", 3, 900},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cfg, err := parseFlags([]string{"-url", "fake:///rpcbench-" + tc.mode, "-mode", tc.mode, "-n", "300", "-c", "4",
				"-servers", string(rune('0' + tc.servers)), "-warmup", "50ms", "-json"}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := run(context.Background(), cfg, &out); err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Results []Result `json:"results"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatalf("%v: %s", err, out.String())
			}
			r := doc.Results[0]
			if r.Sent != 300 || r.Rate <= 0 || r.Latency.P50 <= 0 || r.Latency.Max < r.Latency.P99 {
				t.Fatalf("result %+v", r)
			}
			if tc.want > 0 && (r.Received != tc.want || r.Lost != 0) {
				t.Fatalf("received %d lost %d, want %d", r.Received, r.Lost, tc.want)
			}
		})
	}
}

func TestTextReport(t *testing.T) {
	cfg, err := parseFlags([]string{"-url", "fake:///rpcbench-text", "-duration", "200ms", "-warmup", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "msg/s; latency p50") {
		t.Fatalf("report: %s", out.String())
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-mode", "nope"}, {"-c", "0"}, {"-codec", "xml"}, {"-handlers", "reflect"}, {"-url", "no scheme"}, {"extra"},
		{"-duration", "0"}, {"-servers", "0"}, {"-servers", "-1", "-mode", "cast"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	cfg, _ := parseFlags([]string{"-url", "fake://", "-baseline", "-n", "10"}, io.Discard)
	if err := run(context.Background(), cfg, io.Discard); err == nil || !strings.Contains(err.Error(), "no -baseline") {
		t.Errorf("baseline for fake: %v", err)
	}
}

func TestMsgpackCodec(t *testing.T) {
	cfg, err := parseFlags([]string{"-url", "fake:///rpcbench-msgpack", "-codec", "msgpack", "-n", "100", "-warmup", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r, err := runLibrary(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || r.Sent != 100 {
		t.Fatalf("%+v %v", r, err)
	}
}

// TestFuncHandlers: with -handlers funcs the servers answer calls and
// count casts as with methods.
func TestFuncHandlers(t *testing.T) {
	for _, mode := range []string{"call", "cast"} {
		cfg, err := parseFlags([]string{"-url", "fake:///rpcbench-funcs-" + mode, "-mode", mode, "-handlers", "funcs", "-n", "100", "-warmup", "0"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		r, err := runLibrary(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil || r.Sent != 100 || r.Errors != 0 || mode == "cast" && r.Received != 100 {
			t.Fatalf("%s: %+v %v", mode, r, err)
		}
	}
}

func TestCompare(t *testing.T) {
	cfg, err := parseFlags([]string{"-urls", "fake:///cmp-a fake:///cmp-b", "-n", "100", "-warmup", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "msg/s"); got != 2 {
		t.Fatalf("want 2 result lines:\n%s", out.String())
	}
}

func TestPublishOnly(t *testing.T) {
	cfg, err := parseFlags([]string{"-url", "fake:///rpcbench-publish-only", "-mode", "cast", "-servers", "0", "-n", "200", "-warmup", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r, err := runLibrary(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || r.Sent != 200 || r.SendRate <= 0 || r.Received != 0 {
		t.Fatalf("%+v %v", r, err)
	}
}

// TestNoSecretInOutput: neither the JSON nor the text report shows the
// broker password.
func TestNoSecretInOutput(t *testing.T) {
	for _, format := range []string{"-json", "-json=false"} {
		cfg, err := parseFlags([]string{"-url", "fake://guest:S3cr3tPw@h/rpcbench-secret", "-n", "20", "-warmup", "0", format}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := run(context.Background(), cfg, &out); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "S3cr3tPw") || !strings.Contains(out.String(), "guest:***@h") {
			t.Fatalf("%s output:\n%s", format, out.String())
		}
	}
}
