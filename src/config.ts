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
  /** Prefix of every BullMQ key in Redis: two deployments can share one Redis with different prefixes. */
  AIDLINK_QUEUE_PREFIX: z.string().trim().regex(/^[a-z0-9_-]+$/i, 'letters, digits, - and _ only').default('aidlink'),
  /** A long-running worker or scheduler touches this file every 10 s (a container health check reads its age). */
  AIDLINK_HEARTBEAT_FILE: z.string().trim().optional().transform((v) => (v === '' ? undefined : v)),
  /** The HTTP server (`aidlink serve`). */
  AIDLINK_HTTP_HOST: z.string().trim().min(1).default('127.0.0.1'),
  AIDLINK_HTTP_PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  /** A console session ends after this many hours without use. */
  AIDLINK_SESSION_HOURS: z.coerce.number().min(0.1).max(24 * 30).default(8),
  /** The session cookie's Secure flag: keep it on (browsers accept it on http://localhost too); off only for plain-HTTP test rigs. */
  AIDLINK_COOKIE_SECURE: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  /** Behind a reverse proxy: take the client's address from X-Forwarded-For (for throttling and the audit log). */
  AIDLINK_TRUST_PROXY: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  /** The largest file the console takes as an upload. */
  AIDLINK_UPLOAD_MAX_MB: z.coerce.number().int().min(1).max(4096).default(200),
  /** Uploads one user may make in an hour (per server process): a stolen session cannot fill the disk. */
  AIDLINK_UPLOADS_PER_HOUR: z.coerce.number().int().min(1).max(10_000).default(60),
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
  /** Where reports are written; default <AIDLINK_DATA_DIR>/reports. */
  AIDLINK_REPORTS_DIR: z.string().trim().optional().transform((v) => (v === '' ? undefined : v)),
  /** Jobs a worker runs at once, per queue (ingest runs at most this many files in parallel). */
  AIDLINK_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(1),
  /** How long a job's lock lasts without renewal: a killed worker's job is taken over after this. */
  AIDLINK_JOB_LOCK_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
  /** The nightly sync: a cron pattern, and the time zone it is read in. */
  AIDLINK_SYNC_CRON: z.string().trim().min(9).default('0 2 * * *'),
  /** A match estimates a new model version once the rows have grown by this share since the last estimate (match/model.ts). */
  AIDLINK_MODEL_GROWTH: z.coerce.number().min(0).max(100).default(0.25),
  /** … or once the model version is this many days old. */
  AIDLINK_MODEL_MAX_DAYS: z.coerce.number().min(0).max(3650).default(7),
  AIDLINK_SYNC_TZ: z.string().trim().min(1).default('Asia/Shanghai'),
  /** The first retry's delay; each later one waits twice as long (5 attempts in all). */
  AIDLINK_RETRY_DELAY_MS: z.coerce.number().int().min(100).max(3_600_000).default(15_000),
  /** How long a worker waits for its jobs to finish on SIGTERM before releasing them. */
  AIDLINK_SHUTDOWN_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
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
