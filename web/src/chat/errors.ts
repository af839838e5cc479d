// What the page says when a request of the chat fails.
import { ApiError } from '../api.js';

export function describe(error: unknown): string {
  return error instanceof ApiError ? error.detail : 'Something went wrong. Try again.';
}

/** A failed send may be tried again when the failure was the network's, the server's or a rate limit. */
export function retryable(error: unknown): boolean {
  return error instanceof ApiError ? error.transient : true;
}
