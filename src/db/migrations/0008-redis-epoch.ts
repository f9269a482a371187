// Migration 0008: the Redis epoch each sweep scope last reconciled its queue with (src/queue/epoch.ts). Redis keeps a
// marker key with a random epoch id; when the marker's id is not the one recorded here, Redis lost its data since
// (a FLUSHALL, a restart without persistence, a failover to an empty replica) and the sweep leader repairs. Kept in
// PostgreSQL, not in a process's memory, so a restarted scheduler or a host that starts after the loss cannot hide it.
export const id = '0008-redis-epoch';

export const sql = /* sql */ `
create table notify.redis_epoch (
  queue_prefix   text not null,
  scope          text not null,
  epoch          text not null,
  reconciled_at  timestamptz not null default now(),
  primary key (queue_prefix, scope)
);

do $$
begin
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant select, insert, update, delete on notify.redis_epoch to service_role;
  end if;
end;
$$;
`;
