// Package service runs oslo.messaging RPC services the way OpenStack's
// Python services run: oslo.service's Service, Launcher, periodic tasks and
// looping calls, for Go.
//
// A Service serves a manager over RPC. Its topic comes from the binary's
// name, as Nova and Karbor derive it, and its server name is the host:
//
//	type Conductor struct{ ... }                       // an endpoint: exported methods taking a ctx
//	func (c *Conductor) Heartbeat(ctx context.Context, a HeartbeatArgs) error { ... }
//	func (c *Conductor) PeriodicTasks() []service.Task {
//		return []service.Task{{Name: "check_stale_heartbeats", Spacing: 30 * time.Second, Run: c.checkStale}}
//	}
//
//	svc, err := service.New(tr, "trove-conductor", &Conductor{}, // topic "conductor", server = host name
//		service.ServerOptions(server.DispatchOptions(dispatcher.Ping(true))))
//	err = service.NewLauncher([]service.Runnable{svc},
//		service.GracefulShutdownTimeout(60*time.Second)).Run(ctx)
//
// The Launcher starts its services, tells systemd the process is ready
// (sd_notify READY=1 when $NOTIFY_SOCKET is set), and on SIGTERM or SIGINT
// stops them gracefully: they stop consuming, finish the requests in
// flight and reply, within graceful_shutdown_timeout; then Run returns nil
// and the process exits 0. A second signal ends the wait at once. SIGHUP
// reloads the configuration files (ReloadConfig) and calls the services'
// OnReload functions, as oslo's manager.reset().
//
// # Periodic tasks
//
// A manager that implements PeriodicTasker has its tasks run while the
// service runs, as oslo.service's periodic_task decorator: each task every
// Spacing (60 s by default; negative disables it), first after one spacing
// or at once with RunImmediately, after an optional InitialDelay. The
// tasks of one manager run one at a time in one goroutine, so they never
// overlap; a task that fails or panics is logged and runs again at its
// next time; the runs drift by up to 5% of the spacing so that services
// started together spread out. PeriodicFuzzyDelay and PeriodicIntervalMax
// are Nova's periodic_fuzzy_delay and periodic_interval_max.
//
// # Looping calls
//
// FixedInterval and BackOff are oslo.service's FixedIntervalLoopingCall
// and BackOffLoopingCall: a function called at a fixed interval, or with
// a backoff that doubles after failures, until the ctx ends, Stop, or the
// function returns ErrLoopDone.
package service
