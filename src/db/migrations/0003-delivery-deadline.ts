// Migration 0003: when delivery of the current arming first started, so transient failures (Novu down, rate
// limited) are bounded in total time as well as in attempts. A re-arm by the application starts a new clock.
export const id = '0003-delivery-deadline';

export const sql = /* sql */ `
alter table notify.ent_notification add column first_attempt_at timestamptz;

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
      new.first_attempt_at := null;
    else
      new.armed_version := old.armed_version;
    end if;
  end if;
  new.updated_at := clock_timestamp();
  return new;
end;
$$;
`;
