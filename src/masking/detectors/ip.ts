// IP addresses (only when a profile enables them: they are rarely personal in server output).
import { isIPv6 } from 'node:net';
import type { Candidate } from '../types.js';
import { PRIORITY, type ScanContext } from './context.js';

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?![\\w]|\\.\\d)`, 'g');
const IPV6 = /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|\d{1,3}(?:\.\d{1,3}){3})(?:%[\w.]+)?(?![\w:])/g;

export function scanIpv4(ctx: ScanContext, out: Candidate[]): void {
  if (!ctx.text.includes('.')) return;
  IPV4.lastIndex = 0;
  for (let m = IPV4.exec(ctx.text); m; m = IPV4.exec(ctx.text)) out.push({ type: 'ipv4', start: m.index, end: m.index + m[0].length, priority: PRIORITY.ip });
}

export function scanIpv6(ctx: ScanContext, out: Candidate[]): void {
  if (!ctx.text.includes(':')) return;
  IPV6.lastIndex = 0;
  for (let m = IPV6.exec(ctx.text); m; m = IPV6.exec(ctx.text)) {
    const raw = m[0];
    const address = raw.split('%')[0]!;
    // "::" alone, and things like "12:30:45" (not valid IPv6) are not addresses.
    if (address.length > 2 && isIPv6(address)) out.push({ type: 'ipv6', start: m.index, end: m.index + raw.length, priority: PRIORITY.ip });
  }
}
