/**
 * Configuration comes from the environment only, is validated once with zod at
 * start-up and frozen: a typo in a variable fails fast with a message naming it.
 */
import { z } from 'zod';

const optionalUrl = (schemes: string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || schemes.some((s) => v.startsWith(s)), {
      message: `must start with ${schemes.join(' or ')}`,
    });

const envSchema = z.object({
  /** PostgreSQL connection string. Absent: an embedded PostgreSQL (PGlite) under AIDLINK_DATA_DIR. */
  DATABASE_URL: optionalUrl(['postgres://', 'postgresql://']),
  /** Redis connection string for BullMQ. Absent: jobs run in-process, in order. */
  REDIS_URL: optionalUrl(['redis://', 'rediss://']),
  /** Where the embedded database and other local state live. */
  AIDLINK_DATA_DIR: z.string().trim().min(1).default('.aidlink'),
  /** The inbox root: files are dropped into <inbox>/<source>/. */
  AIDLINK_INBOX: z.string().trim().min(1).default('inbox'),
  /** Extra column-mapping files (YAML), separated by the path delimiter, merged over the default. */
  AIDLINK_MAPPING: z.string().trim().optional(),
  /** The county's policy file (YAML); default: config/policy.default.yaml, the example of policy.md. */
  AIDLINK_POLICY: z.string().trim().optional().transform((v) => (v === '' ? undefined : v)),
  /** Extra look-alike name-variant files, separated by the path delimiter. */
  AIDLINK_NAME_VARIANTS: z.string().trim().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Rows per COPY batch during ingest; each batch commits with a checkpoint. */
  AIDLINK_BATCH_ROWS: z.coerce.number().int().min(100).max(1_000_000).default(20_000),
  /** Worker threads that parse rows during ingest; 0 parses in the main thread. Default: see defaultParseWorkers. */
  AIDLINK_PARSE_WORKERS: z.coerce.number().int().min(0).max(64).optional(),
});

export type Config = Readonly<z.infer<typeof envSchema>>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment configuration:\n${lines.join('\n')}`);
  }
  return Object.freeze(parsed.data);
}

/** The county's clock. Schedules and "today" are in this zone. */
export const COUNTY_TIME_ZONE = 'Asia/Shanghai';
