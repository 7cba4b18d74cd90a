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

        /* 2: devices with their decided status, IMEI claims, contracts,
         * schedules and reschedules, payments, manual commands. Lists of
         * short strings (apps, phone numbers) are stored one per line. */
        "CREATE TABLE devices ("
        "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  id TEXT NOT NULL UNIQUE,"
        "  tenant_id TEXT NOT NULL,"
        "  imei TEXT NOT NULL,"
        "  imei2 TEXT NOT NULL,"
        "  serial TEXT NOT NULL,"
        "  model TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  enroll_hash BLOB UNIQUE,"
        "  enroll_expires INTEGER NOT NULL DEFAULT 0,"
        "  enrolled_at INTEGER NOT NULL DEFAULT 0,"
        "  device_pk BLOB,"
        "  kx_pk BLOB,"
        "  last_contact INTEGER NOT NULL DEFAULT 0,"
        "  req_counter INTEGER NOT NULL DEFAULT 0,"
        "  tamper_at INTEGER NOT NULL DEFAULT 0,"
        "  tamper_report TEXT NOT NULL DEFAULT '',"
        "  sim_at INTEGER NOT NULL DEFAULT 0,"
        "  sim_report TEXT NOT NULL DEFAULT '',"
        "  state INTEGER NOT NULL DEFAULT 0,"
        "  stolen INTEGER NOT NULL DEFAULT 0,"
        "  released_by_command INTEGER NOT NULL DEFAULT 0,"
        "  lock_cause INTEGER NOT NULL DEFAULT 0,"
        "  lock_at INTEGER NOT NULL DEFAULT 0,"
        "  unlock_until INTEGER NOT NULL DEFAULT 0,"
        "  paid_through INTEGER NOT NULL DEFAULT 0,"
        "  amount_due INTEGER NOT NULL DEFAULT 0,"
        "  amount_remaining INTEGER NOT NULL DEFAULT 0,"
        "  next_due_at INTEGER NOT NULL DEFAULT 0,"
        "  next_due_amount INTEGER NOT NULL DEFAULT 0,"
        "  next_change INTEGER NOT NULL DEFAULT 0,"
        "  decided_at INTEGER NOT NULL DEFAULT 0,"
        "  token_seq INTEGER NOT NULL DEFAULT 0,"
        "  outcome BLOB NOT NULL DEFAULT x'');"
        "CREATE INDEX devices_tenant ON devices(tenant_id, ord);"
        "CREATE INDEX devices_imei ON devices(imei);"
        "CREATE INDEX devices_imei2 ON devices(imei2);"
        "CREATE INDEX devices_next_change ON devices(next_change)"
        "  WHERE next_change > 0;"
        "CREATE TABLE imei_claims ("
        "  imei TEXT PRIMARY KEY,"
        "  device_id TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX imei_claims_device ON imei_claims(device_id);"
        "CREATE TABLE contracts ("
        "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  device_id TEXT NOT NULL UNIQUE,"
        "  tenant_id TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  loan_ref TEXT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  utc_offset INTEGER NOT NULL,"
        "  grace INTEGER NOT NULL,"
        "  max_offline INTEGER NOT NULL,"
        "  remind TEXT NOT NULL,"
        "  restrict_mask INTEGER NOT NULL,"
        "  allow_apps TEXT NOT NULL,"
        "  message TEXT NOT NULL,"
        "  contact_name TEXT NOT NULL,"
        "  contact_phones TEXT NOT NULL,"
        "  sim_policy INTEGER NOT NULL,"
        "  tamper_policy INTEGER NOT NULL);"
        "CREATE INDEX contracts_tenant ON contracts(tenant_id, ord);"
        /* resched = 0: the contract's own schedule; else a reschedule's
         * ord */
        "CREATE TABLE installments ("
        "  device_id TEXT NOT NULL,"
        "  resched INTEGER NOT NULL,"
        "  idx INTEGER NOT NULL,"
        "  due_at INTEGER NOT NULL,"
        "  amount INTEGER NOT NULL,"
        "  PRIMARY KEY (device_id, resched, idx)) WITHOUT ROWID;"
        "CREATE TABLE reschedules ("
        "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  device_id TEXT NOT NULL,"
        "  tenant_id TEXT NOT NULL,"
        "  from_at INTEGER NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  reason TEXT NOT NULL);"
        "CREATE INDEX reschedules_device ON reschedules(device_id, ord);"
        "CREATE TABLE payments ("
        "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  id TEXT NOT NULL UNIQUE,"
        "  tenant_id TEXT NOT NULL,"
        "  device_id TEXT NOT NULL,"
        "  amount INTEGER NOT NULL CHECK (amount > 0),"
        "  paid_at INTEGER NOT NULL,"
        "  reference TEXT NOT NULL,"
        "  recorded_at INTEGER NOT NULL,"
        "  recorded_by TEXT NOT NULL,"
        "  reversed_at INTEGER NOT NULL DEFAULT 0,"
        "  reverse_reason TEXT NOT NULL DEFAULT '',"
        "  reversed_by TEXT NOT NULL DEFAULT '');"
        "CREATE INDEX payments_device ON payments(device_id, paid_at, ord);"
        "CREATE INDEX payments_tenant ON payments(tenant_id, ord);"
        "CREATE TABLE commands ("
        "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  tenant_id TEXT NOT NULL,"
        "  device_id TEXT NOT NULL,"
        "  kind INTEGER NOT NULL,"
        "  issued_at INTEGER NOT NULL,"
        "  at INTEGER NOT NULL,"
        "  reason TEXT NOT NULL,"
        "  actor TEXT NOT NULL);"
        "CREATE INDEX commands_device ON commands(device_id, ord);",

        /* 3: the device protocol: used one-time codes (so a retried
         * enrollment is answered again), pending re-enrollments by
         * pairing code, SIM and tamper reports, offline-code counters.
         * No secret: the per-device keys are derived, not stored. */
        "CREATE TABLE used_codes ("
        "  hash BLOB PRIMARY KEY,"
        "  device_id TEXT NOT NULL,"
        "  sign_pk BLOB NOT NULL,"
        "  kx_pk BLOB NOT NULL,"
        "  used_at INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE pairing_requests ("
        "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  device_id TEXT NOT NULL,"
        "  sign_pk BLOB NOT NULL,"
        "  kx_pk BLOB NOT NULL,"
        "  code TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  expires_at INTEGER NOT NULL,"
        "  status INTEGER NOT NULL DEFAULT 0,"
        "  decided_at INTEGER NOT NULL DEFAULT 0,"
        "  decided_by TEXT NOT NULL DEFAULT '',"
        "  UNIQUE (device_id, sign_pk, kx_pk));"
        "CREATE INDEX pairing_requests_device ON "
        "pairing_requests(device_id, ord);"
        "CREATE TABLE device_reports ("
        "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  device_id TEXT NOT NULL,"
        "  tenant_id TEXT NOT NULL,"
        "  at INTEGER NOT NULL,"
        "  kind INTEGER NOT NULL,"
        "  detail TEXT NOT NULL);"
        "CREATE INDEX device_reports_device ON device_reports(device_id, "
        "ord);"
        "CREATE TABLE offline_codes ("
        "  device_id TEXT PRIMARY KEY,"
        "  counter INTEGER NOT NULL DEFAULT 0,"
        "  action INTEGER NOT NULL DEFAULT 0,"
        "  issue_day INTEGER NOT NULL DEFAULT 0,"
        "  issued_at INTEGER NOT NULL DEFAULT 0,"
        "  issued_by TEXT NOT NULL DEFAULT '',"
        "  used INTEGER NOT NULL DEFAULT 0,"
        "  unlock_until INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",

        /* 4: the number of devices in each (state, stolen), kept by
         * triggers in the transaction of every change, so counting the
         * fleet (metrics, the public statistics) reads a handful of rows
         * instead of every device. Seeded from the devices present. */
        "CREATE TABLE device_counts ("
        "  state INTEGER NOT NULL,"
        "  stolen INTEGER NOT NULL,"
        "  n INTEGER NOT NULL,"
        "  PRIMARY KEY (state, stolen)) WITHOUT ROWID;"
        "INSERT INTO device_counts (state, stolen, n)"
        "  SELECT state, stolen, count(*) FROM devices"
        "  GROUP BY state, stolen;"
        "CREATE TRIGGER devices_count_insert AFTER INSERT ON devices BEGIN"
        "  INSERT OR IGNORE INTO device_counts (state, stolen, n)"
        "    VALUES (new.state, new.stolen, 0);"
        "  UPDATE device_counts SET n = n + 1"
        "    WHERE state = new.state AND stolen = new.stolen;"
        "  END;"
        "CREATE TRIGGER devices_count_delete AFTER DELETE ON devices BEGIN"
        "  UPDATE device_counts SET n = n - 1"
        "    WHERE state = old.state AND stolen = old.stolen;"
        "  END;"
        "CREATE TRIGGER devices_count_update AFTER UPDATE OF state, stolen"
        "  ON devices WHEN old.state IS NOT new.state"
        "  OR old.stolen IS NOT new.stolen BEGIN"
        "  UPDATE device_counts SET n = n - 1"
        "    WHERE state = old.state AND stolen = old.stolen;"
        "  INSERT OR IGNORE INTO device_counts (state, stolen, n)"
        "    VALUES (new.state, new.stolen, 0);"
        "  UPDATE device_counts SET n = n + 1"
        "    WHERE state = new.state AND stolen = new.stolen;"
        "  END;",

        /* 5: the phone's factory key (the public half of a key pair its
         * secure hardware holds from manufacture), registered when it
         * enrolls by one-time code; pairing requests remember whether
         * that key signed them and the client network they came from
         * (IPv4 /24, IPv6 /64), which bounds pending requests per
         * network across all devices. */
        "ALTER TABLE devices ADD COLUMN factory_pk BLOB;"
        "ALTER TABLE pairing_requests ADD COLUMN factory_signed INTEGER "
        "NOT NULL DEFAULT 0;"
        "ALTER TABLE pairing_requests ADD COLUMN client_net TEXT NOT NULL "
        "DEFAULT '';"
        "CREATE INDEX pairing_requests_net ON "
        "pairing_requests(client_net, expires_at);",

        /* 6: what a lender sees and chooses. The stolen column of
         * devices now tells 1 (locked as stolen) from 2 (a report standing
         * on a released device, which locks nothing); credit is money paid
         * beyond the whole contract. Commands: whether the phone shows
         * the reason, and their cancellation. Keys: when last used.
         * Payments: found by reference (duplicates are refused). */
        "ALTER TABLE devices ADD COLUMN credit INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE commands ADD COLUMN show_reason INTEGER NOT NULL "
        "DEFAULT 0;"
        "ALTER TABLE commands ADD COLUMN cancelled_at INTEGER NOT NULL "
        "DEFAULT 0;"
        "ALTER TABLE commands ADD COLUMN cancelled_by TEXT NOT NULL "
        "DEFAULT '';"
        "ALTER TABLE commands ADD COLUMN cancel_reason TEXT NOT NULL "
        "DEFAULT '';"
        "ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER NOT NULL "
        "DEFAULT 0;"
        "CREATE INDEX payments_reference ON payments(tenant_id, reference, "
        "ord) WHERE reference != '';",

        /* 7: the server's identity: the fingerprint of the keys the
         * database was made with (store.h), one row. */
        "CREATE TABLE server_identity ("
        "  id INTEGER PRIMARY KEY CHECK (id = 1),"
        "  keys_fingerprint BLOB NOT NULL,"
        "  recorded_at INTEGER NOT NULL);",

        /* 8: signed-in console sessions. Only a keyed hash of the
         * session id is kept (like API keys), with the key it acts as and
         * that key's role at sign-in, so any node can check a session and
         * a key revoked or changed ends its sessions. */
        "CREATE TABLE web_sessions ("
        "  hash BLOB PRIMARY KEY,"
        "  key_id TEXT NOT NULL,"
        "  tenant_id TEXT NOT NULL,"
        "  role TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  last_seen INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX web_sessions_seen ON web_sessions (last_seen);"
        "CREATE INDEX web_sessions_created ON web_sessions (created_at);",

        /* 9: the highest request counter whose effects (a report, a
         * confirmation, a used offline code) were applied, so a request
         * replayed to another node is never applied twice (store.h
         * fl_store_dp_claim). */
        /* (parenthesised: clang would take two literals for a
         * forgotten comma) */
        ("ALTER TABLE devices ADD COLUMN applied_counter INTEGER NOT NULL "
         "DEFAULT 0;"),

        /* 10: money in from providers. Payment sources (a keyed hash of
         * their URL secret; a signed source's HMAC secret), every
         * provider payment by (source, provider reference) with what it
         * became, the message ids of signed callbacks (replays refused),
         * payments that matched no contract, releases waiting for the
         * lender's confirmation, tenant-wide holds on automatic locks;
         * contracts found by their loan reference ignoring case and
         * spaces. */
        "CREATE TABLE payment_sources ("
        "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  id TEXT NOT NULL UNIQUE,"
        "  tenant_id TEXT NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  name TEXT NOT NULL,"
        "  shortcode TEXT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  networks TEXT NOT NULL,"
        "  path_hash BLOB NOT NULL,"
        "  secret TEXT NOT NULL,"
        "  max_silence INTEGER NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  disabled_at INTEGER NOT NULL DEFAULT 0,"
        "  rotated_at INTEGER NOT NULL DEFAULT 0,"
        "  last_callback_at INTEGER NOT NULL DEFAULT 0,"
        "  stale_since INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX payment_sources_tenant ON "
        "payment_sources(tenant_id, ord);"
        "CREATE TABLE provider_payments ("
        "  source_id TEXT NOT NULL,"
        "  ref TEXT NOT NULL,"
        "  tenant_id TEXT NOT NULL,"
        "  fingerprint BLOB NOT NULL,"
        "  amount INTEGER NOT NULL,"
        "  payment_id TEXT NOT NULL,"
        "  unmatched_id TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  PRIMARY KEY (source_id, ref));"
        "CREATE INDEX provider_payments_ref ON "
        "provider_payments(tenant_id, ref, created_at);"
        "CREATE INDEX provider_payments_time ON "
        "provider_payments(tenant_id, created_at);"
        "CREATE TABLE source_messages ("
        "  source_id TEXT NOT NULL,"
        "  msg_id TEXT NOT NULL,"
        "  seen_at INTEGER NOT NULL,"
        "  PRIMARY KEY (source_id, msg_id));"
        "CREATE INDEX source_messages_seen ON "
        "source_messages(source_id, seen_at);"
        "CREATE TABLE unmatched_payments ("
        "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  id TEXT NOT NULL UNIQUE,"
        "  tenant_id TEXT NOT NULL,"
        "  source_id TEXT NOT NULL,"
        "  reference TEXT NOT NULL,"
        "  account TEXT NOT NULL,"
        "  amount INTEGER NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  paid_at INTEGER NOT NULL,"
        "  reason TEXT NOT NULL,"
        "  payer TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  payment_id TEXT NOT NULL DEFAULT '',"
        "  assigned_at INTEGER NOT NULL DEFAULT 0,"
        "  assigned_by TEXT NOT NULL DEFAULT '');"
        "CREATE INDEX unmatched_payments_tenant ON "
        "unmatched_payments(tenant_id, ord);"
        "CREATE TABLE pending_releases ("
        "  device_id TEXT PRIMARY KEY,"
        "  tenant_id TEXT NOT NULL,"
        "  payment_id TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL);"
        "CREATE TABLE lock_holds ("
        "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  id TEXT NOT NULL UNIQUE,"
        "  tenant_id TEXT NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  source_id TEXT NOT NULL,"
        "  until_at INTEGER NOT NULL,"
        "  reason TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  created_by TEXT NOT NULL,"
        "  released_at INTEGER NOT NULL DEFAULT 0,"
        "  released_by TEXT NOT NULL DEFAULT '');"
        "CREATE INDEX lock_holds_tenant ON "
        "lock_holds(tenant_id, released_at, until_at);"
        "CREATE INDEX contracts_loan_ref_norm ON "
        "contracts(tenant_id, (lower(replace(loan_ref, ' ', ''))));",
        /* 11: webhooks to the lender (server/events.h): endpoints (their
         * secret is derived from server.secret, the endpoint id and
         * secret_gen, never stored), the outbox of events written in the
         * transaction of the change they report, and one delivery per
         * event and subscribed endpoint. What the phone last confirmed
         * applying: the token seq it held, whether it was locked, when. */
        ("CREATE TABLE webhook_endpoints ("
         "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
         "  id TEXT NOT NULL UNIQUE,"
         "  tenant_id TEXT NOT NULL,"
         "  url TEXT NOT NULL,"
         "  events TEXT NOT NULL,"
         "  secret_gen INTEGER NOT NULL,"
         "  created_at INTEGER NOT NULL,"
         "  created_by TEXT NOT NULL,"
         "  disabled_at INTEGER NOT NULL DEFAULT 0,"
         "  disabled_reason TEXT NOT NULL DEFAULT '');"
         "CREATE INDEX webhook_endpoints_tenant ON "
         "webhook_endpoints(tenant_id, ord);"
         "CREATE TABLE webhook_events ("
         "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
         "  id TEXT NOT NULL UNIQUE,"
         "  tenant_id TEXT NOT NULL,"
         "  type TEXT NOT NULL,"
         "  body TEXT NOT NULL,"
         "  created_at INTEGER NOT NULL);"
         "CREATE TABLE webhook_deliveries ("
         "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
         "  event_ord INTEGER NOT NULL,"
         "  endpoint_id TEXT NOT NULL,"
         "  tenant_id TEXT NOT NULL,"
         "  state INTEGER NOT NULL DEFAULT 0,"
         "  attempts INTEGER NOT NULL DEFAULT 0,"
         "  next_at INTEGER NOT NULL,"
         "  lease_until INTEGER NOT NULL DEFAULT 0,"
         "  last_at INTEGER NOT NULL DEFAULT 0,"
         "  last_status INTEGER NOT NULL DEFAULT 0,"
         "  last_error TEXT NOT NULL DEFAULT '',"
         "  done_at INTEGER NOT NULL DEFAULT 0);"
         "CREATE INDEX webhook_deliveries_head ON "
         "webhook_deliveries(endpoint_id, state, ord);"
         "CREATE INDEX webhook_deliveries_due ON "
         "webhook_deliveries(state, next_at);"
         "CREATE INDEX webhook_deliveries_tenant ON "
         "webhook_deliveries(tenant_id, ord);"
         "ALTER TABLE devices ADD COLUMN confirmed_seq INTEGER NOT NULL "
         "DEFAULT 0;"
         "ALTER TABLE devices ADD COLUMN confirmed_locked INTEGER NOT NULL "
         "DEFAULT 0;"
         "ALTER TABLE devices ADD COLUMN confirmed_at INTEGER NOT NULL "
         "DEFAULT 0;"),
        /* 12: a tenant's loan references are unique ignoring case and
         * spaces (payments name a loan by it): refused, with the reason,
         * while two contracts share one (the previous finlockd can still
         * rename one). An unmatched payment remembers what it stood for,
         * so the same reused reference with the same content is kept
         * once. A webhook endpoint's previous secret signs too until
         * prev_secret_until. The outbox is pruned by time. */
        ("CREATE TEMP TABLE migration12 (n INTEGER CONSTRAINT "
         "\"two contracts of one tenant share a loan_ref (ignoring case "
         "and spaces): give one another loan_ref with the previous "
         "finlockd, then upgrade\" CHECK (n = 0));"
         "INSERT INTO migration12 SELECT count(*) FROM (SELECT 1 FROM "
         "contracts WHERE loan_ref <> '' GROUP BY tenant_id, "
         "lower(replace(loan_ref, ' ', '')) HAVING count(*) > 1);"
         "DROP TABLE migration12;"
         "DROP INDEX contracts_loan_ref_norm;"
         "CREATE UNIQUE INDEX contracts_loan_ref_norm ON "
         "contracts(tenant_id, (lower(replace(loan_ref, ' ', '')))) "
         "WHERE loan_ref <> '';"
         "ALTER TABLE unmatched_payments ADD COLUMN fingerprint BLOB NOT "
         "NULL DEFAULT x'';"
         "CREATE UNIQUE INDEX unmatched_payments_ref ON "
         "unmatched_payments(source_id, reference, fingerprint) WHERE "
         "length(fingerprint) > 0;"
         "ALTER TABLE webhook_endpoints ADD COLUMN prev_secret_until "
         "INTEGER NOT NULL DEFAULT 0;"
         "CREATE INDEX webhook_events_time ON webhook_events(created_at);"
         "CREATE INDEX webhook_deliveries_event ON "
         "webhook_deliveries(event_ord);"),
        /* 13: every change of a device's decided state (the portfolio's
         * trends, docs/web.md): when, from and to which state, why (a
         * lock's cause; an unlock's: payment, unlock, release, other),
         * the decision's token seq, the record time of the payment that
         * ended a lock, and when the phone confirmed the change. Devices
         * decided before it start with their state as of their last
         * decision. Each device carries its contract's currency (set when
         * the contract is made), and the portfolio report's figures come
         * from one index holding what it adds up. */
        ("CREATE TABLE state_changes ("
         "  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
         "  tenant_id TEXT NOT NULL,"
         "  device_id TEXT NOT NULL,"
         "  at INTEGER NOT NULL,"
         "  from_state INTEGER NOT NULL,"
         "  to_state INTEGER NOT NULL,"
         "  cause TEXT NOT NULL DEFAULT '',"
         "  token_seq INTEGER NOT NULL DEFAULT 0,"
         "  paid_at INTEGER NOT NULL DEFAULT 0,"
         "  confirmed_at INTEGER NOT NULL DEFAULT 0);"
         "CREATE INDEX state_changes_tenant ON "
         "state_changes(tenant_id, at, from_state, to_state);"
         "CREATE INDEX state_changes_device ON "
         "state_changes(device_id, ord);"
         "INSERT INTO state_changes (tenant_id, device_id, at, from_state, "
         "to_state, token_seq) SELECT tenant_id, id, decided_at, 0, state, "
         "token_seq FROM devices WHERE state <> 0 ORDER BY ord;"
         "ALTER TABLE devices ADD COLUMN currency TEXT;"
         "UPDATE devices SET currency = (SELECT c.currency FROM contracts c "
         "WHERE c.device_id = devices.id);"
         "CREATE TRIGGER contracts_currency AFTER INSERT ON contracts BEGIN "
         "UPDATE devices SET currency = new.currency WHERE id = "
         "new.device_id; END;"
         "CREATE INDEX devices_portfolio ON devices(tenant_id, currency, "
         "state, stolen, amount_due, amount_remaining);"),
        /* 14: a device's MAC key sealed under a server secret
         * (store.h FL_MAC_SEAL_LEN), and what it keeps of its last
         * signed token (FL_TOKEN_MEMO_MAX), NULL until first written. */
        ("ALTER TABLE devices ADD COLUMN mac_seal BLOB;"
         "ALTER TABLE devices ADD COLUMN token_memo BLOB;"),
        /* 15: (no change: SQLite keeps the counts by state with its
         * triggers for each row, which run in the writing process without
         * a round trip; PostgreSQL's sweep keeps a group's counts in the
         * statement that stores it) */
        "SELECT 1;",
};

const int sq_migrations_count =
        (int)(sizeof(sq_migrations) / sizeof(sq_migrations[0]));
