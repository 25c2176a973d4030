// Package trove is the reference application of this module: a small
// OpenStack Trove (database as a service) whose services talk as Trove's
// do, through oslo.messaging RPC.
//
//	api/          trove-api: the HTTP API (/v1.0/{tenant_id}/instances)
//	taskmanager/  trove-taskmanager: builds and deletes instances
//	guestagent/   trove-guestagent: one per instance, prepares the datastore
//	conductor/    trove-conductor: records what the guests report
//	store/        the SQLite database of instances
//	provision/    starting guest agents, in the process or as processes
//	cmd/          the five commands: the four services and trove-all-in-one
//
// Each service package has an API type, the typed RPC client the other
// services use (Trove's API classes, with a version cap), and a Manager,
// the RPC endpoint. See README.md for the flows.
package trove
