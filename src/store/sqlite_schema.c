/*
 * sqlite_schema.c - the SQLite schema as numbered migrations.
 *
 * Migration N runs once, in the transaction that records N in
 * schema_version. Never edit a migration that has shipped: add the next
 * one. Times are INTEGER seconds since the epoch (UTC), money INTEGER minor
 * units, secrets only as keyed hashes (BLOB).
 */
#include "store/sqlite_int.h"

const char *const sq_migrations[] = {
        /* 1: tenants, API keys, idempotency records, audit chains. */
        "CREATE TABLE tenants ("
        "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  id TEXT NOT NULL UNIQUE,"
        "  name TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL);"
        "CREATE TABLE api_keys ("
        "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  id TEXT NOT NULL UNIQUE,"
        "  tenant_id TEXT NOT NULL,"
        "  role TEXT NOT NULL,"
        "  label TEXT NOT NULL,"
        "  hash BLOB NOT NULL UNIQUE,"
        "  created_by TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  revoked_at INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX api_keys_tenant ON api_keys(tenant_id, ord);"
        "CREATE TABLE idempotency ("
        "  tenant_id TEXT NOT NULL,"
        "  route TEXT NOT NULL,"
        "  key TEXT NOT NULL,"
        "  fingerprint BLOB NOT NULL,"
        "  status INTEGER NOT NULL,"
        "  body TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  PRIMARY KEY (tenant_id, route, key)) WITHOUT ROWID;"
        "CREATE INDEX idempotency_created ON idempotency(created_at);"
        "CREATE TABLE audit ("
        "  chain TEXT NOT NULL,"
        "  seq INTEGER NOT NULL,"
        "  at INTEGER NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  action TEXT NOT NULL,"
        "  target TEXT NOT NULL,"
        "  before TEXT NOT NULL,"
        "  after TEXT NOT NULL,"
        "  prev_hash BLOB NOT NULL,"
        "  hash BLOB NOT NULL,"
        "  PRIMARY KEY (chain, seq)) WITHOUT ROWID;"
        /* Append-only: finlockd never updates or deletes an entry. */
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
        "  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
        "  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
        "CREATE TABLE audit_signed_heads ("
        "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  chain TEXT NOT NULL,"
        "  seq INTEGER NOT NULL,"
        "  hash BLOB NOT NULL,"
        "  signed_at INTEGER NOT NULL,"
        "  token TEXT NOT NULL);"
        "CREATE INDEX audit_signed_heads_chain ON audit_signed_heads(chain, "
        "ord);",
};

const int sq_migrations_count =
        (int)(sizeof(sq_migrations) / sizeof(sq_migrations[0]));
