// Command testserver is an RPC server on the zmq driver, for the driver's
// multi-process tests. It serves one target until SIGTERM or SIGINT (then
// it shuts down gracefully) or until it is killed:
//
//	testserver -url 'zmq+redis://127.0.0.1:6379/0?redis_prefix=x:' -topic t -server s1
//
// It prints "READY" on stdout once serving and "INCALL" whenever a call
// to block starts. Endpoints: who (the server name), record (a cast that
// stores its text), count (how many were stored), block (waits until the
// process ends).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	_ "github.com/oslo-go/messaging/drivers/zmq"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// Node is the endpoint.
type Node struct {
	name string
	mu   sync.Mutex
	out  *os.File
	n    int
}

// RecordArgs are the arguments of Record.
type RecordArgs struct {
	Text string `json:"text"`
}

// Who returns the server name.
func (n *Node) Who(context.Context) (string, error) { return n.name, nil }

// Record counts a cast.
func (n *Node) Record(_ context.Context, _ RecordArgs) error {
	n.mu.Lock()
	n.n++
	n.mu.Unlock()
	return nil
}

// Count returns the number of casts recorded.
func (n *Node) Count(context.Context) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.n, nil
}

// Block waits until its ctx ends.
func (n *Node) Block(ctx context.Context) (string, error) {
	n.mu.Lock()
	fmt.Fprintln(n.out, "INCALL")
	n.mu.Unlock()
	<-ctx.Done()
	return "", ctx.Err()
}

func main() {
	url := flag.String("url", "zmq://", "transport URL")
	topic := flag.String("topic", "test", "topic")
	name := flag.String("server", "s1", "server name")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(*url, *topic, *name, log); err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		os.Exit(1)
	}
}

func run(url, topic, name string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	tr, err := transport.Open(ctx, url, transport.WithLogger(log))
	if err != nil {
		return err
	}
	defer tr.Close()
	srv, err := server.New(tr, target.Target{Topic: topic, Server: name}, []any{&Node{name: name, out: os.Stdout}})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	fmt.Println("READY")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	srv.Close()
	return nil
}
