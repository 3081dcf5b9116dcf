// The shape of sluice.yaml. Every object is strict: an unknown key is an error, because a
// misspelt security setting that is silently ignored is worse than a refusal to start.
import { z } from 'zod';
import { RE2JS } from 're2js';
import { parseDuration, parseSize } from '../util/units.js';
import { policyConfigSchema } from '../policy/schema.js';
import { approvalRulesSchema, approvalsExtraDefaults, approvalsExtraShape, checkApprovalRuleNames } from '../approvals/config.js';

/** Names of identities, connections, groups and profiles. */
export const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i;
const name = (what: string) =>
  z.string().regex(NAME, `${what} must start with a letter or digit and use only letters, digits, ".", "_" or "-" (max 63)`);

const duration = z.string().transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** A duration that a timer can hold: Node fires longer timeouts at once. */
const timerDuration = duration.refine((ms) => ms <= 2_147_483_647, { message: 'duration must be at most 24d (a longer timer would fire at once)' });

const size = z.union([z.number().int().positive(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  try {
    return parseSize(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/**
 * A secret is given by reference: an environment variable or a file. `value` (inline) is for
 * development only and produces a warning on load.
 */
export const secretRefSchema = z.union(
  [
    z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env must be a variable name') }).strict(),
    z.object({ file: z.string().min(1) }).strict(),
    z.object({ value: z.string() }).strict(),
  ],
  {
    error: 'expected a secret reference: {env: VARIABLE} or {file: PATH} ({value: ...} only for development)',
  },
);
export type SecretRef = z.infer<typeof secretRefSchema>;

const labels = z.record(z.string(), z.string()).default({});

const connectionCommon = {
  labels,
  /** Built-in preset applied to this connection only, e.g. `read-only`. */
  policy: z.string().optional(),
  /** Masking profile used when the deciding rule names none. */
  mask: z.string().optional(),
};

export const postgresConnectionSchema = z
  .object({
    kind: z.literal('postgres'),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1),
    user: z.string().min(1),
    password: secretRefSchema.optional(),
    ssl: z
      .union([
        z.boolean(),
        z
          .object({
            reject_unauthorized: z.boolean().default(true),
            ca_file: z.string().optional(),
          })
          .strict(),
      ])
      .default(false),
    max_connections: z.number().int().min(1).max(1000).default(10),
    statement_timeout: duration.default(30_000),
    max_rows: z.number().int().min(1).default(10_000),
    ...connectionCommon,
  })
  .strict();

export const shellConnectionSchema = z
  .object({
    kind: z.literal('shell'),
    cwd: z.string().min(1),
    shell: z.string().min(1).default('/bin/bash'),
    /**
     * Run commands as this unprivileged user, so they cannot read Sluice's own environment,
     * config or store. Needs Sluice to run as root (or with CAP_SETUID and CAP_SETGID).
     */
    run_as: z
      .object({ uid: z.number().int().min(0).max(2 ** 31 - 1), gid: z.number().int().min(0).max(2 ** 31 - 1) })
      .strict()
      .optional(),
    timeout: duration.default(30_000),
    max_output: size.default(1024 * 1024),
    env: z
      .object({
        /** Variables passed through from Sluice's own environment (secret-looking names never are). */
        allow: z.array(z.string()).default([]),
        /** Variables set for every command; secrets by reference. */
        set: z.record(z.string(), z.union([z.string(), secretRefSchema])).default({}),
      })
      .strict()
      .default({ allow: [], set: {} }),
    ...connectionCommon,
  })
  .strict();

/** Plain text is configuration; a secret reference is resolved at start and never shown to agents. */
const valueOrSecret = z.union([z.string(), secretRefSchema]);

/**
 * An upstream MCP server whose tools Sluice re-exports under the connection's name: a local
 * command over stdio, or a streamable HTTP endpoint. Injected env values and headers given
 * by reference are secrets: redacted from every result.
 */
export const mcpConnectionSchema = z
  .object({
    kind: z.literal('mcp'),
    transport: z.enum(['stdio', 'http'], { error: 'transport must be stdio or http' }),
    /** stdio: the program to launch (looked up on PATH) and its arguments. */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    /** stdio: working folder (relative to the config file); default: the config file's folder. */
    cwd: z.string().min(1).optional(),
    env: z
      .object({
        /** Variables passed through from Sluice's own environment (secret-looking names never are). */
        allow: z.array(z.string()).default([]),
        /** Variables set for the server; secrets by reference. */
        set: z.record(z.string(), valueOrSecret).default({}),
      })
      .strict()
      .default({ allow: [], set: {} }),
    /** http: the server's streamable HTTP endpoint. */
    url: z
      .string()
      .refine((text) => URL.canParse(text) && /^https?:$/.test(new URL(text).protocol), { message: 'url must be an http:// or https:// URL' })
      .optional(),
    /** http: headers sent with every request (e.g. Authorization), secrets by reference. */
    headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'header names use letters, digits and "-"'), valueOrSecret).default({}),
    /**
     * http: an OAuth 2.0 access token from the client-credentials grant, sent as
     * `Authorization: Bearer` and refreshed before it expires. The secret is by reference.
     */
    oauth: z
      .object({
        token_url: z
          .string()
          .refine((text) => URL.canParse(text) && /^https?:$/.test(new URL(text).protocol), { message: 'token_url must be an http:// or https:// URL' }),
        client_id: z.string().min(1),
        client_secret: secretRefSchema,
        /** client_secret_basic (HTTP Basic, the default) or client_secret_post (in the form body). */
        auth_method: z.enum(['basic', 'post']).default('basic'),
        scope: z.string().min(1).optional(),
        audience: z.string().min(1).optional(),
        resource: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Longest a tool call may take upstream. */
    timeout: timerDuration.default(60_000),
    /** Restart back-off after the upstream dies or cannot be reached: first wait, doubling up to max. */
    restart: z
      .object({ initial: timerDuration.default(500), max: timerDuration.default(30_000) })
      .strict()
      .refine((r) => r.initial <= r.max, { message: 'restart.initial must not be longer than restart.max' })
      .default({ initial: 500, max: 30_000 }),
    ...connectionCommon,
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.transport === 'stdio') {
      if (!c.command) ctx.addIssue({ code: 'custom', path: ['command'], message: 'transport stdio needs command (the program that runs the MCP server)' });
      if (c.url !== undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: 'url is only for transport http' });
      if (Object.keys(c.headers).length > 0) ctx.addIssue({ code: 'custom', path: ['headers'], message: 'headers are only for transport http' });
      if (c.oauth) ctx.addIssue({ code: 'custom', path: ['oauth'], message: 'oauth is only for transport http' });
    } else {
      if (!c.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'transport http needs url (the server\'s streamable HTTP endpoint)' });
      for (const key of ['command', 'cwd'] as const) {
        if (c[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} is only for transport stdio` });
      }
      if (c.args.length > 0) ctx.addIssue({ code: 'custom', path: ['args'], message: 'args are only for transport stdio' });
      if (c.env.allow.length > 0 || Object.keys(c.env.set).length > 0) ctx.addIssue({ code: 'custom', path: ['env'], message: 'env is only for transport stdio' });
      if (c.oauth && Object.keys(c.headers).some((h) => h.toLowerCase() === 'authorization')) {
        ctx.addIssue({ code: 'custom', path: ['oauth'], message: 'oauth sets the Authorization header; remove it from headers' });
      }
    }
  });

export const connectionSchema = z.discriminatedUnion('kind', [postgresConnectionSchema, shellConnectionSchema, mcpConnectionSchema], {
  error: 'kind must be one of: postgres, shell, mcp',
});
export type ConnectionConfig = z.infer<typeof connectionSchema>;
export type PostgresConnectionConfig = z.infer<typeof postgresConnectionSchema>;
export type ShellConnectionConfig = z.infer<typeof shellConnectionSchema>;
export type McpConnectionConfig = z.infer<typeof mcpConnectionSchema>;

export const identitySchema = z
  .object({
    kind: z.enum(['human', 'agent', 'service']),
    groups: z.array(name('group')).default([]),
    on_behalf_of: z.string().optional(),
  })
  .strict();
export type IdentityConfig = z.infer<typeof identitySchema>;

/** How a masked value is replaced; `redact` is the fixed text `[masked]`. */
export const maskingReplacementSchema = z.enum(['placeholder', 'partial', 'hash', 'drop', 'redact']);

/** Content detectors a profile can enable; `pii` is every PII type but IPs, `all` adds secrets. */
export const MASKING_DETECTORS = ['email', 'phone', 'card', 'iban', 'ssn', 'ipv4', 'ipv6', 'dob', 'name', 'address', 'secrets', 'pii', 'all'] as const;

const maskingTypeName = z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'a masking type is lower case letters, digits and "_" (max 32)');

export const maskingCustomRuleSchema = z
  .object({
    /** The type the rule reports and names its placeholders after (`employee_id` -> SLUICE_EMPLOYEE_ID_...). */
    type: maskingTypeName,
    /** A regular expression in RE2 syntax (run with re2js: linear time, no backtracking). */
    regex: z
      .string()
      .min(1)
      .superRefine((pattern, ctx) => {
        try {
          RE2JS.compile(pattern);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: `not a valid RE2 regex: ${(error as Error).message}` });
        }
      })
      .optional(),
    /** With regex: the capture group that is the value (default 0, the whole match). */
    group: z.number().int().min(0).max(99).optional(),
    case_insensitive: z.boolean().default(false),
    /** Words or phrases masked wherever they occur as whole words (case-insensitive). */
    dictionary: z.array(z.string().min(1)).min(1).optional(),
    /** Column names (case-insensitive, `*` wildcard) whose values are of this type. */
    columns: z.array(z.string().min(1)).min(1).optional(),
    replacement: maskingReplacementSchema.optional(),
  })
  .strict()
  .refine((rule) => rule.regex !== undefined || rule.dictionary !== undefined || rule.columns !== undefined, {
    message: 'a custom masking rule needs regex, dictionary or columns',
  });
export type MaskingCustomRuleConfig = z.infer<typeof maskingCustomRuleSchema>;

export const maskingProfileSchema = z
  .object({
    /** Column names (case-insensitive; `*` matches any run of characters) whose values are masked whole. */
    columns: z.array(z.string().min(1)).min(1).optional(),
    /** For `columns`: `redact` hides the whole value; `partial` keeps the last four characters; or placeholder, hash, drop. */
    replacement: maskingReplacementSchema.default('redact'),
    /** Types recognised by content and by column name (see docs/masking.md). */
    detectors: z.array(z.enum(MASKING_DETECTORS)).default([]),
    /** Replacement per type (default: placeholder), e.g. {email: partial, secret: redact}. */
    replace: z.record(maskingTypeName, maskingReplacementSchema).default({}),
    /** Region for phone numbers written without a country code (ISO 3166 alpha-2). */
    region: z.string().regex(/^[A-Z]{2}$/, 'region is a two-letter country code, e.g. US or DE').default('US'),
    /** Where a value keeps the same placeholder: one session, one agent, or everywhere. */
    scope: z.enum(['session', 'agent', 'global']).default('session'),
    custom: z.array(maskingCustomRuleSchema).default([]),
  })
  .strict()
  .refine((profile) => profile.columns !== undefined || profile.detectors.length > 0 || profile.custom.length > 0, {
    message: 'a masking profile needs columns, detectors or custom rules',
  });
export type MaskingProfileConfig = z.infer<typeof maskingProfileSchema>;

/** The MCP door on the API listener (`/mcp`); see docs/doors/mcp.md. */
export const mcpListenerSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** `wait`: a held call stays open until decided; `return-pending`: answer at once, run on a later identical call once approved. */
    review: z.enum(['wait', 'return-pending']).default('wait'),
    /** Largest tool arguments (as JSON) a call may carry. */
    max_arguments: size.default(1024 * 1024),
    /** Open MCP sessions at most; a new session beyond this is refused. */
    max_sessions: z.number().int().min(1).max(100_000).default(1000),
    /** A session nobody used for this long is closed. */
    session_idle_timeout: duration.default(3_600_000),
  })
  .strict();
export const MCP_LISTENER_DEFAULTS = {
  enabled: true,
  review: 'wait',
  max_arguments: 1024 * 1024,
  max_sessions: 1000,
  session_idle_timeout: 3_600_000,
} as const satisfies z.output<typeof mcpListenerSchema>;

// --- audit.stream and the checkpoint anchor webhook (docs/audit-stream.md) ---
const headerValues = z.record(
  z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'a header name must be an HTTP token'),
  z.union([z.string(), secretRefSchema]),
);
const auditWebhookSchema = z
  .object({
    url: z.string().regex(/^https?:\/\/\S+$/i, 'url must be an http:// or https:// URL'),
    /** HMAC-SHA256 key for the X-Sluice-Signature header. */
    secret: secretRefSchema.optional(),
    /** Extra headers; values given by reference are secrets. */
    headers: headerValues.default({}),
    timeout: timerDuration.default(10_000),
  })
  .strict();
const AUDIT_RECORD_KINDS = ['decision', 'outcome', 'review', 'key', 'reveal', 'checkpoint', 'config', 'system'] as const;
const streamCommon = {
  /** `ocsf` (default): OCSF 1.3 events; `jsonl`: the records as `sluice audit export` writes them. */
  format: z.enum(['ocsf', 'jsonl']).default('ocsf'),
  /** Only these record kinds (default: all). */
  kinds: z.array(z.enum(AUDIT_RECORD_KINDS)).min(1).optional(),
  /** Records per batch. */
  batch: z.number().int().min(1).max(10_000).default(500),
  /** Where a new target starts: the first record (default) or the head at its first start. */
  start: z.enum(['beginning', 'end']).default('beginning'),
};
const streamTargetSchema = z.discriminatedUnion('kind', [
  auditWebhookSchema.extend({ kind: z.literal('webhook'), ...streamCommon }).strict(),
  z
    .object({
      kind: z.literal('syslog'),
      address: z.string().regex(/^(\[[0-9a-f:]+\]|[a-z0-9.-]+):\d{1,5}$/i, 'address must be HOST:PORT'),
      /** RFC 5424 over TCP (octet-counting framing) or UDP. */
      transport: z.enum(['tcp', 'udp']).default('tcp'),
      /** Syslog facility number (default 13, log audit). */
      facility: z.number().int().min(0).max(23).default(13),
      app_name: z.string().regex(/^[\x21-\x7e]{1,48}$/, 'app_name is 1-48 printable ASCII characters without spaces').default('sluice'),
      /** Longest message; longer ones are cut (default: none over TCP, 65000 bytes over UDP). */
      max_message: size.optional(),
      timeout: timerDuration.default(10_000),
      ...streamCommon,
    })
    .strict(),
]);
const auditStreamSchema = z
  .object({
    /** File keeping each target's last delivered seq. Default: beside an embedded store; required with PostgreSQL. */
    state: z.string().min(1).optional(),
    /** How often an idle target looks for new records. */
    poll_interval: timerDuration.refine((ms) => ms >= 10, { message: 'poll_interval must be at least 10ms' }).default(1000),
    /** Back-off after a failed batch: from initial, doubling up to max; retried until delivered. */
    retry: z
      .object({ initial: timerDuration.default(1000), max: timerDuration.default(300_000) })
      .strict()
      .refine((r) => r.initial <= r.max, { message: 'retry.initial must not be longer than retry.max' })
      .default({ initial: 1000, max: 300_000 }),
    /** /readyz warns when a target is more than this many records behind. */
    lag_warning: z.number().int().min(1).default(10_000),
    targets: z.record(name('stream target name'), streamTargetSchema).default({}),
  })
  .strict();
export type AuditStreamConfig = z.infer<typeof auditStreamSchema>;
export type AuditStreamTargetConfig = z.infer<typeof streamTargetSchema>;

const address = z.string().regex(/^(\[[0-9a-f:]+\]|[a-z0-9.-]+):\d{1,5}$/i, 'address must be HOST:PORT, e.g. 127.0.0.1:8080');

export const configSchema = z
  .object({
    version: z.literal(1).default(1),
    store: z
      .object({
        /** `sqlite:PATH` (default, relative to the config file) or `postgres://...` (no password inline: use password). */
        url: z
          .string()
          .min(1)
          .refine((url) => /^(postgres(ql)?:\/\/|sqlite:|file:)/i.test(url) || !/^[a-z][a-z0-9+.-]*:/i.test(url), {
            message: 'use postgres://..., sqlite:PATH, file:PATH or a file path',
          })
          .default('sqlite:.sluice/sluice.db'),
        password: secretRefSchema.optional(),
        /**
         * Embedded SQLite store only. `full` (default): every audit commit is on disk before
         * the command it records runs, even across a power cut. `normal`: a commit survives a
         * Sluice crash but the last ones can be lost to a power cut or kernel crash; no fsync
         * per commit, so each statement waits less.
         */
        sync: z.enum(['full', 'normal']).default('full'),
      })
      .strict()
      .refine((store) => store.sync === 'full' || !/^postgres(ql)?:\/\//i.test(store.url), {
        message: 'store.sync applies to the embedded SQLite store; for PostgreSQL, durability is the server\'s synchronous_commit setting',
        path: ['sync'],
      })
      .default({ url: 'sqlite:.sluice/sluice.db', sync: 'full' }),
    listeners: z
      .object({
        api: z
          .object({
            address: address.default('127.0.0.1:8080'),
            max_body: size.default(1024 * 1024),
            mcp: mcpListenerSchema.default(MCP_LISTENER_DEFAULTS),
          })
          .strict()
          .default({ address: '127.0.0.1:8080', max_body: 1024 * 1024, mcp: MCP_LISTENER_DEFAULTS }),
        /** The PostgreSQL door: psql, drivers and pgbench connect here. Off unless configured. */
        postgres: z
          .object({
            address: address.default('127.0.0.1:15432'),
            /** `self-signed` (default: generated on first start under .sluice/), PEM files, or false. */
            tls: z
              .union([z.literal(false), z.literal('self-signed'), z.object({ cert_file: z.string().min(1), key_file: z.string().min(1) }).strict()])
              .default('self-signed'),
            /**
             * How clients prove their key: `scram` (SCRAM-SHA-256 only), `scram-or-password`
             * (SCRAM when the principal's keys have verifiers, else cleartext under
             * plaintext_password) or `password` (cleartext rules only).
             */
            auth: z.enum(['scram', 'scram-or-password', 'password']).default('scram-or-password'),
            /** When an API key may be sent as a cleartext password outside TLS. */
            plaintext_password: z.enum(['loopback', 'always', 'never']).default('loopback'),
            max_connections: z.number().int().min(1).max(10_000).default(100),
            /** Close a session idle this long (no statement running); unset: never. */
            idle_timeout: timerDuration.optional(),
            /** Largest protocol message either way (statement, row, COPY chunk); larger closes the session with 54000. */
            max_message_size: size
              .refine((bytes) => bytes >= 1024 && bytes <= 1024 ** 3, { message: 'max_message_size must be between 1KiB and 1GiB (PostgreSQL\'s own limit)' })
              .optional(),
            /** Time a client has to finish startup and authentication (08006 after it). */
            auth_timeout: timerDuration.optional(),
            /** Time to connect and log in to the upstream server (08006 after it). */
            connect_timeout: timerDuration.optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ api: { address: '127.0.0.1:8080', max_body: 1024 * 1024, mcp: MCP_LISTENER_DEFAULTS } }),
    identities: z.record(name('identity name'), identitySchema).default({}),
    connections: z.record(name('connection name'), connectionSchema).default({}),
    policy: policyConfigSchema.default({ rules: [] }),
    masking: z
      .object({
        /** Key for placeholders and hashes (HMAC, at least 16 bytes). Without one, a random key per process. */
        key: secretRefSchema.optional(),
        profiles: z.record(name('masking profile name'), maskingProfileSchema).default({}),
        /** The placeholder vault (docs/masking.md); without a key here or in SLUICE_VAULT_KEY, placeholders are one-way. */
        vault: z
          .object({
            /** AES-256-GCM key: 32 bytes in base64 (`openssl rand -base64 32`). */
            key: secretRefSchema.optional(),
            /** How long a mapping lives after its placeholder was last handed out. */
            ttl: duration.refine((ms) => ms >= 1000, { message: 'ttl must be at least 1s' }).default(24 * 3_600_000),
            /** Most mappings waiting to be written; beyond it new ones are not stored (their placeholders stay one-way). */
            max_pending: z.number().int().min(1).max(1_000_000).default(10_000),
          })
          .strict()
          .default({ ttl: 24 * 3_600_000, max_pending: 10_000 }),
      })
      .strict()
      .default({ profiles: {}, vault: { ttl: 24 * 3_600_000, max_pending: 10_000 } }),
    approvals: z
      .object({
        timeout: duration.default(15 * 60_000),
        /** Groups whose human members may approve or reject through the API. */
        approvers: z.array(z.string().min(1)).default(['admin']),
        /** Webhooks told about every new review (docs/approvals.md). */
        notify: z
          .array(
            z
              .object({
                url: z.string().regex(/^https?:\/\/\S+$/i, 'url must be an http:// or https:// URL'),
                /** HMAC-SHA256 key for the X-Sluice-Signature header. */
                secret: secretRefSchema.optional(),
                format: z.enum(['generic', 'slack']).default('generic'),
              })
              .strict(),
          )
          .default([]),
        /** Review rules keyed by policy rule name, grants, destructive classes, the holder lease (approvals/config.ts). */
        rules: approvalRulesSchema,
        ...approvalsExtraShape,
      })
      .strict()
      .default({ timeout: 15 * 60_000, approvers: ['admin'], notify: [], rules: {}, ...approvalsExtraDefaults }),
    /** Short-lived Sluice tokens (`POST /v1/tokens`, `sluice token create`). */
    tokens: z
      .object({
        /** Lifetime when the request names none. */
        default_ttl: duration.default(15 * 60_000),
        /** The longest lifetime a token may be given. */
        max_ttl: duration.default(12 * 3_600_000),
        /** Most unexpired tokens one principal may hold; beyond it POST /v1/tokens answers 429. */
        max_live: z.number().int().min(1).max(10_000).default(50),
      })
      .strict()
      .refine((t) => t.default_ttl <= t.max_ttl, { message: 'default_ttl must not be longer than max_ttl' })
      .default({ default_ttl: 15 * 60_000, max_ttl: 12 * 3_600_000, max_live: 50 }),
    audit: z
      .object({
        /** Groups whose members may read the audit log through the API. */
        readers: z.array(z.string()).default(['admin', 'auditor']),
        /** Signed checkpoints over the chain (docs/audit-chain.md). */
        checkpoint: z
          .object({
            enabled: z.boolean().default(true),
            /** A checkpoint after this many records... */
            every: z.number().int().min(1).max(1_000_000).default(1000),
            /** ...or after this long, when anything was appended. */
            interval: timerDuration.refine((ms) => ms >= 1000, { message: 'interval must be at least 1s' }).default(60_000),
            /**
             * The Ed25519 signing key file (created with mode 0600 if missing). Default: beside an
             * embedded store (`audit-signing.key`); required with a PostgreSQL store.
             */
            key: z.string().min(1).optional(),
            /** Where each checkpoint is also written, outside the store: a file (JSON lines) and/or a webhook. */
            anchor: z
              .object({
                file: z.string().min(1).optional(),
                /** Each checkpoint is POSTed here as an anchor line, retried until it is taken (docs/audit-stream.md). */
                webhook: auditWebhookSchema.optional(),
              })
              .strict()
              .refine((a) => a.file !== undefined || a.webhook !== undefined, { message: 'anchor needs a file, a webhook or both' })
              .optional(),
          })
          .strict()
          .default({ enabled: true, every: 1000, interval: 60_000 }),
        /** Delivery of audit records to a SIEM (docs/audit-stream.md). */
        stream: auditStreamSchema.optional(),
        /**
         * Secrets and personal data found in command text are recorded as keyed digests
         * (audit/command-redaction.ts): true (secrets and pii detectors), false, or the detectors.
         */
        redact_commands: z.union([z.boolean(), z.array(z.enum(MASKING_DETECTORS)).min(1)]).default(true),
        /**
         * Directory for shell session recordings (asciicast v2, audit/recording.ts), relative to
         * the config file. Off when absent.
         */
        recordings: z.string().min(1).optional(),
        /**
         * Records older than this are pruned, up to a signed checkpoint (audit/retention.ts), at
         * start and hourly. Off when absent.
         */
        retention: duration.refine((ms) => ms >= 60_000, { message: 'retention must be at least 1m' }).optional(),
        /**
         * The key file for keyed digests of parameter and masked values (audit/value-digest.ts;
         * created with mode 0600 if missing; SLUICE_AUDIT_HMAC_KEY overrides). Default: beside an
         * embedded store, or beside audit.checkpoint.key. Every node of a store must share it.
         */
        hmac_key: z.string().min(1).optional(),
      })
      .strict()
      .refine((a) => a.retention === undefined || a.checkpoint.enabled, {
        message: 'audit.retention prunes only up to signed checkpoints: it needs audit.checkpoint.enabled',
        path: ['retention'],
      })
      .default({ readers: ['admin', 'auditor'], checkpoint: { enabled: true, every: 1000, interval: 60_000 }, redact_commands: true }),
  })
  .strict()
  .refine((c) => !/^postgres(ql)?:\/\//i.test(c.store.url) || !c.audit.checkpoint.enabled || c.audit.checkpoint.key !== undefined, {
    message: 'with a PostgreSQL store, name the checkpoint signing key file (kept outside the database), or set audit.checkpoint.enabled: false',
    path: ['audit', 'checkpoint', 'key'],
  })
  .refine(
    (c) =>
      !/^postgres(ql)?:\/\//i.test(c.store.url) ||
      c.audit.stream?.state !== undefined ||
      (Object.keys(c.audit.stream?.targets ?? {}).length === 0 && !(c.audit.checkpoint.enabled && c.audit.checkpoint.anchor?.webhook)),
    { message: 'with a PostgreSQL store, name the file that keeps the audit stream cursors (audit.stream.state)', path: ['audit', 'stream', 'state'] },
  )
  .superRefine((c, ctx) => checkApprovalRuleNames(c.approvals.rules, c.policy.rules, ctx));

export type SluiceConfig = z.infer<typeof configSchema>;
