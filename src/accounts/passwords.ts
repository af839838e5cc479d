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
const MAX_SIMILARITY = 0.7;

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
  const lowered = password.toLowerCase();
  const value = attribute.toLowerCase();
  // Django skips the comparison when the password is far longer than the value could match.
  if (lowered.length >= 10 * value.length) return false;
  const parts = [value, ...value.split(/\W+/u)].filter(Boolean);
  return parts.some((part) => similarityRatio(lowered, part) >= MAX_SIMILARITY);
}

/** Python difflib's SequenceMatcher(a, b).ratio(): 2 * matched characters / total length. */
export function similarityRatio(a: string, b: string): number {
  const total = a.length + b.length;
  return total === 0 ? 1 : (2 * matchingCharacters(a, 0, a.length, b, 0, b.length)) / total;
}

function matchingCharacters(a: string, aLow: number, aHigh: number, b: string, bLow: number, bHigh: number): number {
  let bestI = aLow;
  let bestJ = bLow;
  let bestSize = 0;
  // Longest common block by dynamic programming over the two ranges (inputs are short).
  let previous = new Array<number>(bHigh - bLow + 1).fill(0);
  for (let i = aLow; i < aHigh; i++) {
    const current = new Array<number>(bHigh - bLow + 1).fill(0);
    for (let j = bLow; j < bHigh; j++) {
      if (a[i] !== b[j]) continue;
      const size = previous[j - bLow]! + 1;
      current[j - bLow + 1] = size;
      if (size > bestSize) {
        bestSize = size;
        bestI = i - size + 1;
        bestJ = j - size + 1;
      }
    }
    previous = current;
  }
  if (bestSize === 0) return 0;
  return (
    bestSize +
    matchingCharacters(a, aLow, bestI, b, bLow, bestJ) +
    matchingCharacters(a, bestI + bestSize, aHigh, b, bestJ + bestSize, bHigh)
  );
}
