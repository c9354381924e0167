/**
 * Masking helpers for personal data. Logs, job payloads and client-facing error
 * messages pass values through these; staff views unmask only on request.
 */

/** An 18-character id number → its area code, eight asterisks and its last four (e.g. 520203********1234), for staff to recognise. */
export function maskIdNumber(id: string | null | undefined): string {
  if (!id) return '';
  const s = id.trim();
  if (s.length <= 8) return '*'.repeat(s.length);
  return s.slice(0, 6) + '*'.repeat(Math.max(0, s.length - 10)) + s.slice(-4);
}

/** 李旭 → 李*, 欧阳明月 → 欧***. */
export function maskName(name: string | null | undefined): string {
  if (!name) return '';
  const chars = [...name.trim()];
  if (chars.length === 0) return '';
  return chars[0] + '*'.repeat(Math.max(1, chars.length - 1));
}

/** 18333835309 → 183****5309. */
export function maskPhone(phone: string | null | undefined): string {
  if (!phone) return '';
  const d = phone.replace(/\D/g, '');
  if (d.length < 7) return '*'.repeat(d.length);
  return d.slice(0, 3) + '*'.repeat(d.length - 7) + d.slice(-4);
}

/** What a reader sees in full (server/users.ts `disclosureFor` decides it from the role). */
export interface Disclosure {
  fullIdNumbers: boolean;
  fullPhones: boolean;
}

/** Id numbers and phones as a reader with this disclosure sees them. */
export function shownAs(d: Disclosure): { id(v: string | null | undefined): string; phone(v: string | null | undefined): string } {
  return {
    id: (v) => (d.fullIdNumbers ? (v ?? '') : maskIdNumber(v)),
    phone: (v) => (d.fullPhones ? (v ?? '') : maskPhone(v)),
  };
}

// An id number (18 or 15 digits, possibly ending in X), a mobile number, or a
// 20-character disability certificate number, not embedded in a longer number.
const ID_LIKE = /(?<![0-9])[0-9]{6}(?:[0-9]{9}|[0-9]{11}[0-9Xx])(?:[0-9]{2})?(?![0-9])/g;
const MOBILE_LIKE = /(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])/g;

/** Masks anything in free text that looks like an id number or a mobile number. */
export function scrubText(text: string): string {
  return text.replace(ID_LIKE, (m) => maskIdNumber(m)).replace(MOBILE_LIKE, (m) => maskPhone(m));
}
