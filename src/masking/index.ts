// The masking engine's entry points for the rest of Sluice.
import type { SluiceConfig } from '../config/schema.js';
import { resolveSecret } from '../credentials/secrets.js';
import { compileMaskingProfile, type CompiledMaskingProfile, type CompileOptions, type MaskingProfileInput } from './profile.js';

export { compileMaskingProfile, type CompiledMaskingProfile, type CompileOptions } from './profile.js';
export { StreamMasker } from './stream.js';
export type { Finding, MaskTextResult, PlaceholderSink } from './types.js';

/** The profile `sluice mask` uses without a config: every PII type and secrets, as placeholders. */
export const DEFAULT_PROFILE: MaskingProfileInput = { detectors: ['all'] };

/** The placeholder key from config (masking.key), or undefined for a random per-process key. */
export function maskingKey(masking: SluiceConfig['masking'], baseDir: string): Buffer | undefined {
  if (!masking.key) return undefined;
  return Buffer.from(resolveSecret(masking.key, { baseDir, label: 'masking.key' }), 'utf8');
}

/** Every profile of a config, compiled with the config's key. */
export function compileMaskingProfiles(config: SluiceConfig, baseDir: string, options: Omit<CompileOptions, 'key'> = {}): Map<string, CompiledMaskingProfile> {
  const key = maskingKey(config.masking, baseDir);
  const profiles = new Map<string, CompiledMaskingProfile>();
  for (const [name, profile] of Object.entries(config.masking.profiles)) profiles.set(name, compileMaskingProfile(name, profile, { ...options, ...(key ? { key } : {}) }));
  return profiles;
}
