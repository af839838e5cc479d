// Case folding of names: usernames, emails and remote addresses compare alike everywhere
// (uniqueness, lookup, matching a peer's sender) because every feature folds them here.

/** Folds a username or an email for case-insensitive uniqueness and lookup. */
export function foldKey(value: string): string {
  return value.normalize('NFKC').toLowerCase();
}
