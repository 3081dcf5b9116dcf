// The shape of sluice.yaml. Every object is strict: an unknown key is an error, because a
// misspelt security setting that is silently ignored is worse than a refusal to start.
import { z } from 'zod';
import { parseDuration, parseSize } from '../util/units.js';
import { policyConfigSchema } from '../policy/schema.js';

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

export const connectionSchema = z.discriminatedUnion('kind', [postgresConnectionSchema, shellConnectionSchema], {
  error: 'kind must be one of: postgres, shell',
});
export type ConnectionConfig = z.infer<typeof connectionSchema>;
export type PostgresConnectionConfig = z.infer<typeof postgresConnectionSchema>;
export type ShellConnectionConfig = z.infer<typeof shellConnectionSchema>;

export const identitySchema = z
  .object({
    kind: z.enum(['human', 'agent', 'service']),
    groups: z.array(name('group')).default([]),
    on_behalf_of: z.string().optional(),
  })
  .strict();
export type IdentityConfig = z.infer<typeof identitySchema>;

export const maskingProfileSchema = z
  .object({
    /** Column names (case-insensitive; `*` matches any run of characters) whose values are masked. */
    columns: z.array(z.string().min(1)).min(1),
    /** `redact` hides the whole value; `partial` keeps the last four characters. */
    replacement: z.enum(['redact', 'partial']).default('redact'),
  })
  .strict();
export type MaskingProfileConfig = z.infer<typeof maskingProfileSchema>;

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
      })
      .strict()
      .default({ url: 'sqlite:.sluice/sluice.db' }),
    listeners: z
      .object({
        api: z
          .object({
            address: address.default('127.0.0.1:8080'),
            max_body: size.default(1024 * 1024),
          })
          .strict()
          .default({ address: '127.0.0.1:8080', max_body: 1024 * 1024 }),
        /** The PostgreSQL door: psql, drivers and pgbench connect here. Off unless configured. */
        postgres: z
          .object({
            address: address.default('127.0.0.1:15432'),
            /** `self-signed` (default: generated on first start under .sluice/), PEM files, or false. */
            tls: z
              .union([z.literal(false), z.literal('self-signed'), z.object({ cert_file: z.string().min(1), key_file: z.string().min(1) }).strict()])
              .default('self-signed'),
            /** When an API key may be sent as a cleartext password outside TLS. */
            plaintext_password: z.enum(['loopback', 'always', 'never']).default('loopback'),
            max_connections: z.number().int().min(1).max(10_000).default(100),
            idle_timeout: duration.optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ api: { address: '127.0.0.1:8080', max_body: 1024 * 1024 } }),
    identities: z.record(name('identity name'), identitySchema).default({}),
    connections: z.record(name('connection name'), connectionSchema).default({}),
    policy: policyConfigSchema.default({ rules: [] }),
    masking: z
      .object({ profiles: z.record(name('masking profile name'), maskingProfileSchema).default({}) })
      .strict()
      .default({ profiles: {} }),
    approvals: z
      .object({ timeout: duration.default(15 * 60_000) })
      .strict()
      .default({ timeout: 15 * 60_000 }),
    audit: z
      .object({
        /** Groups whose members may read the audit log through the API. */
        readers: z.array(z.string()).default(['admin', 'auditor']),
      })
      .strict()
      .default({ readers: ['admin', 'auditor'] }),
  })
  .strict();

export type SluiceConfig = z.infer<typeof configSchema>;
