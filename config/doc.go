// Package config reads OpenStack configuration files (nova.conf,
// trove.conf) as Python's oslo.config 9 reads them, with the options of
// oslo.messaging 14.0.3, so that a Go service beside Python services opens
// the same transport from the same file:
//
//	conf, err := config.Load(config.Files("/etc/trove/trove.conf"), config.Dirs("/etc/trove/trove.conf.d"))
//	tr, err := conf.OpenTransport(ctx)                   // [DEFAULT] transport_url, control_exchange, driver options
//	c, err := client.New(tr, tgt, conf.ClientOptions()...) // rpc_response_timeout
//	srv, err := server.New(tr, tgt, endpoints, conf.ServerOptions()...)
//	ntr, err := conf.OpenNotificationTransport(ctx)
//	n, err := conf.NewNotifier(ntr, notify.PublisherID("trove-taskmanager.host1"))
//
// or, from a command line, config.ParseArgs(os.Args[1:]) or Flags with
// package flag (--config-file and --config-dir, in order).
//
// # Files
//
// Files are read in the order given, the *.conf files of a directory in
// sorted order; for an option the last file that sets it wins. The syntax
// is oslo.config's (oslo_config.iniparser): "[section]" lines, "key =
// value" or "key: value", "#" and ";" comments at the start of a line
// only, values continued on lines that start with white space, one pair of
// quotes around a value removed, blank values kept. Section names are case
// insensitive except [DEFAULT]; keys are case sensitive. A key given
// several times, in one file or in several, gives a MultiString option all
// its values (oldest first) and any other option its last. Values may
// refer to other options: $name or ${name} (in the same section, then in
// DEFAULT) and ${section.name}; "$$" is a "$". Options keep the older
// names oslo.messaging still reads (deprecated names and sections, such as
// [DEFAULT] notification_driver for [oslo_messaging_notifications]
// driver). Options no one registered are kept: Raw, Value and the typed
// getters read them.
//
// # Options
//
// Load registers, with oslo.messaging 14.0.3's names, types, bounds,
// choices and defaults: [DEFAULT] transport_url, control_exchange,
// rpc_response_timeout, executor_thread_pool_size, rpc_ping_enabled and
// the connection pool options; [oslo_messaging_rabbit] (all of it,
// including the misspelt rabbit_quroum_max_memory_length and _bytes);
// [oslo_messaging_notifications] (driver, transport_url, topics, retry);
// [oslo_messaging_metrics]; and, for this module's drivers,
// [oslo_messaging_nats] and [oslo_messaging_zmq] with the URL query
// parameters of drivers/nats and drivers/zmq. Services register their own
// options with Define or Register. Every registered option is converted
// when the configuration loads: a bad value fails Load with a *ValueError
// naming the file, line, section, option and value (oslo fails when the
// option is first read).
//
// # Opening transports
//
// The transport URL's driver reads its group: the options the
// configuration sets there are added to the URL's query unless the URL
// has them (the query wins, as in oslo); other drivers' groups are
// ignored. Options left unset keep the driver's defaults.
//
// # Differences from oslo.config
//
//   - Values are converted at Load, not when first read.
//   - An environment variable (Environ) gives a MultiString option one
//     value (oslo splits it into characters).
//   - A reference to an option nobody registered takes that key's value in
//     the files (oslo fails); ${DEFAULT.name} fails, as in oslo.
//   - Integers must fit in 64 bits.
//   - Errors name the file and line but never the line's text, and show
//     secret values as "****".
package config
