// Migration 0004: delivery bookkeeping moves off the published row, and the table refuses what no reader can use.
// - notify.delivery holds what only notifyd reads — the lease (owner, expiry), attempts and when failing began, the
//   last transient error — per notification and arming. It is not in the supabase_realtime publication, so a claim
//   or a retry costs no Realtime message: a notification makes two (the application's insert and notifyd's final
//   status write). The row keeps status, sent_at, last_error and transaction_id; it stays `pending` while notifyd
//   works on it. notify.ent_notification_state shows the combined view (status `processing` while leased).
// - Attempts belong to an arming: a re-arm (the application sets the row back to pending) starts from zero.
// - A pending row's scheduled_for must be a real instant between the years 1 and 9999 (not ±infinity, no BC date, no
//   year 10000+), and its payload at most 1 MiB of JSON text (Realtime's per-record limit): such rows are refused at
//   insert with a constraint error. Existing pending rows that break either rule are failed with the reason first.
export const id = '0004-delivery-table';

// Checksummed once applied: long lines are split by concatenation (the text stays byte for byte), never rewrapped.
export const sql =
  /* sql */ `
create table notify.delivery (
  notification_id   bigint primary key references notify.ent_notification (id) on delete cascade,
  armed_version     bigint not null,
  lease_owner       text,
  lease_expires_at  timestamptz,
  attempts          integer not null default 0,
  first_attempt_at  timestamptz,
  last_error        text,
  outcome           text check (outcome in ('sent', 'failed')),
  updated_at        timestamptz not null default now()
);
create index delivery_lease_idx on notify.delivery (lease_expires_at) where outcome is null;

-- Rows in flight under the old schema keep their lease, now in the side table, and go back to pending.
insert into notify.delivery (notification_id, armed_version, lease_owner, lease_expires_at, ` +
  /* sql */ `attempts, first_attempt_at, last_error)
select id, armed_version, lease_owner, lease_expires_at, attempts, first_attempt_at, last_error
  from notify.ent_notification where status = 'processing';
update notify.ent_notification set status = 'pending', writer = 'notifyd!' where status = 'processing';

drop index notify.ent_notification_lease_idx;
alter table notify.ent_notification
  drop column attempts, drop column lease_owner, drop column lease_expires_at, drop column first_attempt_at;

create or replace function notify.stamp_row() returns trigger language plpgsql as $$
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

-- What the table refuses from now on; pending rows that already break it are failed, with the reason.
update notify.ent_notification
   set status = 'failed', writer = 'notifyd!',
       last_error = 'invalid scheduled_for: ' || scheduled_for::text ` +
  /* sql */ `|| ' is not an instant between the years 1 and 9999'
 where status = 'pending' and scheduled_for is not null
   and not (scheduled_for between '0001-01-01 00:00:00+00' and '9999-12-31 23:59:59.999999+00');
update notify.ent_notification
   set status = 'failed', writer = 'notifyd!',
       last_error = 'invalid payload: ' || octet_length(payload::text) ` +
  /* sql */ `|| ' bytes of JSON, at most 1048576 (1 MiB) allowed'
 where status = 'pending' and octet_length(payload::text) > 1048576;
alter table notify.ent_notification
  add constraint ent_notification_scheduled_for_check check (
    status <> 'pending' or scheduled_for is null
    or scheduled_for between '0001-01-01 00:00:00+00' and '9999-12-31 23:59:59.999999+00'),
  add constraint ent_notification_payload_size_check check (
    status <> 'pending' or octet_length(payload::text) <= 1048576);

-- Catch-up pages pending rows of one enterprise by (updated_at, id); only pending rows matter to it.
drop index notify.ent_notification_watermark_idx;
create index ent_notification_pending_changed_idx on notify.ent_notification (enterprise_id, updated_at, id)
  where status = 'pending';

-- The whole state of a notification as notifyd sees it: the row, plus its delivery bookkeeping for the current
-- arming; status reads 'processing' while a live lease holds it.
create view notify.ent_notification_state as
select n.*,
       case when n.status = 'pending' and d.outcome is null and d.lease_expires_at > now() then 'processing'
            else n.status end as delivery_status,
       coalesce(d.attempts, 0) as attempts,
       d.lease_owner, d.lease_expires_at, d.first_attempt_at,
       d.last_error as retry_error
  from notify.ent_notification n
  left join notify.delivery d on d.notification_id = n.id and d.armed_version = n.armed_version;

do $$
begin
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant select, insert, update, delete on notify.delivery to service_role;
    grant select on notify.ent_notification_state to service_role;
  end if;
end;
$$;
`;
