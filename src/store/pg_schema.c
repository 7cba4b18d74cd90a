/*
 * pg_schema.c - the PostgreSQL schema as numbered migrations.
 *
 * The same numbers and meaning as sqlite_schema.c, in PostgreSQL's
 * dialect: INTEGER columns are BIGINT (times in seconds since the epoch,
 * money in minor units, flags 0/1), BLOB is BYTEA, an AUTOINCREMENT ord is
 * an identity column (a sequence: concurrent inserts never compute "the
 * next ord" themselves, and ords are never reused). Migration N runs once,
 * in the transaction that records N in schema_version. Never edit a
 * migration that has shipped: add the next one, here and in SQLite's.
 *
 * Beyond SQLite's schema, migration 2 adds the change feed's trigger
 * (pg.c), and migration 4 keeps device_counts in one row per (state,
 * stolen, slot), the slot being the writing server process's id modulo 64:
 * concurrent writers add to rows of their own, never wait for each other
 * or deadlock on a shared counter, and the count is the sum. Migration 15
 * lets a statement that updates many devices keep their counts itself
 * (finlock.counted), once per statement rather than once per row.
 */
#include "store/pg_int.h"

const char *const pg_migrations[] = {
        /* 1: tenants, API keys, idempotency records, audit chains. */
        "CREATE TABLE tenants ("
        "  ord BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  id TEXT NOT NULL UNIQUE,"
        "  name TEXT NOT NULL,"
        "  created_at BIGINT NOT NULL);"
        "CREATE TABLE api_keys ("
        "  ord BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  id TEXT NOT NULL UNIQUE,"
        "  tenant_id TEXT NOT NULL,"
        "  role TEXT NOT NULL,"
        "  label TEXT NOT NULL,"
        "  hash BYTEA NOT NULL UNIQUE,"
        "  created_by TEXT NOT NULL,"
        "  created_at BIGINT NOT NULL,"
        "  revoked_at BIGINT NOT NULL DEFAULT 0);"
        "CREATE INDEX api_keys_tenant ON api_keys(tenant_id, ord);"
        "CREATE TABLE idempotency ("
        "  tenant_id TEXT NOT NULL,"
        "  route TEXT NOT NULL,"
        "  key TEXT NOT NULL,"
        "  fingerprint BYTEA NOT NULL,"
        "  status BIGINT NOT NULL,"
        "  body TEXT NOT NULL,"
        "  created_at BIGINT NOT NULL,"
        "  PRIMARY KEY (tenant_id, route, key));"
        "CREATE INDEX idempotency_created ON idempotency(created_at);"
        "CREATE TABLE audit ("
        "  chain TEXT NOT NULL,"
        "  seq BIGINT NOT NULL,"
        "  at BIGINT NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  action TEXT NOT NULL,"
        "  target TEXT NOT NULL,"
        "  before TEXT NOT NULL,"
        "  after TEXT NOT NULL,"
        "  prev_hash BYTEA NOT NULL,"
        "  hash BYTEA NOT NULL,"
        "  PRIMARY KEY (chain, seq));"
        /* Append-only: finlockd never updates or deletes an entry. */
        "CREATE FUNCTION audit_append_only() RETURNS trigger "
        "  LANGUAGE plpgsql AS $$ BEGIN"
        "  RAISE EXCEPTION 'audit log is append-only'; END $$;"
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
        "  FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
        "  FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
        "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
        "  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();"
        "CREATE TABLE audit_signed_heads ("
        "  ord BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  chain TEXT NOT NULL,"
        "  seq BIGINT NOT NULL,"
        "  hash BYTEA NOT NULL,"
        "  signed_at BIGINT NOT NULL,"
        "  token TEXT NOT NULL);"
        "CREATE INDEX audit_signed_heads_chain ON audit_signed_heads(chain, "
        "ord);",

        /* 2: devices with their decided status, IMEI claims, contracts,
         * schedules and reschedules, payments, manual commands. Lists of
         * short strings (apps, phone numbers) are stored one per line.
         * The change feed: every inserted or updated device row is
         * announced at commit (NOTIFY) and listed in the transaction's
         * finlock.changed, unless the transaction is quiet (pg.c). */
        "CREATE TABLE devices ("
        "  ord BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  id TEXT NOT NULL UNIQUE,"
        "  tenant_id TEXT NOT NULL,"
        "  imei TEXT NOT NULL,"
        "  imei2 TEXT NOT NULL,"
        "  serial TEXT NOT NULL,"
        "  model TEXT NOT NULL,"
        "  created_at BIGINT NOT NULL,"
        "  enroll_hash BYTEA UNIQUE,"
        "  enroll_expires BIGINT NOT NULL DEFAULT 0,"
        "  enrolled_at BIGINT NOT NULL DEFAULT 0,"
        "  device_pk BYTEA,"
        "  kx_pk BYTEA,"
        "  last_contact BIGINT NOT NULL DEFAULT 0,"
        "  req_counter BIGINT NOT NULL DEFAULT 0,"
        "  tamper_at BIGINT NOT NULL DEFAULT 0,"
        "  tamper_report TEXT NOT NULL DEFAULT '',"
        "  sim_at BIGINT NOT NULL DEFAULT 0,"
        "  sim_report TEXT NOT NULL DEFAULT '',"
        "  state BIGINT NOT NULL DEFAULT 0,"
        "  stolen BIGINT NOT NULL DEFAULT 0,"
        "  released_by_command BIGINT NOT NULL DEFAULT 0,"
        "  lock_cause BIGINT NOT NULL DEFAULT 0,"
        "  lock_at BIGINT NOT NULL DEFAULT 0,"
        "  unlock_until BIGINT NOT NULL DEFAULT 0,"
        "  paid_through BIGINT NOT NULL DEFAULT 0,"
        "  amount_due BIGINT NOT NULL DEFAULT 0,"
        "  amount_remaining BIGINT NOT NULL DEFAULT 0,"
        "  next_due_at BIGINT NOT NULL DEFAULT 0,"
        "  next_due_amount BIGINT NOT NULL DEFAULT 0,"
        "  next_change BIGINT NOT NULL DEFAULT 0,"
        "  decided_at BIGINT NOT NULL DEFAULT 0,"
        "  token_seq BIGINT NOT NULL DEFAULT 0,"
        "  outcome BYTEA NOT NULL DEFAULT ''::bytea);"
        "CREATE INDEX devices_tenant ON devices(tenant_id, ord);"
        "CREATE INDEX devices_imei ON devices(imei);"
        "CREATE INDEX devices_imei2 ON devices(imei2);"
        "CREATE INDEX devices_next_change ON devices(next_change)"
        "  WHERE next_change > 0;"
        "CREATE FUNCTION devices_feed() RETURNS trigger"
        "  LANGUAGE plpgsql AS $$ DECLARE c text; BEGIN"
        "  IF coalesce(current_setting('finlock.quiet', true), '') = 'on'"
        "    THEN RETURN NULL; END IF;"
        "  PERFORM pg_notify('finlock_devices', NEW.ord::text);"
        "  c := coalesce(current_setting('finlock.changed', true), '');"
        "  IF c = '' THEN"
        "    PERFORM set_config('finlock.changed', NEW.ord::text, true);"
        "  ELSIF c <> 'all' THEN"
        "    IF length(c) > 40000 THEN"
        "      PERFORM set_config('finlock.changed', 'all', true);"
        "    ELSE PERFORM set_config('finlock.changed',"
        "      c || ',' || NEW.ord::text, true); END IF;"
        "  END IF;"
        "  RETURN NULL; END $$;"
        "CREATE TRIGGER devices_feed AFTER INSERT OR UPDATE ON devices"
        "  FOR EACH ROW EXECUTE FUNCTION devices_feed();"
        "CREATE TABLE imei_claims ("
        "  imei TEXT PRIMARY KEY,"
        "  device_id TEXT NOT NULL);"
        "CREATE INDEX imei_claims_device ON imei_claims(device_id);"
        "CREATE TABLE contracts ("
        "  ord BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  device_id TEXT NOT NULL UNIQUE,"
        "  tenant_id TEXT NOT NULL,"
        "  created_at BIGINT NOT NULL,"
        "  loan_ref TEXT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  utc_offset BIGINT NOT NULL,"
        "  grace BIGINT NOT NULL,"
        "  max_offline BIGINT NOT NULL,"
        "  remind TEXT NOT NULL,"
        "  restrict_mask BIGINT NOT NULL,"
        "  allow_apps TEXT NOT NULL,"
        "  message TEXT NOT NULL,"
        "  contact_name TEXT NOT NULL,"
        "  contact_phones TEXT NOT NULL,"
        "  sim_policy BIGINT NOT NULL,"
        "  tamper_policy BIGINT NOT NULL);"
        "CREATE INDEX contracts_tenant ON contracts(tenant_id, ord);"
        /* resched = 0: the contract's own schedule; else a reschedule's
         * ord */
        "CREATE TABLE installments ("
        "  device_id TEXT NOT NULL,"
        "  resched BIGINT NOT NULL,"
        "  idx BIGINT NOT NULL,"
        "  due_at BIGINT NOT NULL,"
        "  amount BIGINT NOT NULL,"
        "  PRIMARY KEY (device_id, resched, idx));"
        "CREATE TABLE reschedules ("
        "  ord BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  device_id TEXT NOT NULL,"
        "  tenant_id TEXT NOT NULL,"
        "  from_at BIGINT NOT NULL,"
        "  created_at BIGINT NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  reason TEXT NOT NULL);"
        "CREATE INDEX reschedules_device ON reschedules(device_id, ord);"
        "CREATE TABLE payments ("
        "  ord BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  id TEXT NOT NULL UNIQUE,"
        "  tenant_id TEXT NOT NULL,"
        "  device_id TEXT NOT NULL,"
        "  amount BIGINT NOT NULL CHECK (amount > 0),"
        "  paid_at BIGINT NOT NULL,"
        "  reference TEXT NOT NULL,"
        "  recorded_at BIGINT NOT NULL,"
        "  recorded_by TEXT NOT NULL,"
        "  reversed_at BIGINT NOT NULL DEFAULT 0,"
        "  reverse_reason TEXT NOT NULL DEFAULT '',"
        "  reversed_by TEXT NOT NULL DEFAULT '');"
        "CREATE INDEX payments_device ON payments(device_id, paid_at, ord);"
        "CREATE INDEX payments_tenant ON payments(tenant_id, ord);"
        "CREATE TABLE commands ("
        "  ord BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  tenant_id TEXT NOT NULL,"
        "  device_id TEXT NOT NULL,"
        "  kind BIGINT NOT NULL,"
        "  issued_at BIGINT NOT NULL,"
        "  at BIGINT NOT NULL,"
        "  reason TEXT NOT NULL,"
        "  actor TEXT NOT NULL);"
        "CREATE INDEX commands_device ON commands(device_id, ord);",

        /* 3: the device protocol: used one-time codes (so a retried
         * enrollment is answered again), pending re-enrollments by
         * pairing code, SIM and tamper reports, offline-code counters.
         * No secret: the per-device keys are derived, not stored. */
        "CREATE TABLE used_codes ("
        "  hash BYTEA PRIMARY KEY,"
        "  device_id TEXT NOT NULL,"
        "  sign_pk BYTEA NOT NULL,"
        "  kx_pk BYTEA NOT NULL,"
        "  used_at BIGINT NOT NULL);"
        "CREATE TABLE pairing_requests ("
        "  ord BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  device_id TEXT NOT NULL,"
        "  sign_pk BYTEA NOT NULL,"
        "  kx_pk BYTEA NOT NULL,"
        "  code TEXT NOT NULL,"
        "  created_at BIGINT NOT NULL,"
        "  expires_at BIGINT NOT NULL,"
        "  status BIGINT NOT NULL DEFAULT 0,"
        "  decided_at BIGINT NOT NULL DEFAULT 0,"
        "  decided_by TEXT NOT NULL DEFAULT '',"
        "  UNIQUE (device_id, sign_pk, kx_pk));"
        "CREATE INDEX pairing_requests_device ON "
        "pairing_requests(device_id, ord);"
        "CREATE TABLE device_reports ("
        "  ord BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  device_id TEXT NOT NULL,"
        "  tenant_id TEXT NOT NULL,"
        "  at BIGINT NOT NULL,"
        "  kind BIGINT NOT NULL,"
        "  detail TEXT NOT NULL);"
        "CREATE INDEX device_reports_device ON device_reports(device_id, "
        "ord);"
        "CREATE TABLE offline_codes ("
        "  device_id TEXT PRIMARY KEY,"
        "  counter BIGINT NOT NULL DEFAULT 0,"
        "  action BIGINT NOT NULL DEFAULT 0,"
        "  issue_day BIGINT NOT NULL DEFAULT 0,"
        "  issued_at BIGINT NOT NULL DEFAULT 0,"
        "  issued_by TEXT NOT NULL DEFAULT '',"
        "  used BIGINT NOT NULL DEFAULT 0,"
        "  unlock_until BIGINT NOT NULL DEFAULT 0);",

        /* 4: the number of devices in each (state, stolen), kept by
         * triggers in the transaction of every change, so counting the
         * fleet reads a handful of rows instead of every device. Seeded
         * from the devices present. One row per (state, stolen, slot) of
         * the writing server process: see the header. */
        "CREATE TABLE device_counts ("
        "  state BIGINT NOT NULL,"
        "  stolen BIGINT NOT NULL,"
        "  slot INTEGER NOT NULL,"
        "  n BIGINT NOT NULL,"
        "  PRIMARY KEY (state, stolen, slot));"
        "INSERT INTO device_counts (state, stolen, slot, n)"
        "  SELECT state, stolen, 0, count(*) FROM devices"
        "  GROUP BY state, stolen;"
        "CREATE FUNCTION device_counts_add(s BIGINT, t BIGINT, d BIGINT)"
        "  RETURNS void LANGUAGE sql AS $$"
        "  INSERT INTO device_counts AS dc (state, stolen, slot, n)"
        "    VALUES (s, t, pg_backend_pid() % 64, d)"
        "    ON CONFLICT (state, stolen, slot)"
        "    DO UPDATE SET n = dc.n + excluded.n $$;"
        "CREATE FUNCTION devices_count() RETURNS trigger"
        "  LANGUAGE plpgsql AS $$ BEGIN"
        "  IF TG_OP <> 'INSERT' THEN"
        "    PERFORM device_counts_add(OLD.state, OLD.stolen, -1); END IF;"
        "  IF TG_OP <> 'DELETE' THEN"
        "    PERFORM device_counts_add(NEW.state, NEW.stolen, 1); END IF;"
        "  RETURN NULL; END $$;"
        "CREATE TRIGGER devices_count_insert AFTER INSERT ON devices"
        "  FOR EACH ROW EXECUTE FUNCTION devices_count();"
        "CREATE TRIGGER devices_count_delete AFTER DELETE ON devices"
        "  FOR EACH ROW EXECUTE FUNCTION devices_count();"
        "CREATE TRIGGER devices_count_update AFTER UPDATE OF state, stolen"
        "  ON devices FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM"
        "  NEW.state OR OLD.stolen IS DISTINCT FROM NEW.stolen)"
        "  EXECUTE FUNCTION devices_count();",

        /* 5: the phone's factory key, registered when it enrolls by
         * one-time code; pairing requests remember whether that key
         * signed them and the client network they came from (IPv4 /24,
         * IPv6 /64), which bounds pending requests per network across
         * all devices. */
        "ALTER TABLE devices ADD COLUMN factory_pk BYTEA;"
        "ALTER TABLE pairing_requests ADD COLUMN factory_signed BIGINT "
        "NOT NULL DEFAULT 0;"
        "ALTER TABLE pairing_requests ADD COLUMN client_net TEXT NOT NULL "
        "DEFAULT '';"
        "CREATE INDEX pairing_requests_net ON "
        "pairing_requests(client_net, expires_at);",

        /* 6: what a lender sees and chooses: stolen 1 (locked as stolen)
         * or 2 (a report standing on a released device); credit; whether
         * a command's reason is shown, and its cancellation; when a key
         * was last used; payments found by reference. */
        "ALTER TABLE devices ADD COLUMN credit BIGINT NOT NULL DEFAULT 0;"
        "ALTER TABLE commands ADD COLUMN show_reason BIGINT NOT NULL "
        "DEFAULT 0;"
        "ALTER TABLE commands ADD COLUMN cancelled_at BIGINT NOT NULL "
        "DEFAULT 0;"
        "ALTER TABLE commands ADD COLUMN cancelled_by TEXT NOT NULL "
        "DEFAULT '';"
        "ALTER TABLE commands ADD COLUMN cancel_reason TEXT NOT NULL "
        "DEFAULT '';"
        "ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT NOT NULL "
        "DEFAULT 0;"
        "CREATE INDEX payments_reference ON payments(tenant_id, reference, "
        "ord) WHERE reference <> '';",

        /* 7: the server's identity: the fingerprint of the keys the
         * database was made with (store.h), one row. */
        "CREATE TABLE server_identity ("
        "  id INTEGER PRIMARY KEY CHECK (id = 1),"
        "  keys_fingerprint BYTEA NOT NULL,"
        "  recorded_at BIGINT NOT NULL);",

        /* 8: signed-in console sessions, by a keyed hash of the session
         * id, with the key it acts as and that key's role at sign-in. */
        "CREATE TABLE web_sessions ("
        "  hash BYTEA PRIMARY KEY,"
        "  key_id TEXT NOT NULL,"
        "  tenant_id TEXT NOT NULL,"
        "  role TEXT NOT NULL,"
        "  created_at BIGINT NOT NULL,"
        "  last_seen BIGINT NOT NULL);"
        "CREATE INDEX web_sessions_seen ON web_sessions (last_seen);"
        "CREATE INDEX web_sessions_created ON web_sessions (created_at);",

        /* 9: the highest request counter whose effects were applied
         * (store.h fl_store_dp_claim). */
        /* (parenthesised: clang would take two literals for a
         * forgotten comma) */
        ("ALTER TABLE devices ADD COLUMN applied_counter BIGINT NOT NULL "
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
        "  ord BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  id TEXT NOT NULL UNIQUE,"
        "  tenant_id TEXT NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  name TEXT NOT NULL,"
        "  shortcode TEXT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  networks TEXT NOT NULL,"
        "  path_hash BYTEA NOT NULL,"
        "  secret TEXT NOT NULL,"
        "  max_silence BIGINT NOT NULL,"
        "  created_at BIGINT NOT NULL,"
        "  disabled_at BIGINT NOT NULL DEFAULT 0,"
        "  rotated_at BIGINT NOT NULL DEFAULT 0,"
        "  last_callback_at BIGINT NOT NULL DEFAULT 0,"
        "  stale_since BIGINT NOT NULL DEFAULT 0);"
        "CREATE INDEX payment_sources_tenant ON "
        "payment_sources(tenant_id, ord);"
        "CREATE TABLE provider_payments ("
        "  source_id TEXT NOT NULL,"
        "  ref TEXT NOT NULL,"
        "  tenant_id TEXT NOT NULL,"
        "  fingerprint BYTEA NOT NULL,"
        "  amount BIGINT NOT NULL,"
        "  payment_id TEXT NOT NULL,"
        "  unmatched_id TEXT NOT NULL,"
        "  created_at BIGINT NOT NULL,"
        "  PRIMARY KEY (source_id, ref));"
        "CREATE INDEX provider_payments_ref ON "
        "provider_payments(tenant_id, ref, created_at);"
        "CREATE INDEX provider_payments_time ON "
        "provider_payments(tenant_id, created_at);"
        "CREATE TABLE source_messages ("
        "  source_id TEXT NOT NULL,"
        "  msg_id TEXT NOT NULL,"
        "  seen_at BIGINT NOT NULL,"
        "  PRIMARY KEY (source_id, msg_id));"
        "CREATE INDEX source_messages_seen ON "
        "source_messages(source_id, seen_at);"
        "CREATE TABLE unmatched_payments ("
        "  ord BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  id TEXT NOT NULL UNIQUE,"
        "  tenant_id TEXT NOT NULL,"
        "  source_id TEXT NOT NULL,"
        "  reference TEXT NOT NULL,"
        "  account TEXT NOT NULL,"
        "  amount BIGINT NOT NULL,"
        "  currency TEXT NOT NULL,"
        "  paid_at BIGINT NOT NULL,"
        "  reason TEXT NOT NULL,"
        "  payer TEXT NOT NULL,"
        "  created_at BIGINT NOT NULL,"
        "  payment_id TEXT NOT NULL DEFAULT '',"
        "  assigned_at BIGINT NOT NULL DEFAULT 0,"
        "  assigned_by TEXT NOT NULL DEFAULT '');"
        "CREATE INDEX unmatched_payments_tenant ON "
        "unmatched_payments(tenant_id, ord);"
        "CREATE TABLE pending_releases ("
        "  device_id TEXT PRIMARY KEY,"
        "  tenant_id TEXT NOT NULL,"
        "  payment_id TEXT NOT NULL,"
        "  created_at BIGINT NOT NULL);"
        "CREATE TABLE lock_holds ("
        "  ord BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  id TEXT NOT NULL UNIQUE,"
        "  tenant_id TEXT NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  source_id TEXT NOT NULL,"
        "  until_at BIGINT NOT NULL,"
        "  reason TEXT NOT NULL,"
        "  created_at BIGINT NOT NULL,"
        "  created_by TEXT NOT NULL,"
        "  released_at BIGINT NOT NULL DEFAULT 0,"
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
         "  ord BIGSERIAL PRIMARY KEY,"
         "  id TEXT NOT NULL UNIQUE,"
         "  tenant_id TEXT NOT NULL,"
         "  url TEXT NOT NULL,"
         "  events TEXT NOT NULL,"
         "  secret_gen BIGINT NOT NULL,"
         "  created_at BIGINT NOT NULL,"
         "  created_by TEXT NOT NULL,"
         "  disabled_at BIGINT NOT NULL DEFAULT 0,"
         "  disabled_reason TEXT NOT NULL DEFAULT '');"
         "CREATE INDEX webhook_endpoints_tenant ON "
         "webhook_endpoints(tenant_id, ord);"
         "CREATE TABLE webhook_events ("
         "  ord BIGSERIAL PRIMARY KEY,"
         "  id TEXT NOT NULL UNIQUE,"
         "  tenant_id TEXT NOT NULL,"
         "  type TEXT NOT NULL,"
         "  body TEXT NOT NULL,"
         "  created_at BIGINT NOT NULL);"
         "CREATE TABLE webhook_deliveries ("
         "  ord BIGSERIAL PRIMARY KEY,"
         "  event_ord BIGINT NOT NULL,"
         "  endpoint_id TEXT NOT NULL,"
         "  tenant_id TEXT NOT NULL,"
         "  state BIGINT NOT NULL DEFAULT 0,"
         "  attempts BIGINT NOT NULL DEFAULT 0,"
         "  next_at BIGINT NOT NULL,"
         "  lease_until BIGINT NOT NULL DEFAULT 0,"
         "  last_at BIGINT NOT NULL DEFAULT 0,"
         "  last_status BIGINT NOT NULL DEFAULT 0,"
         "  last_error TEXT NOT NULL DEFAULT '',"
         "  done_at BIGINT NOT NULL DEFAULT 0);"
         "CREATE INDEX webhook_deliveries_head ON "
         "webhook_deliveries(endpoint_id, state, ord);"
         "CREATE INDEX webhook_deliveries_due ON "
         "webhook_deliveries(state, next_at);"
         "CREATE INDEX webhook_deliveries_tenant ON "
         "webhook_deliveries(tenant_id, ord);"
         "ALTER TABLE devices ADD COLUMN confirmed_seq BIGINT NOT NULL "
         "DEFAULT 0;"
         "ALTER TABLE devices ADD COLUMN confirmed_locked BIGINT NOT NULL "
         "DEFAULT 0;"
         "ALTER TABLE devices ADD COLUMN confirmed_at BIGINT NOT NULL "
         "DEFAULT 0;"),
        /* 12: a tenant's loan references are unique ignoring case and
         * spaces (payments name a loan by it; lower-cased as finlockd
         * does, ASCII only, whatever the database's collation): refused,
         * naming them, while two contracts share one (the previous
         * finlockd can still rename one). An unmatched payment remembers
         * what it stood for, so the same reused reference with the same
         * content is kept once. A webhook endpoint's previous secret
         * signs too until prev_secret_until. The outbox is pruned by
         * time. */
        ("DO $$ DECLARE t TEXT; r TEXT; BEGIN "
         "SELECT tenant_id, min(loan_ref) INTO t, r FROM contracts WHERE "
         "loan_ref <> '' GROUP BY tenant_id, "
         "lower(replace(loan_ref, ' ', '') COLLATE \"C\") "
         "HAVING count(*) > 1 LIMIT 1; "
         "IF t IS NOT NULL THEN RAISE EXCEPTION 'two contracts of tenant "
         "% share loan_ref % (ignoring case and spaces): give one "
         "another loan_ref with the previous finlockd, then upgrade', "
         "t, r; END IF; END $$;"
         "DROP INDEX contracts_loan_ref_norm;"
         "CREATE UNIQUE INDEX contracts_loan_ref_norm ON "
         "contracts(tenant_id, (lower(replace(loan_ref, ' ', '') "
         "COLLATE \"C\"))) WHERE loan_ref <> '';"
         "ALTER TABLE unmatched_payments ADD COLUMN fingerprint BYTEA NOT "
         "NULL DEFAULT ''::bytea;"
         "CREATE UNIQUE INDEX unmatched_payments_ref ON "
         "unmatched_payments(source_id, reference, fingerprint) WHERE "
         "length(fingerprint) > 0;"
         "ALTER TABLE webhook_endpoints ADD COLUMN prev_secret_until "
         "BIGINT NOT NULL DEFAULT 0;"
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
         "  ord BIGSERIAL PRIMARY KEY,"
         "  tenant_id TEXT NOT NULL,"
         "  device_id TEXT NOT NULL,"
         "  at BIGINT NOT NULL,"
         "  from_state BIGINT NOT NULL,"
         "  to_state BIGINT NOT NULL,"
         "  cause TEXT NOT NULL DEFAULT '',"
         "  token_seq BIGINT NOT NULL DEFAULT 0,"
         "  paid_at BIGINT NOT NULL DEFAULT 0,"
         "  confirmed_at BIGINT NOT NULL DEFAULT 0);"
         "CREATE INDEX state_changes_tenant ON "
         "state_changes(tenant_id, at, from_state, to_state);"
         "CREATE INDEX state_changes_device ON "
         "state_changes(device_id, ord);"
         "INSERT INTO state_changes (tenant_id, device_id, at, from_state, "
         "to_state, token_seq) SELECT tenant_id, id, decided_at, 0, state, "
         "token_seq FROM devices WHERE state <> 0 ORDER BY ord;"
         "ALTER TABLE devices ADD COLUMN currency TEXT;"
         "SELECT set_config('finlock.quiet', 'on', true);"
         "UPDATE devices d SET currency = c.currency FROM contracts c "
         "WHERE c.device_id = d.id;"
         "SELECT set_config('finlock.quiet', '', true);"
         "CREATE FUNCTION contracts_currency() RETURNS trigger"
         "  LANGUAGE plpgsql AS $$ BEGIN"
         "  UPDATE devices SET currency = NEW.currency"
         "    WHERE id = NEW.device_id;"
         "  RETURN NULL; END $$;"
         "CREATE TRIGGER contracts_currency AFTER INSERT ON contracts"
         "  FOR EACH ROW EXECUTE FUNCTION contracts_currency();"
         "CREATE INDEX devices_portfolio ON devices(tenant_id, currency, "
         "state, stolen, amount_due, amount_remaining);"),
        /* 14: a device's MAC key sealed under a server secret
         * (store.h FL_MAC_SEAL_LEN), and what it keeps of its last
         * signed token (FL_TOKEN_MEMO_MAX), NULL until first written. */
        ("ALTER TABLE devices ADD COLUMN mac_seal BYTEA;"
         "ALTER TABLE devices ADD COLUMN token_memo BYTEA;"),
        /* 15: a statement that keeps the counts by state itself (the
         * sweep stores a group of decisions, and their counts, in one)
         * says so by setting finlock.counted for the transaction, and the
         * update trigger then leaves its rows alone: one upsert per
         * (state, stolen) for the group instead of one per device. Every
         * other update is counted row by row as before. */
        ("DROP TRIGGER devices_count_update ON devices;"
         "CREATE TRIGGER devices_count_update AFTER UPDATE OF state, stolen"
         "  ON devices FOR EACH ROW WHEN ((OLD.state IS DISTINCT FROM"
         "  NEW.state OR OLD.stolen IS DISTINCT FROM NEW.stolen) AND"
         "  coalesce(current_setting('finlock.counted', true), '') <> 'on')"
         "  EXECUTE FUNCTION devices_count();"),
};

const int pg_migrations_count =
        (int)(sizeof(pg_migrations) / sizeof(pg_migrations[0]));
