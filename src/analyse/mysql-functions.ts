// What calling a MySQL/MariaDB function does. A call is a read only when the function is a
// built-in known to be free of side effects. Built-in names win over stored functions and UDFs
// for unqualified calls, quoted or not, in any letter case; a schema-qualified call
// (`db.f()`) is always a stored function, which can do anything. Every other function is
// unknown: a UDF (`sys_exec`) or stored function can run programs or change data.
import type { IntentClass } from '../gate/types.js';

function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

/** Built-in functions without side effects (MySQL 8.x/9.x and MariaDB 10.x/11.x), lower case. */
const SAFE = `
abs acos asin atan atan2 ceil ceiling conv cos cot crc32 crc32c degrees exp floor ln log log10 log2 mod pi pow
power radians rand round sign sin sqrt tan truncate format bit_count
ascii bin bit_length char char_length character_length chr concat concat_ws elt export_set field find_in_set
from_base64 hex insert instr lcase left length locate lower lpad ltrim make_set mid oct octet_length ord position
quote regexp_instr regexp_like regexp_replace regexp_substr repeat replace reverse right rpad rtrim soundex space
strcmp substr substring substring_index to_base64 trim ucase unhex upper weight_string natural_sort_key sformat
to_char format_bytes format_pico_time
adddate addtime convert_tz curdate current_date current_time current_timestamp curtime date date_add date_format
date_sub datediff day dayname dayofmonth dayofweek dayofyear extract from_days from_unixtime get_format hour
last_day localtime localtimestamp makedate maketime microsecond minute month monthname now period_add period_diff
quarter sec_to_time second str_to_date subdate subtime sysdate time time_format time_to_sec timediff timestamp
timestampadd timestampdiff to_days to_seconds unix_timestamp utc_date utc_time utc_timestamp week weekday
weekofyear year yearweek add_months months_between trunc
avg bit_and bit_or bit_xor count group_concat json_arrayagg json_objectagg max min std stddev stddev_pop
stddev_samp sum var_pop var_samp variance any_value grouping row_number rank dense_rank percent_rank cume_dist
ntile lag lead first_value last_value nth_value median percentile_cont percentile_disc
if ifnull nullif coalesce greatest least isnull interval nvl nvl2 decode_oracle row
cast convert binary charset coercibility collation connection_id current_role current_user database found_rows
icu_version roles_graphml row_count schema session_user system_user user version ps_current_thread_id
ps_thread_id
aes_decrypt aes_encrypt compress des_decrypt des_encrypt encode decode encrypt md5 old_password password
random_bytes sha sha1 sha2 statement_digest statement_digest_text uncompress uncompressed_length
validate_password_strength kdf
default inet_aton inet_ntoa inet6_aton inet6_ntoa is_ipv4 is_ipv4_compat is_ipv4_mapped is_ipv6 is_free_lock
is_used_lock name_const values uuid uuid_short uuid_to_bin bin_to_uuid is_uuid sys_guid gtid_subset
gtid_subtract lastval
json_array json_array_append json_array_insert json_array_intersect json_contains json_contains_path json_depth
json_detailed json_equals json_exists json_extract json_insert json_keys json_length json_loose json_merge
json_merge_patch json_merge_preserve json_normalize json_object json_object_filter_keys json_object_to_array
json_overlaps json_pretty json_query json_quote json_remove json_replace json_schema_valid
json_schema_validation_report json_search json_set json_storage_free json_storage_size json_type json_unquote
json_valid json_value json_compact json_key_value json_array_agg json_object_agg
column_create column_add column_get column_delete column_exists column_list column_check column_json
extractvalue updatexml
point linestring polygon multipoint multilinestring multipolygon geometrycollection
st_area st_asbinary st_aswkb st_asgeojson st_astext st_aswkt st_buffer st_buffer_strategy st_centroid
st_collect st_contains st_convexhull st_crosses st_difference st_dimension st_disjoint st_distance
st_distance_sphere st_endpoint st_envelope st_equals st_exteriorring st_frechetdistance st_geohash
st_geomcollfromtext st_geomcollfromtxt st_geomcollfromwkb st_geometrycollectionfromtext
st_geometrycollectionfromwkb st_geometryfromtext st_geometryfromwkb st_geometryn st_geometrytype
st_geomfromgeojson st_geomfromtext st_geomfromwkb st_hausdorffdistance st_interiorringn st_intersection
st_intersects st_isclosed st_isempty st_isring st_issimple st_isvalid st_latfromgeohash st_latitude st_length
st_linefromtext st_linefromwkb st_lineinterpolatepoint st_lineinterpolatepoints st_linestringfromtext
st_linestringfromwkb st_longfromgeohash st_longitude st_makeenvelope st_mlinefromtext st_mlinefromwkb
st_mpointfromtext st_mpointfromwkb st_mpolyfromtext st_mpolyfromwkb st_multilinestringfromtext
st_multilinestringfromwkb st_multipointfromtext st_multipointfromwkb st_multipolygonfromtext
st_multipolygonfromwkb st_numgeometries st_numinteriorring st_numinteriorrings st_numpoints st_overlaps
st_pointatdistance st_pointfromgeohash st_pointfromtext st_pointfromwkb st_pointn st_polyfromtext
st_polyfromwkb st_polygonfromtext st_polygonfromwkb st_relate st_simplify st_spatial_sort st_srid st_startpoint
st_swapxy st_symdifference st_touches st_transform st_union st_validate st_within st_x st_y
mbrcontains mbrcoveredby mbrcovers mbrdisjoint mbrequals mbrintersects mbroverlaps mbrtouches mbrwithin
`;

export const SAFE_FUNCTIONS: ReadonlySet<string> = new Set(words(SAFE));

export interface FunctionEffect {
  class: IntentClass;
  flags: string[];
}

const table: Array<[string, FunctionEffect]> = [];
function add(names: string, effect: FunctionEffect): void {
  for (const n of words(names)) table.push([n, effect]);
}

// Reads a file on the database server (needs the FILE privilege).
add('load_file', { class: 'admin', flags: ['file_access', 'side_effect_function'] });
// Hold the connection (and locks) for as long as asked, or burn CPU.
add('sleep benchmark', { class: 'read', flags: ['sleep', 'side_effect_function'] });
// Wait for replication to catch up.
add('master_pos_wait source_pos_wait master_gtid_wait wait_for_executed_gtid_set wait_until_sql_thread_after_gtids', {
  class: 'read',
  flags: ['sleep'],
});
// Named locks live with the session and block other sessions.
add('get_lock release_lock release_all_locks', { class: 'session', flags: ['advisory_lock', 'side_effect_function'] });
// Sequences (MariaDB) change state outside any table the statement names.
add('nextval setval', { class: 'write', flags: ['side_effect_function'] });
// Well-known UDFs that run programs on the server (lib_mysqludf_sys); unknown like any UDF,
// but flagged so policy and audit can name them.
add('sys_exec sys_eval', { class: 'unknown', flags: ['program_exec', 'side_effect_function'] });
add('sys_get sys_set', { class: 'unknown', flags: ['side_effect_function'] });

/** Built-in functions with a known effect other than a plain read, lower case. */
export const DANGEROUS_FUNCTIONS: ReadonlyMap<string, FunctionEffect> = new Map(table);

/**
 * What a call of built-in `name` (lower case) with `argCount` arguments does: undefined if it
 * is a plain read, an effect otherwise, or null when the function is not a known built-in.
 */
export function functionEffect(name: string, argCount: number): FunctionEffect | undefined | null {
  // LAST_INSERT_ID(expr) sets the value the next LAST_INSERT_ID() returns.
  if (name === 'last_insert_id') return argCount > 0 ? { class: 'session', flags: ['side_effect_function'] } : undefined;
  const d = DANGEROUS_FUNCTIONS.get(name);
  if (d !== undefined) return d;
  return SAFE_FUNCTIONS.has(name) ? undefined : null;
}

/** Session variables that only privileged accounts may set, because they bypass replication,
 * auditing or integrity (SET of them is `admin`). */
export const RESTRICTED_VARIABLES: ReadonlySet<string> = new Set(
  words(`sql_log_bin sql_log_off gtid_next gtid_purged gtid_seq_no gtid_domain_id server_id pseudo_thread_id
   pseudo_slave_mode pseudo_replica_mode rbr_exec_mode binlog_format binlog_row_image binlog_row_value_options
   binlog_direct_non_transactional_updates skip_replication sql_slave_skip_counter sql_replica_skip_counter
   explicit_defaults_for_timestamp original_commit_timestamp original_server_version immediate_server_version
   default_table_encryption binlog_annotate_row_events wsrep_on wsrep_osu_method wsrep_dirty_reads
   sql_require_primary_key transaction_write_set_extraction debug debug_sync keycache_division_limit
   innodb_strict_mode`),
);

/** Character sets in which a multi-byte character can contain the byte of `\` or `'`: text
 * decoded any other way could hide a quote from the analysis. */
export const UNSAFE_CHARSETS: ReadonlySet<string> = new Set(['big5', 'cp932', 'gbk', 'gb18030', 'sjis', 'gb2312']);

/** sql_mode words that make `"` quote identifiers. */
export const ANSI_QUOTES_MODES: ReadonlySet<string> = new Set(['ANSI_QUOTES', 'ANSI', 'DB2', 'MAXDB', 'MSSQL', 'ORACLE', 'POSTGRESQL']);

/** sql_mode words that change the grammar beyond what this analyser models. */
export const UNSUPPORTED_MODES: ReadonlySet<string> = new Set(['ORACLE', 'MSSQL']);

/** Storage engines that keep data in the server's own files. */
export const SAFE_ENGINES: ReadonlySet<string> = new Set(
  words(`innodb myisam aria memory heap archive blackhole csv rocksdb tokudb columnstore ndb ndbcluster sequence
   maria`),
);

/** Storage engines that reach other servers or arbitrary files. */
export const NETWORK_ENGINES: ReadonlySet<string> = new Set(['federated', 'federatedx', 'spider', 'connect', 's3']);
