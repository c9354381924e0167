/**
 * The one logger. Structured fields that can hold personal data are redacted by
 * path, and free-text messages are scrubbed of anything shaped like an id number
 * or a phone number, so a careless `log.info(\`row ${id}\`)` still prints no id.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { scrubText } from './privacy.js';

const PERSONAL_KEYS = [
  'name', 'names', 'idNumber', 'id_number', 'idNumbers', 'phone', 'phones', 'headName', 'head_name',
  'headIdNumber', 'head_id_number', 'certNo', 'cert_no', 'address', 'raw', 'cells',
];
const REDACT_PATHS = [...PERSONAL_KEYS, ...PERSONAL_KEYS.map((k) => `*.${k}`), ...PERSONAL_KEYS.map((k) => `*[*].${k}`)];

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'aidlink' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? scrubText(a) : a)) as typeof args;
          method.apply(this, scrubbed);
        },
      },
      formatters: {
        log(obj) {
          // error messages and stacks may quote a value from a file
          const err = obj.err as { message?: unknown; stack?: unknown } | undefined;
          if (err && typeof err === 'object') {
            return {
              ...obj,
              err: {
                ...err,
                message: typeof err.message === 'string' ? scrubText(err.message) : err.message,
                stack: typeof err.stack === 'string' ? scrubText(err.stack) : err.stack,
              },
            };
          }
          return obj;
        },
      },
    },
    destination ?? defaultDestination(),
  );
}

/** stderr (stdout stays clean for command output such as `files --format csv`), or the file AIDLINK_LOG_FILE names, appended to. */
function defaultDestination(): DestinationStream {
  const file = process.env.AIDLINK_LOG_FILE?.trim();
  return file ? pino.destination({ dest: file, append: true, mkdir: true, sync: true }) : pino.destination({ fd: 2, sync: true });
}

export const log: Logger = createLogger();
