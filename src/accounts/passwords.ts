// Password hashing (argon2id, on libuv's thread pool so the event loop stays free) and
// Django's default password validators, with Django's messages.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { hash, verify, type Algorithm } from '@node-rs/argon2';

// OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane.
// Algorithm.Argon2id is 2; the enum is a const enum, which isolated modules cannot read.
const ARGON2ID = 2 as Algorithm;
const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

export async function verifyPassword(storedHash: string, password: string): Promise<boolean> {
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}

/** A real hash of a random password: verifying against it costs what a real check costs. */
export function makeDecoyHash(): Promise<string> {
  return hashPassword(randomUUID());
}

const MIN_LENGTH = 8;
/** The longest password accepted when one is set: argon2 and the checks below stay cheap. */
export const MAX_PASSWORD_LENGTH = 1024;
const MAX_SIMILARITY = 0.7;
const MAX_COMPARED_LENGTH = 128;

let commonPasswords: Set<string> | undefined;

function isCommonPassword(password: string): boolean {
  // Loaded on first use: 15k lines that the server needs only for registration and changes.
  commonPasswords ??= new Set(
    readFileSync(new URL('../../assets/common-passwords.txt', import.meta.url), 'utf8').split('\n').filter(Boolean),
  );
  return commonPasswords.has(password.trim().toLowerCase());
}

/** Django's four default validators; returns their messages (empty when the password is fine). */
export function validatePassword(password: string, attributes: { username?: string; email?: string }): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(attributes)) {
    if (value && isTooSimilar(password, value)) {
      problems.push(`The password is too similar to the ${name === 'email' ? 'email address' : name}.`);
      break;
    }
  }
  if (password.length < MIN_LENGTH) {
    problems.push(`This password is too short. It must contain at least ${MIN_LENGTH} characters.`);
  }
  if (isCommonPassword(password)) problems.push('This password is too common.');
  if (/^\d+$/.test(password)) problems.push('This password is entirely numeric.');
  return problems;
}

/** Django's UserAttributeSimilarityValidator: the value and each of its \W-separated parts. */
function isTooSimilar(password: string, attribute: string): boolean {
  // The matching below costs up to the cube of the lengths: bounded prefixes keep a crafted
  // password and email from holding the event loop (Django's length ratio skip bounds it too).
  const lowered = password.toLowerCase().slice(0, MAX_COMPARED_LENGTH);
  const value = attribute.toLowerCase().slice(0, MAX_COMPARED_LENGTH);
  const parts = [value, ...value.split(/\W+/u)].filter(Boolean);
  return parts.some((part) => canReachSimilarity(lowered.length, part.length) && similarityRatio(lowered, part) >= MAX_SIMILARITY);
}

/** ratio() is at most 2 * shorter / (both lengths): past this length gap it cannot reach the limit. */
function canReachSimilarity(aLength: number, bLength: number): boolean {
  return (2 * Math.min(aLength, bLength)) / (aLength + bLength) >= MAX_SIMILARITY;
}

/** Python difflib's SequenceMatcher(a, b).ratio(): 2 * matched characters / total length, by code point as Python counts. */
export function similarityRatio(a: string, b: string): number {
  const codes = { a: Uint32Array.from(a, (char) => char.codePointAt(0)!), b: Uint32Array.from(b, (char) => char.codePointAt(0)!) };
  const total = codes.a.length + codes.b.length;
  if (total === 0) return 1;
  const blocks = { ...codes, previous: new Uint16Array(codes.b.length + 1), current: new Uint16Array(codes.b.length + 1) };
  return (2 * matchingCharacters(blocks, 0, codes.a.length, 0, codes.b.length)) / total;
}

interface MatchState {
  a: Uint32Array;
  b: Uint32Array;
  /** Two rows of the dynamic programme, reused by every call so the recursion allocates nothing. */
  previous: Uint16Array;
  current: Uint16Array;
}

function matchingCharacters(state: MatchState, aLow: number, aHigh: number, bLow: number, bHigh: number): number {
  const { a, b } = state;
  let { previous, current } = state;
  let bestI = aLow;
  let bestJ = bLow;
  let bestSize = 0;
  // Longest common block by dynamic programming over the two ranges (inputs are bounded).
  previous.fill(0, bLow, bHigh + 1);
  for (let i = aLow; i < aHigh; i++) {
    current[bLow] = 0;
    for (let j = bLow; j < bHigh; j++) {
      if (a[i] !== b[j]) {
        current[j + 1] = 0;
        continue;
      }
      const size = previous[j]! + 1;
      current[j + 1] = size;
      if (size > bestSize) {
        bestSize = size;
        bestI = i - size + 1;
        bestJ = j - size + 1;
      }
    }
    [previous, current] = [current, previous];
  }
  if (bestSize === 0) return 0;
  return (
    bestSize +
    matchingCharacters(state, aLow, bestI, bLow, bestJ) +
    matchingCharacters(state, bestI + bestSize, aHigh, bestJ + bestSize, bHigh)
  );
}
