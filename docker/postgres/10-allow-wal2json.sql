-- Allows the wal2json output plugin server-wide where PostgreSQL only loads the output plugins listed in
-- output_plugin_libraries (Debian's 15.19 and later; src/devstack/realtime/wal-setup.ts checks the same thing).
-- A server without that setting loads any installed plugin and is left alone. The setting is a list: each name
-- is its own literal. ALTER SYSTEM cannot run in a transaction block, so \gexec runs the generated statement on
-- its own. This file runs once, when the data directory is created.
select format(
         'alter system set output_plugin_libraries = %s',
         (select string_agg(quote_literal(p), ', ')
            from unnest(array_remove(string_to_array(translate(setting, ' "', ''), ','), '') || 'wal2json'::text) p)
       )
  from pg_settings
 where name = 'output_plugin_libraries'
   and not ('wal2json' = any (string_to_array(translate(setting, ' "', ''), ',')))
\gexec
select pg_reload_conf();
