// Migration 0001: the notify schema — enterprises, notifications (with the lifecycle columns), cron rules,
// per-enterprise watermarks, the triggers that keep version/updated_at/writer honest, and the Realtime publication.
export const id = '0001-notify-schema';

export const sql = /* sql */ `
create table notify.enterprise (
  id          text primary key check (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  name        text,
  enabled     boolean not null default true,
  created_at  timestamptz not null default now()
);

create table notify.notification_rule (
  id                 bigint generated always as identity primary key,
  enterprise_id      text not null,
  name               text,
  cron               text not null,
  timezone           text not null default 'UTC',
  workflow_id        text not null,
  recipients         text[] not null,
  payload            jsonb not null default '{}',
  enabled            boolean not null default true,
  missed_run_policy  text not null default 'skip' check (missed_run_policy in ('skip', 'run_once', 'catch_up')),
  catch_up_window    interval not null default interval '1 hour',
  catch_up_max       integer not null default 100 check (catch_up_max between 1 and 10000),
  invalid_reason     text,
  last_fire_at       timestamptz,
  version            bigint not null default 1,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now()
);
create index notification_rule_enterprise_idx on notify.notification_rule (enterprise_id);

create table notify.ent_notification (
  id                bigint generated always as identity primary key,
  enterprise_id     text not null,
  workflow_id       text not null,
  recipients        text[] not null,
  payload           jsonb not null default '{}',
  status            text not null default 'pending'
                    check (status in ('pending', 'processing', 'sent', 'failed', 'cancelled')),
  scheduled_for     timestamptz,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now(),
  -- lifecycle columns
  version           bigint not null default 1,
  armed_version     bigint not null default 1,
  writer            text not null default 'app',
  attempts          integer not null default 0,
  last_error        text,
  sent_at           timestamptz,
  transaction_id    text,
  lease_owner       text,
  lease_expires_at  timestamptz,
  source            text not null default 'app' check (source in ('app', 'rule')),
  rule_id           bigint references notify.notification_rule (id) on delete set null,
  fire_at           timestamptz,
  constraint ent_notification_rule_fire_unique unique (rule_id, fire_at)
);

-- The sweeps: due pending rows, expired leases; the catch-up: what changed per enterprise since a watermark.
create index ent_notification_pending_due_idx on notify.ent_notification (scheduled_for nulls first, id)
  where status = 'pending';
create index ent_notification_lease_idx on notify.ent_notification (lease_expires_at)
  where status = 'processing';
create index ent_notification_watermark_idx on notify.ent_notification (enterprise_id, updated_at, id);

-- DELETE events carry the whole old row, so a filter on enterprise_id also matches deletes.
alter table notify.ent_notification replica identity full;

-- Every write bumps version and updated_at and records who wrote it. notifyd marks its own writes by setting
-- writer = 'notifyd!' in the statement itself (one statement, no session state, safe behind a transaction pooler);
-- the stored value is only ever 'app' or 'notifyd', so a write that does not set the marker is the application's.
-- armed_version is the version at which the application last armed the row (insert, or back to pending): the
-- delivery identity (Novu transactionId / Idempotency-Key) derives from it, so notifyd's own writes never change it.
create function notify.stamp_row() returns trigger language plpgsql as $$
begin
  new.writer := case when new.writer = 'notifyd!' then 'notifyd' else 'app' end;
  if tg_op = 'INSERT' then
    new.version := 1;
    new.armed_version := 1;
  else
    new.version := old.version + 1;
    if new.writer = 'app' and new.status = 'pending' and old.status <> 'pending' then
      new.armed_version := new.version;
    else
      new.armed_version := old.armed_version;
    end if;
  end if;
  new.updated_at := clock_timestamp();
  return new;
end;
$$;

create trigger ent_notification_stamp before insert or update on notify.ent_notification
  for each row execute function notify.stamp_row();

create function notify.stamp_rule() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE' then
    new.version := old.version + 1;
  end if;
  new.updated_at := clock_timestamp();
  return new;
end;
$$;

create trigger notification_rule_stamp before insert or update on notify.notification_rule
  for each row execute function notify.stamp_rule();

-- Where each enterprise's catch-up resumes after a (re)subscribe.
create table notify.subscription_watermark (
  enterprise_id  text primary key,
  watermark      timestamptz not null,
  updated_at     timestamptz not null default now()
);

-- Realtime streams what is in the supabase_realtime publication.
do $$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
  if not exists (select 1 from pg_publication_tables
                 where pubname = 'supabase_realtime' and schemaname = 'notify' and tablename = 'ent_notification') then
    alter publication supabase_realtime add table notify.ent_notification;
  end if;
  if not exists (select 1 from pg_publication_tables
                 where pubname = 'supabase_realtime' and schemaname = 'notify' and tablename = 'notification_rule') then
    alter publication supabase_realtime add table notify.notification_rule;
  end if;
end;
$$;

-- On Supabase, the service role reads the schema through Realtime; on plain PostgreSQL the role does not exist.
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant usage on schema notify to service_role;
    grant select, insert, update, delete on all tables in schema notify to service_role;
  end if;
end;
$$;
`;
