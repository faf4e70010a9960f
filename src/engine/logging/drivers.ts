// The logging drivers a container can name in HostConfig.LogConfig, the options each takes, and
// Docker's create-time checks (logger.ValidateLogOpts): an unknown driver or option is refused
// then; option values are parsed when the container starts, as dockerd does.
import { InvalidParameterError } from '../../errors.js';
import type { LogConfig } from '../../types/api.js';

/** Options every driver takes (the daemon's buffering in front of the driver). */
const COMMON = ['mode', 'max-buffer-size'];
const ATTRS = ['labels', 'labels-regex', 'env', 'env-regex', 'tag'];

const OPTIONS: Record<string, string[] | null> = {
  'json-file': ['max-file', 'max-size', 'compress', ...ATTRS],
  local: ['max-file', 'max-size', 'compress'],
  // dockerd registers no validator for none: any option passes.
  none: null,
  syslog: ['syslog-address', 'syslog-facility', 'syslog-tls-ca-cert', 'syslog-tls-cert', 'syslog-tls-key', 'syslog-tls-skip-verify', 'syslog-format', ...ATTRS],
  fluentd: [
    'fluentd-address',
    'fluentd-async',
    'fluentd-async-connect',
    'fluentd-buffer-limit',
    'fluentd-retry-wait',
    'fluentd-max-retries',
    'fluentd-sub-second-precision',
    'fluentd-request-ack',
    'fluentd-write-timeout',
    ...ATTRS,
  ],
};

export const LOG_DRIVERS = Object.keys(OPTIONS);

/** Drivers whose logs `docker logs` can read back. */
export function readableDriver(type: string): boolean {
  return type === 'json-file' || type === 'local';
}

const SYSLOG_FORMATS = ['', 'rfc3164', 'rfc5424', 'rfc5424micro'];
const SYSLOG_FACILITIES = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'];

/** What dockerd's drivers check at create, with their messages. */
export function validateLogConfig(lc: LogConfig): void {
  const allowed = OPTIONS[lc.Type];
  if (allowed === undefined) throw new InvalidParameterError(`error looking up logging plugin ${lc.Type}: plugin "${lc.Type}" not found`);
  const cfg = lc.Config ?? {};
  for (const key of Object.keys(cfg)) {
    if (allowed === null || COMMON.includes(key) || allowed.includes(key)) continue;
    throw new InvalidParameterError(lc.Type === 'local' ? `unknown log opt '${key}' for log driver local` : `unknown log opt '${key}' for ${lc.Type} log driver`);
  }
  const mode = cfg['mode'];
  if (mode !== undefined && mode !== '' && mode !== 'blocking' && mode !== 'non-blocking') throw new InvalidParameterError(`logger: logging mode not supported: ${mode}`);
  if (lc.Type === 'syslog') {
    const addr = cfg['syslog-address'];
    if (addr && !/^(tcp|udp|tcp\+tls|unix|unixgram):\/\/.+/.test(addr)) throw new InvalidParameterError(`syslog-address should be in form proto://address, got ${addr}`);
    if (!SYSLOG_FORMATS.includes(cfg['syslog-format'] ?? '')) throw new InvalidParameterError('Invalid syslog format');
    const fac = cfg['syslog-facility'];
    if (fac && !SYSLOG_FACILITIES.includes(fac) && !/^\d+$/.test(fac)) throw new InvalidParameterError('invalid syslog facility');
  }
  if (lc.Type === 'fluentd') {
    const addr = cfg['fluentd-address'];
    if (addr && !/^((tcp|unix):\/\/)?[^:/]*(:\d+)?(\/.*)?$/.test(addr)) throw new InvalidParameterError(`invalid fluentd-address ${addr}`);
  }
}
