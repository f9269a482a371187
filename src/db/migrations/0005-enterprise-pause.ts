// Migration 0005: pausing an enterprise (`notifyd pause --enterprise E`): durable, in PostgreSQL, so every host
// sees it. While a row is here no claim succeeds for the enterprise and the sweep passes over it: its rows wait,
// pending, and are delivered on resume (the row is deleted).
export const id = '0005-enterprise-pause';

export const sql = /* sql */ `
create table notify.enterprise_pause (
  enterprise_id  text primary key check (enterprise_id ~ '^[A-Za-z0-9_-]{1,64}$'),
  paused_at      timestamptz not null default now(),
  paused_by      text,
  reason         text
);

do $$
begin
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant select, insert, update, delete on notify.enterprise_pause to service_role;
  end if;
end;
$$;
`;
