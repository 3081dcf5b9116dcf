// One logger for the process, to stderr (stdout belongs to command output such as JSON).
// Redaction is a safety net: code must not pass secrets to the logger in the first place.
import { pino } from 'pino';

export const log = pino(
  {
    level: process.env.SLUICE_LOG_LEVEL ?? 'info',
    base: undefined,
    redact: {
      paths: ['password', '*.password', 'key', '*.key', 'authorization', '*.authorization', 'headers.authorization'],
      censor: '[redacted]',
    },
  },
  pino.destination({ fd: 2, sync: true }),
);

export type Logger = typeof log;
