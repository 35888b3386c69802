/**
 * A fired trigger's id: `<trigger>@<version>/<customer>/<completing event id>`, or
 * `<trigger>@<version>/<customer>/@<deadline ms>` when an absence deadline completed the match.
 * Unique by construction, so it needs no hash (hashing every firing is costly): a trigger
 * version completes at most once per customer per event or deadline, because a completion consumes
 * all of the customer's partial matches of that trigger and later ones start after it. Replays
 * complete the same way, so they publish the same id (`Nats-Msg-Id`).
 */
export function firedTriggerId(
  trigger: string,
  version: number,
  customerId: string,
  completingEventId: string | null,
  deadline: number | undefined,
): string {
  return `${firedIdPrefix(trigger, version)}${firedIdTail(customerId, completingEventId, deadline)}`;
}

/** The id up to the customer: the same for every firing of a trigger version. */
export function firedIdPrefix(trigger: string, version: number): string {
  return `${idPart(trigger)}@${version}/`;
}

export function firedIdTail(
  customerId: string,
  completingEventId: string | null,
  deadline: number | undefined,
): string {
  return completingEventId !== null
    ? `${idPart(customerId)}/${idPart(completingEventId)}`
    : `${idPart(customerId)}/@${deadline}`;
}

/**
 * `s` with '%', '/', '@', spaces, control characters and surrogates percent-encoded (%XX, or %uXXXX
 * above 0xff), so the parts of an id never run into each other and it is valid UTF-8 text.
 */
function idPart(s: string): string {
  let i = 0;
  while (i < s.length && !escapedInId(s.charCodeAt(i))) i++;
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!escapedInId(c)) out += s[i];
    else out += c <= 0xff ? `%${c.toString(16).padStart(2, '0')}` : `%u${c.toString(16).padStart(4, '0')}`;
  }
  return out;
}

function escapedInId(c: number): boolean {
  return c <= 0x20 || c === 0x25 || c === 0x2f || c === 0x40 || c === 0x7f || (c >= 0xd800 && c <= 0xdfff);
}
