// Package store keeps Trove's instances in SQLite, through the pure-Go
// driver modernc.org/sqlite (no cgo, nothing to install).
//
// The services of a deployment share one database file, possibly from
// several processes: the database runs in WAL mode with a busy timeout,
// so readers never block the writer and writers wait for each other
// instead of failing.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// ErrNotFound is returned for an instance that does not exist.
var ErrNotFound = errors.New("instance not found")

// schema creates the instances table. heartbeat_sent is the send time of
// the newest heartbeat applied (Trove's conductor_lastseen table), so
// that a heartbeat overtaken by a newer one is ignored.
const schema = `
CREATE TABLE IF NOT EXISTS instances (
	id                TEXT PRIMARY KEY,
	tenant_id         TEXT NOT NULL,
	name              TEXT NOT NULL,
	flavor_id         TEXT NOT NULL,
	volume_size       INTEGER NOT NULL,
	datastore         TEXT NOT NULL,
	datastore_version TEXT NOT NULL,
	task_status       TEXT NOT NULL,
	service_status    TEXT NOT NULL,
	heartbeat_sent    REAL NOT NULL DEFAULT 0,
	created           DATETIME NOT NULL,
	updated           DATETIME NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_by_tenant ON instances (tenant_id, created);
`

// columns lists the columns scanned into an Instance, in scan order.
const columns = `id, tenant_id, name, flavor_id, volume_size, datastore,
	datastore_version, task_status, service_status, created, updated`

// Store is the instances database. It is safe for concurrent use.
type Store struct {
	db *sql.DB
}

// Open opens (creating it if needed) the database file at path.
func Open(ctx context.Context, path string) (*Store, error) {
	// SQLite's own error for a missing directory is unhelpful.
	if _, err := os.Stat(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// busy_timeout comes first so that switching to WAL also waits for
	// other processes instead of failing with SQLITE_BUSY.
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Create inserts inst; it sets inst.Created and inst.Updated.
func (s *Store) Create(ctx context.Context, inst *Instance) error {
	now := time.Now().UTC()
	inst.Created, inst.Updated = now, now
	_, err := s.db.ExecContext(ctx, `INSERT INTO instances (`+columns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		inst.ID, inst.TenantID, inst.Name, inst.FlavorID, inst.VolumeSize, inst.Datastore,
		inst.DatastoreVersion, inst.TaskStatus, inst.ServiceStatus, inst.Created, inst.Updated)
	if err != nil {
		return fmt.Errorf("create instance %s: %w", inst.ID, err)
	}
	return nil
}

// Get returns the instance id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Instance, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM instances WHERE id = ?`, id)
	inst, err := scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("instance %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get instance %s: %w", id, err)
	}
	return inst, nil
}

// List returns the instances of a tenant, oldest first.
func (s *Store) List(ctx context.Context, tenantID string) ([]*Instance, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+columns+` FROM instances WHERE tenant_id = ? ORDER BY created, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	defer rows.Close()
	var list []*Instance
	for rows.Next() {
		inst, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list instances: %w", err)
		}
		list = append(list, inst)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	return list, nil
}

// SetTaskStatus sets the task status of instance id.
func (s *Store) SetTaskStatus(ctx context.Context, id, status string) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE instances SET task_status = ?, updated = ? WHERE id = ?`,
		status, time.Now().UTC(), id)
	return checkUpdated(res, err, id)
}

// UpdateServiceStatus records the service status a guest reported in a
// heartbeat sent at sent (seconds since the Unix epoch, Trove's float
// timestamps). It returns false, and changes nothing, when a heartbeat
// sent later was already applied: the message is too old.
func (s *Store) UpdateServiceStatus(ctx context.Context, id, status string, sent float64) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE instances
		SET service_status = ?, heartbeat_sent = ?, updated = ?
		WHERE id = ? AND heartbeat_sent < ?`,
		status, sent, time.Now().UTC(), id, sent)
	if err != nil {
		return false, fmt.Errorf("update instance %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return n == 1, err
	}
	// No row changed: there is no such instance, or the heartbeat is too old.
	if _, err := s.Get(ctx, id); err != nil {
		return false, err
	}
	return false, nil
}

// MarkStale sets the service status to to on the instances in status from
// whose last heartbeat was sent before before (seconds since the Unix
// epoch), and returns their ids.
func (s *Store) MarkStale(ctx context.Context, before float64, from, to string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `UPDATE instances SET service_status = ?, updated = ?
		WHERE service_status = ? AND heartbeat_sent > 0 AND heartbeat_sent < ? RETURNING id`,
		to, time.Now().UTC(), from, before)
	if err != nil {
		return nil, fmt.Errorf("mark stale instances: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return ids, fmt.Errorf("mark stale instances: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Delete removes instance id.
func (s *Store) Delete(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM instances WHERE id = ?`, id)
	return checkUpdated(res, err, id)
}

// checkUpdated turns the result of a statement on instance id into an
// error: the statement's own, or ErrNotFound when it touched no row.
func checkUpdated(res sql.Result, err error, id string) error {
	if err != nil {
		return fmt.Errorf("update instance %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update instance %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("instance %s: %w", id, ErrNotFound)
	}
	return nil
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scan(r scanner) (*Instance, error) {
	var i Instance
	err := r.Scan(&i.ID, &i.TenantID, &i.Name, &i.FlavorID, &i.VolumeSize, &i.Datastore,
		&i.DatastoreVersion, &i.TaskStatus, &i.ServiceStatus, &i.Created, &i.Updated)
	if err != nil {
		return nil, err
	}
	return &i, nil
}
