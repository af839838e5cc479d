// Which of a user's tokens stopped being valid, as accounts/ announces it and the event bus
// carries it, and the one test of whether a token is among them. It sits below accounts/ and
// realtime/ so that both import it and neither imports the other for it.

/** One token by id (logout), or all but one (password change). */
export type TokenRevocation = { tokenId: number } | { allExcept: number };

export function isRevoked(revocation: TokenRevocation, tokenId: number): boolean {
  return 'tokenId' in revocation ? tokenId === revocation.tokenId : tokenId !== revocation.allExcept;
}
