// What calling a PostgreSQL function (or operator) does. A call is a read only when the
// function is a known built-in without side effects; functions known to be dangerous carry
// their own class and flags; every other function is unknown, because a user-defined
// function can do anything.
import type { IntentClass } from '../gate/types.js';
import { CATALOG_SAFE_FUNCTIONS } from './postgres-catalog.js';

/** Built-ins that are not in the generated catalog list but are equally free of side effects. */
const EXTRA_SAFE_FUNCTIONS = `
random random_normal clock_timestamp timeofday gen_random_uuid uuidv4 uuidv7 array_sample array_shuffle
currval lastval current_query pg_blocking_pids pg_safe_snapshot_blocking_pids
pg_isolation_test_session_is_blocked pg_database_size pg_relation_size pg_table_size pg_indexes_size
pg_total_relation_size pg_tablespace_size pg_is_in_recovery pg_current_wal_lsn pg_current_wal_insert_lsn
pg_current_wal_flush_lsn pg_last_wal_receive_lsn pg_last_wal_replay_lsn pg_last_xact_replay_timestamp
pg_lock_status pg_partition_tree pg_partition_ancestors pg_notification_queue_usage pg_jit_available
pg_is_wal_replay_paused pg_get_wal_replay_pause_state pg_xact_status txid_status pg_sequence_last_value
pg_stat_have_stats pg_control_checkpoint pg_control_init pg_control_recovery pg_control_system
pg_get_backend_memory_contexts pg_get_shmem_allocations pg_prepared_xact pg_get_multixact_members
pg_collation_actual_version pg_database_collation_actual_version pg_last_committed_xact
pg_xact_commit_timestamp pg_xact_commit_timestamp_origin pg_get_wal_resource_managers
pg_stat_get_recovery_prefetch pg_stat_get_xact_blocks_fetched pg_stat_get_xact_blocks_hit
pg_stat_get_xact_function_calls pg_stat_get_xact_function_self_time pg_stat_get_xact_function_total_time
pg_stat_get_xact_numscans pg_stat_get_xact_tuples_deleted pg_stat_get_xact_tuples_fetched
pg_stat_get_xact_tuples_hot_updated pg_stat_get_xact_tuples_inserted pg_stat_get_xact_tuples_returned
pg_stat_get_xact_tuples_updated pg_current_logfile
any_value erf erfc date_add date_subtract pg_input_is_valid pg_input_error_info pg_split_walfile_name
system_user pg_stat_get_io pg_stat_get_backend_subxact to_bin to_oct pg_basetype pg_column_toast_chunk_id
uuid_extract_timestamp uuid_extract_version pg_available_wal_summaries pg_wal_summary_contents
pg_get_wal_summarizer_state pg_stat_get_checkpointer_num_timed pg_stat_get_checkpointer_num_requested
casefold array_reverse array_sort crc32 crc32c gamma lgamma pg_get_acl has_largeobject_privilege
pg_get_loaded_modules pg_numa_available pg_stat_get_backend_io pg_stat_get_backend_wal
json_scalar json_serialize json_array json_object json_objectagg json_arrayagg
`;

function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

/**
 * Pure functions of widely used extensions (uuid-ossp, pgcrypto, pg_trgm, fuzzystrmatch,
 * unaccent, hstore, citext). Extensions install into any schema, so these match unqualified
 * calls and calls qualified with `public` or `extensions`. Caveat: where the extension is not
 * installed, someone allowed to create functions in a schema on the search path could define
 * one of these names; that needs CREATE on such a schema, which policy should not hand out.
 */
const EXTENSION_SAFE = `
uuid_generate_v1 uuid_generate_v1mc uuid_generate_v3 uuid_generate_v4 uuid_generate_v5 uuid_nil uuid_ns_dns
uuid_ns_url uuid_ns_oid uuid_ns_x500 digest hmac crypt gen_salt gen_random_bytes encrypt decrypt encrypt_iv
decrypt_iv pgp_sym_encrypt pgp_sym_decrypt pgp_sym_encrypt_bytea pgp_sym_decrypt_bytea pgp_pub_encrypt
pgp_pub_decrypt pgp_pub_encrypt_bytea pgp_pub_decrypt_bytea pgp_key_id armor dearmor pgp_armor_headers
similarity word_similarity strict_word_similarity show_trgm show_limit levenshtein levenshtein_less_equal soundex
difference metaphone dmetaphone dmetaphone_alt daitch_mokotoff unaccent hstore akeys avals skeys svals each exist
exists_any exists_all defined hstore_to_json hstore_to_jsonb hstore_to_array hstore_to_matrix slice
citext regexp_match
`;

export const EXTENSION_SAFE_FUNCTIONS: ReadonlySet<string> = new Set(words(EXTENSION_SAFE));
export const EXTENSION_SCHEMAS: ReadonlySet<string> = new Set(['public', 'extensions']);

/** Functions whose calls are reads, by exact (already case-folded) name in pg_catalog. */
export const SAFE_FUNCTIONS: ReadonlySet<string> = new Set([
  ...words(CATALOG_SAFE_FUNCTIONS),
  ...words(EXTRA_SAFE_FUNCTIONS),
]);

export interface FunctionEffect {
  class: IntentClass;
  flags: string[];
}

const fileAccess: FunctionEffect = { class: 'admin', flags: ['file_access', 'side_effect_function'] };
const runsSql: FunctionEffect = { class: 'execute', flags: ['dynamic_sql', 'side_effect_function'] };
const server: FunctionEffect = { class: 'admin', flags: ['side_effect_function'] };
const writes: FunctionEffect = { class: 'write', flags: ['side_effect_function'] };
const advisory: FunctionEffect = { class: 'session', flags: ['advisory_lock', 'side_effect_function'] };

const table: Array<[string, FunctionEffect]> = [];
function add(names: string, effect: FunctionEffect): void {
  for (const n of words(names)) table.push([n, effect]);
}

// Read or write files on the database server.
add(
  `pg_read_file pg_read_binary_file pg_read_file_old pg_ls_dir pg_ls_logdir pg_ls_waldir pg_ls_tmpdir
   pg_ls_archive_statusdir pg_ls_logicalsnapdir pg_ls_logicalmapdir pg_ls_replslotdir pg_ls_summariesdir
   pg_stat_file lo_import lo_export pg_file_write pg_file_rename pg_file_unlink pg_file_sync pg_logdir_ls
   pg_show_all_file_settings pg_hba_file_rules pg_ident_file_mappings`,
  fileAccess,
);
// Run SQL given as text, or read tables that the statement itself never names.
add(
  `crosstab crosstab2 crosstab3 crosstab4 connectby pg_background_launch pgrowlocks query_to_xml query_to_xmlschema query_to_xml_and_xmlschema cursor_to_xml cursor_to_xmlschema
   table_to_xml table_to_xmlschema table_to_xml_and_xmlschema schema_to_xml schema_to_xmlschema
   schema_to_xml_and_xmlschema database_to_xml database_to_xmlschema database_to_xml_and_xmlschema ts_stat`,
  runsSql,
);
// Act on the server, other sessions, replication or statistics.
add(
  `pg_terminate_backend pg_cancel_backend pg_reload_conf pg_rotate_logfile pg_rotate_logfile_old pg_switch_wal
   pg_create_restore_point pg_backup_start pg_backup_stop pg_start_backup pg_stop_backup pg_promote
   pg_wal_replay_pause pg_wal_replay_resume pg_create_physical_replication_slot
   pg_create_logical_replication_slot pg_drop_replication_slot pg_copy_physical_replication_slot
   pg_copy_logical_replication_slot pg_replication_slot_advance pg_logical_slot_get_changes
   pg_logical_slot_get_binary_changes pg_logical_slot_peek_changes pg_logical_slot_peek_binary_changes
   pg_logical_emit_message pg_replication_origin_create pg_replication_origin_drop
   pg_replication_origin_advance pg_replication_origin_session_setup pg_replication_origin_session_reset
   pg_replication_origin_xact_setup pg_replication_origin_xact_reset pg_sync_replication_slots pg_stat_reset
   pg_stat_reset_shared pg_stat_reset_single_table_counters pg_stat_reset_single_function_counters
   pg_stat_reset_slru pg_stat_reset_replication_slot pg_stat_reset_subscription_stats pg_stat_reset_backend_stats
   pg_stat_statements_reset pg_stat_force_next_flush pg_log_backend_memory_contexts
   pg_import_system_collations pg_clear_attribute_stats pg_clear_relation_stats pg_restore_relation_stats
   pg_restore_attribute_stats pg_nextoid pg_stop_making_pinned_objects brin_summarize_range
   brin_summarize_new_values brin_desummarize_range gin_clean_pending_list pg_extension_config_dump
   pg_prewarm`,
  server,
);
// Change data outside any table the statement names.
add(
  `nextval setval pg_notify lo_create lo_creat lo_unlink lo_put lo_from_bytea lo_truncate lo_truncate64 lowrite`,
  writes,
);
// Large objects live outside tables, so table rules cannot see what these read.
add('lo_open lo_close lo_lseek lo_lseek64 lo_tell lo_tell64 loread lo_get', { class: 'read', flags: ['large_object'] });
add(
  `pg_advisory_lock pg_advisory_lock_shared pg_advisory_unlock pg_advisory_unlock_shared pg_advisory_unlock_all
   pg_advisory_xact_lock pg_advisory_xact_lock_shared pg_try_advisory_lock pg_try_advisory_lock_shared
   pg_try_advisory_xact_lock pg_try_advisory_xact_lock_shared`,
  advisory,
);
add('setseed pg_stat_clear_snapshot postgres_fdw_disconnect postgres_fdw_disconnect_all', {
  class: 'session',
  flags: ['side_effect_function'],
});
// Harmless for data, but they hold a connection for as long as asked: policy may want to see them.
add('pg_sleep pg_sleep_for pg_sleep_until', { class: 'read', flags: ['sleep'] });

/** Functions with a known effect, by exact name in any schema (extensions install anywhere). */
export const DANGEROUS_FUNCTIONS: ReadonlyMap<string, FunctionEffect> = new Map(table);

/** Families matched by prefix, because their extensions keep adding members. */
export function dangerousByPrefix(name: string): FunctionEffect | undefined {
  if (name.startsWith('dblink')) return { class: 'execute', flags: ['dynamic_sql', 'network', 'side_effect_function'] };
  if (name.startsWith('binary_upgrade_')) return server;
  return undefined;
}

/**
 * Operators defined in pg_catalog (all of them are implemented by immutable or stable
 * functions). An operator outside this set is user-defined and can run anything.
 */
export const BUILTIN_OPERATORS: ReadonlySet<string> = new Set(
  words(`!! !~ !~* !~~ !~~* # ## #- #> #>> % & && &< &<| &> * *< *<= *<> *= *> *>= + - -> ->> -|- / < <-> <<
   <<= <<| <= <> <@ <^ = > >= >> >>= >^ ? ?# ?& ?- ?-| ?| ?|| @ @-@ @> @? @@ @@@ ^ ^@ | |&> |/ |>> || ||/ ~
   ~* ~<=~ ~<~ ~= ~>=~ ~>~ ~~ ~~* !=`),
);

/** TABLESAMPLE methods that ship with PostgreSQL (core and the tsm_* contrib modules). */
export const TABLESAMPLE_METHODS: ReadonlySet<string> = new Set(['bernoulli', 'system', 'system_rows', 'system_time']);
