/**
 * The profile size budget (see README, "Profile size budget"). A profile is stored in one document
 * and embedded in every enriched event, so its size is bounded where it is written:
 *
 * - one trait (its name and value) takes at most `maxTraitBytes`;
 * - the whole stored profile takes at most `maxProfileBytes`;
 * - an enriched event embeds at most `enrichedTraitsBytes` of traits (the largest left out first).
 *
 * The values come from config.ts (KAIROS_PROFILE_MAX_BYTES, KAIROS_PROFILE_MAX_TRAIT_BYTES,
 * KAIROS_ENRICHED_MAX_TRAITS_BYTES). Sizes are measured by `valueBytes`: BSON's layout with strings
 * counted in UTF-8 bytes, within a few bytes per field of their protobuf (Struct) encoding.
 */
export interface ProfileBudget {
  maxProfileBytes: number;
  maxTraitBytes: number;
  enrichedTraitsBytes: number;
}

/**
 * BSON's layout of a value: a type byte and the key per element, a length and a terminator per
 * string, document and array, with each string counted by `textBytes`.
 */
export function bsonLayoutBytes(v: unknown, textBytes: (s: string) => number): number {
  if (typeof v === 'string') return 5 + textBytes(v);
  if (typeof v === 'boolean') return 1;
  if (v === null || v === undefined) return 0;
  if (typeof v !== 'object' || v instanceof Date) return 8;
  let n = 5;
  if (Array.isArray(v)) {
    // Element keys are "0", "1", ...: about three bytes with their type byte and terminator.
    for (let i = 0; i < v.length; i++) n += 3 + bsonLayoutBytes(v[i], textBytes);
    return n;
  }
  for (const k in v) n += 2 + textBytes(k) + bsonLayoutBytes((v as Record<string, unknown>)[k], textBytes);
  return n;
}

const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** The size of a value in a profile: BSON's layout with strings counted in UTF-8 bytes. */
export function valueBytes(v: unknown): number {
  return bsonLayoutBytes(v, utf8Bytes);
}

/** The size of one trait in a profile: its name and its value. */
export function traitBytes(name: string, value: unknown): number {
  return 2 + Buffer.byteLength(name, 'utf8') + valueBytes(value);
}

/**
 * At most `maxBytes` of `traits` for a snapshot: when they take more, the largest traits are left
 * out (ties: the later name first) until the rest fit. Returns the traits kept and the names left
 * out, sorted; `traits` itself when everything fits.
 */
export function boundTraits(
  traits: Record<string, unknown>,
  maxBytes: number,
): { traits: Record<string, unknown>; omitted: string[] } {
  const sizes = Object.keys(traits).map((name) => ({ name, bytes: traitBytes(name, traits[name]) }));
  let total = 5;
  for (const s of sizes) total += s.bytes;
  if (total <= maxBytes) return { traits, omitted: [] };
  sizes.sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
  const omitted = new Set<string>();
  for (const s of sizes) {
    if (total <= maxBytes) break;
    omitted.add(s.name);
    total -= s.bytes;
  }
  const kept: Record<string, unknown> = {};
  for (const name of Object.keys(traits)) if (!omitted.has(name)) kept[name] = traits[name];
  return { traits: kept, omitted: [...omitted].sort() };
}
